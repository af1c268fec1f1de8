"""Persisted, bounded queue of TransactionEventRequests (Part 2 E11, E12, E13).

Every TransactionEvent is written to flash *before* it is sent (one small CBOR file per message,
``txq.<8-digit counter>``, written atomically by ``device_model.store.Store``) and removed only
when the CSMS confirmed it with a CALLRESULT, so no transaction message is lost to a dropped
connection, a silent CSMS or a power cut; after a reboot the queue is read back in order.

Bound and behaviour when full (``limit`` entries, board ``TX_QUEUE``):
- ``reserve`` slots (2 per EVSE) are kept for Started/Ended events: an Updated event is only
  accepted while ``len < limit - reserve``; otherwise ``push`` returns False and the caller does not
  create the event at all, so no seqNo is consumed and the sequence stays gap-free (E13 allows
  intermediate Updated events to be dropped).
- A Started/Ended event that finds the queue completely full evicts the oldest queued Updated
  event (the CSMS then sees a seqNo gap, which Part 2 E11 lets it detect); if there is none, the
  oldest entry is evicted. Started/Ended events are never evicted while an Updated one is queued.

In RAM the queue keeps only the counters of its entries and a small summary per entry
(transaction id, eventType code, seqNo), about 40 B per entry; payloads stay in flash. The newest
entry of a transaction (read only by the power-cut recovery after a reboot) is found by
``lite_stack.txrecover.newest``, which is not resident.
"""
from lite_stack.context import same_token

STARTED = 0
UPDATED = 1
ENDED = 2
_TYPES = ("Started", "Updated", "Ended")
NAME = "txq.%08d"   # store record of the queue entry with that counter


class TxQueue:
    def __init__(self, store, limit=64, reserve=2):
        self.store = store
        self.limit = limit
        self.reserve = reserve
        self.dropped = 0  # Updated events evicted or refused since start
        self._keys = []   # list of [counter, tx_id, type_code, seq_no] (read by txrecover.newest)
        self._next = 0
        for name in store.names("txq."):
            msg = store.load(name)
            try:
                n = int(name[4:])
                ti = msg["transactionInfo"]["transactionId"]
                self._keys.append([n, ti, _TYPES.index(msg["eventType"]), msg["seqNo"]])
            except Exception:  # corrupt or foreign entry: drop it, never crash
                store.remove(name)
                continue
            if n >= self._next:
                self._next = n + 1
        self._keys.sort(key=lambda k: k[0])

    def __len__(self):
        return len(self._keys)

    def push(self, msg):
        """Persist one TransactionEventRequest payload at the tail. Returns False when an Updated
        event does not fit (see the module docstring); Started/Ended always fit."""
        code = _TYPES.index(msg["eventType"])
        if code == UPDATED and len(self._keys) >= self.limit - self.reserve:
            self.dropped += 1
            return False
        if len(self._keys) >= self.limit:
            victim = None
            for k in self._keys:
                if k[2] == UPDATED:
                    victim = k
                    break
            self._remove(victim or self._keys[0])
            self.dropped += 1
        n = self._next
        self._next += 1
        self.store.save(NAME % n, msg)
        self._keys.append([n, msg["transactionInfo"]["transactionId"], code, msg["seqNo"]])
        return True

    def head(self):
        """(handle, payload) of the oldest entry, or None."""
        while self._keys:
            k = self._keys[0]
            msg = self.store.load(NAME % k[0])
            if msg is not None:
                return k, msg
            self._keys.pop(0)  # unreadable entry (store.corrupt lists it)
        return None

    def pop(self, handle):
        """Remove a delivered (or finally abandoned) entry."""
        if handle in self._keys:
            self._remove(handle)

    def _remove(self, k):
        self._keys.remove(k)
        self.store.remove(NAME % k[0])

    def has(self, tx_id=None):
        """True if a message (of ``tx_id``, or of any transaction) is queued (E14 messagesInQueue)."""
        for k in self._keys:
            if tx_id is None or k[1] == tx_id:
                return True
        return False

    def has_type(self, tx_id, code):
        for k in self._keys:
            if k[1] == tx_id and k[2] == code:
                return True
        return False

    def tx_ids_with_token(self, tok):
        """Transaction ids (each once, oldest first) of the queued messages whose ``idToken`` equals
        IdToken ``tok`` (``idToken`` and ``type``); reads each entry from flash in turn (N09/N10
        customer information: rare). At most ``limit`` ids."""
        out = []
        for k in self._keys:
            if k[1] in out:
                continue
            msg = self.store.load(NAME % k[0])
            if msg and same_token(msg.get("idToken"), tok):
                out.append(k[1])
        return out
