"""The embedded CSMS, the schema check, the demo and the end-to-end harness (CPython only).

The CSMS is exercised with a Charging Station client built on the `ocpp` library, and with raw
WebSocket frames where a deliberately bad frame is needed.
"""
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.headers import build_authorization_basic
from ocpp.exceptions import FormatViolationError, ValidationError
from ocpp.routing import create_route_map, on
from ocpp.v201 import ChargePoint, call, call_result

from ocpp2lite import csms as csms_mod
from ocpp2lite import demo as demo_mod
from ocpp2lite import schema_check as sc
from ocpp2lite.csms import SILENT, CallErrorReply, Csms, OcppCallError
from tests import harness
from tests.mp import ROOT

BOOT = dict(charging_station={"model": "M1", "vendorName": "V"}, reason="PowerUp")
FAKE_CMD = "%s -m tests.harness fake-station" % sys.executable


def arun(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Client(ChargePoint):
    """Station-side test client: answers GetVariables; no handler for Reset (-> NotImplemented)."""

    @on("GetVariables")
    def on_get_variables(self, get_variable_data, **kw):
        return call_result.GetVariables(get_variable_result=[
            {"attributeStatus": "Accepted", "attributeValue": "5", "component": i["component"],
             "variable": i["variable"]} for i in get_variable_data])


@contextlib.asynccontextmanager
async def client(c, sid="CS001", password=None, user=None, subprotocols=("ocpp2.0.1",), cls=Client):
    headers = {}
    if password is not None:
        headers["Authorization"] = build_authorization_basic(user or sid, password)
    ws = await connect(c.url + "/" + sid, subprotocols=list(subprotocols) or None, additional_headers=headers,
                       open_timeout=5)
    cp = cls(sid, ws)
    task = asyncio.ensure_future(cp.start())
    try:
        yield cp
    finally:
        task.cancel()
        await ws.close()


@contextlib.asynccontextmanager
async def running(**kw):
    c = Csms(**kw)
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


# ---- schema_check ---------------------------------------------------------------------------------
def test_datetime_is_rfc3339_with_at_most_3_decimals():
    good = ["2024-02-29T23:59:60Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.1+02:00",
            "2024-01-01T00:00:00.123Z", "2000-02-29t10:00:00-05:30", "2024-12-31T23:59:59.999z"]
    bad = ["2024-01-01T00:00:00.1234Z", "2024-01-01T00:00:00.123456Z", "2023-02-29T00:00:00Z",
           "1900-02-29T00:00:00Z", "2024-01-01T00:00:00", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z",
           "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:00.Z", "2024-1-01T00:00:00Z",
           "", 20240101]
    assert [g for g in good if not sc.is_ocpp_datetime(g)] == []
    assert [b for b in bad if sc.is_ocpp_datetime(b)] == []


def test_schema_check_call_payloads_against_v201_request_schemas():
    ok = json.dumps([2, "1", "BootNotification", {"reason": "PowerUp",
                                                  "chargingStation": {"model": "m", "vendorName": "v"}}])
    assert sc.violations(ok) == []
    v = sc.violations(json.dumps([2, "1", "BootNotification", {"reason": "Bogus", "chargingStation": {"model": "m"}}]))
    assert len(v) == 2
    assert any("vendorName" in x and "required" in x for x in v)
    assert any("$.reason" in x for x in v)
    v = sc.violations(json.dumps([2, "1", "StatusNotification", {
        "timestamp": "2024-01-01T00:00:00.123456Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}]))
    assert len(v) == 1 and "$.timestamp" in v[0] and "date-time" in v[0]
    # additionalProperties: false in the official schemas
    v = sc.violations(json.dumps([2, "1", "Heartbeat", {"extra": 1}]))
    assert len(v) == 1 and "extra" in v[0]


def test_schema_check_callresult_uses_action_of_pending_call():
    frame = json.dumps([3, "7", {"status": "Accepted"}])
    assert sc.violations(frame, {"7": "Reset"}) == []
    assert sc.violations(frame, {"7": "GetVariables"})           # wrong shape for that action
    assert "no outstanding CALL" in sc.violations(frame, {})[0]
    assert "no outstanding CALL" in sc.violations(frame, {"8": "Reset"})[0]


def test_schema_check_callerror_structure_and_codes():
    pend = {"9": "Reset"}
    assert sc.violations(json.dumps([4, "9", "NotImplemented", "", {}]), pend) == []
    assert sc.violations(json.dumps([4, "-1", "RpcFrameworkError", "bad frame", {}]), {}) == []
    assert "errorCode" in sc.violations(json.dumps([4, "9", "NotImplementedError", "", {}]), pend)[0]
    assert "255" in sc.violations(json.dumps([4, "9", "GenericError", "x" * 256, {}]), pend)[0]
    assert sc.violations(json.dumps([4, "9", "GenericError", "x" * 255, {}]), pend) == []
    assert "errorDetails" in sc.violations(json.dumps([4, "9", "GenericError", "", None]), pend)[0]
    assert "5" in sc.violations(json.dumps([4, "9", "GenericError", ""]), pend)[0]
    assert "no outstanding CALL" in sc.violations(json.dumps([4, "10", "GenericError", "", {}]), pend)[0]


def test_schema_check_framing():
    assert "binary" in sc.violations(b'[2,"1","Heartbeat",{}]')[0]
    assert "JSON" in sc.violations('[2,"1","Heartbeat",{"a":NaN}]')[0]
    assert "JSON" in sc.violations('[2,"1","Heartbeat",{}')[0]
    assert "array" in sc.violations('{"a":1}')[0]
    assert "MessageTypeId" in sc.violations('[5,"1",{}]')[0]
    assert "MessageTypeId" in sc.violations('[2.0,"1","Heartbeat",{}]')[0]
    assert "elements" in sc.violations('[2,"1","Heartbeat"]')[0]
    assert "36" in sc.violations(json.dumps([2, "x" * 37, "Heartbeat", {}]))[0]
    assert sc.violations(json.dumps([2, "x" * 36, "Heartbeat", {}])) == []
    assert "not a string" in sc.violations('[2,1,"Heartbeat",{}]')[0]
    assert "Charging Station to CSMS" in sc.violations('[2,"1","Reset",{"type":"Immediate"}]')[0]
    assert "not an object" in sc.violations('[2,"1","Heartbeat",[]]')[0]
    assert set(sc.CS_ACTIONS) <= {f[:-len("Request.json")] for f in os.listdir(sc.SCHEMA_DIR)
                                  if f.endswith("Request.json")}


# ---- CSMS: handshake -------------------------------------------------------------------------------
def test_B01_boot_accepted_and_every_frame_recorded():
    async def main():
        async with running(heartbeat_interval=42) as c:
            async with client(c) as cp:
                res = await cp.call(call.BootNotification(**BOOT))
                assert res.status == "Accepted" and res.interval == 42
                assert sc.is_ocpp_datetime(res.current_time)
                hb = await cp.call(call.Heartbeat())
                assert sc.is_ocpp_datetime(hb.current_time)
                assert await c.wait_connected("CS001", 1) == "CS001"
                boot, i = await c.wait_for("BootNotification", timeout=1)
                assert boot["chargingStation"]["model"] == "M1" and i == 0
            kinds = [(f.sender, f.kind, f.action) for f in c.messages]
            assert kinds == [("CS", 2, "BootNotification"), ("CSMS", 3, "BootNotification"),
                             ("CS", 2, "Heartbeat"), ("CSMS", 3, "Heartbeat")]
            assert [f.index for f in c.messages] == [0, 1, 2, 3]
            assert all(f.station == "CS001" and isinstance(f.text, str) for f in c.messages)
            assert c.messages[0].t <= c.messages[1].t <= c.messages[3].t
            assert c.violations == []
            assert "CS -> CSMS  BootNotification" in c.transcript()
            assert "CSMS -> CS  Heartbeat.result" in c.transcript()
    arun(main())


def test_B02_B03_boot_pending_and_rejected_with_interval():
    async def main():
        async with running(boot_status="Pending", heartbeat_interval=5) as c:
            async with client(c) as cp:
                res = await cp.call(call.BootNotification(**BOOT))
                assert (res.status, res.interval) == ("Pending", 5)
                c.boot_status = "Rejected"
                res = await cp.call(call.BootNotification(**BOOT))
                assert res.status == "Rejected"
                c.boot_status = "Accepted"
                assert (await cp.call(call.BootNotification(**BOOT))).status == "Accepted"
    arun(main())


def test_A00_basic_auth_username_is_station_id_else_401():
    async def main():
        async with running(password="0123456789abcdef") as c:
            for kw in ({}, {"password": "wrong-password-123"}, {"password": "0123456789abcdef", "user": "OTHER"}):
                with pytest.raises(websockets.InvalidStatus) as e:
                    async with client(c, **kw):
                        pass
                assert e.value.response.status_code == 401
                assert "Basic" in e.value.response.headers["WWW-Authenticate"]
            async with client(c, password="0123456789abcdef") as cp:
                assert (await cp.call(call.BootNotification(**BOOT))).status == "Accepted"
            c.password = "new-password-0123456"           # A01: the CSMS side of a password change
            with pytest.raises(websockets.InvalidStatus):
                async with client(c, password="0123456789abcdef"):
                    pass
            async with client(c, password="new-password-0123456"):
                pass
            assert [s for _, s in c.handshakes] == [401, 401, 401, 101, 401, 101]
    arun(main())


def test_subprotocol_ocpp201_required():
    async def main():
        async with running() as c:
            for protos in ((), ("ocpp1.6",)):
                with pytest.raises(websockets.InvalidStatus) as e:
                    async with client(c, subprotocols=protos):
                        pass
                assert e.value.response.status_code == 400
            async with client(c, subprotocols=("ocpp1.6", "ocpp2.0.1")) as cp:
                assert cp._connection.subprotocol == "ocpp2.0.1"
            assert [s for _, s in c.handshakes] == [400, 400, 101]
    arun(main())


def test_handshake_404_without_station_id_and_503_when_not_accepting():
    async def main():
        async with running() as c:
            with pytest.raises(websockets.InvalidStatus) as e:
                await connect(c.url + "/", subprotocols=["ocpp2.0.1"], open_timeout=5)
            assert e.value.response.status_code == 404
            c.accepting = False
            with pytest.raises(websockets.InvalidStatus) as e:
                async with client(c):
                    pass
            assert e.value.response.status_code == 503
            c.accepting = True
            async with client(c, sid="CS%2F2"):
                assert await c.wait_connected("CS/2", 1) == "CS/2"
    arun(main())


# ---- CSMS: answers ---------------------------------------------------------------------------------
def test_C01_C09_authorize_allow_list_status_map_and_group_id():
    async def main():
        async with running(tokens=("AB12CD34",), token_status={"BLOCK1": "Blocked", "OLD1": "Expired"},
                           group_ids={"AB12CD34": "FLEET-7"}) as c:
            async with client(c) as cp:
                async def auth(tok, typ="ISO14443"):
                    r = await cp.call(call.Authorize(id_token={"idToken": tok, "type": typ}))
                    return r.id_token_info
                info = await auth("AB12CD34")
                assert info["status"] == "Accepted"
                assert info["group_id_token"] == {"id_token": "FLEET-7", "type": "Central"}
                assert await auth("BLOCK1") == {"status": "Blocked"}
                assert await auth("OLD1") == {"status": "Expired"}
                assert await auth("NOPE") == {"status": "Invalid"}
                c.unknown_status = "Unknown"
                assert await auth("NOPE") == {"status": "Unknown"}
                assert (await auth("", "NoAuthorization"))["status"] == "Accepted"
                c.tokens.add("NEW1")
                assert (await auth("NEW1"))["status"] == "Accepted"
            assert c.violations == []
    arun(main())


def test_E01_transaction_event_answers_id_token_info_only_with_id_token():
    async def main():
        async with running(token_status={"BLOCK1": "Blocked"}) as c:
            async with client(c) as cp:
                base = dict(timestamp=csms_mod.now_iso(), trigger_reason="Authorized",
                            transaction_info={"transactionId": "tx1"})
                r = await cp.call(call.TransactionEvent(
                    event_type="Started", seq_no=0, evse={"id": 1, "connectorId": 1},
                    id_token={"idToken": "AB12CD34", "type": "ISO14443"}, **base))
                assert r.id_token_info == {"status": "Accepted"}
                r = await cp.call(call.TransactionEvent(event_type="Updated", seq_no=1, **base))
                assert r.id_token_info is None
                r = await cp.call(call.TransactionEvent(event_type="Updated", seq_no=2,
                                                        id_token={"idToken": "BLOCK1", "type": "ISO14443"}, **base))
                assert r.id_token_info == {"status": "Blocked"}
            assert [p["seqNo"] for p, _ in c.requests("TransactionEvent")] == [0, 1, 2]
            assert c.messages[3].text == '[3,"%s",{}]' % c.messages[2].uid
    arun(main())


def test_every_cs_to_csms_action_has_a_default_answer():
    async def main():
        async with running() as c:
            async with client(c) as cp:
                r = await cp.call(call.SecurityEventNotification(type="StartupOfTheDevice",
                                                                 timestamp=csms_mod.now_iso()))
                assert r is not None
                r = await cp.call(call.DataTransfer(vendor_id="x"))
                assert r.status == "UnknownVendorId"
                r = await cp.call(call.FirmwareStatusNotification(status="Idle"))
                assert r is not None
                r = await cp.call(call.LogStatusNotification(status="Idle"))
                assert r is not None
            handled = c.requests("SecurityEventNotification") + c.requests("DataTransfer")
            assert len(handled) == 2
        routed = create_route_map(csms_mod.StationConnection)
        missing = sorted(a for a in sc.CS_ACTIONS if a not in routed)
        assert missing == []
    arun(main())


# ---- CSMS: calls to the station and the schema check of its frames ------------------------------------
def test_call_returns_result_payload_and_raises_on_callerror():
    async def main():
        async with running() as c:
            async with client(c):
                await c.wait_connected("CS001", 2)
                res = await c.call("GetVariables", {"getVariableData": [
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]})
                assert res["getVariableResult"][0]["attributeValue"] == "5"
                with pytest.raises(OcppCallError) as e:
                    await c.call("Reset", {"type": "Immediate"})
                assert e.value.code == "NotImplemented" and e.value.action == "Reset"
                # the request is validated first (catches test bugs) unless validate=False
                with pytest.raises((ValidationError, FormatViolationError)):
                    await c.call("Reset", {"type": "Sometime"})
                with pytest.raises(OcppCallError):
                    await c.call("Reset", {"type": "Sometime"}, validate=False)
            assert c.violations == []
            results = [f for f in c.messages if f.sender == "CS" and f.kind in (3, 4)]
            assert [(f.kind, f.action) for f in results] == [(3, "GetVariables"), (4, "Reset"), (4, "Reset")]
            with pytest.raises(ConnectionError):
                await c.call("Reset", {"type": "Immediate"}, station="NOBODY")
    arun(main())


def test_schema_check_flags_station_frames_with_6_decimals_or_missing_field():
    async def main():
        async with running() as c:
            async with client(c) as cp:
                ws = cp._connection
                await ws.send('[2,"a1","StatusNotification",{"timestamp":"2024-05-01T10:00:00.123456Z",'
                              '"connectorStatus":"Available","evseId":1,"connectorId":1}]')
                await ws.send('[2,"a2","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"m"}}]')
                await ws.send('[2,"a3","Heartbeat",{}]')
                await c.wait_for("Heartbeat", timeout=2)
                await asyncio.sleep(0.2)
            assert len(c.violations) == 2, c.violations
            assert "StatusNotification" in c.violations[0] and "date-time" in c.violations[0]
            assert "BootNotification" in c.violations[1] and "vendorName" in c.violations[1]
            bad = [f for f in c.messages if f.violations]
            assert [f.uid for f in bad] == ["a1", "a2"]
            assert "!! schema" in csms_mod.format_frame(bad[0])
            # the ocpp library itself rejects the frame missing a required field
            answer = [f for f in c.messages if f.sender == "CSMS" and f.uid == "a2"][0]
            assert answer.kind == 4
    arun(main())


def test_schema_check_flags_invalid_callresult_to_csms_call():
    class BadClient(ChargePoint):
        @on("GetVariables", skip_schema_validation=True)
        def on_get_variables(self, **kw):
            return call_result.GetVariables(get_variable_result=[{"attributeStatus": "Maybe"}])

    async def main():
        async with running() as c:
            async with client(c, cls=BadClient):
                await c.wait_connected(None, 2)
                res = await c.call("GetVariables", {"getVariableData": [
                    {"component": {"name": "X"}, "variable": {"name": "Y"}}]})
                assert res == {"getVariableResult": [{"attributeStatus": "Maybe"}]}
            assert len(c.violations) >= 2
            assert all("GetVariablesResponse" in v for v in c.violations)
    arun(main())


def test_set_response_payload_silent_callerror_callable_and_times():
    async def main():
        async with running() as c:
            async with client(c) as cp:
                cp._response_timeout = 0.5
                c.set_response("Heartbeat", {"currentTime": "2030-01-01T00:00:00.000Z"})
                assert (await cp.call(call.Heartbeat())).current_time == "2030-01-01T00:00:00.000Z"
                c.set_response("Heartbeat", None)
                assert (await cp.call(call.Heartbeat())).current_time != "2030-01-01T00:00:00.000Z"
                # E13 retry tests: CALLERROR twice, then the default answer
                c.set_response("TransactionEvent", CallErrorReply("InternalError", "try again"), times=2)
                te = call.TransactionEvent(event_type="Updated", timestamp=csms_mod.now_iso(),
                                           trigger_reason="MeterValuePeriodic", seq_no=1,
                                           transaction_info={"transactionId": "t"})
                for _ in range(2):
                    assert await cp.call(te) is None          # ocpp suppresses the CALLERROR
                assert (await cp.call(te)) is not None
                errs = [f for f in c.messages if f.sender == "CSMS" and f.kind == 4]
                assert [e.error[:2] for e in errs] == [("InternalError", "try again")] * 2
                # silence once
                c.set_response("Heartbeat", SILENT, times=1)
                with pytest.raises(asyncio.TimeoutError):
                    await cp.call(call.Heartbeat())
                assert (await cp.call(call.Heartbeat())) is not None
                # a callable sees the request payload; DEFAULT falls through
                seen = []

                def answer(p):
                    seen.append(p)
                    return {"status": "Rejected", "currentTime": csms_mod.now_iso(), "interval": 9} \
                        if p["reason"] == "Watchdog" else csms_mod.DEFAULT
                c.set_response("BootNotification", answer)
                assert (await cp.call(call.BootNotification(**BOOT))).status == "Accepted"
                r = await cp.call(call.BootNotification(charging_station=BOOT["charging_station"], reason="Watchdog"))
                assert (r.status, r.interval) == ("Rejected", 9)
                assert [p["reason"] for p in seen] == ["PowerUp", "Watchdog"]
    arun(main())


def test_wait_for_since_pred_and_timeout_message():
    async def main():
        async with running() as c:
            async with client(c) as cp:
                for s in ("Available", "Occupied", "Available"):
                    await cp.call(call.StatusNotification(timestamp=csms_mod.now_iso(), connector_status=s,
                                                          evse_id=1, connector_id=1))
                p, i = await c.wait_for("StatusNotification", timeout=1)
                assert p["connectorStatus"] == "Available"
                p2, j = await c.wait_for("StatusNotification", timeout=1, since=i + 1)
                assert p2["connectorStatus"] == "Occupied" and j > i
                p3, k = await c.wait_for("StatusNotification", lambda q: q["connectorStatus"] == "Available",
                                         timeout=1, since=j + 1)
                assert k > j
                with pytest.raises(asyncio.TimeoutError) as e:
                    await c.wait_for("StatusNotification", timeout=0.2, since=k + 1)
                assert "StatusNotification" in str(e.value) and "last frames" in str(e.value)
                # a frame arriving while waiting wakes the waiter
                mark = c.mark()
                waiter = asyncio.ensure_future(c.wait_for("Heartbeat", timeout=2, since=mark))
                await asyncio.sleep(0.1)
                assert not waiter.done()
                await cp.call(call.Heartbeat())
                assert (await waiter)[1] == mark
    arun(main())


def test_send_raw_and_wait_raw_for_garbage_frames():
    async def main():
        async with running() as c:
            ws = await connect(c.url + "/RAW1", subprotocols=["ocpp2.0.1"])
            try:
                await c.wait_connected("RAW1", 2)
                idx = await c.send_raw("this is not json")
                assert c.messages[idx].text == "this is not json" and c.messages[idx].kind is None
                assert await ws.recv() == "this is not json"
                await ws.send('[4,"-1","RpcFrameworkError","not JSON",{}]')
                text, i = await c.wait_raw(lambda t: t.startswith("[4"), timeout=2)
                assert i > idx and "RpcFrameworkError" in text
                await c.send_raw('[2,"g1","Reset",{"type":"Immediate"}]')
                await ws.recv()
                await ws.send('[4,"g1","NotImplementedYet","",{}]')        # not an OCPP-J error code
                await c.wait_raw(lambda t: "NotImplementedYet" in t, timeout=2)
                assert len(c.violations) == 1 and "errorCode" in c.violations[0]
                assert c.messages[-1].action == "Reset"
            finally:
                await ws.close()
    arun(main())


def test_drop_connection_reconnect_and_call_fails_fast_on_disconnect():
    async def main():
        async with running() as c:
            async with client(c) as cp:
                await c.wait_connected("CS001", 2)
                await c.drop_connection()
                await c.wait_disconnected("CS001", 2)
                with pytest.raises(websockets.ConnectionClosed):
                    await cp._connection.recv()
            async with client(c):
                await c.wait_connected("CS001", 2)

            class Mute(ChargePoint):
                @on("Reset")
                async def on_reset(self, **kw):
                    await asyncio.sleep(10)
            async with client(c, cls=Mute) as cp:
                await c.wait_connected("CS001", 2)
                t = asyncio.ensure_future(c.call("Reset", {"type": "Immediate"}, timeout=10))
                await asyncio.sleep(0.2)
                await cp._connection.close()
                t0 = asyncio.get_running_loop().time()
                with pytest.raises(ConnectionError):
                    await t
                assert asyncio.get_running_loop().time() - t0 < 2
            # a second connection with the same id replaces the first
            async with client(c) as a:
                await c.wait_connected("CS001", 2)
                first = c.stations["CS001"]
                async with client(c):
                    await asyncio.sleep(0.2)
                    assert c.stations["CS001"] is not first
                    with pytest.raises(websockets.ConnectionClosed):
                        await asyncio.wait_for(a._connection.recv(), 2)
    arun(main())


# ---- command lines -----------------------------------------------------------------------------------
def test_csms_main_help_and_bad_arguments(capsys):
    assert csms_mod.main(["--help"]) == 0
    assert "--password" in capsys.readouterr().out
    assert csms_mod.main(["--boot-status", "Maybe"]) == 2
    assert csms_mod.main(["--token-status", "nonsense"]) == 2
    assert demo_mod.main(["--help"]) == 0
    assert "--micropython" in capsys.readouterr().out


def test_csms_main_serves_logs_every_frame_and_stops_on_ctrl_c():
    code = "import sys; from ocpp2lite.csms import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.Popen([sys.executable, "-c", code,
                          "--port", "0", "--token", "T1", "--password", "0123456789abcdef"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         # a shell starts background jobs with SIGINT ignored and children inherit
                         # that; Ctrl-C is what this test is about, so give the child the default
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = p.stdout.readline()
        assert "listening on ws://127.0.0.1:" in first and "Basic auth" in first
        port = int(first.split("ws://127.0.0.1:")[1].split("/")[0])

        async def station():
            auth = {"Authorization": build_authorization_basic("CLI1", "0123456789abcdef")}
            ws = await connect("ws://127.0.0.1:%d/CLI1" % port, subprotocols=["ocpp2.0.1"], additional_headers=auth)
            cp = Client("CLI1", ws)
            task = asyncio.ensure_future(cp.start())
            r = await cp.call(call.Authorize(id_token={"idToken": "T1", "type": "ISO14443"}))
            task.cancel()
            await ws.close()
            return r.id_token_info["status"]
        assert arun(station()) == "Accepted"
        lines = [p.stdout.readline() for _ in range(3)]
        assert "station CLI1 connected" in lines[0]
        assert "CS -> CSMS  Authorize" in lines[1] and "CSMS -> CS  Authorize.result" in lines[2]
        p.send_signal(signal.SIGINT)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


def test_demo_with_reference_station_exits_0(capsys):
    rc = demo_mod.main(["--station-cmd", FAKE_CMD, "--interval", "1", "--updates", "2", "--timeout", "15"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "CS -> CSMS  BootNotification" in out and "CSMS -> CS  BootNotification.result" in out
    assert "CSMS -> CS  SetVariables" in out
    assert "seqNo          [0, 1, 2, 3]" in out
    assert "Started -> Updated -> Updated -> Ended" in out
    assert "schema violations 0" in out and "result         OK" in out


def test_demo_exits_1_when_the_station_violates_the_schemas(capsys, monkeypatch):
    monkeypatch.setenv("FAKE_BAD_TIMESTAMP", "1")
    rc = demo_mod.main(["--station-cmd", FAKE_CMD, "--interval", "1", "--updates", "1", "--timeout", "15"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "!! schema" in out and "FAILED: schema violations" in out


def test_demo_exits_1_fast_when_the_station_dies(capsys):
    t0 = time.monotonic()
    dying = "%s -c \"import sys; sys.stderr.write('boom\\\\n'); sys.exit(3)\"" % sys.executable
    rc = demo_mod.main(["--station-cmd", dying, "--timeout", "20"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "exited with code 3" in out and "| boom" in out
    assert time.monotonic() - t0 < 10


def test_energy_readings_in_wh():
    mv = [{"timestamp": "t", "sampledValue": [
        {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}},
        {"value": 230, "measurand": "Voltage", "unitOfMeasure": {"unit": "V"}},
        {"value": 12, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh", "multiplier": 1}},
        {"value": 7}]}]
    assert demo_mod._energy_wh(mv) == [1500.0, 120, 7]


# ---- harness -------------------------------------------------------------------------------------------
def test_harness_runs_a_scenario_with_the_reference_station():
    async def scenario(c, st):
        boot, i = await harness.booted(c, "H1")
        assert boot["reason"] == "PowerUp"
        await st.plug_in()
        await st.token("AB12CD34")
        started, j = await c.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=10)
        await st.plug_out()
        await c.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=j + 1, timeout=10)
        return started["transactionInfo"]["transactionId"]
    txid = harness.run_scenario(scenario, "fake", timeout=30, station_id="H1")
    assert isinstance(txid, str) and txid


def test_harness_failure_report_has_transcript_and_station_log():
    async def scenario(c, st):
        await harness.booted(c)
        await c.wait_for("Authorize", timeout=0.5)
    with pytest.raises(harness.ScenarioFailed) as e:
        harness.run_scenario(scenario, "fake", timeout=30)
    msg = str(e.value)
    assert "scenario failed on fake: TimeoutError" in msg
    assert "CS -> CSMS  BootNotification" in msg and "--- station stderr" in msg


def test_harness_fails_a_scenario_on_schema_violations():
    async def scenario(c, st):
        await harness.booted(c)
        await c.wait_for("StatusNotification", timeout=5)
    with pytest.raises(harness.ScenarioFailed) as e:
        harness.run_scenario(scenario, "fake", timeout=30, station_kwargs={"env": {"FAKE_BAD_TIMESTAMP": "1"}})
    assert "violating the OCPP 2.0.1 schemas" in str(e.value)
    harness.run_scenario(scenario, "fake", timeout=30, check_violations=False,
                         station_kwargs={"env": {"FAKE_BAD_TIMESTAMP": "1"}})


def test_harness_basic_auth_restart_and_exit_on_reset():
    async def scenario(c, st):
        await harness.booted(c, "H2")
        c.password = "another-password-42"
        await c.drop_connection()
        await st.restart()                        # old password -> 401
        await c.wait_until(lambda: ("H2", 401) in c.handshakes, 10, "a 401")
        st.password = "another-password-42"
        await st.restart()
        await harness.booted(c, "H2", since=1)
        assert (await c.call("Reset", {"type": "Immediate"}))["status"] == "Accepted"
        assert await st.wait_exit(10) == 0
    harness.run_scenario(scenario, "fake", timeout=60, station_id="H2",
                         csms_kwargs={"password": "first-password-0001"},
                         station_kwargs={"password": "first-password-0001", "exit_on_reset": True})


# ---- the real simulated station, on both interpreters ---------------------------------------------------
def test_demo_end_to_end_session(interp, capsys):
    """The README's main job: `ocpp2lite demo` (and `--micropython`) completes with zero violations."""
    argv = ["--interval", "2", "--updates", "1", "--timeout", "30"]
    if interp == "micropython":
        argv.append("--micropython")
    rc = demo_mod.main(argv)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "result         OK" in out
