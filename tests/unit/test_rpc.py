"""lite_stack.core.rpc: OCPP-J framing and CALLERROR codes (Part 4 §4), on both interpreters."""
import asyncio
import json

from lite_stack.vclock import VirtualClock
from lite_stack.core import rpc as R
from tests.unit.util import run, FakeConn


def _rpc(handlers=None, max_queue=8):
    clock = VirtualClock()
    r = R.Rpc(clock, handlers or {}, max_queue=max_queue, boot_id="0badf00d")
    r.conn = FakeConn()
    return clock, r


def _last(r):
    return json.loads(r.conn.sent[-1])


def test_part4_unparseable_frame_gets_callerror_minus_one():
    clock, r = _rpc()
    run(r.on_frame("{not json"))
    assert _last(r)[:3] == [4, "-1", "RpcFrameworkError"]
    run(r.on_frame('"just a string"'))
    assert _last(r)[:3] == [4, "-1", "RpcFrameworkError"]
    run(r.on_frame("[2]"))
    assert _last(r)[:3] == [4, "-1", "RpcFrameworkError"]


def test_part4_unknown_message_type_and_bad_call_shape():
    clock, r = _rpc()
    run(r.on_frame('[7,"abc",{}]'))
    assert _last(r)[:3] == [4, "abc", "MessageTypeNotSupported"]
    run(r.on_frame('[2,"abd","Reset"]'))
    assert _last(r)[:3] == [4, "abd", "RpcFrameworkError"]
    run(r.on_frame('[2,"abe",5,{}]'))
    assert _last(r)[:3] == [4, "abe", "RpcFrameworkError"]


def test_part4_unknown_action_is_not_implemented_as_in_TC_F_27_CS():
    clock, r = _rpc()
    run(r.on_frame('[2,"x1","GetReport",{"requestId":1}]'))
    f = _last(r)
    assert f[0] == 4 and f[1] == "x1" and f[2] == "NotImplemented" and f[4] == {}


def test_part4_schema_violation_codes_reach_the_wire():
    calls = []
    clock, r = _rpc({"Reset": lambda p: calls.append(p) or {"status": "Accepted"}})
    run(r.on_frame('[2,"a","Reset",{}]'))
    assert _last(r)[2] == "OccurrenceConstraintViolation"
    run(r.on_frame('[2,"b","Reset",{"type":5}]'))
    assert _last(r)[2] == "TypeConstraintViolation"
    run(r.on_frame('[2,"c","Reset",[]]'))
    assert _last(r)[2] in ("FormatViolation", "TypeConstraintViolation")
    assert calls == []
    run(r.on_frame('[2,"d","Reset",{"type":"Immediate"}]'))
    assert _last(r) == [3, "d", {"status": "Accepted"}]
    assert len(calls) == 1


def test_part4_handler_exception_is_internal_error_not_a_crash():
    def boom(p):
        raise KeyError("x")
    clock, r = _rpc({"Reset": boom})
    run(r.on_frame('[2,"e","Reset",{"type":"Immediate"}]'))
    assert _last(r)[:3] == [4, "e", "InternalError"]


def test_part4_call_result_error_and_timeout():
    clock, r = _rpc()

    async def main():
        drv = asyncio.create_task(clock.run())
        out = []

        async def answer(kind):
            while not r.conn.sent:
                await asyncio.sleep(0)
            f = json.loads(r.conn.sent.pop())
            assert f[0] == 2 and f[2] == "Heartbeat" and len(f[1]) <= 36
            if kind == "ok":
                await r.on_frame(json.dumps([3, f[1], {"currentTime": "2026-01-01T00:00:00Z"}]))
            elif kind == "err":
                await r.on_frame(json.dumps([4, f[1], "InternalError", "no", {}]))
            elif kind == "late":
                await r.on_frame(json.dumps([3, "other-id", {"currentTime": "2026-01-01T00:00:00Z"}]))

        for kind in ("ok", "err", "late"):
            t = asyncio.create_task(answer(kind))
            t0 = clock.ms()
            try:
                out.append(await r.call("Heartbeat", {}, 30))
            except R.CallError as e:
                out.append(("CallError", e.code))
            except R.RpcTimeout:
                out.append(("timeout", clock.ms() - t0))
            await t
        drv.cancel()
        return out

    out = run(main())
    assert out[0] == {"currentTime": "2026-01-01T00:00:00Z"}
    assert out[1] == ("CallError", "InternalError")
    assert out[2] == ("timeout", 30000)


def test_part4_one_outstanding_call_and_bounded_queue():
    clock, r = _rpc(max_queue=2)

    async def main():
        drv = asyncio.create_task(clock.run())
        a = asyncio.create_task(r.call("Heartbeat", {}, 10))
        b = asyncio.create_task(r.call("Heartbeat", {}, 10))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        sent_while_waiting = len(r.conn.sent)
        full = None
        try:
            await r.call("Heartbeat", {}, 10)
        except R.QueueFull:
            full = True
        for t in (a, b):
            try:
                await t
            except R.RpcTimeout:
                pass
        drv.cancel()
        return sent_while_waiting, full, len(r.conn.sent)

    waiting, full, total = run(main())
    assert waiting == 1      # the second CALL waits for the first to finish
    assert full is True
    assert total == 2


def _heartbeat_answered_with(r, clock, payload):
    """Run one Heartbeat CALL answered by CALLRESULT ``payload``; -> result or the exception."""
    async def main():
        drv = asyncio.create_task(clock.run())

        async def answer():
            while not r.conn.sent:
                await asyncio.sleep(0)
            f = json.loads(r.conn.sent.pop())
            await r.on_frame(json.dumps([3, f[1], payload]))
        t = asyncio.create_task(answer())
        try:
            res = await r.call("Heartbeat", {}, 30)
        except R.CallError as e:
            res = e
        await t
        drv.cancel()
        return res
    return run(main())


def test_part4_invalid_callresult_payload_is_an_error():
    clock, r = _rpc()
    e = _heartbeat_answered_with(r, clock, {"currentTime": 5})
    assert isinstance(e, R.CallError) and e.code == "TypeConstraintViolation"


def test_part4_4_3_unknown_message_type_with_readable_id_is_message_type_not_supported():
    clock, r = _rpc()
    run(r.on_frame('[99,"id"]'))
    assert _last(r)[:3] == [4, "id", "MessageTypeNotSupported"]
    run(r.on_frame('[5,"id2","x","y","z"]'))
    assert _last(r)[:3] == [4, "id2", "MessageTypeNotSupported"]
    n = len(r.conn.sent)
    run(r.on_frame('[3,"nobody",{}]'))      # a CALLRESULT is never answered
    run(r.on_frame('[4,"nobody"]'))
    assert len(r.conn.sent) == n


class _Big:
    """What WebSocket.recv returns for a text message over max_frame (``lite_stack.core.ws``)."""

    def __init__(self, head, size):
        self.head = head
        self.size = size


def test_part4_oversized_call_answered_format_violation_with_its_message_id():
    clock, r = _rpc({"SetVariables": lambda p: {}})
    run(r.on_frame(_Big(b'[2,"big-1","SetVariables",{"setVariableData":[{"attributeValue":"xx', 30000)))
    f = _last(r)
    assert f[:3] == [4, "big-1", "FormatViolation"] and f[4] == {}
    run(r.on_frame(_Big(b' [ 2 , "big-2" ,"Reset",{', 44000)))
    assert _last(r)[:3] == [4, "big-2", "FormatViolation"]
    run(r.on_frame(_Big(b'[99,"big-3",', 44000)))
    assert _last(r)[:3] == [4, "big-3", "MessageTypeNotSupported"]
    for head in (b'{"not":"a frame"', b'[2,"' + b"x" * 60, b"[2,", b"\xff\xfe[", b'[2,"a\\"b",'):
        run(r.on_frame(_Big(head, 9000)))
        assert _last(r)[:3] == [4, "-1", "RpcFrameworkError"], head
    n = len(r.conn.sent)
    run(r.on_frame(_Big(b'[3,"nobody",{"a":', 9000)))     # an oversized answer: never answered
    assert len(r.conn.sent) == n


def test_part4_callresult_failing_our_schema_check_is_delivered_not_an_error():
    """Issue 13 defect 4: a CALLRESULT with the matching messageId means the CSMS got the CALL;
    a schema problem in it is logged and reported as ``InvalidResult`` (a CallError subclass
    carrying the payload), which a TransactionEvent sender treats as delivered."""
    clock, r = _rpc()
    logs = []
    r.log = lambda d, t: logs.append((d, t))
    e = _heartbeat_answered_with(r, clock, {"currentTime": 5})
    assert isinstance(e, R.InvalidResult)
    assert (e.code, e.payload) == ("TypeConstraintViolation", {"currentTime": 5})
    assert any(d == "!" and "TypeConstraintViolation" in t for d, t in logs)
