"""An in-process CSMS and network for the data-volume bench (bench/data.py). CPython only.

It sits *below* the stack's real WebSocket client (``lite_stack.core.ws.WebSocket``): ``open_connection``
stands in for ``asyncio.open_connection`` and returns an ``asyncio.StreamReader`` fed by the CSMS
and a writer whose bytes the CSMS parses as a WebSocket server would (RFC 6455: HTTP Upgrade, masked
client frames, unmasked server frames, PING -> PONG, CLOSE echoed). So every byte the stack puts on
the WebSocket is seen and logged exactly; the layers below (TLS, TCP/IP) are added afterwards from a
stated model (bench/data.py).

The CSMS answers like an ordinary OCPP 2.0.1 CSMS (modelled on tests/unit/fakecsms.py and
ocpp2lite/csms.py): BootNotification Accepted with ``interval``, Heartbeat with ``currentTime``,
Authorize and TransactionEvent-with-idToken ``idTokenInfo.status`` Accepted, ``{}`` for
StatusNotification, MeterValues, SecurityEventNotification and NotifyReport. ``call`` sends a
CSMS-initiated CALL (SetVariables, GetBaseReport, Reset, ...).

The network: ``drop(reason)`` ends the connection without any closing bytes (a mobile network that
loses the radio link or forgets the NAT mapping; the station is assumed to learn of it at once, see
bench/data.py for what is not modelled). ``nat_idle_s`` > 0 drops a connection that carried no
frame for that long (carrier-grade NAT idle timeout).

Log shapes (all sizes in bytes; ``up`` = Charging Station -> CSMS):
- ``frames``: list of ``(conn, up, opcode, header, payload, action, mtype)``: one WebSocket frame;
  header includes the 4-byte mask of client frames; action is the OCPP action a text frame belongs
  to (a CALLRESULT/CALLERROR is attributed to its CALL's action), mtype 2/3/4 (0 for control frames).
- ``texts``: list of ``(up, chars)`` per OCPP-J text frame (the message-size distribution).
- ``conns``: list of dicts ``{"n", "opened_ms", "closed_ms", "end", "http_up", "http_down",
  "bytes_up", "bytes_down", "lost_up"}``: end ``"orderly"`` (CLOSE handshake and FIN), ``"drop"``
  (network loss) or ``None`` (still open); http_* the HTTP Upgrade request/101 answer; bytes_* all
  bytes each side wrote while the connection lived; lost_up bytes the station wrote after a drop.
"""
import asyncio
import base64
import hashlib
import json

from lite_stack.clock import iso

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3

# A typical 101 answer: what the Python `websockets` server (the transport of mobilityhouse `ocpp`
# CSMSes and of ocpp2lite.csms) sends, with its default Server header.
RESPONSE_101 = ("HTTP/1.1 101 Switching Protocols\r\n"
                "Date: %s\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n"
                "Sec-WebSocket-Protocol: %s\r\n"
                "Server: Python/3.11 websockets/13.1\r\n\r\n")

_DAYS = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(epoch_s):
    """RFC 7231 IMF-fixdate (always 29 characters), e.g. ``Thu, 01 Jan 2026 00:00:00 GMT``."""
    t = iso(epoch_s)  # YYYY-MM-DDTHH:MM:SSZ
    return "%s, %s %s %s %s GMT" % (_DAYS[(int(epoch_s) // 86400) % 7], t[8:10],
                                    _MONTHS[int(t[5:7]) - 1], t[0:4], t[11:19])


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def server_frame(op, payload):
    """An unmasked server frame (RFC 6455 §5.2): 2-byte header up to 125 payload bytes, 4 up to
    65535, else 10."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | op, n))
    elif n < 65536:
        head = bytes((0x80 | op, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | op, 127)) + n.to_bytes(8, "big")
    return head + payload


def unmask(data, mask):
    n = len(data)
    if not n:
        return b""
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


class _Writer:
    """The station's half of the stream: every write goes to the CSMS parser."""

    def __init__(self, csms, conn):
        self.csms = csms
        self.conn = conn
        self.closed = False

    def write(self, data):
        self.csms._on_bytes(self.conn, bytes(data))

    async def drain(self):
        pass

    def close(self):
        if not self.closed:
            self.closed = True
            self.csms._on_station_close(self.conn)

    def is_closing(self):
        return self.closed

    async def wait_closed(self):
        pass


class _Conn:
    def __init__(self, n, reader, opened_ms):
        self.n = n
        self.reader = reader
        self.buf = bytearray()
        self.upgraded = False
        self.alive = True        # False after a drop or once closed
        self.close_seen = False  # station sent CLOSE (orderly close under way)
        self.info = {"n": n, "opened_ms": opened_ms, "closed_ms": None, "end": None,
                     "http_up": 0, "http_down": 0, "bytes_up": 0, "bytes_down": 0,
                     "lost_up": 0}
        self.last_ms = opened_ms


class DataCsms:
    """In-process CSMS + network. ``clock``: the bench's clock; ``interval``: BootNotification
    interval (HeartbeatInterval, s); ``fraction_ms``: currentTime with ``.000`` milliseconds (as
    JavaScript/Java CSMSes format it) or without; ``uuid_ids``: CSMS messageIds as 36-character
    UUID strings (as mobilityhouse `ocpp` makes them) or short counters; ``nat_idle_s``: drop idle
    connections after this many seconds (0 = never); ``ping_s``: the CSMS sends its own PING every
    ``ping_s`` seconds (0 = never)."""

    def __init__(self, clock, interval=300, fraction_ms=False, uuid_ids=False, nat_idle_s=0,
                 ping_s=0, boot_status="Accepted"):
        self.clock = clock
        self.interval = interval
        self.fraction_ms = fraction_ms
        self.uuid_ids = uuid_ids
        self.nat_idle_s = nat_idle_s
        self.ping_s = ping_s
        self.boot_status = boot_status
        self.frames = []
        self.texts = []
        self.conns = []
        self.counts = {}         # station CALL action -> number received
        self.boots = []          # BootNotification reasons
        self.on_boot = None      # callable(reason) after a BootNotification was answered
        self.conn = None
        self.request_head = None  # the last HTTP Upgrade request, as the station sent it
        self.drops = {}          # reason -> count
        self._station_calls = {}  # messageId -> action (CALLs the station sent)
        self._my_calls = {}       # messageId -> action (CALLs we sent)
        self._results = {}
        self._result_ev = asyncio.Event()
        self._n = 0
        self._lock = asyncio.Lock()

    # ---- transport --------------------------------------------------------------------------------
    async def open_connection(self, host, port, ssl=None):
        """Stand-in for ``asyncio.open_connection`` (the TLS layer is modelled, not run)."""
        if self.conn is not None and self.conn.alive:
            self.drop("superseded")
        reader = asyncio.StreamReader()
        c = _Conn(len(self.conns) + 1, reader, self.clock.ms())
        self.conns.append(c.info)
        self.conn = c
        return reader, _Writer(self, c)

    def _to_station(self, c, data):
        if c.alive:
            c.reader.feed_data(data)
            c.info["bytes_down"] += len(data)
            c.last_ms = self.clock.ms()

    def _send_frame(self, c, op, payload, action=None, mtype=0):
        if not c.alive:
            return
        f = server_frame(op, payload)
        self.frames.append((c.n, False, op, len(f) - len(payload), len(payload), action, mtype))
        if op == 1:
            self.texts.append((False, len(payload)))
        self._to_station(c, f)

    def _on_bytes(self, c, data):
        if not c.alive:
            c.info["lost_up"] += len(data)  # written into a dead connection: never arrives
            return
        c.info["bytes_up"] += len(data)
        c.last_ms = self.clock.ms()
        c.buf += data
        if not c.upgraded:
            i = c.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(c.buf[:i + 4])
            del c.buf[:i + 4]
            c.info["http_up"] = len(head)
            self.request_head = head.decode()
            key = proto = None
            for ln in head.decode().split("\r\n")[1:]:
                k, _, v = ln.partition(":")
                if k.strip().lower() == "sec-websocket-key":
                    key = v.strip()
                elif k.strip().lower() == "sec-websocket-protocol":
                    proto = v.strip().split(",")[0].strip()
            resp = (RESPONSE_101 % (http_date(self.clock.now()), accept_key(key), proto)).encode()
            c.info["http_down"] = len(resp)
            c.upgraded = True
            self._to_station(c, resp)
        self._parse(c)

    def _parse(self, c):
        buf = c.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            hl = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = int.from_bytes(buf[2:4], "big")
                hl = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = int.from_bytes(buf[2:10], "big")
                hl = 10
            if not b1 & 0x80:
                raise AssertionError("unmasked client frame (RFC 6455 §5.3)")
            if not b0 & 0x80:
                raise AssertionError("fragmented frame: not expected from the stack")
            if len(buf) < hl + 4 + n:
                return
            mask = bytes(buf[hl:hl + 4])
            payload = unmask(bytes(buf[hl + 4:hl + 4 + n]), mask)
            del buf[:hl + 4 + n]
            self._on_frame(c, b0 & 0x0F, hl + 4, payload)

    def _on_frame(self, c, op, hl, payload):
        if op == 1:
            text = payload.decode()
            action, mtype = self._attribute(text)
            self.frames.append((c.n, True, op, hl, len(payload), action, mtype))
            self.texts.append((True, len(payload)))
            self._on_text(c, text)
            return
        self.frames.append((c.n, True, op, hl, len(payload), None, 0))
        if op == 9:  # PING -> PONG with the same payload (RFC 6455 §5.5.2)
            self._send_frame(c, 10, payload)
        elif op == 8:  # CLOSE: echo the status code, then shut (RFC 6455 §5.5.1)
            c.close_seen = True
            self._send_frame(c, 8, payload[:2])
            c.alive = False
            c.reader.feed_eof()

    def _on_station_close(self, c):
        info = c.info
        if info["end"] is None:
            info["closed_ms"] = self.clock.ms()
            info["end"] = "orderly" if c.close_seen else "drop"
        if c.alive:
            c.alive = False
            c.reader.feed_eof()

    def drop(self, reason="network"):
        """Lose the current connection without closing bytes (radio loss / NAT mapping gone)."""
        c = self.conn
        if c is None or not c.alive:
            return False
        c.alive = False
        c.info["closed_ms"] = self.clock.ms()
        c.info["end"] = "drop"
        c.reader.feed_eof()
        self.drops[reason] = self.drops.get(reason, 0) + 1
        return True

    async def net_task(self):
        """The NAT idle timeout (``nat_idle_s``) and the CSMS's own PINGs (``ping_s``)."""
        clock = self.clock
        next_ping = None
        while True:
            c = self.conn
            now = clock.ms()
            wake = now + 3600000
            if c is not None and c.alive and c.upgraded:
                if self.nat_idle_s > 0:
                    due = c.last_ms + self.nat_idle_s * 1000
                    if now >= due:
                        self.drop("nat_idle")
                        continue
                    wake = min(wake, due)
                if self.ping_s > 0:
                    if next_ping is None or next_ping < c.info["opened_ms"]:
                        next_ping = now + self.ping_s * 1000
                    if now >= next_ping:
                        self._send_frame(c, 9, b"")
                        next_ping = now + self.ping_s * 1000
                    wake = min(wake, next_ping)
            await clock.sleep_ms(max(1, wake - now) if c is not None and c.alive else 1000)

    # ---- OCPP ----------------------------------------------------------------------------------------
    def _now(self):
        t = iso(self.clock.now())
        return t[:-1] + ".000Z" if self.fraction_ms else t

    def _attribute(self, text):
        f = json.loads(text)
        if f[0] == 2:
            self._station_calls[f[1]] = f[2]
            return f[2], 2
        return self._my_calls.get(f[1], "?"), f[0]

    def _dumps(self, obj):
        return json.dumps(obj, separators=(",", ":"))

    def _on_text(self, c, text):
        f = json.loads(text)
        if f[0] == 2:
            mid, action, p = f[1], f[2], f[3]
            self.counts[action] = self.counts.get(action, 0) + 1
            r = self._answer(action, p)
            self._send_frame(c, 1, self._dumps([3, mid, r]).encode(), action, 3)
            if action == "BootNotification":
                self.boots.append(p.get("reason"))
                if self.on_boot and r["status"] == "Accepted":
                    self.on_boot(p.get("reason"))
        else:
            self._results[f[1]] = f
            self._result_ev.set()

    def _answer(self, action, p):
        if action == "BootNotification":
            return {"currentTime": self._now(), "interval": self.interval, "status": self.boot_status}
        if action == "Heartbeat":
            return {"currentTime": self._now()}
        if action == "Authorize":
            return {"idTokenInfo": {"status": "Accepted"}}
        if action == "TransactionEvent" and "idToken" in p:
            return {"idTokenInfo": {"status": "Accepted"}}
        return {}

    def _new_id(self):
        self._n += 1
        if self.uuid_ids:  # the shape of str(uuid.uuid4()): 36 characters
            h = "%032x" % (0x9F3C0000000040008000000000000000 + self._n)
            return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
        return "c%d" % self._n

    async def call(self, action, payload, timeout=30):
        """Send a CSMS-initiated CALL (one outstanding at a time, Part 4 §4.1.1); returns the
        station's answer frame ``[3, id, payload]`` / ``[4, ...]`` or None (no connection or no answer
        within ``timeout`` s)."""
        await self._lock.acquire()
        try:
            c = self.conn
            if c is None or not c.alive or not c.upgraded:
                return None
            mid = self._new_id()
            self._my_calls[mid] = action
            self._send_frame(c, 1, self._dumps([2, mid, action, payload]).encode(), action, 2)
            deadline = self.clock.ms() + timeout * 1000
            while mid not in self._results:
                left = deadline - self.clock.ms()
                if left <= 0:
                    return None
                self._result_ev.clear()
                await self.clock.wait(self._result_ev, left / 1000)
            return self._results.pop(mid)
        finally:
            self._lock.release()
