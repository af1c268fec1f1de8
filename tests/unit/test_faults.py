"""Connection faults on simulated time (issue 13, both interpreters): a TCP abort (RST) exactly
between a CALLRESULT and the next CALL, while a TransactionEvent is in flight and while its retry
waits, with new connections refused (HTTP 503) for 4 s. The station must not retry a failed write
without yielding (the send spin: ~1.7 million identical frames a minute), must notice the dead
link from the failed write alone, reconnect after the back-off (Part 4 §5) and deliver every
TransactionEvent once per seqNo, complete and in order (E11-E13)."""
from device_model import ids
from tests.unit.test_station import scenario


def _delivered(rig):
    """seqNo -> message content (messageId aside) of every TransactionEvent the CSMS received;
    asserts that a repeated seqNo always carries the same content."""
    seen = {}
    order = []
    for a, p in rig.csms.calls:
        if a != "TransactionEvent":
            continue
        k = p["seqNo"]
        if k in seen:
            assert seen[k] == p, "seqNo %d sent twice with different content" % k
        else:
            seen[k] = p
            order.append(k)
    return order


async def _charge(rig):
    await rig.boot()
    rig.station.dm.set(ids.SAMPLED_TX_UPDATED_INTERVAL, 1)
    # Part 4 §5.3: the first reconnect after a loss waits RetryBackOffWaitMinimum (TC_B_57);
    # short, so the first attempts fall inside the 4 s of HTTP 503
    rig.station.dm.set(ids.RETRY_BACKOFF_WAIT_MINIMUM, 1)
    rig.station.dm.set(ids.RETRY_BACKOFF_RANDOM_RANGE, 0)
    rig.evse().pilot.plug_in()
    rig.hal[1].swipe("AB12CD34")
    await rig.settle(5)
    assert rig.evse().contactor.is_closed() and rig.te()


async def _finish(rig):
    await rig.settle(60)
    rig.evse().pilot.plug_out()
    await rig.settle(200)
    c = rig.csms
    assert c.spins == 0, "send spin: %d writes on a dead connection" % c.dead_sends
    assert c.dead_sends <= 3, c.dead_sends
    assert c.refused >= 1 and c.connects >= 2      # refused with 503, then reconnected
    order = _delivered(rig)
    assert order == list(range(len(order))), order  # complete, in order
    te = rig.te()
    assert te[-1]["eventType"] == "Ended" and te[0]["eventType"] == "Started"
    assert len(rig.logs) < 2000, len(rig.logs)      # log lines bounded (~270 s simulated)


def _abort_on(rig, seq, answer, notice_s, refuse_s=4):
    state = {"done": False}

    def te(p):
        if p["seqNo"] == seq and not state["done"]:
            state["done"] = True
            rig.csms.abort(notice_s, refuse_s=refuse_s, status=503)
            return answer
        return None
    rig.csms.responses["TransactionEvent"] = te
    return state


def test_Part4_5_abort_between_callresult_and_next_call_no_send_spin():
    async def s(rig):
        await _charge(rig)
        rig.csms.online = False      # a backlog: the next event is queued when the answer comes
        rig.csms.drop()
        await rig.settle(8)
        st = _abort_on(rig, _delivered(rig)[-1] + 1, None, 0.01)   # answered, then RST
        rig.csms.online = True
        await rig.settle(30)
        assert st["done"]
        await _finish(rig)
    scenario(s)


def test_Part4_5_abort_while_transaction_event_in_flight_no_send_spin():
    async def s(rig):
        await _charge(rig)
        rig.csms.responses["TransactionEvent"] = None
        # half-open: no answer and the reader never learns of it; only the next write fails
        # (the write fails at the retry after MessageTimeout 30 s + the attempt interval 60 s)
        st = _abort_on(rig, len(rig.te()) + 1, "silent", None, refuse_s=100)
        await rig.settle(5)
        assert st["done"]
        await _finish(rig)
    scenario(s)


def test_Part4_5_abort_while_transaction_event_retry_waits_no_send_spin():
    async def s(rig):
        await _charge(rig)
        rig.csms.responses["TransactionEvent"] = ("error", "InternalError")
        await rig.settle(3)                       # a CALLERROR: the retry waits (E13)
        rig.csms.responses["TransactionEvent"] = None
        # RST while the retry waits (MessageAttemptInterval 60 s); 503 until then + 4 s
        rig.csms.abort(None, refuse_s=64, status=503)
        await _finish(rig)
    scenario(s)


def test_E13_callresult_failing_schema_check_is_delivered_never_dropped():
    """Issue 13 defect 4: the CSMS stored the TransactionEvent and answered with a matching
    messageId; a schema problem in its CALLRESULT is not a failed attempt (E13.FR.03 drops only
    undelivered messages): every seqNo is sent exactly once and nothing is dropped."""
    async def s(rig):
        rig.csms.responses["TransactionEvent"] = {"idTokenInfo": {"status": "NotAStatus"}}
        await rig.boot()
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        rig.evse().pilot.plug_out()
        await rig.settle(400)
        te = rig.te()
        assert [t["seqNo"] for t in te] == list(range(len(te))), [t["seqNo"] for t in te]
        assert te[-1]["eventType"] == "Ended" and len(rig.station.txq) == 0
        assert any("NotAStatus" in l or "PropertyConstraint" in l for l in rig.logs)
    scenario(s)
