"""device_model.DeviceModel: B05 SetVariables, B06 GetVariables, B07 GetBaseReport, persistence
across restarts, request size limits. Runs on CPython and MicroPython."""
import json

from boards import desktop
from device_model import DeviceModel, ids, parse_value, format_value, SLOT, NO_SLOT, NSLOTS
from device_model import table
from device_model.values import check
from device_model.store import Store
from lite_stack.core.rpc import dumps
from tests.unit.util import raises, tmpdir

CTRL = "OCPPCommCtrlr"


class Live:
    def __init__(self):
        self.calls = []
        self.t = 1767225600

    def availability_state(self, evse, connector):
        self.calls.append((evse, connector))
        return "Unavailable" if evse == 2 else ("Occupied" if connector else "Available")

    def available(self, evse, connector):
        return True

    def now(self):
        return self.t

    def power_w(self, evse):
        return 3680 * evse


class Board:
    """A board module stand-in (getattr-able constants)."""
    VENDOR = "ACME"
    PHASES = 3
    CONNECTOR_TYPE = "sType2"
    FIXED_CABLE = False
    MAX_POWER_W = 22000
    MAX_FRAME = 4096
    MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
                  "Voltage")


def make(evses=1, board=desktop, live=None, root=None):
    st = Store(root or tmpdir("dm"))
    return DeviceModel(board, st, evses, live), st


def gv(comp, var, inst=None, at=None, evse=None, connector=None, cinst=None):
    c = {"name": comp}
    if cinst:
        c["instance"] = cinst
    if evse is not None:
        c["evse"] = {"id": evse}
        if connector is not None:
            c["evse"]["connectorId"] = connector
    v = {"name": var}
    if inst:
        v["instance"] = inst
    d = {"component": c, "variable": v}
    if at:
        d["attributeType"] = at
    return d


def sv(comp, var, value, inst=None, at=None, evse=None, connector=None):
    d = gv(comp, var, inst, at, evse, connector)
    d["attributeValue"] = value
    return d


def status(results):
    return [r["attributeStatus"] for r in results]


# ---- table ---------------------------------------------------------------------------------

def offsets(text):
    """The row starts of ``text`` (and its end), 2 bytes little-endian each: ``table.OFFSETS``."""
    off = bytearray()
    i = 0
    while i < len(text):
        off.extend(i.to_bytes(2, "little"))
        i = text.find("\n", i) + 1
    off.extend(i.to_bytes(2, "little"))
    return bytes(off)


def test_table_offsets_constant_matches_table():
    want = offsets(table.TABLE)
    if bytes(table.OFFSETS) != want:
        print("device_model.table.OFFSETS must be:",
              "".join("\\x%02x" % c for c in want))
    assert bytes(table.OFFSETS) == want
    assert isinstance(table.OFFSETS, bytes)   # a constant (ROM when frozen), not built at import


def test_slot_constant_matches_table():
    want = bytearray(table.COUNT)
    n = 0
    for vid in range(table.COUNT):
        if table.field(vid, 3) in "WOr":   # ReadWrite, WriteOnly, ReadOnly set by the stack
            want[vid] = n
            n += 1
        else:
            want[vid] = NO_SLOT
    if bytes(SLOT) != bytes(want):
        print("device_model.SLOT must be:", "".join("\\x%02x" % c for c in want))
    assert bytes(SLOT) == bytes(want) and NSLOTS == n
    assert isinstance(SLOT, bytes)   # a constant (ROM when frozen), not built at import


def test_table_declares_56_variables_in_id_order():
    assert table.COUNT == ids.COUNT == 57
    assert table.TABLE.count("\n") == 57 and table.TABLE.endswith("\n")
    names = {}
    for vid in range(table.COUNT):
        f = table.row(vid).split("|")
        assert len(f) == 11, f
        assert [table.field(vid, k) for k in range(11)] == f
        assert table.comp_index(vid) == int(f[0], 16)
        assert len(f[3]) == 1 and f[3] in table.MUT_CODES, f
        assert len(f[4]) == 1 and f[4] in table.TYPE_CODES, f
        key = (table.COMPONENTS[int(f[0], 16)], f[1], f[2])
        assert key not in names, key
        names[key] = 1
    assert table.field(ids.HEARTBEAT_INTERVAL, 1) == "HeartbeatInterval"
    assert table.field(ids.MESSAGE_ATTEMPT_INTERVAL_TE, 2) == "TransactionEvent"
    assert table.field(ids.CONNECTOR_AVAILABILITY_STATE, 0) == "a"
    assert table.field(ids.BASIC_AUTH_PASSWORD, 3) == "O"
    assert table.field(ids.NETWORK_CONFIGURATION_PRIORITY, 10) == "B"
    assert table.field(ids.HEARTBEAT_INTERVAL, 10) == ""
    assert table.field(ids.OFFLINE_TX_FOR_UNKNOWN_ID, 1) == "OfflineTxForUnknownIdEnabled"
    # RAM slots only for what the CSMS or the stack can write: 25 RW + 1 WO + 2 stack-set + HB
    # + OfflineTxForUnknownIdEnabled
    assert NSLOTS == 30
    assert SLOT[ids.MESSAGE_TIMEOUT] == NO_SLOT and SLOT[ids.HEARTBEAT_INTERVAL] != NO_SLOT


def test_defaults_are_typed_and_valid():
    dm, _ = make()
    assert dm.get(ids.HEARTBEAT_INTERVAL) == 300
    assert dm.get(ids.MESSAGE_TIMEOUT) == 30
    assert dm.get(ids.STOP_TX_ON_INVALID_ID) is True
    assert dm.get(ids.LOCAL_AUTHORIZE_OFFLINE) is False
    assert dm.get(ids.TX_START_POINT) == "PowerPathClosed"
    assert dm.get(ids.ITEMS_PER_MESSAGE_GET_VARIABLES) >= 2       # TC_B_07 / TC_B_10
    assert dm.get(ids.BYTES_PER_MESSAGE_GET_REPORT) == desktop.MAX_FRAME
    assert dm.get(ids.UNLOCK_ON_EV_SIDE_DISCONNECT) is False      # fixed cable
    assert dm.get(ids.CONNECTOR_TYPE) == desktop.CONNECTOR_TYPE
    assert dm.get(ids.EVSE_SUPPLY_PHASES) == desktop.PHASES
    assert dm.get(ids.SECURITY_PROFILE) == 1
    assert dm.get(ids.CS_AVAILABLE) is True
    for vid in range(ids.COUNT):
        if SLOT[vid] != NO_SLOT and vid != ids.BASIC_AUTH_PASSWORD:
            assert check(dm, vid, dm.get(vid)) is None, vid


def test_board_constants_and_board_defaults_override():
    class B(Board):
        DEFAULTS = {"OCPPCommCtrlr.HeartbeatInterval": 60,
                    "DeviceDataCtrlr.ItemsPerMessage.GetVariables": 4,
                    "AuthCtrlr.AuthorizeRemoteStart": True}
    dm, _ = make(board=B)
    assert dm.get(ids.HEARTBEAT_INTERVAL) == 60
    assert dm.get(ids.ITEMS_PER_MESSAGE_GET_VARIABLES) == 4
    assert dm.get(ids.AUTHORIZE_REMOTE_START) is True
    assert dm.get(ids.UNLOCK_ON_EV_SIDE_DISCONNECT) is True       # socket outlet
    assert dm.get(ids.CS_SUPPLY_PHASES) == 3
    assert dm.get(ids.ORGANIZATION_NAME) == "ACME"
    assert dm.get(ids.BYTES_PER_MESSAGE_SET_VARIABLES) == 4096
    assert dm.get(ids.SAMPLED_TX_UPDATED_MEASURANDS) == \
        "Energy.Active.Import.Register,Power.Active.Import"

    class Bad(Board):
        DEFAULTS = {"OCPPCommCtrlr.NoSuchThing": 1}
    raises(ValueError, make, 1, Bad)


# ---- B06 GetVariables ----------------------------------------------------------------------

def test_B06_FR_01_TC_B_07_CS_two_items_answered_in_order():
    dm, _ = make()
    req = [gv(CTRL, "OfflineThreshold"), gv("AuthCtrlr", "LocalPreAuthorize"),
           gv(CTRL, "MessageTimeout", "Default")]
    res = dm.get_variables(req)
    assert status(res) == ["Accepted"] * 3
    assert [r["attributeValue"] for r in res] == ["60", "false", "30"]
    for q, r in zip(req, res):
        assert r["component"] == q["component"] and r["variable"] == q["variable"]   # B06.FR.02
        assert r["attributeType"] == "Actual"                                         # B06.FR.11
        assert "attributeStatusInfo" not in r


def test_B06_FR_06_TC_B_32_CS_unknown_component():
    dm, _ = make()
    res = dm.get_variables([gv("NoSuchCtrlr", "Enabled"),
                            gv("EVSE", "Available", evse=2),              # only 1 EVSE
                            gv("EVSE", "Available"),                      # EVSE without id
                            gv("Connector", "Available", evse=1, connector=2),
                            gv("Connector", "Available", evse=1),         # no connectorId
                            gv("EVSE", "Available", evse=1, connector=1),
                            gv(CTRL, "OfflineThreshold", evse=1),         # station-wide only
                            gv(CTRL, "OfflineThreshold", cinst="X")])
    assert status(res) == ["UnknownComponent"] * 8
    for r in res:
        assert "attributeValue" not in r and r["attributeStatusInfo"]["reasonCode"] == "NotFound"


def test_B06_FR_07_TC_B_33_CS_unknown_variable_and_instance():
    dm, _ = make()
    res = dm.get_variables([gv(CTRL, "NoSuchVariable"),
                            gv(CTRL, "MessageTimeout"),                   # instance missing
                            gv(CTRL, "MessageTimeout", "Other"),
                            gv(CTRL, "OfflineThreshold", "X"),
                            gv("EVSE", "HeartbeatInterval", evse=1)])
    assert status(res) == ["UnknownVariable"] * 5
    assert "attributeValue" not in res[0]


def test_B06_FR_08_TC_B_34_CS_not_supported_attribute_type():
    dm, _ = make()
    res = dm.get_variables([gv(CTRL, "OfflineThreshold", at=a) for a in ("Target", "MinSet",
                                                                           "MaxSet")])
    assert status(res) == ["NotSupportedAttributeType"] * 3
    assert [r["attributeType"] for r in res] == ["Target", "MinSet", "MaxSet"]      # B06.FR.03
    res = dm.get_variables([gv(CTRL, "OfflineThreshold", at="Actual")])
    assert status(res) == ["Accepted"]


def test_B06_FR_09_write_only_password_is_rejected():
    dm, _ = make()
    dm.set(ids.BASIC_AUTH_PASSWORD, "0123456789abcdef")
    res = dm.get_variables([gv("SecurityCtrlr", "BasicAuthPassword")])
    assert status(res) == ["Rejected"] and "attributeValue" not in res[0]
    assert res[0]["attributeStatusInfo"]["reasonCode"] == "WriteOnly"
    assert dm.get(ids.BASIC_AUTH_PASSWORD) == "0123456789abcdef"   # the stack can read it


def test_B06_names_are_case_insensitive():
    dm, _ = make()
    res = dm.get_variables([gv("ocppcommctrlr", "offlinethreshold"),
                            gv("DEVICEDATACTRLR", "itemsPerMessage", "getvariables")])
    assert status(res) == ["Accepted", "Accepted"]
    assert res[0]["component"]["name"] == "ocppcommctrlr"       # echoed as sent


def test_live_values_are_read_when_asked():
    live = Live()
    dm, _ = make(evses=2, live=live)
    res = dm.get_variables([gv("ChargingStation", "AvailabilityState"),
                            gv("EVSE", "AvailabilityState", evse=2),
                            gv("Connector", "AvailabilityState", evse=1, connector=1),
                            gv("ClockCtrlr", "DateTime"),
                            gv("EVSE", "Power", evse=2)])
    assert [r["attributeValue"] for r in res] == ["Available", "Unavailable", "Occupied",
                                                  "2026-01-01T00:00:00Z", "7360"]
    assert live.calls == [(0, 0), (2, 0), (1, 1)]
    live.t += 61
    assert dm.get(ids.DATE_TIME) == "2026-01-01T00:01:01Z"


# ---- B05 SetVariables ----------------------------------------------------------------------

def test_B05_FR_10_TC_B_09_CS_single_value_accepted_and_persisted():
    root = tmpdir("dm")
    dm, st = make(root=root)
    res = dm.set_variables([sv(CTRL, "OfflineThreshold", "120")])
    assert status(res) == ["Accepted"] and res[0]["attributeType"] == "Actual"  # B05.FR.12
    assert "attributeStatusInfo" not in res[0]
    assert dm.get(ids.OFFLINE_THRESHOLD) == 120
    assert st.load("dm") == [ids.OFFLINE_THRESHOLD, 120]
    dm2, _ = make(root=root)                                        # reboot
    assert dm2.get(ids.OFFLINE_THRESHOLD) == 120
    assert dm2.get_variables([gv(CTRL, "OfflineThreshold")])[0]["attributeValue"] == "120"


def test_B05_TC_B_10_CS_two_values_in_one_request():
    dm, _ = make()
    res = dm.set_variables([sv("AuthCtrlr", "LocalAuthorizeOffline", "true"),
                            sv(CTRL, "OfflineThreshold", "300", at="Actual")])
    assert status(res) == ["Accepted", "Accepted"]
    assert dm.get(ids.LOCAL_AUTHORIZE_OFFLINE) is True and dm.get(ids.OFFLINE_THRESHOLD) == 300


def test_B05_FR_04_05_06_unknown_component_variable_attribute_type():
    dm, _ = make()
    res = dm.set_variables([sv("NoSuchCtrlr", "OfflineThreshold", "1"),       # TC_B_35
                            sv(CTRL, "NoSuchVariable", "1"),                   # TC_B_36
                            sv(CTRL, "OfflineThreshold", "1", at="Target"),    # TC_B_37
                            sv(CTRL, "OfflineThreshold", "1", at="MaxSet")])
    assert status(res) == ["UnknownComponent", "UnknownVariable", "NotSupportedAttributeType",
                           "NotSupportedAttributeType"]
    assert res[2]["attributeType"] == "Target"                                 # B05.FR.03
    assert dm.get(ids.OFFLINE_THRESHOLD) == 60


def test_B05_FR_08_TC_B_39_CS_read_only_rejected_and_unchanged():
    dm, st = make()
    res = dm.set_variables([sv(CTRL, "MessageTimeout", "60", "Default"),
                            sv("TxCtrlr", "TxStartPoint", "PowerPathClosed"),
                            sv("SecurityCtrlr", "SecurityProfile", "2"),
                            sv("ClockCtrlr", "DateTime", "2026-01-01T00:00:00Z"),
                            sv("EVSE", "Power", "1000", evse=1),
                            sv("Connector", "ConnectorType", "sType2", evse=1, connector=1)])
    assert status(res) == ["Rejected"] * 6
    assert [r["attributeStatusInfo"]["reasonCode"] for r in res] == ["ReadOnly"] * 6
    assert dm.get(ids.MESSAGE_TIMEOUT) == 30 and dm.get(ids.SECURITY_PROFILE) == 1
    assert st.load("dm") is None                                     # nothing written


def test_B05_FR_07_TC_B_11_CS_badly_formatted_values_rejected():
    dm, _ = make()
    bad_ints = ["abc", "1.5", " 5", "5 ", "", "+", "-", "1_0", "0x10", "99999999999",
                "2147483648", "１２"]
    res = dm.set_variables([sv(CTRL, "OfflineThreshold", v) for v in bad_ints])
    assert status(res) == ["Rejected"] * len(bad_ints)
    res = dm.set_variables([sv("AuthCtrlr", "LocalPreAuthorize", v)
                            for v in ("yes", "1", "", "truee", "on")])
    assert status(res) == ["Rejected"] * 5
    assert res[0]["attributeStatusInfo"]["reasonCode"] == "InvalidValue"
    assert dm.get(ids.OFFLINE_THRESHOLD) == 60 and dm.get(ids.LOCAL_PRE_AUTHORIZE) is False
    res = dm.set_variables([sv("AuthCtrlr", "LocalPreAuthorize", "TRUE"),
                            sv(CTRL, "OfflineThreshold", "+7")])
    assert status(res) == ["Accepted", "Accepted"] and dm.get(ids.OFFLINE_THRESHOLD) == 7


def test_B05_out_of_range_negative_intervals_and_oversized_values_rejected():
    dm, _ = make()
    res = dm.set_variables([sv(CTRL, "HeartbeatInterval", "-1"),
                            sv(CTRL, "HeartbeatInterval", "0"),
                            sv("SampledDataCtrlr", "TxUpdatedInterval", "-60"),
                            sv(CTRL, "ResetRetries", "11"),
                            sv(CTRL, "MessageAttempts", "0", "TransactionEvent"),
                            sv("SecurityCtrlr", "OrganizationName", "O" * 65),
                            sv("SecurityCtrlr", "OrganizationName", "tab\there")])
    assert status(res) == ["Rejected"] * 7
    assert [r["attributeStatusInfo"]["reasonCode"] for r in res] == \
        ["ValueOutOfRange"] * 6 + ["InvalidValue"]
    res = dm.set_variables([sv("SampledDataCtrlr", "TxUpdatedInterval", "0"),
                            sv(CTRL, "ResetRetries", "10"),
                            sv("SecurityCtrlr", "OrganizationName", "O" * 64)])
    assert status(res) == ["Accepted"] * 3


def test_B05_lists_with_unknown_or_duplicate_members_rejected():
    dm, _ = make()
    res = dm.set_variables([
        sv("SampledDataCtrlr", "TxUpdatedMeasurands", "Energy.Active.Import.Register,Foo"),
        sv("SampledDataCtrlr", "TxUpdatedMeasurands", "SoC"),          # the meter lacks it
        sv("AlignedDataCtrlr", "Measurands", "Power.Active.Import,Power.Active.Import"),
        sv("AlignedDataCtrlr", "Measurands", "Power.Active.Import, Energy.Active.Import.Register"),
        sv(CTRL, "NetworkConfigurationPriority", ""),                  # SequenceList: not empty
        sv(CTRL, "NetworkConfigurationPriority", "0,2"),
        sv("ClockCtrlr", "TimeSource", "GPS")])
    assert status(res) == ["Rejected"] * 7
    res = dm.set_variables([
        sv("AlignedDataCtrlr", "Measurands", "Power.Active.Import,Energy.Active.Import.Register"),
        sv("SampledDataCtrlr", "TxEndedMeasurands", ""),               # MemberList: may be empty
        sv("ClockCtrlr", "TimeSource", "RealTimeClock,Heartbeat")])
    assert status(res) == ["Accepted"] * 3
    assert dm.get(ids.ALIGNED_MEASURANDS) == "Power.Active.Import,Energy.Active.Import.Register"
    assert dm.get(ids.SAMPLED_TX_ENDED_MEASURANDS) == ""


def test_measurand_values_list_comes_from_the_board_meter():
    dm, _ = make(board=Board)
    res = dm.set_variables([sv("SampledDataCtrlr", "TxUpdatedMeasurands", "Voltage,Current.Import")])
    assert status(res) == ["Accepted"]
    vl = [i["variableCharacteristics"]["valuesList"] for i in _all_items(dm, "ConfigurationInventory")
          if i["variable"]["name"] == "TxUpdatedMeasurands"]
    assert vl == [",".join(Board.MEASURANDS)]


def test_B05_FR_09_reboot_required_for_network_configuration_priority():
    dm, st = make()
    res = dm.set_variables([sv(CTRL, "NetworkConfigurationPriority", "1,0")])
    assert status(res) == ["RebootRequired"]
    assert st.load("dm") == [ids.NETWORK_CONFIGURATION_PRIORITY, "1,0"]   # kept for the reboot


def test_A01_TC_A_09_CS_TC_A_10_CS_basic_auth_password_write_only():
    changes = []
    dm, st = make()
    dm.on_change = lambda vid, v: changes.append((vid, v))
    res = dm.set_variables([sv("SecurityCtrlr", "BasicAuthPassword", "short"),
                            sv("SecurityCtrlr", "BasicAuthPassword", "x" * 41)])
    assert status(res) == ["Rejected", "Rejected"] and changes == []
    pw = "Secret:Password-0123"
    res = dm.set_variables([sv("SecurityCtrlr", "BasicAuthPassword", pw)])
    assert status(res) == ["Accepted"]
    assert changes == [(ids.BASIC_AUTH_PASSWORD, pw)]   # the station reconnects with it
    assert dm.get(ids.BASIC_AUTH_PASSWORD) == pw and st.load("dm") == [ids.BASIC_AUTH_PASSWORD, pw]


def test_B05_persisted_before_on_change_and_unchanged_values_not_written():
    seen = []
    dm, st = make()

    def hook(vid, v):
        seen.append((vid, v, st.load("dm")))
    dm.on_change = hook
    res = dm.set_variables([sv(CTRL, "HeartbeatInterval", "60"), sv(CTRL, "OfflineThreshold", "60")])
    assert status(res) == ["Accepted", "Accepted"]
    # OfflineThreshold was already 60: no change, no hook call
    assert seen == [(ids.HEARTBEAT_INTERVAL, 60, [ids.HEARTBEAT_INTERVAL, 60])]
    writes = []
    orig = st.save
    st.save = lambda n, o: writes.append(orig(n, o))
    dm.set_variables([sv(CTRL, "HeartbeatInterval", "60")])
    dm.set(ids.HEARTBEAT_INTERVAL, 60)
    assert writes == [] and len(seen) == 1


def test_B05_store_failure_rolls_back_and_rejects():
    dm, st = make()

    def broken(name, obj):
        raise OSError(28)  # ENOSPC
    st.save = broken
    res = dm.set_variables([sv(CTRL, "HeartbeatInterval", "60"), sv(CTRL, "NoSuch", "1")])
    assert status(res) == ["Rejected", "UnknownVariable"]
    assert res[0]["attributeStatusInfo"]["reasonCode"] == "InternalError"
    assert dm.get(ids.HEARTBEAT_INTERVAL) == 300
    raises(OSError, dm.set, ids.HEARTBEAT_INTERVAL, 61)
    assert dm.get(ids.HEARTBEAT_INTERVAL) == 300


def test_B05_hooks_validate_and_failing_on_change():
    dm, _ = make()
    dm.validate = lambda vid, v: not (vid == ids.NETWORK_CONFIGURATION_PRIORITY and "1" in v)

    def boom(vid, v):
        raise RuntimeError("station bug")
    dm.on_change = boom
    res = dm.set_variables([sv(CTRL, "NetworkConfigurationPriority", "1"),
                            sv(CTRL, "WebSocketPingInterval", "0")])
    assert status(res) == ["Rejected", "Accepted"]
    assert dm.get(ids.WEBSOCKET_PING_INTERVAL) == 0


def test_bad_input_never_raises():
    dm, _ = make()
    items = [{"component": "OCPPCommCtrlr", "variable": {"name": "OfflineThreshold"},
              "attributeValue": "1"},
             {"component": {"name": CTRL}, "variable": None, "attributeValue": "1"},
             {"component": {"name": None}, "variable": {"name": 5}, "attributeValue": "1"},
             {"component": {"name": CTRL}, "variable": {"name": "OfflineThreshold"},
              "attributeValue": 12},
             {"component": {"name": CTRL}, "variable": {"name": "OfflineThreshold"}},
             {"component": {"name": "EVSE", "evse": {"id": "1"}}, "variable": {"name": "Power"},
              "attributeValue": "1"},
             {"component": {"name": "EVSE", "evse": 1}, "variable": {"name": "Power"},
              "attributeValue": "1"},
             sv(CTRL, "OfflineThreshold", "9" * 1000)]
    res = dm.set_variables(items)
    assert status(res) == ["UnknownComponent", "UnknownComponent", "UnknownComponent",
                           "Rejected", "Rejected", "UnknownComponent", "UnknownComponent",
                           "Rejected"]
    res = dm.get_variables([{"component": {}, "variable": {}}, {}])
    assert status(res) == ["UnknownComponent", "UnknownComponent"]


def test_set_from_the_stack():
    dm, st = make()
    dm.set(ids.HEARTBEAT_INTERVAL, 30)                  # BootNotificationResponse.interval
    dm.set(ids.SECURITY_PROFILE, 2)                     # after SetNetworkProfile + reconnect
    dm.set(ids.SAMPLED_TX_UPDATED_MEASURANDS, ["Power.Active.Import"])
    dm.set(ids.LOCAL_PRE_AUTHORIZE, "true")
    assert (dm.get(ids.HEARTBEAT_INTERVAL), dm.get(ids.SECURITY_PROFILE)) == (30, 2)
    assert dm.get(ids.SAMPLED_TX_UPDATED_MEASURANDS) == "Power.Active.Import"
    assert dm.get(ids.LOCAL_PRE_AUTHORIZE) is True
    assert sorted(st.load("dm")[0::2]) == sorted([ids.HEARTBEAT_INTERVAL, ids.SECURITY_PROFILE,
                                                  ids.SAMPLED_TX_UPDATED_MEASURANDS,
                                                  ids.LOCAL_PRE_AUTHORIZE])
    assert str(raises(ValueError, dm.set, ids.MESSAGE_TIMEOUT, 5)) == "ReadOnly"
    assert str(raises(ValueError, dm.set, ids.HEARTBEAT_INTERVAL, 0)) == "ValueOutOfRange"
    raises(ValueError, dm.set, ids.HEARTBEAT_INTERVAL, "soon")
    raises(ValueError, dm.set, ids.HEARTBEAT_INTERVAL, True)
    raises(ValueError, dm.set, ids.SECURITY_PROFILE, 3)          # Lite: profiles 1 and 2
    assert dm.get(ids.HEARTBEAT_INTERVAL) == 30
    dm.set(ids.HEARTBEAT_INTERVAL, 300)                          # back to default: not stored
    assert ids.HEARTBEAT_INTERVAL not in st.load("dm")[0::2]


# ---- persistence and recovery --------------------------------------------------------------

def test_reset_keeps_values_and_defaults_are_not_stored():
    root = tmpdir("dm")
    dm, st = make(root=root)
    dm.set_variables([sv(CTRL, "HeartbeatInterval", "45"), sv("TxCtrlr", "StopTxOnInvalidId",
                                                               "false"),
                      sv("SecurityCtrlr", "OrganizationName", "Grid Op")])
    dm2, st2 = make(root=root)
    assert (dm2.get(ids.HEARTBEAT_INTERVAL), dm2.get(ids.STOP_TX_ON_INVALID_ID),
            dm2.get(ids.ORGANIZATION_NAME)) == (45, False, "Grid Op")
    assert len(st2.load("dm")) == 6 and dm2.dropped == 0 and st2.corrupt == []


def test_corrupt_dm_file_falls_back_to_defaults_and_is_reported():
    root = tmpdir("dm")
    dm, st = make(root=root)
    dm.set(ids.HEARTBEAT_INTERVAL, 45)
    f = open(root + "/dm", "r+b")
    f.seek(3)
    f.write(b"\xff")
    f.close()
    dm2, st2 = make(root=root)
    assert dm2.get(ids.HEARTBEAT_INTERVAL) == 300 and st2.corrupt == ["dm"]
    st2.save("dm", {"not": "a list"})
    dm3, st3 = make(root=root)
    assert dm3.get(ids.HEARTBEAT_INTERVAL) == 300 and st3.corrupt == ["dm"]


def test_stale_or_invalid_persisted_entries_are_dropped():
    root = tmpdir("dm")
    st = Store(root)
    st.save("dm", [ids.HEARTBEAT_INTERVAL, 77, 999, 1, ids.MESSAGE_TIMEOUT, 5,
                   ids.OFFLINE_THRESHOLD, -5, ids.ALIGNED_MEASURANDS, "SoC",
                   "x", 1, ids.LOCAL_PRE_AUTHORIZE, 1])
    dm, _ = make(root=root)
    assert dm.get(ids.HEARTBEAT_INTERVAL) == 77
    assert dm.dropped == 6
    assert (dm.get(ids.MESSAGE_TIMEOUT), dm.get(ids.OFFLINE_THRESHOLD)) == (30, 60)
    assert dm.get(ids.LOCAL_PRE_AUTHORIZE) is False


def test_G03_G04_TC_G_18_CS_TC_G_19_CS_TC_G_21_CS_availability_persists_across_reboot():
    root = tmpdir("dm")
    dm, _ = make(root=root)
    assert dm.restore("availability", {}) == {}
    assert dm.persist("availability", {"0": "Operative", "1": "Inoperative"}) is True
    assert dm.persist("availability", {"0": "Operative", "1": "Inoperative"}) is False
    dm2, _ = make(root=root)
    assert dm2.restore("availability") == {"0": "Operative", "1": "Inoperative"}


# ---- request size limits -------------------------------------------------------------------

def test_B06_FR_16_17_request_size_limits():
    dm, _ = make()
    n = dm.get(ids.ITEMS_PER_MESSAGE_GET_VARIABLES)
    b = dm.get(ids.BYTES_PER_MESSAGE_SET_VARIABLES)
    assert dm.check_request_size("GetVariables", n, 100) is None
    assert dm.check_request_size("GetVariables", n + 1, 100) == "OccurrenceConstraintViolation"
    assert dm.check_request_size("SetVariables", 2, b) is None
    assert dm.check_request_size("SetVariables", 2, b + 1) == "FormatViolation"
    assert dm.check_request_size("SetVariables", n + 1, b + 1) == "OccurrenceConstraintViolation"
    assert dm.check_request_size("GetReport", 99, 1) == "OccurrenceConstraintViolation"
    assert dm.check_request_size("Heartbeat", 999, 999999) is None


# ---- B07 GetBaseReport ---------------------------------------------------------------------

def _all_items(dm, base, max_bytes=None):
    out = []
    gen = dm.report_parts(base, max_bytes)
    for part, _ in gen:
        out.extend(part)
    return out


def test_B07_TC_B_15_CS_summary_inventory_not_supported():
    dm, _ = make()
    assert dm.report_parts("SummaryInventory") is None
    assert dm.report_parts("Bogus") is None


def test_B07_TC_B_13_CS_TC_B_53_CS_full_inventory_has_every_variable_once_per_evse():
    for evses in (1, 2):
        dm, _ = make(evses=evses, live=Live())
        items = _all_items(dm, "FullInventory")
        assert len(items) == 49 + 8 * evses
        keys = {}
        for it in items:
            c = it["component"]
            k = (c["name"], json.dumps(c.get("evse")), it["variable"]["name"],
                 it["variable"].get("instance"))
            assert k not in keys, k
            keys[k] = 1
            attr = it["variableAttribute"]
            assert len(attr) == 1 and attr[0]["type"] == "Actual"
            ch = it["variableCharacteristics"]
            assert ch["supportsMonitoring"] is False
            dt = ch["dataType"]
            if attr[0]["mutability"] == "WriteOnly":
                assert "value" not in attr[0]
                continue
            value = attr[0]["value"]
            if dt in ("OptionList", "MemberList", "SequenceList"):
                allowed = ch["valuesList"].split(",")
                assert allowed and allowed[0], it
                members = value.split(",") if dt != "OptionList" else [value]
                assert value and all(m in allowed for m in members), it
            if dt == "integer":
                int(value)
        for e in range(1, evses + 1):
            for name in ("Available", "AvailabilityState", "SupplyPhases", "Power"):
                assert ("EVSE", json.dumps({"id": e}), name, None) in keys
        pw = [it for it in items if it["variable"]["name"] == "Power"]
        assert all(it["variableCharacteristics"]["maxLimit"] == desktop.MAX_POWER_W
                   and it["variableCharacteristics"]["unit"] == "W" for it in pw)


def test_B07_TC_B_12_CS_configuration_inventory_is_the_writable_variables():
    dm, _ = make()
    items = _all_items(dm, "ConfigurationInventory")
    muts = [it["variableAttribute"][0]["mutability"] for it in items]
    assert len(items) == 28 and muts.count("WriteOnly") == 1
    assert all(m in ("ReadWrite", "WriteOnly") for m in muts)


def test_B07_parts_fit_bytes_per_message_and_items_per_message():
    dm, _ = make(evses=2, live=Live())
    n_items = dm.get(ids.ITEMS_PER_MESSAGE_GET_REPORT)
    for max_bytes in (900, 2000, dm.get(ids.BYTES_PER_MESSAGE_GET_REPORT)):
        parts = []
        flags = []
        for p, tbc in dm.report_parts("FullInventory", max_bytes):
            parts.append(p)
            flags.append(tbc)
        assert flags == [True] * (len(parts) - 1) + [False]
        assert sum(len(p) for p in parts) == 65
        for seq, p in enumerate(parts):
            assert 0 < len(p) <= n_items
            frame = dumps([2, "0123456789abcdef0123456789abcdef0123", "NotifyReport",
                           {"requestId": 2147483647, "generatedAt": "2026-01-01T00:00:00Z",
                            "seqNo": seq, "tbc": flags[seq], "reportData": p}])
            # the frame as the station sends it (lite_stack.core.rpc.dumps: compact JSON)
            assert len(frame.encode()) <= max_bytes, (max_bytes, len(frame))
        if max_bytes == 900:
            assert len(parts) > 10


def _interleave(a, b):
    # Advance two report iterators alternately until both are exhausted.
    out_a, out_b = [], []
    live = [(a, out_a), (b, out_b)]
    while live:
        for pair in list(live):
            try:
                pair[1].append(next(pair[0]))
            except StopIteration:
                live.remove(pair)
    return out_a, out_b


def test_B07_interleaved_reports_give_the_same_parts_as_sequential_ones():
    # Two GetBaseReports in flight (e.g. a second request while the first is still being sent):
    # each iterator keeps its own part, size and tbc, so neither corrupts the other.
    dm, _ = make(evses=2, live=Live())
    for base_a, bytes_a, base_b, bytes_b in (("FullInventory", 900, "FullInventory", 900),
                                             ("FullInventory", 900, "ConfigurationInventory", 700),
                                             ("ConfigurationInventory", None, "FullInventory",
                                              2000)):
        seq_a = list(dm.report_parts(base_a, bytes_a))
        seq_b = list(dm.report_parts(base_b, bytes_b))
        par_a, par_b = _interleave(dm.report_parts(base_a, bytes_a),
                                   dm.report_parts(base_b, bytes_b))
        assert par_a == seq_a and par_b == seq_b
        for parts in (seq_a, seq_b):
            assert len(parts) > 1
            assert [t for _, t in parts] == [True] * (len(parts) - 1) + [False]
    assert not hasattr(dm, "report_tbc")


def test_parse_and_format_helpers():
    assert parse_value("integer", "-42") == -42
    assert parse_value("boolean", "False") is False
    assert parse_value("decimal", "7400") == 7400 and parse_value("decimal", "1.5") == 1.5
    assert parse_value("dateTime", "2026-01-01T00:00:00Z") == "2026-01-01T00:00:00Z"
    assert parse_value("OptionList", "b", "a,b") == "b"
    raises(ValueError, parse_value, "OptionList", "c", "a,b")
    raises(ValueError, parse_value, "SequenceList", "a,a", "a,b")
    assert raises(ValueError, parse_value, "dateTime", "tomorrow").args[0] == "InvalidValue"
    raises(ValueError, parse_value, "decimal", "1,5")
    raises(ValueError, parse_value, "decimal", "1e999")
    raises(ValueError, parse_value, "integer", 12)
    assert format_value(True) == "true" and format_value(12) == "12" and format_value(7400.0) == "7400"
    assert format_value(["a", "b"]) == "a,b"
