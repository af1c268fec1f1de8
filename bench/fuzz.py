"""Seeded, reproducible fuzzing of the OCPP-J RPC layer of a whole Charging Station (issue 13).

Runs unchanged on CPython and the MicroPython unix port (the same seed gives the same frames on
both: the generator is a 32-bit xorshift, not the interpreter's ``random``)::

    python -m bench.fuzz --frames 1000000 --seed 1            # CPython
    micropython -m bench.fuzz --frames 100000 --seed 1        # MicroPython unix port

What is fed (one frame at a time to ``Rpc.on_frame`` of a composed ``Station``: every block and
the device model answer, on a memory store; no network):
- grammar-aware CALLs: a valid payload generated from the compact OCPP 2.0.1 schema tables
  (``lite_stack.core.schemas``: objects with required and optional properties, enumerations,
  bounded strings, integer ranges, date-times, arrays) for every action the station handles,
  then with some probability mutated: a property dropped, added, retyped or replaced by random
  JSON, an enumeration value misspelt, a string made too long, deep nesting;
- frame-level mutations: other MessageTypeIds, missing or extra elements, messageIds that are
  too long, not strings, empty or unicode, unknown and misspelt actions, answers (CALLRESULT /
  CALLERROR) to nothing or to the station's own outstanding CALL;
- text-level (byte) mutations of the JSON text: characters flipped, inserted, deleted,
  duplicated, truncated, control and non-ASCII characters, two frames spliced;
- frames over the receive buffer as the WebSocket hands them over (``ws.Oversized``: a head and
  a size), with readable and unreadable heads.

Invariants checked for every frame (a violation is counted and the first ones printed):
1. ``on_frame`` returns (no exception), no handler bug (no InternalError answer, no "!" report,
   no failed task);
2. a frame with a readable messageId that is not a CALLRESULT/CALLERROR is answered exactly once,
   with that messageId; an unreadable one exactly once with "-1" RpcFrameworkError;
3. a CALLRESULT or CALLERROR is never answered;
4. the answer is a CALLRESULT whose payload passes the Response schema, or a CALLERROR with the
   code the oracle expects (NotImplemented for an unknown action, the validator's code for a
   payload that breaks the Request schema, FormatViolation for an oversized CALL,
   MessageTypeNotSupported for an unknown type) or, for a valid CALL, a code from Part 4 §4.3;
5. a frame answered with a CALLERROR or not answered writes nothing to the persisted store;
6. the heap stays bounded: live objects (CPython) / ``gc.mem_alloc()`` (MicroPython) sampled
   after ``gc.collect()`` every ``--sample`` frames, first and last sample and the peak reported.
Prints one JSON line with the figures (frames, per kind, violations, heap, time).
"""
import asyncio
import gc
import json
import sys
import time

import boards
from device_model import ids
from lite_stack.clock import Clock
from lite_stack.core import rpc as R
from lite_stack.core import validate
from lite_stack.core.schemas import BLOB, NUMS, STRS
from lite_stack.core.ws import HEAD_KEEP, Oversized
from lite_stack.station import Station
from tests.unit.util import MemStore, tmpdir

CODES = ("FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
         "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
         "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
         "TypeConstraintViolation")
# actions whose execution would end the run (Reset reboots) are answered but not executed:
# the station's tasks do not run here, only the jobs queued after a response
UNKNOWN_ACTIONS = ("Foo", "getvariables", "GetVariablesRequest", "", "Reset ", "\u00e9",
                   "SetChargingProfile", "X" * 60)


class Rng:
    """xorshift32: the same sequence on both interpreters."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF or 1

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n if n > 0 else 0

    def chance(self, per_mille):
        return self.next() % 1000 < per_mille

    def choice(self, seq):
        return seq[self.next() % len(seq)]


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/ "
_WEIRD = ("\u0000", "\u001f", "\"", "\\", "\u00e9", "\u20ac", "\ud7ff", "\U0001f600", "\n", "\t")


def _str(rng, maxlen):
    n = rng.below(min(maxlen, 24) + 1) if maxlen else rng.below(24)
    if rng.chance(50):
        return "".join(rng.choice(_WEIRD) for _ in range(n))
    return "".join(_ALPHA[rng.below(len(_ALPHA))] for _ in range(n))


def _datetime(rng):
    if rng.chance(100):
        return rng.choice(("2026-02-30T00:00:00Z", "2026-01-01 00:00:00", "0000-01-01T00:00:00Z",
                           "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+24:00", "yesterday", ""))
    return "20%02d-%02d-%02dT%02d:%02d:%02d%s" % (
        20 + rng.below(20), 1 + rng.below(12), 1 + rng.below(28), rng.below(24), rng.below(60),
        rng.below(60), rng.choice(("Z", ".123Z", "+01:00", "-05:30", "z")))


def gen(off, rng, depth=1):
    """A random value valid for schema node ``off`` (almost: date-times are sometimes not)."""
    b = BLOB
    k = b[off]
    t = k & 15
    if t == 1:  # object
        o = {}
        p = off + 2
        for _ in range(b[off + 1]):
            key = _u16(b, p)
            node = _u16(b, p + 2)
            p += 4
            if (key & 0x8000 or rng.chance(350)) and depth < 8:
                o[STRS[key & 0x7FFF]] = gen(node, rng, depth + 1)
        return o
    if t == 2:  # array
        lo, hi = _u16(b, off + 1), _u16(b, off + 3)
        hi = min(hi or 4, lo + 3)
        return [gen(_u16(b, off + 5), rng, depth + 1) for _ in range(lo + rng.below(hi - lo + 1))]
    if t == 3:
        return _str(rng, _u16(b, off + 1))
    if t == 4:
        return STRS[_u16(b, off + 2) + rng.below(b[off + 1])]
    if t == 5:
        return _datetime(rng)
    if t == 6 or t == 7:
        lo = NUMS[b[off + 1]] if k & 0x10 else -1000
        hi = NUMS[b[off + 2]] if k & 0x20 else 100000
        v = int(lo) + rng.below(int(min(hi, lo + 100000) - lo) + 1)
        return v if t == 6 or rng.chance(500) else v + 0.5 if v < hi else v
    if t == 8:
        return rng.chance(500)
    return _json(rng, depth + 1)


def _json(rng, depth=1):
    r = rng.below(9 if depth < 6 else 6)
    if r == 0:
        return None
    if r == 1:
        return rng.chance(500)
    if r == 2:
        return rng.choice((0, -1, 1, 2, 3, 4, 2147483648, -2 ** 40, 10 ** 20))
    if r == 3:
        return rng.choice((0.5, -1e300, 1e-300, 3.0))
    if r in (4, 5):
        return _str(rng, 40)
    if r in (6, 7):
        return [_json(rng, depth + 1) for _ in range(rng.below(4))]
    return dict((_str(rng, 12), _json(rng, depth + 1)) for _ in range(rng.below(4)))


def _mutate_payload(p, rng):
    """Break one thing in a payload (a dict) at a random depth."""
    node = p
    for _ in range(rng.below(4)):
        kids = [k for k in node if isinstance(node[k], dict)] if isinstance(node, dict) else []
        if not kids:
            break
        node = node[rng.choice(kids)]
    if not isinstance(node, dict):
        return _json(rng)
    keys = sorted(node)
    r = rng.below(8)
    if r == 0 and keys:
        del node[rng.choice(keys)]
    elif r == 1:
        node[_str(rng, 16) or "x"] = _json(rng)
    elif r == 2 and keys:
        node[rng.choice(keys)] = _json(rng)
    elif r == 3 and keys:
        k = rng.choice(keys)
        v = node[k]
        node[k] = v + "x" if isinstance(v, str) else str(v)
    elif r == 4 and keys:
        node[rng.choice(keys)] = "x" * (1 + rng.below(3000))
    elif r == 5:
        deep = {}
        cur = deep
        for _ in range(10 + rng.below(30)):
            cur["d"] = {}
            cur = cur["d"]
        node["customData"] = {"vendorId": "v", "x": deep}
    elif r == 6 and keys:
        k = rng.choice(keys)
        node[k] = [node[k]]
    else:
        return _json(rng) if rng.chance(300) else p
    return p


def _mid(rng):
    r = rng.below(40)
    if r == 0:
        return "x" * (37 + rng.below(20))
    if r == 1:
        return rng.choice((17, None, 1.5, True, [], {}))
    if r == 2:
        return ""
    if r == 3:
        return "\u00e9\u20ac" + _str(rng, 8)
    return "f-%d" % rng.next()


def _mutate_text(t, rng):
    if not t:
        return t
    r = rng.below(8)
    i = rng.below(len(t))
    if r == 0:
        return t[:i]
    if r == 1:
        return t[:i] + t[i + 1:]
    if r == 2:
        return t[:i] + rng.choice(_WEIRD + ("{", "}", "[", "]", ",", ":", "\"", "0")) + t[i:]
    if r == 3:
        return t[:i] + chr(33 + rng.below(94)) + t[i + 1:]
    if r == 4:
        j = i + rng.below(20)
        return t[:j] + t[i:j] + t[j:]
    if r == 5:
        return t + t[:i]
    if r == 6:
        return " \t\r\n"[rng.below(4)] + t
    return t.replace(",", ", ", 1) if rng.chance(500) else "".join(reversed(t))


class Conn:
    """The station's connection: keeps the frames of the current input only; answers the
    station's own CALLs (jobs queued after a response) with a CALLERROR, later."""

    def __init__(self):
        self.sent = []
        self.calls = []

    async def send(self, text):
        f = json.loads(text)
        if f[0] == 2:
            self.calls.append(f[1])
        else:
            self.sent.append(f)

    async def close(self):
        pass


class Fuzzer:
    def __init__(self, seed=1, exclude=()):
        self.rng = Rng(seed)
        self.seed = seed
        self.store = MemStore()
        self.counts = {}
        self.bad = 0
        self.reports = []
        self.internal = 0
        self.heap = []
        self.store_writes_by_garbage = 0
        self.fails = []
        board = boards.load("desktop")
        clock = Clock()

        def log(text):
            if text.startswith("! ") and not text.startswith("! InvalidResult") \
                    or "task failed" in text or "event " in text and "failed" in text:
                self.reports.append(text[:200])
        self.store.root = tmpdir("fuzz")   # firmware image / log temporaries (L01, N01)
        st = self._station(board, clock, log)
        self.st = st

        async def no_network(url, path, *a, **kw):   # UpdateFirmware / GetLog: never a real socket
            raise OSError("fuzz: no network")
        st.ctx.download = st.ctx.upload = no_network
        self.conn = Conn()
        st.rpc.conn = self.conn
        st.ctx.accepted = True
        st.ctx.registration = "Accepted"
        self.actions = [a for a in validate.actions() if st.rpc.handlers.get(a) is not None
                        and a not in exclude]
        self.actions.sort()

    def _station(self, board, clock, log):
        # a Station on a memory store: every record it persists is counted (invariant 5)
        import device_model.store as stmod   # Station.__init__ imports Store from here when called
        real = stmod.Store
        mem = self.store
        stmod.Store = lambda path: mem
        try:
            return Station({"csms_url": "ws://fuzz", "station_id": "FUZZ", "password": None,
                            "state_dir": "mem", "evses": 2}, board, clock,
                           board.make_hal(clock, 2), None, log)
        finally:
            stmod.Store = real

    # ---- one frame ---------------------------------------------------------------------------
    def frame(self):
        """-> (kind tag, text or Oversized)."""
        rng = self.rng
        r = rng.below(100)
        action = rng.choice(self.actions) if not rng.chance(40) else rng.choice(UNKNOWN_ACTIONS)
        off = validate.root(action)
        payload = gen(off, rng) if off >= 0 else _json(rng)
        if r < 30:
            return "valid", R.dumps([2, "v-%d" % rng.next(), action, payload])
        if r < 55:
            if isinstance(payload, dict):
                payload = _mutate_payload(payload, rng)
            return "payload", R.dumps([2, "p-%d" % rng.next(), action, payload])
        if r < 70:
            f = [2, _mid(rng), action, payload]
            k = rng.below(8)
            if k == 0:
                f[0] = rng.choice((0, 1, 5, 99, -2, "2", 2.0, None, True, 3, 4))
            elif k == 1:
                f.pop()
            elif k == 2:
                f.append(_json(rng))
            elif k == 3:
                f = f[:rng.below(4)]
            elif k == 4:
                f[2] = _json(rng)
            elif k == 5:
                f = [rng.choice((3, 4)), f[1], payload] + ([] if rng.chance(500) else ["x", {}])
            elif k == 6:
                f = _json(rng)
            return "frame", R.dumps(f)
        if r < 92:
            t = R.dumps([2, "t-%d" % rng.next(), action, payload])
            for _ in range(1 + rng.below(3)):
                t = _mutate_text(t, rng)
            return "text", t
        if r < 96:
            pend = self.st.rpc._pending
            mid = pend[0] if pend and rng.chance(500) else _mid(rng)
            if rng.chance(500):
                return "answer", R.dumps([3, mid, _json(rng)])
            return "answer", R.dumps([4, mid, rng.choice(CODES), _str(rng, 20), {}])
        t = R.dumps([2, "o-%d" % rng.next(), action, payload])
        if rng.chance(300):
            t = _mutate_text(t, rng)
        head = t.encode()[:HEAD_KEEP]
        return "oversized", Oversized(head, 8193 + rng.below(40000))

    def expect(self, text):
        """-> (answers expected 0/1, messageId or None, code or None: the oracle)."""
        if isinstance(text, Oversized):
            h = R.head_id(text.head)
            if h is None:
                return 1, "-1", "RpcFrameworkError"
            if h[0] in (3, 4):
                return 0, None, None
            return 1, h[1], "FormatViolation" if h[0] == 2 else "MessageTypeNotSupported"
        try:
            msg = json.loads(text)
        except Exception:
            return 1, "-1", "RpcFrameworkError"
        if not isinstance(msg, list) or not msg:
            return 1, "-1", "RpcFrameworkError"
        kind = msg[0]
        mid = msg[1] if len(msg) > 1 and isinstance(msg[1], str) and len(msg[1]) <= 36 else None
        if kind == 3 or kind == 4:
            return 0, None, None
        if mid is None:
            return 1, "-1", "RpcFrameworkError"
        if kind != 2:
            return 1, mid, "MessageTypeNotSupported"
        if len(msg) != 4 or not isinstance(msg[2], str):
            return 1, mid, "RpcFrameworkError"
        if self.st.rpc.handlers.get(msg[2]) is None:
            return 1, mid, "NotImplemented"
        bad = validate.check(msg[2], msg[3])
        if bad:
            return 1, mid, bad[0]
        return 1, mid, None   # valid: a CALLRESULT or a handler's CallError

    def _fail(self, why, text, got):
        self.bad += 1
        if len(self.fails) < 20:
            t = text if isinstance(text, str) else "Oversized(%r)" % (text.head,)
            self.fails.append("%s | %s | %s" % (why, t[:200], str(got)[:200]))

    async def one(self):
        kind, text = self.frame()
        self.counts[kind] = self.counts.get(kind, 0) + 1
        n_exp, mid, code = self.expect(text)
        conn = self.conn
        conn.sent = []
        w0 = self.store.writes
        try:
            await self.st.rpc.on_frame(text)
        except BaseException as e:  # noqa: B036 - invariant 1
            self._fail("raised %s" % type(e).__name__, text, e)
            return
        got = conn.sent
        if len(got) != n_exp:
            self._fail("answers %d != %d" % (len(got), n_exp), text, got)
            return
        if not got:
            if self.store.writes != w0:
                self.store_writes_by_garbage += 1
                self._fail("store written by an answer", text, w0)
            return
        f = got[0]
        if f[1] != mid:
            self._fail("messageId", text, f)
            return
        if f[0] == 3:
            if code is not None:
                self._fail("CALLRESULT where %s expected" % code, text, f)
                return
            bad = _check_response(json.loads(text)[2], f[2])
            if bad:
                self._fail("invalid CALLRESULT: %s" % (bad,), text, f)
            return
        if f[0] != 4 or len(f) != 5 or f[2] not in CODES or not isinstance(f[4], dict):
            self._fail("bad CALLERROR", text, f)
            return
        if f[2] == "InternalError":
            self.internal += 1
            self._fail("InternalError", text, f)
        elif code is not None and f[2] != code:
            self._fail("code %s != %s" % (f[2], code), text, f)
        if self.store.writes != w0:
            self.store_writes_by_garbage += 1
            self._fail("store written by a rejected frame", text, f)

    async def settle(self):
        """Let the jobs queued after responses run; answer the station's CALLs (CALLERROR)."""
        for _ in range(4):
            await asyncio.sleep(0)
            calls, self.conn.calls = self.conn.calls, []
            for mid in calls:
                await self.st.rpc.on_frame(R.dumps([4, mid, "GenericError", "fuzz", {}]))

    def sample_heap(self):
        gc.collect()
        try:
            v = gc.mem_alloc()
        except AttributeError:
            v = len(gc.get_objects())
        self.heap.append(v)

    async def run(self, frames, sample=10000, report=None):
        t0 = time.time()
        self.sample_heap()
        for i in range(frames):
            await self.one()
            if i % 16 == 15:
                await self.settle()
            if i % sample == sample - 1:
                self.sample_heap()
                if self.st.ctx.tasks.limit and len(self.st.ctx.tasks) > self.st.ctx.tasks.limit:
                    self._fail("task set over its bound", "", len(self.st.ctx.tasks))
                if report:
                    report(i + 1, self)
        await self.settle()
        self.sample_heap()
        # the station still answers after all that (no restart, no wedged state)
        self.conn.sent = []
        await self.st.rpc.on_frame('[2,"alive","GetTransactionStatus",{}]')
        alive = bool(self.conn.sent) and self.conn.sent[0][0] == 3
        if not alive:
            self._fail("not answering after the run", "", self.conn.sent)
        # stop the jobs still waiting on answers the fuzzer never sends (e.g. a report's parts,
        # MessageTimeout each), while the loop still runs: asyncio.run's final clean-up must not
        # wait on them
        self.st.ctx.tasks.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
        for r in self.reports[:5]:
            self.fails.append("report: " + r)
        self.bad += len(self.reports)
        return {"interpreter": sys.implementation.name, "seed": self.seed, "frames": frames,
                "kinds": self.counts, "violations": self.bad, "internal_errors": self.internal,
                "reports": len(self.reports), "store_writes_by_garbage": self.store_writes_by_garbage,
                "heap_unit": "bytes (gc.mem_alloc)" if hasattr(gc, "mem_alloc") else "live objects",
                "heap_first": self.heap[0], "heap_last": self.heap[-1], "heap_peak": max(self.heap),
                "alive": alive, "seconds": round(time.time() - t0, 1), "failures": self.fails}


_SCHEMAS = {}


def _check_response(action, payload):
    """None if ``payload`` passes the official <action>Response schema (CPython: the ``ocpp``
    package's JSON schema with jsonschema's Draft4Validator, as the ``ocpp`` library checks it);
    on MicroPython, where neither exists, only the shape (a JSON object) is checked."""
    if not isinstance(payload, dict):
        return "not an object"
    v = _SCHEMAS.get(action)
    if v is None:
        v = _SCHEMAS[action] = _load_schema(action)
    if v is False:
        return None
    errs = list(v.iter_errors(payload))
    return errs[0].message[:120] if errs else None


def _load_schema(action):
    try:
        import os
        import ocpp
        from jsonschema import Draft4Validator, FormatChecker
    except ImportError:
        return False
    path = os.path.join(os.path.dirname(ocpp.__file__), "v201", "schemas", action + "Response.json")
    try:
        with open(path) as f:
            return Draft4Validator(json.load(f), format_checker=FormatChecker())
    except OSError:
        return False


def main(argv):
    frames = 100000
    seed = 1
    sample = 10000
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--frames":
            frames = int(argv[i + 1])
            i += 1
        elif a == "--seed":
            seed = int(argv[i + 1])
            i += 1
        elif a == "--sample":
            sample = int(argv[i + 1])
            i += 1
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        i += 1

    def report(n, fz):
        sys.stderr.write("%d frames, %d violations, heap %s\n" % (n, fz.bad, fz.heap[-1]))
    res = asyncio.run(Fuzzer(seed).run(frames, sample, report))
    print(json.dumps(res))
    return 1 if res["violations"] or not res["alive"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
