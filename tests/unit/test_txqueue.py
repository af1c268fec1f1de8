"""lite_stack.txqueue: the persisted, bounded TransactionEvent queue (E11-E13)."""
from lite_stack.txqueue import TxQueue, ENDED, UPDATED
from lite_stack.txrecover import newest
from tests.unit.util import MemStore


def _te(tx, seq, kind):
    return {"eventType": kind, "seqNo": seq, "timestamp": "2026-01-01T00:00:00Z",
            "triggerReason": "Authorized", "transactionInfo": {"transactionId": tx}}


def test_E11_queue_survives_restart_in_order():
    s = MemStore()
    q = TxQueue(s, limit=8)
    for i, k in enumerate(("Started", "Updated", "Updated", "Ended")):
        assert q.push(_te("T1", i, k))
    q2 = TxQueue(s, limit=8)  # "reboot": read back from flash
    seqs = []
    while q2.head():
        h, m = q2.head()
        seqs.append(m["seqNo"])
        q2.pop(h)
    assert seqs == [0, 1, 2, 3]
    assert s.names("txq.") == []


def test_E13_full_queue_refuses_updated_without_consuming_and_keeps_started_ended():
    s = MemStore()
    q = TxQueue(s, limit=4, reserve=2)
    assert q.push(_te("T1", 0, "Started"))
    assert q.push(_te("T1", 1, "Updated"))
    assert not q.push(_te("T1", 2, "Updated"))   # only Started/Ended may use the reserve
    assert q.dropped == 1
    assert q.push(_te("T1", 2, "Ended"))
    assert q.push(_te("T2", 0, "Started"))
    assert len(q) == 4
    assert q.push(_te("T2", 1, "Ended"))          # full: the oldest Updated is evicted
    kinds = []
    while q.head():
        h, m = q.head()
        kinds.append((m["transactionInfo"]["transactionId"], m["eventType"]))
        q.pop(h)
    assert kinds == [("T1", "Started"), ("T1", "Ended"), ("T2", "Started"), ("T2", "Ended")]


def test_E14_has_and_last_per_transaction():
    s = MemStore()
    q = TxQueue(s)
    q.push(_te("A", 0, "Started"))
    q.push(_te("B", 0, "Started"))
    q.push(_te("A", 1, "Ended"))
    assert q.has() and q.has("A") and q.has("B") and not q.has("C")
    k = newest(q, "A")
    assert (k[2], k[3]) == (ENDED, 1)
    assert newest(q, "C") is None
    assert q.has_type("A", ENDED) and not q.has_type("B", UPDATED)


def test_corrupt_entry_is_dropped_not_fatal():
    s = MemStore()
    s.d["txq.00000001"] = {"garbage": True}
    s.d["txq.00000002"] = _te("A", 0, "Started")
    q = TxQueue(s)
    assert len(q) == 1 and "txq.00000001" not in s.d
    q.push(_te("A", 1, "Ended"))
    assert s.names("txq.")[-1] == "txq.00000003"
