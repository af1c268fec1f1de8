"""End-to-end: the simulated station as a subprocess (CPython and MicroPython) against the embedded
`ocpp`-based CSMS on loopback; every frame the station sends is checked against the official OCPP
2.0.1 JSON schemas (run_scenario fails on any violation)."""
import asyncio

import pytest

from ocpp2lite.csms import CallErrorReply, OcppCallError, SILENT
from tests.harness import run_scenario, booted


async def _accepted(csms):
    boot, i = await booted(csms)
    st, j = await csms.wait_for("StatusNotification", since=i + 1, timeout=15)
    return boot, j


async def _started(csms, st, since):
    await st.plug_in()
    await st.token("AB12CD34")
    te, i = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started",
                                since=since, timeout=15)
    return te, i


def test_B01_boot_accepted_status_heartbeat_TC_B_01_CS(interp):
    async def scenario(csms, st):
        boot, i = await booted(csms)
        assert boot["reason"] == "PowerUp"
        sn, j = await csms.wait_for("StatusNotification", since=i + 1, timeout=15)
        assert sn["connectorStatus"] == "Available"
        await csms.wait_for("Heartbeat", since=j + 1, timeout=20)
    run_scenario(scenario, interp, csms_kwargs={"heartbeat_interval": 3})


def test_B02_boot_pending_then_accepted_TC_B_02_CS(interp):
    async def scenario(csms, st):
        b1, i = await booted(csms)
        r = await csms.call("GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})
        assert r["getVariableResult"][0]["attributeStatus"] == "Accepted"
        csms.boot_status = "Accepted"
        b2, j = await csms.wait_for("BootNotification", since=i + 1, timeout=15)
        # nothing but BootNotification in between (B02.FR.02)
        assert [f.action for f in csms.frames(i + 1) if f.sender == "CS" and f.kind == 2 and f.index < j] == []
        await csms.wait_for("StatusNotification", since=j + 1, timeout=15)
    run_scenario(scenario, interp, csms_kwargs={"boot_status": "Pending", "heartbeat_interval": 3})


def test_B03_boot_rejected_retries_and_sends_nothing_else_TC_B_03_CS(interp):
    async def scenario(csms, st):
        b1, i = await booted(csms)
        await st.plug_in()
        b2, j = await csms.wait_for("BootNotification", since=i + 1, timeout=15)
        sent = [f.action for f in csms.frames(0) if f.sender == "CS" and f.kind == 2]
        assert set(sent) == {"BootNotification"}
    run_scenario(scenario, interp, csms_kwargs={"boot_status": "Rejected", "heartbeat_interval": 3})


def test_E02_local_start_plug_then_card_stop_on_unplug_TC_E_03_CS_TC_E_37_CS(interp):
    async def scenario(csms, st):
        _, i = await _accepted(csms)
        r = await csms.call("SetVariables", {"setVariableData": [
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
             "attributeValue": "2"}]})
        assert r["setVariableResult"][0]["attributeStatus"] == "Accepted"
        await st.plug_in()
        await csms.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Occupied", since=i)
        await st.token("AB12CD34")
        a, _ = await csms.wait_for("Authorize", since=i, timeout=15)
        te, k = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", since=i)
        assert te["triggerReason"] == "Authorized" and te["seqNo"] == 0
        upd, _ = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Updated",
                                     since=k + 1, timeout=15)
        await st.plug_out()
        end, _ = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=k + 1)
        assert end["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        tes = [p for p, _ in csms.requests("TransactionEvent")]
        assert [p["seqNo"] for p in tes] == list(range(len(tes)))
        energy = [sv["value"] for p in tes for mv in p.get("meterValue", []) for sv in mv["sampledValue"]
                  if sv.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"]
        assert all(isinstance(v, int) for v in energy) and energy == sorted(energy)
    run_scenario(scenario, interp)


def test_E03_local_start_card_then_plug_TC_E_04_CS(interp):
    async def scenario(csms, st):
        _, i = await _accepted(csms)
        await st.token("AB12CD34")
        await csms.wait_for("Authorize", since=i)
        await asyncio.sleep(1)  # the AuthorizeResponse is in before the cable
        await st.plug_in()
        te, k = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", since=i)
        assert te["triggerReason"] == "CablePluggedIn"
        await st.token("AB12CD34")
        end, _ = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=k + 1)
        assert end["triggerReason"] == "StopAuthorized"
    run_scenario(scenario, interp)


def test_F01_F03_remote_start_and_stop_TC_F_01_CS_TC_F_08_CS(interp):
    async def scenario(csms, st):
        _, i = await _accepted(csms)
        await st.plug_in()
        await csms.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Occupied", since=i)
        r = await csms.call("RequestStartTransaction", {
            "idToken": {"idToken": "REMOTE1", "type": "Central"}, "remoteStartId": 11})
        assert r["status"] == "Accepted"
        te, k = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", since=i)
        assert te["triggerReason"] == "RemoteStart" and te["transactionInfo"]["remoteStartId"] == 11
        r = await csms.call("RequestStopTransaction", {"transactionId": "does-not-exist"})
        assert r["status"] == "Rejected"
        r = await csms.call("RequestStopTransaction",
                            {"transactionId": te["transactionInfo"]["transactionId"]})
        assert r["status"] == "Accepted"
        end, _ = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=k + 1)
        assert end["transactionInfo"]["stoppedReason"] == "Remote"
    run_scenario(scenario, interp, csms_kwargs={"tokens": ("AB12CD34", "REMOTE1")})  # a valid IdToken


def test_F02_remote_start_first_then_plug_TC_F_03_CS(interp):
    async def scenario(csms, st):
        _, i = await _accepted(csms)
        r = await csms.call("RequestStartTransaction", {
            "idToken": {"idToken": "REMOTE1", "type": "Central"}, "remoteStartId": 12})
        assert r["status"] == "Accepted"
        await st.plug_in()
        te, k = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", since=i)
        assert te["transactionInfo"]["remoteStartId"] == 12
    run_scenario(scenario, interp, csms_kwargs={"tokens": ("AB12CD34", "REMOTE1")})  # a valid IdToken


@pytest.mark.parametrize("kind", ["OnIdle", "Immediate"])
def test_B11_reset_without_transaction_exits_and_reboots_TC_B_20_CS(interp, kind):
    async def scenario(csms, st):
        await _accepted(csms)
        r = await csms.call("Reset", {"type": kind})
        assert r["status"] == "Accepted"
        code = await st.wait_exit(15)
        assert code == 0
        i = csms.mark()
        await st.start()
        boot, _ = await booted(csms, since=i)
        assert boot["reason"] == "RemoteReset"
    run_scenario(scenario, interp, station_kwargs={"exit_on_reset": True})


def test_B12_reset_immediate_with_transaction_ends_it_TC_B_22_CS(interp):
    async def scenario(csms, st):
        _, i = await _accepted(csms)
        te, k = await _started(csms, st, i)
        r = await csms.call("Reset", {"type": "Immediate"})
        assert r["status"] == "Accepted"
        end, _ = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=k + 1)
        assert end["triggerReason"] == "ResetCommand"
        assert end["transactionInfo"]["stoppedReason"] == "ImmediateReset"
        assert await st.wait_exit(15) == 0
    run_scenario(scenario, interp, station_kwargs={"exit_on_reset": True})


def test_B12_reset_onidle_with_transaction_scheduled_TC_B_21_CS(interp):
    async def scenario(csms, st):
        _, i = await _accepted(csms)
        te, k = await _started(csms, st, i)
        r = await csms.call("Reset", {"type": "OnIdle"})
        assert r["status"] == "Scheduled"
        await asyncio.sleep(1)
        await st.plug_out()
        end, _ = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=k + 1)
        assert end["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        assert await st.wait_exit(15) == 0
    run_scenario(scenario, interp, station_kwargs={"exit_on_reset": True})


def test_unknown_action_not_implemented_and_garbage_frames(interp):
    async def scenario(csms, st):
        await _accepted(csms)
        try:
            await csms.call("GetReport", {"requestId": 1}, validate=False)
            raise AssertionError("GetReport should be NotImplemented")
        except OcppCallError as e:
            assert e.code == "NotImplemented"
        i = await csms.send_raw("this is not OCPP")
        text, _ = await csms.wait_raw(lambda t: t.startswith("[4"), since=i, timeout=10)
        assert '"-1"' in text and "RpcFrameworkError" in text
        i = await csms.send_raw('[2,"bad-1","Reset",{"type":"Sometimes"}]')
        text, _ = await csms.wait_raw(lambda t: '"bad-1"' in t, since=i, timeout=10)
        assert text.startswith("[4")
        r = await csms.call("GetTransactionStatus", {})
        assert r["messagesInQueue"] is False
    run_scenario(scenario, interp)


def test_E13_retry_after_callerror_then_success_TC_E_51_CS(interp):
    async def scenario(csms, st):
        _, i = await _accepted(csms)
        await csms.call("SetVariables", {"setVariableData": [
            {"component": {"name": "OCPPCommCtrlr"},
             "variable": {"name": "MessageAttemptInterval", "instance": "TransactionEvent"},
             "attributeValue": "1"}]})
        csms.set_response("TransactionEvent", CallErrorReply("InternalError"), times=2)
        te, k = await _started(csms, st, i)
        await csms.wait_until(lambda: len(csms.requests("TransactionEvent")) >= 3, 20, "3 attempts")
        sent = [p for p, _ in csms.requests("TransactionEvent")]
        assert [p["seqNo"] for p in sent[:3]] == [0, 0, 0]
        assert sent[0] == sent[1] == sent[2]          # the same message each time
        # the third attempt succeeded: the queue moves on (seqNo 1 next) and holds nothing for it
        await st.plug_out()
        await csms.wait_until(lambda: any(p["eventType"] == "Ended"
                                          for p, _ in csms.requests("TransactionEvent")), 30, "Ended")
        sent = [p for p, _ in csms.requests("TransactionEvent")]
        assert [p["seqNo"] for p in sent] == [0, 0, 0] + list(range(1, len(sent) - 2))
        # the Available status follows once the Ended event has left the queue (E06 ordering)
        await csms.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Available",
                            since=csms.requests("TransactionEvent")[-1][1], timeout=15)
        r = await csms.call("GetTransactionStatus", {})
        assert r["messagesInQueue"] is False
    run_scenario(scenario, interp)
