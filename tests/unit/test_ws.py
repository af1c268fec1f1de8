"""lite_stack.core.ws: RFC 6455 client against a minimal in-process WebSocket server (both interpreters).

The server below is written independently of lite_stack.core.ws (its own framing, masking and accept key)
so that a mistake in the client cannot be mirrored by the server.
"""
import asyncio
import struct
from binascii import a2b_base64, b2a_base64
from hashlib import sha1

from lite_stack.clock import Clock
from lite_stack.core.ws import HEAD_KEEP, Oversized, WebSocket, WsError, accept_key, parse_url
from tests.unit.util import raises, run, start_server



def _server_accept(key):
    return b2a_base64(sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())[:-1].decode()


class Peer:
    """Server side of one connection; counts every wire byte both ways."""

    def __init__(self, r, w):
        self.r, self.w = r, w
        self.nin = self.nout = 0

    async def rx(self, n):
        b = await self.r.readexactly(n)
        self.nin += n
        return b

    async def head(self):
        line = await self.r.readline()
        self.nin += len(line)
        self.request = line.decode().strip()
        self.h = {}
        while True:
            ln = await self.r.readline()
            self.nin += len(ln)
            ln = ln.decode().strip()
            if not ln:
                self.head_n = self.nin
                return
            k, v = ln.split(":", 1)
            self.h[k.strip().lower()] = v.strip()

    async def send(self, raw):
        self.w.write(raw)
        await self.w.drain()
        self.nout += len(raw)

    async def accept101(self, proto="ocpp2.0.1", accept=None, extra=""):
        acc = accept if accept is not None else _server_accept(self.h["sec-websocket-key"])
        txt = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\n" % acc)
        if proto:
            txt += "Sec-WebSocket-Protocol: %s\r\n" % proto
        raw = (txt + extra + "\r\n").encode()
        self.resp_n = len(raw)
        await self.send(raw)

    async def frame(self, op, payload=b"", fin=True, rsv=0, mask=False, n=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if n is None else n
        b0 = (0x80 if fin else 0) | rsv | op
        mb = 0x80 if mask else 0
        if n < 126:
            hdr = bytes([b0, mb | n])
        elif n < 65536:
            hdr = bytes([b0, mb | 126]) + struct.pack(">H", n)
        else:
            hdr = bytes([b0, mb | 127]) + struct.pack(">Q", n)
        if mask:
            hdr += b"\x01\x02\x03\x04"
            payload = bytes(payload[i] ^ (i % 4 + 1) for i in range(len(payload)))
        await self.send(hdr + payload)

    async def read_frame(self):
        """-> (fin, op, masked, key, payload unmasked, length marker 0..127)"""
        b0, b1 = await self.rx(2)
        n = marker = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", await self.rx(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", await self.rx(8))[0]
        key = await self.rx(4) if b1 & 0x80 else b"\0\0\0\0"
        raw = await self.rx(n)
        p = bytes(raw[i] ^ key[i & 3] for i in range(n))
        self.last_raw = raw
        return bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), key, p, marker

    async def read_close(self):
        fin, op, masked, key, p, _ = await self.read_frame()
        assert op == 8 and fin and masked, (op, fin, masked)
        return struct.unpack(">H", p[:2])[0] if p else None, p[2:]


def scenario(server, client, path="/ocpp/CS001"):
    """Run server(peer) for the first connection and client(url) concurrently; re-raise a server
    failure; return (client result, peer)."""
    box = {}

    async def main():
        done = asyncio.Event()

        async def cb(r, w):
            peer = box["peer"] = Peer(r, w)
            try:
                await peer.head()
                await server(peer)
            except Exception as e:  # re-raised in the test
                box["err"] = e
            finally:
                try:
                    w.close()
                    await w.wait_closed()
                except Exception:
                    pass
                done.set()

        srv, port = await start_server(cb)
        try:
            box["res"] = await asyncio.wait_for(client("ws://127.0.0.1:%d%s" % (port, path)), 20)
            await asyncio.wait_for(done.wait(), 10)
        finally:
            srv.close()
            await srv.wait_closed()

    run(main())
    if "err" in box:
        raise box["err"]
    return box["res"], box.get("peer")


async def _connect_error(url, **kw):
    try:
        ws = await WebSocket.connect(url, **kw)
    except WsError as e:
        return e
    await ws.close()
    raise AssertionError("connected")


# --- pure helpers -------------------------------------------------------------------------------

def test_accept_key_rfc6455_4_2_2_sample():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_parse_url_default_ports_and_path():
    assert parse_url("ws://csms.example.com/ocpp/CS001") == (False, "csms.example.com", 80, "/ocpp/CS001")
    assert parse_url("wss://csms.example.com/ocpp/CS001") == (True, "csms.example.com", 443, "/ocpp/CS001")
    assert parse_url("ws://10.0.0.1:9000") == (False, "10.0.0.1", 9000, "/")
    assert parse_url("wss://h:8443/ocpp/CS001?x=1") == (True, "h", 8443, "/ocpp/CS001?x=1")


def test_parse_url_rejects_malformed():
    for bad in ("http://h/x", "h/x", "ws://", "ws://:80/x", "ws://h:x/", "ws://h:0/", "ws://h:70000/",
                "ws://u:p@h/x", "wss:/h/x"):
        raises(ValueError, parse_url, bad)


# --- opening handshake (RFC 6455 §4.1, OCPP 2.0.1 Part 4 §3.1.2) ----------------------------------

def test_handshake_ok_request_headers_and_first_message():
    async def server(p):
        await p.accept101()
        await p.frame(1, "[2,\"1\",\"Heartbeat\",{}]")
        await p.read_close()
        await p.frame(8, struct.pack(">H", 1000))

    async def client(url):
        ws = await WebSocket.connect(url)
        msg = await ws.recv()
        await ws.close()
        return ws, msg

    (ws, msg), p = scenario(server, client)
    assert msg == "[2,\"1\",\"Heartbeat\",{}]"
    assert p.request == "GET /ocpp/CS001 HTTP/1.1"
    assert p.h["host"].startswith("127.0.0.1:")
    assert p.h["upgrade"].lower() == "websocket"
    assert "upgrade" in p.h["connection"].lower()
    assert p.h["sec-websocket-version"] == "13"
    assert p.h["sec-websocket-protocol"] == "ocpp2.0.1"
    assert len(a2b_base64(p.h["sec-websocket-key"])) == 16
    assert "authorization" not in p.h
    assert ws.closed


def test_handshake_keys_are_random_per_connection():
    keys = []
    for _ in range(2):
        async def server(p):
            keys.append(p.h["sec-websocket-key"])
            await p.accept101()

        async def client(url):
            ws = await WebSocket.connect(url)
            await ws.recv()  # server EOF
        scenario(server, client)
    assert keys[0] != keys[1]


def test_handshake_accept_key_mismatch_raises_WsError():
    async def server(p):
        await p.accept101(accept="s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    e, _ = scenario(server, _connect_error)
    assert isinstance(e, WsError) and e.status == 0 and str(e) == "sec-websocket-accept"


def test_handshake_missing_subprotocol_raises_WsError_Part4_3_1_2():
    async def server(p):
        await p.accept101(proto=None)

    e, _ = scenario(server, _connect_error)
    assert e.status == 0 and str(e) == "sec-websocket-protocol"


def test_handshake_wrong_subprotocol_raises_WsError_Part4_3_1_2():
    async def server(p):
        await p.accept101(proto="ocpp1.6")

    e, _ = scenario(server, _connect_error)
    assert e.status == 0 and str(e) == "sec-websocket-protocol"


def test_handshake_unrequested_extension_raises_WsError():
    async def server(p):
        await p.accept101(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")

    e, _ = scenario(server, _connect_error)
    assert e.status == 0 and str(e) == "sec-websocket-extensions"


def test_handshake_missing_upgrade_raises_WsError():
    async def server(p):
        await p.send(("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
                      % _server_accept(p.h["sec-websocket-key"])).encode())

    e, _ = scenario(server, _connect_error)
    assert e.status == 0 and str(e) == "upgrade"


def test_handshake_missing_connection_upgrade_raises_WsError():
    async def server(p):
        await p.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                      "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
                      % _server_accept(p.h["sec-websocket-key"])).encode())

    e, _ = scenario(server, _connect_error)
    assert e.status == 0 and str(e) == "upgrade"


def test_handshake_header_names_and_upgrade_value_case_insensitive():
    async def server(p):
        await p.send(("HTTP/1.1 101 Switching Protocols\r\nUPGRADE: WebSocket\r\n"
                      "connection: keep-alive, upgrade\r\nsec-websocket-accept:%s\r\nSEC-WEBSOCKET-PROTOCOL:  ocpp2.0.1\r\n\r\n"
                      % _server_accept(p.h["sec-websocket-key"])).encode())
        await p.frame(1, "ok")

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv()

    r, _ = scenario(server, client)
    assert r == "ok"


def test_handshake_401_raises_WsError_status_401_TC_A_01_CS():
    async def server(p):
        await p.send(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ocpp\"\r\n"
                     b"Content-Length: 0\r\n\r\n")

    async def client(url):
        return await _connect_error(url, auth=("CS001", "wrong-password-1234"))

    e, _ = scenario(server, client)
    assert e.status == 401


def test_handshake_404_raises_WsError_status_404():
    async def server(p):
        await p.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")

    e, _ = scenario(server, _connect_error)
    assert e.status == 404


def test_basic_auth_header_security_profile_1_A00_TC_A_01_CS():
    async def server(p):
        await p.accept101()

    async def client(url):
        ws = await WebSocket.connect(url, auth=("CS001", "0123456789abcdef"),
                                     headers={"User-Agent": "ocpp2lite", "X-Extra": "1"})
        await ws.recv()

    _, p = scenario(server, client)
    assert p.h["authorization"] == "Basic Q1MwMDE6MDEyMzQ1Njc4OWFiY2RlZg=="
    assert p.h["user-agent"] == "ocpp2lite" and p.h["x-extra"] == "1"


def test_connect_refused_raises_WsError():
    async def main():
        srv, port = await start_server(lambda r, w: None)
        srv.close()
        await srv.wait_closed()
        return await _connect_error("ws://127.0.0.1:%d/x" % port, timeout=5)

    e = run(main())
    assert e.status == 0


def test_connect_timeout_raises_WsError_with_and_without_clock():
    for clock in (None, Clock()):
        async def server(p):
            await asyncio.sleep(1.5)  # never answers the upgrade in time

        async def client(url):
            return await _connect_error(url, timeout=0.3, clock=clock)

        e, _ = scenario(server, client)
        assert e.status == 0 and "timeout" in str(e), e


# --- data framing (RFC 6455 §5) -------------------------------------------------------------------

def test_client_frames_masked_and_7_16_64_bit_lengths_both_ways():
    sizes = (10, 125, 126, 300, 65535, 65536, 70000)
    got = []

    async def server(p):
        await p.accept101()
        for n in sizes:
            fin, op, masked, key, payload, marker = await p.read_frame()
            got.append((fin, op, masked, key, payload, marker, p.last_raw))
        for n in sizes:
            await p.frame(1, "y" * n)
        await p.read_close()
        await p.frame(8, struct.pack(">H", 1000))

    async def client(url):
        ws = await WebSocket.connect(url, max_frame=100000)
        for n in sizes:
            await ws.send("x" * n)
        out = []
        for _ in sizes:
            out.append(await ws.recv())
        await ws.close()
        return out

    out, _ = scenario(server, client)
    assert out == ["y" * n for n in sizes]
    assert [g[5] for g in got] == [10, 125, 126, 126, 126, 127, 127]  # minimal encodings
    for n, (fin, op, masked, key, payload, marker, raw) in zip(sizes, got):
        assert fin and op == 1 and masked
        assert payload == b"x" * n
        assert key != b"\0\0\0\0" and raw != payload  # really masked on the wire
    assert len(set(g[3] for g in got)) == len(sizes)  # a fresh key per frame


def test_unicode_text_roundtrip():
    text = "Ladestation \u00e9\u20ac\U0001F50C"

    async def server(p):
        await p.accept101()
        _, op, _, _, payload, _ = await p.read_frame()
        await p.frame(1, payload)

    async def client(url):
        ws = await WebSocket.connect(url)
        await ws.send(text)
        return await ws.recv()

    out, _ = scenario(server, client)
    assert out == text


def test_long_message_sent_in_masked_pieces_arrives_whole_and_unchanged():
    # ws writes a frame in pieces of at most 4096 B (no copy of the whole message): the header and
    # the mask continue across pieces; ASCII and multi-byte UTF-8 texts of several pieces
    texts = ["".join(chr(48 + (i * 7) % 75) for i in range(9000)),
             "".join(("\u00e9", "a", "\u20ac", "\U0001F50C", "z")[i % 5] for i in range(4000))]
    got = []

    async def server(p):
        await p.accept101()
        for _ in texts:
            fin, op, masked, key, payload, marker = await p.read_frame()
            got.append((fin, op, masked, payload))

    async def client(url):
        ws = await WebSocket.connect(url)
        n0 = ws.bytes_out
        for t in texts:
            await ws.send(t)
        return ws.bytes_out - n0

    out, _ = scenario(server, client)
    assert [g[3] for g in got] == [t.encode() for t in texts]
    assert all(g[0] and g[1] == 1 and g[2] for g in got)
    assert out == sum(4 + 4 + len(t.encode()) for t in texts)   # 16-bit length, mask, payload


def test_fragmented_message_with_interleaved_ping_gets_pong():
    async def server(p):
        await p.accept101()
        await p.frame(1, "[2,\"42\",", fin=False)
        await p.frame(9, "p1")
        await p.frame(0, "\"Reset\",", fin=False)
        await p.frame(0, "{}]")
        fin, op, masked, key, payload, _ = await p.read_frame()
        p.pong = (fin, op, masked, payload)

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv()

    msg, p = scenario(server, client)
    assert msg == "[2,\"42\",\"Reset\",{}]"
    assert p.pong == (True, 10, True, b"p1")


def test_ping_sent_and_pong_recorded_with_clock():
    clock = Clock()

    async def server(p):
        await asyncio.sleep(0.05)
        await p.accept101()
        fin, op, masked, key, payload, _ = await p.read_frame()
        p.ping = (fin, op, masked, payload)
        await p.frame(10, payload)
        await p.frame(1, "after")

    async def client(url):
        ws = await WebSocket.connect(url, clock=clock)
        assert ws.last_pong_ms is None
        await ws.ping(b"hb")
        msg = await ws.recv()
        return msg, ws.last_pong_ms

    (msg, pong_ms), p = scenario(server, client)
    assert msg == "after" and p.ping == (True, 9, True, b"hb")
    assert pong_ms is not None and pong_ms >= 50


def test_ping_payload_over_125_raises_ValueError():
    async def server(p):
        await p.accept101()

    async def client(url):
        ws = await WebSocket.connect(url)
        try:
            await ws.ping(b"x" * 126)
        except ValueError:
            return True
        finally:
            await ws.recv()
        return False

    ok, _ = scenario(server, client)
    assert ok


def test_binary_message_ignored():
    async def server(p):
        await p.accept101()
        await p.frame(2, b"\x00\xff", fin=False)
        await p.frame(0, b"\x01")
        await p.frame(1, "text")

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv()

    msg, _ = scenario(server, client)
    assert msg == "text"


# --- closing and errors (RFC 6455 §5.5.1, §7) -----------------------------------------------------

def test_client_close_handshake_then_send_raises_OSError():
    async def server(p):
        await p.accept101()
        p.close = await p.read_close()
        await p.frame(8, struct.pack(">H", 1000))

    async def client(url):
        ws = await WebSocket.connect(url)
        await ws.close(1000, "bye")
        await ws.close()  # idempotent
        try:
            await ws.send("late")
        except OSError:
            return ws, True
        return ws, False

    (ws, raised), p = scenario(server, client)
    assert raised and ws.closed
    assert p.close == (1000, b"bye")


def test_server_close_is_echoed_and_recv_returns_None():
    async def server(p):
        await p.accept101()
        await p.frame(8, struct.pack(">H", 1001) + b"going away")
        p.close = await p.read_close()

    async def client(url):
        ws = await WebSocket.connect(url)
        r = await ws.recv()
        return r, ws.closed, ws.close_code, await ws.recv()

    (r, closed, code, r2), p = scenario(server, client)
    assert r is None and closed and code == 1001 and r2 is None
    assert p.close == (1001, b"")


def test_server_close_without_status_echoed_empty_close_code_1005():
    async def server(p):
        await p.accept101()
        await p.frame(8)
        p.close = await p.read_close()

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv(), ws.close_code

    (r, code), p = scenario(server, client)
    assert r is None and code == 1005  # 1005 is never sent on the wire (RFC 6455 §7.4.1)
    assert p.close == (None, b"")


def test_close_while_other_task_in_recv():
    async def server(p):
        await p.accept101()
        p.close = await p.read_close()
        await p.frame(8, struct.pack(">H", 1000))

    async def client(url):
        ws = await WebSocket.connect(url)
        t = asyncio.create_task(ws.recv())
        await asyncio.sleep(0.05)
        await ws.close(1001)
        return await asyncio.wait_for(t, 3), ws

    (r, ws), p = scenario(server, client)
    assert r is None and ws.closed and p.close == (1001, b"")
    assert ws.bytes_in == p.resp_n + 4 and ws.close_code == 1000  # the peer's CLOSE was read


def test_close_without_peer_reply_ends_blocked_recv():
    async def server(p):
        await p.accept101()
        p.close = await p.read_close()
        try:
            await p.rx(1)  # no CLOSE reply; wait for the client to drop TCP
        except EOFError:
            p.eof = True

    async def client(url):
        ws = await WebSocket.connect(url)
        t = asyncio.create_task(ws.recv())
        await asyncio.sleep(0.05)
        await ws.close()
        return await asyncio.wait_for(t, 3), ws.closed

    (r, closed), p = scenario(server, client)
    assert r is None and closed and p.close == (1000, b"") and p.eof


def test_oversized_message_streamed_past_head_kept_connection_stays_issue13():
    """A text message over max_frame (single frame, fragmented, 44 kB with 16/64-bit lengths, a
    PING in between) is skipped without buffering: recv() returns an Oversized with its head and
    size, no CLOSE is sent and the next message arrives normally."""
    big = '[2,"big-1","SetVariables",{"setVariableData":[' + "x" * 44000 + "]}]"
    cases = ((("x" * 101, True, 1),), (("x" * 60, False, 1), ("x" * 60, True, 0)),
             ((big[:70], False, 1), ("", True, 9), (big[70:], True, 0)),
             ((big[:30000], False, 1), (big[30000:], True, 0)),
             ((big, True, 2), ))   # binary: dropped silently
    for frames in cases:
        async def server(p):
            await p.accept101()
            for data, fin, op in frames:
                await p.frame(op, data, fin=fin)
            await p.frame(1, "next")
            p.got = []
            try:
                while True:
                    p.got.append(await p.read_frame())
            except Exception:
                pass

        async def client(url):
            ws = await WebSocket.connect(url, max_frame=100)
            a = await ws.recv()
            b = await ws.recv() if frames[0][2] != 2 else None
            closed = ws.closed
            await ws.close()
            return a, b, closed

        (a, b, closed), p = scenario(server, client)
        total = sum(len(f[0]) for f in frames if f[2] != 9)
        if frames[0][2] == 2:
            assert a == "next"
            continue
        assert isinstance(a, Oversized) and a.size == total, (a, total)
        want = "".join(f[0] for f in frames if f[2] != 9)[:HEAD_KEEP].encode()
        assert a.head == want
        assert b == "next" and not closed
        assert [f[1] for f in p.got if f[1] == 8] == [8]     # only our final CLOSE(1000)
        if frames[1:] and frames[1][2] == 9:
            assert p.got[0][1] == 10                          # the PING got its PONG


def test_message_of_exactly_max_frame_accepted():
    async def server(p):
        await p.accept101()
        await p.frame(1, "x" * 50, fin=False)
        await p.frame(0, "x" * 50)

    async def client(url):
        ws = await WebSocket.connect(url, max_frame=100)
        return await ws.recv()

    msg, _ = scenario(server, client)
    assert msg == "x" * 100


def test_protocol_errors_close_1002_and_recv_None():
    cases = (
        dict(op=1, payload="masked", mask=True),       # server frames must not be masked (§5.1)
        dict(op=1, payload="rsv", rsv=0x40),           # reserved bit without extension (§5.2)
        dict(op=3, payload="x"),                       # reserved data opcode
        dict(op=11, payload="x"),                      # reserved control opcode
        dict(op=9, payload="x" * 126),                 # control frame > 125 bytes (§5.5)
        dict(op=9, payload="x", fin=False),            # fragmented control frame (§5.5)
        dict(op=0, payload="x"),                       # continuation without a start (§5.4)
        dict(op=8, payload=b"\x03"),                   # close payload of 1 byte (§5.5.1)
    )
    for case in cases:
        async def server(p):
            await p.accept101()
            await p.frame(**case)
            p.close = await p.read_close()

        async def client(url):
            ws = await WebSocket.connect(url)
            return await ws.recv(), ws.closed, ws.close_code

        (r, closed, code), p = scenario(server, client)
        assert r is None and closed and code == 1002, case
        assert p.close[0] == 1002, case


def test_new_text_frame_inside_fragmented_message_closes_1002():
    async def server(p):
        await p.accept101()
        await p.frame(1, "a", fin=False)
        await p.frame(1, "b")
        p.close = await p.read_close()

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv()

    r, p = scenario(server, client)
    assert r is None and p.close[0] == 1002


def test_invalid_utf8_closes_1007():
    async def server(p):
        await p.accept101()
        await p.frame(1, b"\xff\xfe")
        p.close = await p.read_close()

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv()

    r, p = scenario(server, client)
    assert r is None and p.close[0] == 1007


def test_server_eof_recv_returns_None():
    async def server(p):
        await p.accept101()
        await p.frame(1, "last")

    async def client(url):
        ws = await WebSocket.connect(url)
        a = await ws.recv()
        b = await ws.recv()
        return a, b, ws.closed

    (a, b, closed), _ = scenario(server, client)
    assert a == "last" and b is None and closed


def test_server_eof_mid_frame_recv_returns_None():
    async def server(p):
        await p.accept101()
        await p.send(b"\x81\x7e\x01")  # 16-bit length cut short

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv()

    r, _ = scenario(server, client)
    assert r is None


def test_server_eof_mid_payload_recv_returns_None():
    async def server(p):
        await p.accept101()
        await p.send(b"\x81\x7e\x01\x2c" + b"x" * 10)  # announces 300 bytes, sends 10, then EOF

    async def client(url):
        ws = await WebSocket.connect(url)
        return await ws.recv(), ws.closed

    (r, closed), _ = scenario(server, client)
    assert r is None and closed


def test_send_while_closing_raises_OSError_and_sends_nothing_RFC6455_5_5_1():
    async def server(p):
        await p.accept101()
        p.close = await p.read_close()
        await asyncio.sleep(0.3)  # closing window: the client waits for our CLOSE
        await p.frame(8, struct.pack(">H", 1000))
        try:
            p.after = await p.rx(1)
        except EOFError:
            p.after = b""

    async def client(url):
        ws = await WebSocket.connect(url)
        t = asyncio.create_task(ws.close())
        await asyncio.sleep(0.1)
        errors = []
        for coro in (ws.send("late"), ws.ping()):
            try:
                await coro
            except OSError:
                errors.append(True)
        await t
        return errors, ws.closed

    (errors, closed), p = scenario(server, client)
    assert errors == [True, True] and closed
    assert p.close == (1000, b"") and p.after == b""


def test_bytes_in_and_out_count_every_wire_byte():
    async def server(p):
        await p.accept101(extra="Server: test\r\n")
        await p.frame(1, "a" * 5)
        await p.frame(9, "pp")
        await p.frame(1, "b" * 300)
        for _ in range(3):
            await p.read_frame()  # pong, 10-byte and 70000-byte texts
        await p.read_close()
        await p.frame(8, struct.pack(">H", 1000))

    async def client(url):
        ws = await WebSocket.connect(url, max_frame=100000)
        await ws.recv()
        await ws.recv()
        await ws.send("c" * 10)
        await ws.send("d" * 70000)
        await ws.close()
        return ws

    ws, p = scenario(server, client)
    assert ws.bytes_out == p.nin and ws.bytes_in == p.nout
    # server frames: text 2+5, ping 2+2, text 4+300, close 2+2; client frames add a 4-byte mask key:
    # pong 2+4+2, text 2+4+10, text 10+4+70000, close 2+4+2
    assert ws.bytes_in == p.resp_n + (2 + 5) + (2 + 2) + (4 + 300) + (2 + 2)
    assert ws.bytes_out == p.head_n + (2 + 4 + 2) + (2 + 4 + 10) + (10 + 4 + 70000) + (2 + 4 + 2)


def test_text_frames_sent_are_always_valid_utf8_lone_surrogates_replaced_issue13():
    from lite_stack.core.ws import utf8
    assert utf8("abc") == b"abc" and utf8("\u00e9\u20ac") == "\u00e9\u20ac".encode()
    assert utf8("\U0001f600") == "\U0001f600".encode()
    import json
    lone = json.loads('"a\\ud83db"')           # what a JSON escape in a CSMS frame decodes to
    assert utf8(lone) == b"a\xef\xbf\xbdb"
    assert str(utf8(json.loads('["\\udfff","\\ud800x"]')[1]), "utf-8") == "\ufffdx"
