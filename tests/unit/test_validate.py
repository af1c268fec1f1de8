"""lite_stack.core.validate: inbound CALL / CALLRESULT payload validation and the OCPP-J CALLERROR codes
it chooses (OCPP 2.0.1 Part 4 section 4.3). Runs on CPython (pytest) and MicroPython (mprun)."""
from lite_stack.core import schemas
from lite_stack.core.validate import (MAX_DEPTH, DESCRIPTION_MAX, actions, check, is_datetime,
                                 FORMAT, OCCURRENCE, PROPERTY, TYPE, NOT_IMPLEMENTED)

T = "2025-06-01T12:00:00Z"
CD = {"vendorId": "com.example", "anything": [1, {"x": None}], "n": 1.5}  # customData, open object
EVSE = {"id": 1, "connectorId": 1}
TOKEN = {"idToken": "04A1B2C3D4", "type": "ISO14443",
         "additionalInfo": [{"additionalIdToken": "x", "type": "y"}]}
HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64,
        "serialNumber": "1f"}
STATUS_INFO = {"reasonCode": "NoError", "additionalInfo": "ok"}
ID_TOKEN_INFO = {"status": "Accepted", "cacheExpiryDateTime": T, "chargingPriority": 0,
                 "language1": "en", "language2": "de", "evseId": [1, 2], "groupIdToken": TOKEN,
                 "personalMessage": {"format": "UTF8", "language": "en", "content": "Hi"}}
PROFILE = {
    "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Relative", "recurrencyKind": "Daily", "validFrom": T,
    "validTo": "2026-06-01T12:00:00.123+02:00", "transactionId": "tx-1",
    "chargingSchedule": [{
        "id": 1, "startSchedule": T, "duration": 3600, "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16, "numberPhases": 3},
                                   {"startPeriod": 60, "limit": 10.5, "phaseToUse": 1}],
        "minChargingRate": 6.0,
        "salesTariff": {"id": 1, "salesTariffDescription": "night", "numEPriceLevels": 2,
                        "salesTariffEntry": [{
                            "relativeTimeInterval": {"start": 0, "duration": 60},
                            "ePriceLevel": 0,
                            "consumptionCost": [{"startValue": 0, "cost": [
                                {"costKind": "CarbonDioxideEmission", "amount": 3,
                                 "amountMultiplier": -1, "customData": CD}]}]}]},
    }],
}

# One real, valid payload per included action (Part 2 message definitions).
REQUESTS = {
    "GetVariables": {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"attributeType": "Actual", "component": {"name": "EVSE", "evse": EVSE, "instance": "1"},
         "variable": {"name": "AvailabilityState", "instance": "x"}}]},
    "SetVariables": {"setVariableData": [
        {"attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}, "attributeType": "Target"}]},
    "GetBaseReport": {"requestId": 7, "reportBase": "FullInventory"},
    "GetReport": {"requestId": 8, "componentCriteria": ["Active", "Problem"],
                  "componentVariable": [{"component": {"name": "EVSE", "evse": {"id": 1}},
                                         "variable": {"name": "Power"}}]},
    "Reset": {"type": "OnIdle", "evseId": 1},
    "RequestStartTransaction": {"remoteStartId": 12, "idToken": TOKEN, "evseId": 1,
                                "groupIdToken": {"idToken": "G1", "type": "Central"},
                                "chargingProfile": PROFILE},
    "RequestStopTransaction": {"transactionId": "d4f1c2b0-0000-4000-8000-000000000001"},
    "GetTransactionStatus": {},
    "UnlockConnector": {"evseId": 1, "connectorId": 1},
    "TriggerMessage": {"requestedMessage": "StatusNotification", "evse": EVSE},
    "ChangeAvailability": {"operationalStatus": "Inoperative", "evse": {"id": 1}},
    "ClearCache": {},
    "DataTransfer": {"vendorId": "com.example", "messageId": "ping", "data": {"any": [1, "two"]}},
    "SetNetworkProfile": {"configurationSlot": 1, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": "wss://csms.example/ocpp",
        "messageTimeout": 30, "securityProfile": 2, "ocppInterface": "Wired0",
        "apn": {"apn": "internet", "apnAuthentication": "AUTO", "useOnlyPreferredNetwork": False,
                "simPin": 1234},
        "vpn": {"server": "vpn.example", "user": "u", "password": "p", "key": "k",
                "type": "IKEv2"}}},
    "InstallCertificate": {"certificateType": "CSMSRootCertificate",
                           "certificate": "-----BEGIN CERTIFICATE-----\nMIIB...\n"},
    "GetInstalledCertificateIds": {"certificateType": ["CSMSRootCertificate",
                                                       "ManufacturerRootCertificate"]},
    "DeleteCertificate": {"certificateHashData": HASH},
    "UpdateFirmware": {"requestId": 3, "retries": 2, "retryInterval": 60, "firmware": {
        "location": "https://fw.example/1.2.bin", "retrieveDateTime": T,
        "installDateTime": "2025-06-01t13:00:00.5z", "signingCertificate": "PEM",
        "signature": "c2ln"}},
    "GetLog": {"logType": "SecurityLog", "requestId": 4, "log": {
        "remoteLocation": "https://logs.example/up", "oldestTimestamp": "2025-01-01T00:00:00-05:00",
        "latestTimestamp": T}},
    "CustomerInformation": {"requestId": 5, "report": False, "clear": True,
                            "customerIdentifier": "cust-1", "idToken": TOKEN,
                            "customerCertificate": HASH},
}

RESPONSES = {
    "BootNotification": {"currentTime": T, "interval": 300, "status": "Accepted",
                         "statusInfo": STATUS_INFO},
    "Heartbeat": {"currentTime": T},
    "StatusNotification": {},
    "Authorize": {"idTokenInfo": ID_TOKEN_INFO, "certificateStatus": "Accepted"},
    "TransactionEvent": {"totalCost": 1.25, "chargingPriority": 1, "idTokenInfo": ID_TOKEN_INFO,
                         "updatedPersonalMessage": {"format": "ASCII", "content": "Bye"}},
    "MeterValues": {},
    "NotifyReport": {},
    "SecurityEventNotification": {},
    "FirmwareStatusNotification": {},
    "LogStatusNotification": {},
    "DataTransfer": {"status": "Accepted", "data": [1, 2, {"k": "v"}], "statusInfo": STATUS_INFO},
    "NotifyCustomerInformation": {},
    "SignCertificate": {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}},
}


def copy(x):
    if isinstance(x, dict):
        return {k: copy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [copy(v) for v in x]
    return x


def code(action, payload, response=False):
    r = check(action, payload, response)
    return None if r is None else r[0]


# --- valid payloads -----------------------------------------------------------------------------

def test_every_included_request_has_a_sample_and_is_accepted():
    assert sorted(REQUESTS) == sorted(actions(False))
    for action, payload in REQUESTS.items():
        assert check(action, payload) is None, (action, check(action, payload))


def test_every_included_response_has_a_sample_and_is_accepted():
    assert sorted(RESPONSES) == sorted(actions(True))
    for action, payload in RESPONSES.items():
        assert check(action, payload, True) is None, (action, check(action, payload, True))


def test_minimal_payloads_with_only_required_fields_accepted():
    assert check("Reset", {"type": "Immediate"}) is None
    assert check("RequestStartTransaction",
                 {"remoteStartId": 1, "idToken": {"idToken": "", "type": "NoAuthorization"}}) is None
    assert check("BootNotification", {"currentTime": T, "interval": 0, "status": "Pending"},
                 True) is None
    assert check("DataTransfer", {"vendorId": "v"}) is None


def test_P01_customData_with_vendor_extensions_accepted_at_every_level():
    # Part 2 P: customData (CustomDataType) has no additionalProperties false: vendor keys allowed
    p = copy(REQUESTS["GetVariables"])
    p["customData"] = copy(CD)
    p["getVariableData"][0]["customData"] = {"vendorId": "v", "deep": {"a": [[1], [2]]}}
    p["getVariableData"][1]["component"]["evse"]["customData"] = {"vendorId": "v", "z": True}
    assert check("GetVariables", p) is None
    assert check("Heartbeat", {"currentTime": T, "customData": CD}, True) is None


def test_P01_customData_still_needs_vendorId():
    r = check("Reset", {"type": "Immediate", "customData": {"x": 1}})
    assert r == (OCCURRENCE, "customData.vendorId: required"), r
    assert code("Reset", {"type": "Immediate", "customData": {"vendorId": 5}}) == TYPE
    assert code("Reset", {"type": "Immediate", "customData": {"vendorId": "v" * 256}}) == TYPE
    assert code("Reset", {"type": "Immediate", "customData": "v"}) == TYPE


def test_DataTransfer_data_is_any_json_value():
    for data in (None, 0, -1.5, True, "s", [], {}, [None, [1, {"a": {}}]], {"k": [{"x": "y"}]}):
        assert check("DataTransfer", {"vendorId": "v", "data": data}) is None, data
        assert check("DataTransfer", {"status": "Rejected", "data": data}, True) is None, data


# --- FormatViolation ----------------------------------------------------------------------------

def test_Part4_FormatViolation_payload_not_a_json_object():
    for p in (None, [], [{"type": "Immediate"}], "Immediate", 1, 1.0, True):
        assert code("Reset", p) == FORMAT, p
        assert code("BootNotification", p, True) == FORMAT, p


def test_Part4_FormatViolation_unknown_property_in_closed_object():
    r = check("Reset", {"type": "Immediate", "force": True})
    assert r == (FORMAT, "force: unknown property"), r
    p = copy(REQUESTS["GetVariables"])
    p["getVariableData"][1]["component"]["evse"]["extra"] = 1
    assert check("GetVariables", p) == (FORMAT, "getVariableData[1].component.evse.extra: "
                                                "unknown property")
    assert code("Heartbeat", {"currentTime": T, "interval": 5}, True) == FORMAT
    assert code("StatusNotification", {"status": "Accepted"}, True) == FORMAT


def test_unknown_property_named_deterministically_whatever_the_dict_order():
    r = check("Reset", {"zeta": 1, "type": "Immediate", "alpha": 2, "mid": 3})
    assert r == (FORMAT, "alpha: unknown property"), r


# --- OccurrenceConstraintViolation --------------------------------------------------------------

def test_Part4_OccurrenceConstraintViolation_GetVariables_without_getVariableData():
    assert check("GetVariables", {}) == (OCCURRENCE, "getVariableData: required")


def test_Part4_OccurrenceConstraintViolation_nested_required_missing():
    p = copy(REQUESTS["GetVariables"])
    del p["getVariableData"][1]["variable"]["name"]
    assert check("GetVariables", p) == (OCCURRENCE, "getVariableData[1].variable.name: required")
    assert code("BootNotification", {"interval": 300, "status": "Accepted"}, True) == OCCURRENCE
    assert code("UnlockConnector", {"evseId": 1}) == OCCURRENCE


def test_Part4_OccurrenceConstraintViolation_minItems_and_maxItems():
    assert check("GetVariables", {"getVariableData": []}) == (
        OCCURRENCE, "getVariableData: fewer than 1 items")
    assert code("GetInstalledCertificateIds", {"certificateType": []}) == OCCURRENCE
    crit = ["Active", "Available", "Enabled", "Problem"]
    assert check("GetReport", {"requestId": 1, "componentCriteria": crit}) is None
    assert check("GetReport", {"requestId": 1, "componentCriteria": crit + ["Active"]}) == (
        OCCURRENCE, "componentCriteria: more than 4 items")
    p = copy(REQUESTS["RequestStartTransaction"])
    p["chargingProfile"]["chargingSchedule"] *= 4  # maxItems 3
    assert check("RequestStartTransaction", p) == (
        OCCURRENCE, "chargingProfile.chargingSchedule: more than 3 items")


# --- TypeConstraintViolation --------------------------------------------------------------------

def test_Part4_TypeConstraintViolation_evseId_as_string():
    assert check("Reset", {"type": "Immediate", "evseId": "1"}) == (
        TYPE, "evseId: integer expected")


def test_Part4_TypeConstraintViolation_wrong_json_types():
    bad = (
        ("Reset", {"type": 1}),
        ("Reset", {"type": None}),
        ("Reset", {"type": "Immediate", "evseId": None}),
        ("UnlockConnector", {"evseId": 1, "connectorId": [1]}),
        ("GetVariables", {"getVariableData": {"component": {}}}),
        ("GetVariables", {"getVariableData": ["x"]}),
        ("CustomerInformation", {"requestId": 1, "report": 0, "clear": True}),
        ("CustomerInformation", {"requestId": 1, "report": "false", "clear": True}),
        ("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": 1}),
        ("UpdateFirmware", {"requestId": 1, "firmware": {"location": "x", "retrieveDateTime": 0}}),
    )
    for action, p in bad:
        assert code(action, p) == TYPE, (action, p, check(action, p))
    assert code("TransactionEvent", {"totalCost": "1.25"}, True) == TYPE
    assert code("TransactionEvent", {"totalCost": False}, True) == TYPE


def test_integer_is_draft4_integer_float_and_bool_rejected_on_both_interpreters():
    # ocpp validates with Draft4Validator: 1.0 is a number, not an integer; bool is not a number
    assert code("Reset", {"type": "Immediate", "evseId": 1.0}) == TYPE
    assert code("Reset", {"type": "Immediate", "evseId": True}) == TYPE
    assert check("Reset", {"type": "Immediate", "evseId": 2 ** 70}) is None  # big ints are ints
    assert check("TransactionEvent", {"totalCost": 3}, True) is None      # int is a number
    assert check("TransactionEvent", {"totalCost": -0.0}, True) is None


def test_Part4_TypeConstraintViolation_string_longer_than_maxLength():
    ok = {"remoteStartId": 1, "idToken": {"idToken": "A" * 36, "type": "Local"}}
    assert check("RequestStartTransaction", ok) is None
    ok["idToken"]["idToken"] = "A" * 37
    assert check("RequestStartTransaction", ok) == (
        TYPE, "idToken.idToken: longer than 36 characters")


def test_maxLength_counts_characters_not_utf8_bytes():
    # JSON Schema maxLength counts characters; "é" is 2 bytes in UTF-8
    p = {"remoteStartId": 1, "idToken": {"idToken": "\u00e9" * 36, "type": "Local"}}
    assert check("RequestStartTransaction", p) is None
    p["idToken"]["idToken"] += "\u00e9"
    assert code("RequestStartTransaction", p) == TYPE


def test_Part4_TypeConstraintViolation_date_time_not_RFC3339():
    for bad in ("2025-06-01 12:00:00Z", "2025-06-01T12:00:00", "1717243200", "2025-02-29T00:00:00Z",
                "", "2025-06-01T12:00:00Z\n"):
        r = check("Heartbeat", {"currentTime": bad}, True)
        assert r == (TYPE, "currentTime: not an RFC 3339 date-time"), (bad, r)


# --- PropertyConstraintViolation ----------------------------------------------------------------

def test_Part4_PropertyConstraintViolation_Reset_type_Soft():
    # "Soft"/"Hard" are OCPP 1.6 values; 2.0.1 ResetEnumType is Immediate | OnIdle
    assert check("Reset", {"type": "Soft"}) == (PROPERTY, "type: value not in enumeration")


def test_Part4_PropertyConstraintViolation_enum_values_are_case_sensitive():
    assert code("ChangeAvailability", {"operationalStatus": "operative"}) == PROPERTY
    assert code("BootNotification", {"currentTime": T, "interval": 1, "status": "OK"}, True) \
        == PROPERTY
    assert code("GetReport", {"requestId": 1, "componentCriteria": ["Active", "Broken"]}) == PROPERTY
    assert code("TriggerMessage", {"requestedMessage": "Heartbeat "}) == PROPERTY


def test_Part4_PropertyConstraintViolation_number_below_minimum():
    p = copy(REQUESTS["RequestStartTransaction"])
    entry = p["chargingProfile"]["chargingSchedule"][0]["salesTariff"]["salesTariffEntry"][0]
    entry["ePriceLevel"] = -1  # SalesTariffEntryType.ePriceLevel minimum 0
    r = check("RequestStartTransaction", p)
    assert r[0] == PROPERTY and r[1].startswith(
        "chargingProfile.chargingSchedule[0].salesTariff.salesTariffEntry[0].ePriceLevel: below"), r
    entry["ePriceLevel"] = 0
    assert check("RequestStartTransaction", p) is None


# --- NotImplemented / unknown actions -----------------------------------------------------------

def test_Part4_NotImplemented_for_unknown_request_action():
    assert check("FooBar", {}) == (NOT_IMPLEMENTED, "unknown action FooBar")
    assert code("SetChargingProfile", {}) == NOT_IMPLEMENTED  # not in the generated tables
    assert code("BootNotification", {}) == NOT_IMPLEMENTED    # a CS->CSMS action, not a request
    assert code("reset", {"type": "Immediate"}) == NOT_IMPLEMENTED  # action names are exact
    assert code(None, {}) == NOT_IMPLEMENTED
    assert code(12, {}) == NOT_IMPLEMENTED
    r = check("X" * 1000, {})
    assert r[0] == NOT_IMPLEMENTED and len(r[1]) < 80


def test_unknown_response_action_is_not_validated():
    assert check("FooBar", {"anything": 1}, True) is None
    assert check("Reset", {"status": "Accepted"}, True) is None  # no Reset response table


# --- ordering, bounds, robustness ---------------------------------------------------------------

def test_first_error_in_schema_order_is_reported():
    # BootNotificationResponse schema order: customData, currentTime, interval, status, statusInfo
    r = check("BootNotification", {"status": "Nope", "interval": "x", "currentTime": 5}, True)
    assert r == (TYPE, "currentTime: string expected"), r


def test_schema_depth_is_below_MAX_DEPTH():
    assert 1 < schemas.SCHEMA_DEPTH < MAX_DEPTH


def _nested(k, leaf=None):
    x = leaf
    for _ in range(k):
        x = [x]
    return x


def test_deep_nesting_bounded_FormatViolation_never_raises():
    # payload object = depth 1, so `data` may hold MAX_DEPTH - 1 nested containers
    assert check("DataTransfer", {"vendorId": "v", "data": _nested(MAX_DEPTH - 1)}) is None
    r = check("DataTransfer", {"vendorId": "v", "data": _nested(MAX_DEPTH)})
    assert r[0] == FORMAT and r[1].startswith("data" + "[0]" * (MAX_DEPTH - 2)), r
    assert code("DataTransfer", {"vendorId": "v", "data": _nested(20000)}) == FORMAT
    deep = {}
    d = deep
    for _ in range(5000):
        d["k"] = {}
        d = d["k"]
    assert code("Reset", {"type": "Immediate", "customData": {"vendorId": "v", "x": deep}}) == FORMAT
    assert code("DataTransfer", {"status": "Accepted", "data": deep}, True) == FORMAT


def test_absurd_input_never_raises():
    nan = float("nan")
    inf = float("inf")
    cases = (
        ("Reset", {1: 2}),
        ("Reset", {(1, 2): "x", "type": "Immediate"}),
        ("Reset", {"type": b"Immediate"}),
        ("Reset", {"type": "Immediate", "evseId": nan}),
        ("Reset", {"type": "Immediate", "evseId": inf}),
        ("Reset", {"type": ("Immediate",)}),
        ("Reset", {"type": object()}),
        ("DataTransfer", {"vendorId": "v", "data": object()}),
        ("DataTransfer", {"vendorId": "v", "data": {1: [2, {None: 3}]}}),
        ("GetVariables", {"getVariableData": ("a",)}),
        ("GetVariables", {"getVariableData": [None] * 1000}),
        ("SetVariables", {"setVariableData": [{"attributeValue": "x" * 100000}]}),
        ("GetBaseReport", {"requestId": -(2 ** 100), "reportBase": "FullInventory", "x" * 5000: 1}),
    )
    for action, p in cases:
        r = check(action, p)
        assert r is None or (isinstance(r, tuple) and len(r) == 2 and isinstance(r[1], str)), r
        assert r is None or r[0] in (FORMAT, TYPE, OCCURRENCE, PROPERTY), r
    assert check("Reset", {1: 2})[0] == OCCURRENCE  # "type" missing
    assert check("Reset", {"type": "Immediate", 1: 2})[0] == FORMAT
    assert check("Reset", {"type": b"Immediate"})[0] == TYPE
    assert check("GetBaseReport", {"requestId": -(2 ** 100), "reportBase": "FullInventory"}) is None


def test_description_fits_CALLERROR_errorDescription_255():
    r = check("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory", "k" * 5000: 1})
    assert r[0] == FORMAT and len(r[1]) <= DESCRIPTION_MAX, r
    assert r[1].startswith("k" * 40 + "..."), r
    long_path = {"vendorId": "v", "data": {"q" * 200: {"r" * 200: _nested(MAX_DEPTH)}}}
    r = check("DataTransfer", long_path)
    assert r[0] == FORMAT and len(r[1]) <= DESCRIPTION_MAX, r


def test_is_datetime_rfc3339_grammar():
    good = ("2025-06-01T12:00:00Z", "2025-06-01t12:00:00z", "2025-06-01T12:00:00.1Z",
            "2025-06-01T12:00:00.123456789Z", "2025-06-01T23:59:59+23:59",
            "2025-06-01T00:00:00-00:00", "2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
            "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2025-01-31T00:00:00Z")
    bad = ("2025-06-01T12:00:00", "2025-06-01T12:00:00.Z", "2025-06-01T12:00:00.123",
           "2025-06-01T24:00:00Z", "2025-06-01T12:60:00Z", "2025-06-01T12:00:60Z",
           "2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z", "2025-06-00T00:00:00Z",
           "2025-06-31T00:00:00Z", "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
           "0000-01-01T00:00:00Z", "2025-06-01T12:00:00+24:00", "2025-06-01T12:00:00+05:60",
           "2025-06-01T12:00:00+0500", "2025-06-01T12:00:00+05", "2025-06-01 12:00:00Z",
           "2025-6-01T12:00:00Z", "25-06-01T12:00:00Z", "2025-06-01T12:00:00ZZ",
           "2025-06-01T12:00:00Z ", " 2025-06-01T12:00:00Z", "2025-06-01T12:00:00Z\n",
           "\uff12025-06-01T12:00:00Z", "2025-06-01T12:00:00\u00b2Z", "2025/06/01T12:00:00Z",
           "2025-06-01T12:00:00UTC", "", "T", None, 20250601)
    for s in good:
        assert is_datetime(s), s
    for s in bad:
        assert not is_datetime(s), s


def test_valid_payload_without_date_time_allocates_nothing_on_micropython():
    p = copy(REQUESTS["GetVariables"])
    p["getVariableData"] = p["getVariableData"] * 4
    try:
        import micropython
        lock = micropython.heap_lock
        unlock = micropython.heap_unlock
    except (ImportError, AttributeError):  # CPython: only the result is checked
        lock = unlock = None
    reset = {"type": "OnIdle", "evseId": 2, "customData": {"vendorId": "v", "z": [1, {"y": 2}]}}
    net = REQUESTS["SetNetworkProfile"]
    check("GetVariables", p)  # warm up
    if lock:
        lock()
    try:
        r = check("GetVariables", p)
        r2 = check("Reset", reset)
        r3 = check("SetNetworkProfile", net)
    finally:
        if unlock:
            unlock()
    assert r is None and r2 is None and r3 is None, (r, r2, r3)
