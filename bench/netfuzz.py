"""Hostile networks against the simulated station process, over real sockets (issue 13; CPython).

A raw RFC 6455 CSMS on asyncio streams (no library in between, so it can break every rule) runs
against ``ocpp2lite sim`` (CPython) or ``micropython -m lite_stack.sim`` (MicroPython unix port)::

    python -m bench.netfuzz garble --interp micropython --frames 10000 --seed 1
    python -m bench.netfuzz faults --interp cpython --cycles 100 --seed 1

``garble``: frames from ``bench.fuzz`` (grammar-aware CALLs, mutated payloads, frames and text,
answers to nothing) sent as WebSocket messages, some fragmented with PINGs in between, some
over the station's receive buffer (24-44 kB), some binary, and a few that break the WebSocket
itself (reserved bits, unknown opcode, a masked server frame, a fragmented PING, invalid UTF-8
in a text message). Invariants: every frame with a readable messageId that is not an answer is
answered exactly once with its messageId and the code ``bench.fuzz`` expects; answers and binary
messages are never answered; a WebSocket-breaking frame is followed by the station's CLOSE and a
reconnect; the process never exits and prints no traceback.

``faults``: a transaction with SampledDataCtrlr.TxUpdatedInterval = 1, then ``cycles`` random
faults: TCP abort (RST) or clean close at a random moment, mid-frame, between a TransactionEvent
and its CALLRESULT, during boot; reconnects refused with HTTP 503 (4 s) or 401; TransactionEvents
left unanswered (a silent CSMS); ``--storm`` aborts in a row. Invariants: no send spin (station
log lines per second bounded), every TransactionEvent seqNo received, in order of first receipt,
complete, and a repeated seqNo always with the same content; the process never exits and prints
no traceback. Both print one JSON line of figures; exit code 1 on a violated invariant.
"""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import tempfile
import time

from bench import fuzz
from lite_stack.core.ws import Oversized

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STATION_ID = "NETFUZZ"
NO_ANSWER = ("Reset", "SetNetworkProfile")   # would end or move the connection on purpose


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def ws_frame(op, payload=b"", fin=True, rsv=0, mask=False, n=None):
    n = len(payload) if n is None else n
    b0 = (0x80 if fin else 0) | rsv | op
    mb = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, mb | n])
    elif n < 65536:
        h = bytes([b0, mb | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, mb | 127]) + struct.pack(">Q", n)
    if mask:
        h += b"\0\0\0\0"
    return h + payload


class Conn:
    def __init__(self, n, r, w):
        self.n = n
        self.r = r
        self.w = w
        self.closed = False
        self.close_code = None

    def write(self, data):
        if not self.closed:
            try:
                self.w.write(data)
            except Exception:
                pass

    def abort(self):
        """TCP RST: SO_LINGER 0, then close."""
        if self.closed:
            return
        self.closed = True
        try:
            sock = self.w.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.w.transport.abort()
        except Exception:
            pass

    def close_clean(self):
        if self.closed:
            return
        self.write(ws_frame(8, struct.pack(">H", 1000)))
        self.closed = True
        try:
            self.w.close()
        except Exception:
            pass


class RawCsms:
    """A CSMS that speaks raw WebSocket frames. ``admit(n)`` decides each connection attempt:
    "ok", ("http", status) or "rst"; ``on_call(conn, action, payload, mid)`` may return a payload
    (answered), None (default answer) or "silent"; "rst"/"close" to fault right there."""

    def __init__(self, log=None):
        self.attempts = 0
        self.conns = []
        self.conn = None
        self.calls = []          # (seconds, connection no, action, payload)
        self.answers = {}        # our CALL id -> station frame
        self.unsolicited = []    # station answers to ids we never sent
        self.admit = lambda n: "ok"
        self.on_call = lambda conn, action, payload, mid: None
        self.connected = asyncio.Event()
        self.t0 = time.time()
        self.log = log
        self.bad_frames = 0
        self.errors = []

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self):
        self.server.close()
        for c in self.conns:
            c.abort()

    def default(self, action, p):
        if action == "BootNotification":
            return {"currentTime": _now(), "interval": 300, "status": "Accepted"}
        if action == "Heartbeat":
            return {"currentTime": _now()}
        if action == "Authorize":
            return {"idTokenInfo": {"status": "Accepted"}}
        if action == "TransactionEvent" and "idToken" in p:
            return {"idTokenInfo": {"status": "Accepted"}}
        return {}

    async def _serve(self, r, w):
        self.attempts += 1
        try:
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
        except Exception:
            w.close()
            return
        key = b""
        for ln in head.split(b"\r\n"):
            if ln.lower().startswith(b"sec-websocket-key:"):
                key = ln.split(b":", 1)[1].strip()
        what = self.admit(self.attempts)
        if what == "rst":
            c = Conn(0, r, w)
            c.abort()
            return
        if isinstance(what, tuple):
            w.write(b"HTTP/1.1 %d Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % what[1])
            try:
                await w.drain()
            except Exception:
                pass
            w.close()
            return
        acc = base64.b64encode(hashlib.sha1(key + GUID).digest())
        w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + acc + b"\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n")
        c = Conn(len(self.conns) + 1, r, w)
        self.conns.append(c)
        if what == "ok_then_rst":
            c.abort()
            return
        self.conn = c
        self.connected.set()
        try:
            await self._read(c)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as e:   # a bug of this CSMS: make it visible
            self.errors.append("%s %s" % (type(e).__name__, e))
        c.closed = True
        if self.conn is c:
            self.conn = None
            self.connected.clear()
        try:
            w.close()
        except Exception:
            pass

    async def _read(self, c):
        r = c.r
        buf = b""
        while True:
            b0, b1 = await r.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", await r.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await r.readexactly(8))[0]
            m = await r.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
            p = bytearray(await r.readexactly(n))
            for i in range(n):
                p[i] ^= m[i & 3]
            op = b0 & 15
            if not b1 & 0x80:
                self.bad_frames += 1   # RFC 6455 §5.3: client frames must be masked
            if op == 8:
                c.close_code = struct.unpack(">H", bytes(p[:2]))[0] if n >= 2 else 1005
                c.write(ws_frame(8, bytes(p[:2])))
                return
            if op == 9:
                c.write(ws_frame(10, bytes(p)))
                continue
            if op in (0, 1):
                buf += bytes(p)
                if not b0 & 0x80:
                    continue
                text, buf = buf.decode("utf-8"), b""
                self._on_text(c, text)

    def _on_text(self, c, text):
        f = json.loads(text)
        if f[0] == 2:
            action, p = f[2], f[3]
            self.calls.append((time.time() - self.t0, c.n, action, p))
            res = self.on_call(c, action, p, f[1])
            if res == "silent":
                return
            if res == "rst":
                c.abort()
                return
            if res == "close":
                c.close_clean()
                return
            if res is None:
                res = self.default(action, p)
            c.write(ws_frame(1, json.dumps([3, f[1], res]).encode()))
        else:
            if f[1] in self.answers:
                self.answers[f[1]].append(f)
            else:
                self.unsolicited.append(f)

    def te(self):
        return [(t, n, p) for t, n, a, p in self.calls if a == "TransactionEvent"]


# ---- the station process ----------------------------------------------------------------------
class Station:
    def __init__(self, interp, port, evses=1):
        from tests.harness import station_cmd
        from ocpp2lite.demo import StationProcess, station_env
        self.dir = tempfile.mkdtemp(prefix="netfuzz-")
        self.lines = []         # (seconds, text) of the station's stderr
        self.t0 = time.time()
        env = station_env("ws://127.0.0.1:%d" % port, STATION_ID, self.dir, evses=evses)
        self.p = StationProcess(station_cmd(interp), env, on_stderr=self._line)
        self.p.env = env

    def _line(self, text):
        if len(self.lines) < 2000000:
            self.lines.append((time.time() - self.t0, text))

    async def start(self):
        await self.p.start()

    async def send(self, ev):
        await self.p.send(ev)

    def alive(self):
        return self.p.returncode is None

    def tracebacks(self):
        return [t for _, t in self.lines if "Traceback" in t or t.startswith("!")]

    def max_lines_per_second(self):
        per = {}
        for t, _ in self.lines:
            k = int(t)
            per[k] = per.get(k, 0) + 1
        return max(per.values()) if per else 0

    async def stop(self):
        try:
            await self.p.stop()
        except Exception:
            pass
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


async def _wait(pred, timeout, step=0.02):
    t = time.time()
    while not pred():
        if time.time() - t > timeout:
            return False
        await asyncio.sleep(step)
    return True


async def _boot(csms, st):
    await st.start()
    ok = await _wait(lambda: any(a == "StatusNotification" for _, _, a, _ in csms.calls), 30)
    if not ok:
        raise RuntimeError("station did not boot: %s" % st.lines[-20:])


async def _close(res, st, csms, t0):
    """The figures every campaign reports, then stop the station and the CSMS."""
    res["alive"] = st.alive()
    res["tracebacks"] = st.tracebacks()[:5]
    res["connections"] = len(csms.conns)
    res["attempts"] = csms.attempts
    res["csms_errors"] = csms.errors[:5]
    res["close_codes"] = [c.close_code for c in csms.conns][:20]
    res["max_log_lines_per_s"] = st.max_lines_per_second()
    res["log_lines"] = len(st.lines)
    res["seconds"] = round(time.time() - t0, 1)
    await st.stop()
    await csms.stop()


async def _csms_call(csms, mid, action, payload):
    csms.answers[mid] = []
    csms.conn.write(ws_frame(1, json.dumps([2, mid, action, payload]).encode()))


# ---- garble ---------------------------------------------------------------------------------------
BREAKERS = ("rsv", "opcode", "masked", "fragmented_ping", "utf8")


def _breaker(kind):
    if kind == "rsv":
        return ws_frame(1, b'[2,"r","Heartbeat",{}]', rsv=0x40)
    if kind == "opcode":
        return ws_frame(3, b"x")
    if kind == "masked":
        return ws_frame(1, b'[2,"m","Heartbeat",{}]', mask=True)
    if kind == "fragmented_ping":
        return ws_frame(9, b"p", fin=False)
    return ws_frame(1, b'[2,"u","Heartbeat",{"x":"\xc3\x28"}]')


async def garble(interp="cpython", frames=1000, seed=1, batch=40, breakers=True):
    fz = fuzz.Fuzzer(seed, exclude=NO_ANSWER)
    rng = fz.rng
    csms = await RawCsms().start()
    st = Station(interp, csms.port, evses=2)
    res = {"campaign": "garble", "interp": interp, "seed": seed, "frames": 0, "violations": 0,
           "failures": [], "kinds": {}, "ws": {}, "reconnects_expected": 0}

    def fail(why):
        res["violations"] += 1
        if len(res["failures"]) < 20:
            res["failures"].append(why[:400])
        if "station_tail" not in res:
            res["station_tail"] = [t[:200] for _, t in st.lines[-40:]]
    t0 = time.time()
    try:
        await _boot(csms, st)
        sent = 0
        while sent < frames:
            pending = []
            broke = None
            broke_sent = False
            for _ in range(min(batch, frames - sent)):
                sent += 1
                c = csms.conn
                if c is None:
                    break
                if breakers and rng.chance(8):
                    # sent after this batch's answers are in: a station closing with unread
                    # data gets the kernel to send RST, which discards what the CSMS has not read
                    broke = rng.choice(BREAKERS)
                    res["ws"][broke] = res["ws"].get(broke, 0) + 1
                    break
                kind, text = fz.frame()
                res["kinds"][kind] = res["kinds"].get(kind, 0) + 1
                n_exp, mid, code = fz.expect(text)
                if interp == "micropython" and mid == "-1" and isinstance(text, str):
                    # MicroPython's json.loads is lenient (missing or trailing commas, leading
                    # zeros, non-string keys, control characters): a frame CPython cannot parse
                    # may be read as a frame there. Either answer is accepted, counted apart.
                    n_exp, mid = -1, "lenient"
                    res["lenient"] = res.get("lenient", 0) + 1
                if isinstance(text, Oversized):
                    raw = text.head + b" " * (24000 + rng.below(20000))
                    mode = "oversized"
                else:
                    raw = text.encode("utf-8", "surrogatepass")
                    mode = rng.choice(("plain", "plain", "plain", "fragments", "binary")) \
                        if rng.chance(300) else "plain"
                res["ws"][mode] = res["ws"].get(mode, 0) + 1
                if mode == "binary":
                    c.write(ws_frame(2, raw))
                    n_exp = 0
                elif mode == "fragments":
                    k = 1 + rng.below(4)
                    step = max(1, len(raw) // (k + 1))
                    parts = [raw[i:i + step] for i in range(0, len(raw), step)] or [b""]
                    for i, part in enumerate(parts):
                        c.write(ws_frame(0 if i else 1, part, fin=i == len(parts) - 1))
                        if rng.chance(300):
                            c.write(ws_frame(9, b"ping"))
                else:
                    c.write(ws_frame(1, raw))
                if mode != "oversized" and mode != "binary":
                    try:
                        raw.decode("utf-8")
                    except UnicodeError:   # a lone surrogate: the station closes with 1007
                        broke = "utf8"
                        broke_sent = True
                        break
                if n_exp > 0:
                    csms.answers.setdefault(mid, [])
                pending.append((mid, n_exp, code, text))
            # every answer of the batch, exactly once
            want = [m for m, n, _, _ in pending if n > 0 and m != "-1"]
            await _wait(lambda: all(csms.answers.get(m) for m in want), 15)
            await asyncio.sleep(0.05)
            minus = sum(1 for m, n, _, _ in pending if n > 0 and m == "-1")
            lenient = sum(1 for m, n, _, _ in pending if m == "lenient")
            got_minus = len(csms.answers.get("-1", []))
            mult = {}
            for mid, n, code, text in pending:
                if n > 0:
                    mult[mid] = mult.get(mid, 0) + 1
            for mid, n, code, text in pending:
                if n <= 0 or mid == "-1":
                    continue
                got = csms.answers.get(mid, [])
                if len(got) != mult[mid]:   # one answer per frame (a messageId may repeat)
                    fail("%d answers to %r (%s)" % (len(got), mid, str(text)[:120]))
                    continue
                if mult[mid] > 1:   # which answer is whose: unknown; the count was checked
                    continue
                f = got[0]
                if code is not None and (f[0] != 4 or f[2] != code):
                    fail("expected %s, got %s for %s" % (code, str(f)[:150], str(text)[:120]))
                elif f[0] == 4 and f[2] == "InternalError":
                    fail("InternalError for %s" % str(text)[:150])
            extra = len(csms.unsolicited) + got_minus - minus
            if got_minus < minus or extra > lenient or extra < 0:
                fail("%d answers with -1, expected %d (+%d lenient)" % (got_minus, minus, lenient))
            if lenient and len(csms.unsolicited) <= lenient:
                csms.unsolicited = []
            csms.answers.pop("-1", None)
            for mid, n, code, text in pending:
                csms.answers.pop(mid, None)
            if csms.unsolicited:
                fail("answers never asked for: %s" % str(csms.unsolicited[:3])[:300])
                csms.unsolicited = []
            if broke:
                res["reconnects_expected"] += 1
                before = len(csms.conns)
                if not broke_sent and csms.conn is not None:
                    csms.conn.write(_breaker(broke))
                if not await _wait(lambda: len(csms.conns) > before and csms.conn is not None, 60):
                    fail("no reconnect after a %s frame" % broke)
                    break
                await asyncio.sleep(0.1)
            if not st.alive():
                fail("station process exited")
                break
            if sent % 1000 < batch:
                sys.stderr.write("%d frames, %d violations, %.0f s\n" % (
                    sent, res["violations"], time.time() - t0))
        res["frames"] = sent
    finally:
        await _close(res, st, csms, t0)
    if res["tracebacks"] or not res["alive"]:
        res["violations"] += 1
    for e in csms.errors[:5]:
        fail("CSMS could not read a station frame: " + e)
    if len(csms.conns) - 1 != res["reconnects_expected"]:
        fail("connections %d, expected %d" % (len(csms.conns), res["reconnects_expected"] + 1))
    return res


# ---- faults ---------------------------------------------------------------------------------------
FAULTS = ("rst_now", "close_now", "rst_on_te", "close_on_te", "rst_mid_frame", "silent_te",
          "refuse_503", "refuse_401", "rst_after_open")


async def faults(interp="cpython", cycles=20, seed=1, storm=0, timeout_edges=False, kinds=FAULTS):
    rng = fuzz.Rng(seed)
    csms = await RawCsms().start()
    st = Station(interp, csms.port)
    res = {"campaign": "faults", "interp": interp, "seed": seed, "cycles": 0, "violations": 0,
           "failures": [], "faults": {}}
    state = {"refuse": 0, "refuse_status": 503, "on_te": None, "boot_rst": 0, "silent": 0}

    def fail(why):
        res["violations"] += 1
        if len(res["failures"]) < 20:
            res["failures"].append(why[:400])

    def admit(n):
        if time.time() < state["refuse"]:
            return ("http", state["refuse_status"])
        if state.get("rst_open"):
            state["rst_open"] -= 1
            return "ok_then_rst"
        return "ok"

    def on_call(conn, action, p, mid):
        if action == "BootNotification" and state["boot_rst"] > 0:
            state["boot_rst"] -= 1
            return "rst"
        if action == "TransactionEvent":
            if state["silent"] > 0:
                state["silent"] -= 1
                return "silent"
            if state["on_te"]:
                what, state["on_te"] = state["on_te"], None
                return what
        return None
    csms.admit = admit
    csms.on_call = on_call
    t0 = time.time()
    try:
        state["boot_rst"] = 1          # the first BootNotification is answered with a TCP RST
        await _boot(csms, st)
        for comp, var, val in (("SampledDataCtrlr", "TxUpdatedInterval", "1"),
                               ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", "1"),
                               ("OCPPCommCtrlr", "RetryBackOffRandomRange", "0"),
                               ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", "1"),
                               ("OCPPCommCtrlr", "MessageAttemptInterval", "1")):
            inst = {"instance": "TransactionEvent"} if var == "MessageAttemptInterval" else {}
            var_d = dict({"name": var}, **inst)
            await _csms_call(csms, "set-" + var, "SetVariables", {"setVariableData": [
                {"component": {"name": comp}, "variable": var_d, "attributeValue": val}]})
        await _wait(lambda: all(csms.answers.get("set-" + v) for v in (
            "TxUpdatedInterval", "RetryBackOffWaitMinimum", "MessageAttemptInterval")), 10)
        await st.send({"cmd": "plug_in", "evse": 1, "connector": 1})
        await st.send({"cmd": "token", "id": "AB12CD34", "type": "ISO14443"})
        if not await _wait(lambda: any(p["eventType"] == "Started" for _, _, p in csms.te()), 20):
            fail("no transaction started")
        for i in range(cycles + storm):
            if not st.alive():
                fail("station process exited")
                break
            f = "storm" if i >= cycles else rng.choice(kinds)
            res["faults"][f] = res["faults"].get(f, 0) + 1
            c = csms.conn
            await asyncio.sleep(rng.below(1500) / 1000 if f != "storm" else 0.05)
            c = csms.conn
            if c is None:
                await _wait(lambda: csms.conn is not None, 30)
                c = csms.conn
                if c is None:
                    fail("no connection before fault %d" % i)
                    continue
            if f in ("rst_now", "storm"):
                c.abort()
            elif f == "close_now":
                c.close_clean()
            elif f == "rst_on_te":
                state["on_te"] = "rst"
            elif f == "close_on_te":
                state["on_te"] = "close"
            elif f == "rst_mid_frame":
                c.write(ws_frame(1, b'[2,"half","GetVariables",{"getVariableData":[]}]')[:9])
                await asyncio.sleep(0.05)
                c.abort()
            elif f == "silent_te":
                state["silent"] = 2
            elif f in ("refuse_503", "refuse_401"):
                state["refuse"] = time.time() + 4
                state["refuse_status"] = 503 if f == "refuse_503" else 401
                c.abort()
            elif f == "rst_after_open":
                state["rst_open"] = 1        # the next connection is reset right after the 101
                c.abort()
            if f == "silent_te":
                await asyncio.sleep(1)
            elif f in ("rst_on_te", "close_on_te"):
                await _wait(lambda: csms.conn is not None and csms.conn is not c, 10)
            elif f != "storm":
                await _wait(lambda: csms.conn is not None and csms.conn is not c, 45)
            res["cycles"] += 1
        if timeout_edges:
            # a CSMS that answers just under and just over MessageTimeout (30 s)
            for delay in (28, 32):
                state["on_te"] = None

                def late(conn, action, p, mid, delay=delay):
                    if action == "TransactionEvent" and not state.get("late_done"):
                        state["late_done"] = True
                        loop = asyncio.get_running_loop()
                        loop.call_later(delay, lambda: conn.write(ws_frame(
                            1, json.dumps([3, mid, {}]).encode())))
                        return "silent"
                    return on_call(conn, action, p, mid)
                csms.on_call = late
                state["late_done"] = False
                await asyncio.sleep(delay + 8)
            csms.on_call = on_call
        # calm: everything delivered, the transaction ended
        await asyncio.sleep(3)
        await st.send({"cmd": "plug_out", "evse": 1, "connector": 1})
        if not await _wait(lambda: any(p["eventType"] == "Ended" for _, _, p in csms.te()), 120):
            fail("no Ended event after the faults")
        await asyncio.sleep(2)
    finally:
        await _close(res, st, csms, t0)
    # TransactionEvents: complete, in order, a repeated seqNo with the same content
    seen = {}
    order = []
    for _, _, p in csms.te():
        tid = p["transactionInfo"]["transactionId"]
        key = (tid, p["seqNo"])
        if key in seen:
            if seen[key] != p:
                fail("seqNo %d sent again with other content" % p["seqNo"])
        else:
            seen[key] = p
            order.append(key)
    by_tx = {}
    for tid, seq in order:
        by_tx.setdefault(tid, []).append(seq)
    for tid, seqs in by_tx.items():
        if seqs != list(range(len(seqs))):
            fail("transaction %s seqNo %s" % (tid, seqs[:40]))
    res["transaction_events"] = len(csms.te())
    res["seqnos"] = len(order)
    res["duplicates"] = len(csms.te()) - len(order)
    if res["max_log_lines_per_s"] > 400:
        fail("send spin: %d log lines in one second" % res["max_log_lines_per_s"])
    if res["tracebacks"] or not res["alive"]:
        res["violations"] += 1
    return res


def main(argv):
    if len(argv) < 2 or argv[1] not in ("garble", "faults"):
        print(__doc__)
        return 2
    kw = {}
    i = 2
    while i < len(argv):
        a = argv[i].lstrip("-").replace("-", "_")
        if a == "timeout_edges":
            kw[a] = True
        else:
            kw[a] = argv[i + 1] if a == "interp" else int(argv[i + 1])
            i += 1
        i += 1
    res = asyncio.run((garble if argv[1] == "garble" else faults)(**kw))
    print(json.dumps(res))
    return 1 if res["violations"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
