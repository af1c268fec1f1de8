"""The security log (Part 2 A04: every security event the station implements is stored in the
security log; GetLog SecurityLog, N01, uploads it) and the offline ring of critical events.

Both are ``device_model.store`` records, rewritten whole on each change, so a power cut leaves
wholly the old or the new list (security events are rare: a write per event is cheap in wear).

- Log ``seclog``: ``[next_seq, [[seq, epoch_s, type, techInfo or None], ...]]``, the newest
  ``LOG_MAX`` entries; when full the oldest is dropped (``seq`` keeps counting, so a reader sees
  the gap). ``clear()`` empties it and logs SecurityLogWasCleared itself.
- Ring ``secq``: ``[dropped, [[epoch_s, type, techInfo or None], ...]]``: critical events waiting
  for the CSMS (recorded while offline or before registration), at most ``RING_MAX``; when full
  the oldest is dropped and counted in ``dropped`` (A04: delivered in order once Accepted).

Read interface for the log upload (N01): ``SecLog(store).entries()`` -> list of
``(seq, epoch_s, type, techInfo or None)`` oldest first; ``lines(iso)`` -> the same as text
lines ``"<seq> <RFC 3339 time> <type> <techInfo>"`` given a formatter ``iso(epoch_s)``.
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

LOG_MAX = const(32)    # entries kept in the security log
RING_MAX = const(16)   # critical events kept for the CSMS while offline
LOG = "seclog"
RING = "secq"


def _load(store, name, default):
    v = store.load(name)
    return v if isinstance(v, list) and len(v) == 2 and isinstance(v[1], list) else default


class SecLog:
    def __init__(self, store):
        self.store = store

    # ---- the log ----
    def add(self, t, kind, info):
        seq, items = _load(self.store, LOG, [0, []])
        items.append([seq, t, kind, info])
        if len(items) > LOG_MAX:
            items = items[len(items) - LOG_MAX:]
        self.store.save(LOG, [seq + 1, items])

    def entries(self):
        return [tuple(e) for e in _load(self.store, LOG, [0, []])[1]]

    def lines(self, iso):
        return ["%d %s %s %s" % (e[0], iso(e[1]), e[2], e[3] or "") for e in self.entries()]

    def clear(self, t):
        seq = _load(self.store, LOG, [0, []])[0]
        self.store.save(LOG, [seq, []])
        self.add(t, "SecurityLogWasCleared", None)

    # ---- the offline ring ----
    def ring(self):
        """-> (dropped, list of [epoch_s, type, techInfo])."""
        v = _load(self.store, RING, [0, []])
        return v[0], v[1]

    def push(self, t, kind, info):
        dropped, items = self.ring()
        items.append([t, kind, info])
        if len(items) > RING_MAX:
            dropped += len(items) - RING_MAX
            items = items[len(items) - RING_MAX:]
        self.store.save(RING, [dropped, items])

    def pop(self):
        """Forget the oldest queued event (it was delivered)."""
        dropped, items = self.ring()
        self.store.save(RING, [dropped, items[1:]])
