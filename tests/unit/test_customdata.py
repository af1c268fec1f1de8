"""P CustomData (Part 6 TC_P_03) on simulated time, both interpreters: ``customData`` (CustomDataType:
a required ``vendorId`` and any vendor properties) is accepted and ignored at the top level and nested
in every CSMS request the station implements, through the validator (lite_stack/core/validate.py)
and the handlers; without ``vendorId`` it is a CALLERROR OccurrenceConstraintViolation (Part 4
section 4.3: a required field missing)."""
from tests.unit.test_station import scenario

CD = {"vendorId": "com.example.octt", "extra": [1, {"deep": None}], "n": 2.5}


def test_P_customData_accepted_and_ignored_in_every_request_TC_P_03_CS():
    async def s(rig):
        await rig.boot()
        call = rig.csms.call
        comp = {"name": "OCPPCommCtrlr", "customData": CD}
        var = {"name": "OfflineThreshold", "customData": {"vendorId": "v"}}
        r = await call("SetVariables", {"customData": CD, "setVariableData": [{
            "attributeValue": "200", "attributeType": "Actual", "component": comp, "variable": var,
            "customData": CD}]})
        assert r[0] == 3 and r[2]["setVariableResult"][0]["attributeStatus"] == "Accepted", r  # step 2
        r = await call("GetVariables", {"customData": CD, "getVariableData": [{
            "attributeType": "Actual", "component": comp, "variable": var, "customData": CD}]})
        res = r[2]["getVariableResult"][0]                                                      # step 4
        assert res["attributeStatus"] == "Accepted" and res["attributeValue"] == "200"
        assert res.get("attributeType", "Actual") == "Actual"
        r = await call("TriggerMessage", {"requestedMessage": "Heartbeat", "customData": CD})
        assert r[2]["status"] == "Accepted"
        r = await call("Reset", {"type": "Immediate", "evseId": 1, "customData": CD})
        assert r[0] == 3 and r[2]["status"] in ("Rejected", "Accepted", "Scheduled"), r
        r = await call("DataTransfer", {"vendorId": "com.example", "customData": CD})
        assert r[2]["status"] == "UnknownVendorId"
        r = await call("ChangeAvailability", {"operationalStatus": "Operative",
                                              "evse": {"id": 1, "customData": CD}, "customData": CD})
        assert r[2]["status"] == "Accepted"
        r = await call("CustomerInformation", {"requestId": 9, "report": True, "clear": False,
                                               "customData": CD,
                                               "idToken": {"idToken": "X1", "type": "Central",
                                                           "customData": CD}})
        assert r[2]["status"] == "Accepted"
        r = await call("RequestStartTransaction", {
            "remoteStartId": 3, "evseId": 1, "customData": CD,
            "idToken": {"idToken": "REMOTE01", "type": "Central", "customData": CD,
                        "additionalInfo": [{"additionalIdToken": "a", "type": "b", "customData": CD}]}})
        assert r[2]["status"] == "Accepted", r
        await rig.settle(2)
        assert rig.station.evses[0].auth[0]["idToken"] == "REMOTE01"
        r = await call("GetTransactionStatus", {"customData": CD})
        assert r[0] == 3 and "messagesInQueue" in r[2]
        # customData is a CustomDataType: vendorId is required (Part 2 CustomDataType; Part 4 4.3:
        # a required field missing is an occurrence constraint violation)
        r = await call("GetTransactionStatus", {"customData": {"extra": 1}})
        assert r[0] == 4 and r[2] == "OccurrenceConstraintViolation" and "vendorId" in r[3], r
        r = await call("TriggerMessage", {"requestedMessage": "StatusNotification",
                                          "evse": {"id": 1, "connectorId": 1, "customData": {"x": 1}}})
        assert r[0] == 4 and r[2] == "OccurrenceConstraintViolation" and r[3].startswith("evse.customData")
        r = await call("Reset", {"type": "Immediate", "customData": "text"})
        assert r[0] == 4 and r[2] == "TypeConstraintViolation", r
    scenario(s)
