"""RFC 6455 WebSocket *client* on asyncio streams: the OCPP-J transport (OCPP 2.0.1 Part 4).

Runs unchanged on the MicroPython unix port and CPython 3.10+ (``asyncio.open_connection``).

What it does and does not do:
- Handshake (RFC 6455 §4.1): random 16-byte ``Sec-WebSocket-Key``, version 13, one requested
  subprotocol (``ocpp2.0.1``), optional HTTP Basic auth (RFC 7617; OCPP 2.0.1 Part 2 A00 security
  profiles 1/2: user = Charging Station id, password = SecurityCtrlr.BasicAuthPassword). The 101 answer
  must carry ``Upgrade: websocket``, ``Connection: Upgrade``, the right ``Sec-WebSocket-Accept``, no
  ``Sec-WebSocket-Extensions`` and exactly the requested subprotocol (Part 4 §3.1.2), else ``WsError``.
  Its code is in ``core.wsopen``: ``connect`` imports it per attempt and releases it (and
  ``core.net``) after, so it is not resident between reconnects (RAM).
- Frames: client frames are masked with a fresh ``os.urandom`` key (§5.3); server frames must be
  unmasked. Text messages are reassembled from fragments (§5.4) with control frames interleaved.
  PING is answered with PONG (same payload), PONG is recorded, CLOSE is echoed (§5.5.1).
- Binary messages are *ignored* (OCPP-J uses text frames only); they still count against ``max_frame``.
- Protocol errors (masked server frame, RSV bits, unknown opcode, control frame > 125 bytes or
  fragmented, continuation without a start, new message inside a fragmented one, close payload of
  1 byte) -> CLOSE 1002, ``recv()`` returns None. Invalid UTF-8 in a text message -> CLOSE 1007
  (RFC 6455 §7.4.1, §8.1).
- A message over ``max_frame`` (issue 13: a 24-44 kB CALL on an 8 kB board) does not break the
  connection: its first ``HEAD_KEEP`` bytes are kept, the rest is streamed past in
  ``_SKIP_CHUNK``-byte reads without being buffered (continuation frames included, control
  frames in between still handled), and ``recv()`` returns an ``Oversized`` for a text message
  (the RPC layer answers its CALL with FormatViolation, Part 4 §4.3); an oversized binary
  message is dropped like any binary one. Its UTF-8 is not checked (it is never decoded).
- Memory bounds: the HTTP response head is read byte by byte up to ``core.wsopen.MAX_HEAD`` bytes (nothing of the
  first frame is consumed); one message is at most ``max_frame`` bytes, checked from the frame header
  before the payload is read (beyond it: ``HEAD_KEEP`` bytes plus one ``_SKIP_CHUNK`` read). ``send`` writes the frame in masked pieces of at most
  ``_TX_CHUNK`` bytes (on MicroPython an ASCII message is read from the str itself: no copy of it); ``recv`` one payload buffer (``readinto`` on MicroPython) plus the
  returned str. Measured on the MicroPython unix port (64-bit): about 0.5 kB of heap held per open
  connection after the first (which also loads asyncio's stream/lock/event modules, about 4.7 kB).
- Extensions (permessage-deflate), IPv6 literal hosts and URL user-info are not supported.
"""
import asyncio
import os
import struct

from lite_stack.clock import Kick
from lite_stack.core import release
from lite_stack.core.frames import HEAD_KEEP, Oversized, utf8  # noqa: F401 (re-exported)

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

WSOPEN = "lite_stack.core.wsopen"   # RAM: the opening handshake, imported per connection attempt
NET = "lite_stack.core.net"         # and the URL/Basic-auth helpers it uses (both released after)
_SKIP_CHUNK = const(512)  # bytes per read when streaming past an oversized message
# bytes per write of an outgoing frame (header included): mbedTLS's output buffer, so that a TLS
# record still carries up to 4 kB of a frame, as one write of the whole frame did (bench/data.py
# models exactly that); a longer frame is never copied whole
_TX_CHUNK = const(4096)
_CLOSE_WAIT = const(2)  # s to wait for the peer's CLOSE after ours (RFC 6455 §7.1.1)
_OP_CONT = const(0)
_OP_TEXT = const(1)
_OP_BIN = const(2)
_OP_CLOSE = const(8)
_OP_PING = const(9)
_OP_PONG = const(10)


class WsError(Exception):
    """Handshake or protocol failure. Attribute ``.status``: HTTP status int of a refused handshake
    (e.g. 401 for bad Basic auth, 404), or 0 for other failures (TCP/TLS error, timeout, bad 101
    answer)."""

    def __init__(self, msg, status=0):
        super().__init__(msg)
        self.status = status


async def within(clock, aw, s):
    """Await ``aw`` at most ``s`` seconds on ``clock`` (the one clock; a ``VirtualClock`` needs
    ``real_io`` > 0 for real sockets; None: ``asyncio.wait_for``); raise ``asyncio.TimeoutError``
    on expiry (``aw`` is then cancelled). Also ``core.net.within`` (the HTTP/FTP client)."""
    if clock is None:
        return await asyncio.wait_for(aw, s)
    ev = Kick()
    res = [None, None]

    async def run():
        try:
            res[0] = await aw
        except BaseException as e:  # noqa: B036 - handed back to the waiter below
            res[1] = e
        ev.set()
    t = asyncio.create_task(run())
    ok = False
    try:
        ok = await clock.wait(ev, s)
    finally:
        if not ok:
            t.cancel()
    if not ok:
        raise asyncio.TimeoutError
    if res[1] is not None:
        raise res[1]
    return res[0]


def accept_key(key_b64):
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (str -> str): base64(SHA-1(key + GUID)),
    RFC 6455 §4.2.2 item 5.4 (``core.wsopen.accept_key``, loaded for the call and released)."""
    return _hs("accept_key", key_b64)


def parse_url(url):
    """``ws://host[:port][/path]`` or ``wss://...`` -> ``(secure, host, port, path)`` with
    secure bool, host str, port int (default 80 / 443), path str starting with "/" (a query after
    the path is kept). Raises ``ValueError`` for another scheme, user-info, an empty host or a bad
    port (RFC 6455 §3; ``core.wsopen.parse_url``, loaded for the call and released)."""
    return _hs("parse_url", url)


def _hs(name, arg):
    from lite_stack.core import wsopen
    try:
        return getattr(wsopen, name)(arg)
    finally:
        release(WSOPEN, NET)


class WebSocket:
    """One client connection; create it with ``await WebSocket.connect(url, ...)``.

    One task may ``recv()`` while others ``send()``/``ping()``/``close()`` (writes are serialised by a
    lock). Attributes: ``bytes_in``/``bytes_out`` wire bytes (HTTP head + frame headers + payloads),
    ``closed`` bool, ``close_code`` int of the CLOSE received or sent (None before), ``last_pong_ms``
    ``clock.ms()`` of the last PONG (0 when no clock is set; None before any PONG).
    """
    bytes_in = 0
    bytes_out = 0
    closed = False
    close_code = None
    last_pong_ms = None

    def __init__(self, clock=None, max_frame=8192):
        self._clock = clock
        self._max = max_frame
        self._r = self._w = None
        self._lock = asyncio.Lock()
        self._done = asyncio.Event()  # set when the stream is shut
        self._close_sent = False
        self._reading = False

    @classmethod
    async def connect(cls, url, subprotocol="ocpp2.0.1", auth=None, ssl=None, max_frame=8192,
                      timeout=30, clock=None, headers=None):
        """Open a connection and do the opening handshake; return the ``WebSocket``.

        url: ``ws://host[:port]/path`` or ``wss://...`` (``parse_url``; ValueError if malformed);
        auth: None or ``(username, password)`` str pair -> ``Authorization: Basic`` (Part 2 A00,
        RFC 7617); ssl: for wss only - None or True (the interpreter's default context; MicroPython's
        has no CA certificates, so pass an ``ssl.SSLContext`` with ``load_verify_locations``), or an
        ``ssl.SSLContext``; ignored for ws://; max_frame: largest message accepted in bytes after
        reassembly; timeout: seconds for TCP + TLS + handshake, on ``clock.wait`` when a clock is
        given (a ``VirtualClock`` needs ``real_io`` > 0 for real sockets), else ``asyncio.wait_for``;
        headers: None or a dict of extra request headers. The ``Host`` header always carries the port.
        Raises ``WsError`` (``.status`` = HTTP status when not 101, else 0) for every failure,
        including TCP/TLS errors and the timeout (RFC 6455 §4.1, Part 4 §3.1.2)."""
        from lite_stack.core import wsopen   # RAM: the handshake code is loaded per attempt
        try:
            return await wsopen.connect(cls, url, subprotocol, auth, ssl, max_frame, timeout, clock,
                                        headers)
        finally:
            release(WSOPEN, NET)

    async def _rx(self, n):
        r = self._r
        if n > 125 and hasattr(r, "readinto"):  # MicroPython: one buffer, no concatenated chunks
            b = bytearray(n)
            mv = memoryview(b)
            i = 0
            while i < n:
                k = await r.readinto(mv[i:])
                if k == 0:
                    raise EOFError
                i += k or 0  # None: TLS socket had no application data yet
        else:
            b = await r.readexactly(n)
        self.bytes_in += n
        return b

    async def _put(self, data):
        # One buffer out (write, drain, count). Frames call it under the lock, so concurrent senders
        # never interleave frames (and MicroPython's Stream.drain is not safe for two tasks at
        # once); the handshake (core.wsopen) calls it before any other task has the connection.
        self._w.write(data)
        await self._w.drain()
        self.bytes_out += len(data)

    async def _frame(self, op, payload):
        # Masked frame (RFC 6455 §5.2, §5.3) written in pieces of at most _TX_CHUNK bytes, each a
        # fresh bytearray masked in place: no full copy of a long message (CPython's transports may
        # keep a reference to a written buffer, so a piece is never reused).
        if self._close_sent and op != _OP_CLOSE:
            raise OSError(9)  # EBADF: closed or closing (RFC 6455 §5.5.1: no data after CLOSE)
        n = len(payload)
        hl = 2 if n < 126 else 4 if n < 65536 else 10
        m = os.urandom(4)
        await self._lock.acquire()
        try:
            f = bytearray(min(hl + 4 + n, _TX_CHUNK))
            f[0] = 0x80 | op
            if hl == 2:
                f[1] = 0x80 | n
            elif hl == 4:
                f[1] = 0xFE
                struct.pack_into(">H", f, 2, n)
            else:
                f[1] = 0xFF
                struct.pack_into(">Q", f, 2, n)
            f[hl:hl + 4] = m
            at = hl + 4      # where the payload starts in this piece
            i = 0            # payload bytes written
            while True:
                k = len(f) - at
                f[at:] = payload[i:i + k]
                for j in range(k):
                    f[at + j] ^= m[(i + j) & 3]
                await self._put(f)
                i += k
                if i >= n:
                    break
                f = bytearray(min(n - i, _TX_CHUNK))
                at = 0
        finally:
            self._lock.release()

    async def send(self, text):
        """Send one text message (str) as one masked frame (RFC 6455 §5.2, §5.3), always valid
        UTF-8 (§5.6, §8.1): a lone surrogate becomes U+FFFD (``utf8``).
        Raises ``OSError`` if the connection is closed or closing, or the write fails."""
        try:
            b = memoryview(text)  # MicroPython: a str lends its UTF-8 bytes, no copy
            if len(b) != len(text):
                b = utf8(text)    # not ASCII: may hold a lone surrogate
        except TypeError:         # CPython: str has no buffer protocol
            b = utf8(text)
        await self._frame(_OP_TEXT, b)

    async def ping(self, data=b""):
        """Send a PING control frame (bytes, at most 125; RFC 6455 §5.5.2) - used for
        OCPPCommCtrlr.WebSocketPingInterval (Part 4). Raises ``OSError`` if closed, ``ValueError``
        if ``data`` is too long."""
        if len(data) > 125:
            raise ValueError
        await self._frame(_OP_PING, data)

    async def _fail(self, code, p=None):
        # Send CLOSE(code) (or payload p) unless sent, close the stream (RFC 6455 §7.1.7).
        if not self._close_sent:
            self._close_sent = True
            try:
                await self._frame(_OP_CLOSE, struct.pack(">H", code) if p is None else p)
            except OSError:
                pass
        self.close_code = code
        await self._shut()

    async def _shut(self):
        if not self.closed:
            self.closed = self._close_sent = True
            try:
                self._w.close()  # CPython: wait_closed only waits (bounded: TLS close_notify to a dead
                await within(self._clock, self._w.wait_closed(), 1)  # peer); MicroPython: closes
            except Exception:  # also: no stream yet (self._w None)
                pass
            self._done.set()

    async def recv(self):
        """Next complete text message as str (or ``Oversized`` for one over ``max_frame``), or None
        once the connection is closed (peer CLOSE, EOF, reset, protocol error). Never raises for a
        disconnect. See the module docstring for control frames, binary and oversized messages and
        error close codes (RFC 6455 §5.4, §5.5, §7.4.1)."""
        buf = None  # payload of the message being reassembled
        head = None  # oversized message being skipped: its first HEAD_KEEP bytes
        size = 0
        mop = 0  # its opcode (text/binary)
        self._reading = True
        try:
            while not self.closed:
                b0, b1 = await self._rx(2)
                op = b0 & 0x0F
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", await self._rx(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", await self._rx(8))[0]
                if b0 & 0x70 or b1 & 0x80:  # reserved bits, or a masked server frame (§5.1)
                    break
                if op >= _OP_CLOSE:
                    if op > _OP_PONG or n > 125 or not b0 & 0x80:  # §5.5
                        break
                    p = await self._rx(n)
                    if op == _OP_PING:
                        if not self._close_sent:
                            await self._frame(_OP_PONG, p)
                    elif op == _OP_PONG:
                        self.last_pong_ms = self._clock.ms() if self._clock else 0
                    elif n == 1:
                        break
                    else:  # peer CLOSE: echo its status code (§5.5.1), then close
                        await self._fail(struct.unpack(">H", p[:2])[0] if n else 1005, p[:2])
                    continue
                if op > _OP_BIN or (op == _OP_CONT) != (buf is not None or head is not None):
                    break
                if op:
                    mop = op
                if head is None and n + (len(buf) if buf else 0) > self._max:
                    head = bytes(buf[:HEAD_KEEP]) if buf else b""  # from here on: stream past it
                    size = len(buf) if buf else 0
                    buf = None
                if head is not None:
                    size += n
                    k = min(n, HEAD_KEEP - len(head))
                    if k > 0:
                        head += await self._rx(k)
                        n -= k
                    while n > 0:
                        k = min(n, _SKIP_CHUNK)
                        await self._rx(k)
                        n -= k
                    if b0 & 0x80:
                        if mop == _OP_TEXT:
                            return Oversized(head, size)
                        head = None  # binary: ignored
                    continue
                p = await self._rx(n)
                buf = p if buf is None else buf + p
                if b0 & 0x80:
                    if mop == _OP_TEXT:
                        try:
                            return str(buf, "utf-8")
                        except UnicodeError:
                            await self._fail(1007)
                            return None
                    buf = None  # binary message: ignored
            else:
                return None
            await self._fail(1002)
        except (EOFError, OSError):
            await self._shut()
        finally:
            self._reading = False

    async def close(self, code=1000, reason=""):
        """Start the closing handshake (RFC 6455 §7.1.2): send CLOSE(code, reason[:123 bytes]) if
        not yet sent, wait up to ``_CLOSE_WAIT`` s for the peer's CLOSE (messages arriving meanwhile
        are dropped; if another task is in ``recv()`` it sees the CLOSE and returns None), then
        close the stream. Idempotent; never raises for a broken connection."""
        if self.closed:
            return
        if not self._close_sent:
            self._close_sent = True
            self.close_code = code
            try:
                await self._frame(_OP_CLOSE, struct.pack(">H", code) + reason.encode()[:123])
            except OSError:
                pass
        try:
            await within(self._clock, self._done.wait() if self._reading else self._drain(),
                          _CLOSE_WAIT)
        except Exception:
            pass
        await self._shut()

    async def _drain(self):
        while await self.recv() is not None:
            pass
