"""Bytes on the wire, counted on the CSMS side per direction and per layer (``ocpp2lite score``).

Desktop only (CPython, Linux for the segment counts); never imported by the stack.

Two vantage points, both in the scoreboard's process:

- :class:`CountingProxy`, a TCP relay the station connects to (``127.0.0.1:<port>``) in front of the
  embedded CSMS. It counts every byte of TCP payload the station's socket carries (TLS records
  included: the relay does not terminate TLS, so TLS is measured, not modelled), parses the TLS
  record headers of that stream (type 20 ChangeCipherSpec / 22 handshake / 21 alert / 23
  application data; with TLS 1.2 every handshake message travels in type 20/22 records, which is
  why the scoreboard's CSMS offers TLS 1.2 only) and, when the connection ends, reads the kernel's
  ``TCP_INFO`` of the station-facing socket. It is also the station's network: ``offline()`` aborts
  the connections and stops listening (connection refused), ``online()`` listens again on the same
  port.
- :func:`counting_connection`, a ``websockets`` ServerConnection class for the CSMS (passed as
  ``Csms(connection_class=...)``) that sees the plaintext above TLS: the HTTP Upgrade request and
  answer and every WebSocket frame (RFC 6455 §5.2 parsed: header bytes including the 4-byte
  mask key, payload bytes; data frames apart from PING/PONG/CLOSE).

The two are joined per connection by the relay's upstream port (the CSMS sees it as the peer port).

``TCP_INFO`` (``getsockopt(IPPROTO_TCP, TCP_INFO)``, struct tcp_info of linux/include/uapi/linux/
tcp.h): 8 bytes of u8 fields, 24 u32 (rto .. total_retrans, offsets 8..103), u64 pacing_rate 104,
max_pacing_rate 112, bytes_acked 120, bytes_received 128, then u32 **tcpi_segs_out at offset 136**
and **tcpi_segs_in at 140** (Linux >= 4.2). The counts include the handshake and FIN segments the
socket saw; on loopback the MSS is ~65 kB, so a frame never spans segments here (it would on a
1400-byte mobile MSS only for frames above ~1.3 kB).
"""
import asyncio
import socket
import struct

TCP_INFO = getattr(socket, "TCP_INFO", 11)
SEGS_OFFSET = 136             # tcpi_segs_out (u32), then tcpi_segs_in (u32) at 140
BYTES_OFFSET = 120            # tcpi_bytes_acked (u64), then tcpi_bytes_received (u64) at 128
TCP_INFO_LEN = 144
MAX_HTTP_HEAD = 16384         # an HTTP head longer than this is counted as HTTP and parsing stops


def tcp_info(sock):
    """(segs_out, segs_in, bytes_acked, bytes_received) of a TCP socket from the kernel, or None
    when the platform does not give them (not Linux, kernel < 4.2, closed socket)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 232)
    except (OSError, AttributeError):
        return None
    if len(raw) < TCP_INFO_LEN:
        return None
    segs_out, segs_in = struct.unpack_from("=II", raw, SEGS_OFFSET)
    acked, received = struct.unpack_from("=QQ", raw, BYTES_OFFSET)
    return segs_out, segs_in, acked, received


class Plain:
    """The plaintext byte stream of one direction: the HTTP head (Upgrade request or its answer),
    then RFC 6455 frames. feed(bytes) in any chunking; counters are exact."""

    FIELDS = ("http", "ws_header", "ws_data", "ws_ctrl", "frames", "ctrl_frames", "pings", "other")

    def __init__(self, response=False):
        self.response = response
        self.state = "http"
        self.buf = b""
        self.skip = 0            # payload bytes of the current frame still to come
        self.ctrl = False        # current frame is a control frame
        self.http = self.ws_header = self.ws_data = self.ws_ctrl = 0
        self.frames = self.ctrl_frames = self.pings = self.other = 0
        self.sizes = []          # payload length of every data frame (bounded by the run)

    def feed(self, data):
        if self.state == "http":
            self.buf += data
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                if len(self.buf) > MAX_HTTP_HEAD:
                    self.http += len(self.buf)
                    self.buf = b""
                    self.state = "other"
                return
            head = i + 4
            self.http += head
            switched = not self.response or self.buf.startswith(b"HTTP/1.1 101")
            data, self.buf = self.buf[head:], b""
            self.state = "ws" if switched else "other"
        if self.state == "other":
            self.other += len(data)
            return
        self._ws(data)

    def _ws(self, data):
        while data:
            if self.skip:
                n = min(self.skip, len(data))
                if self.ctrl:
                    self.ws_ctrl += n
                else:
                    self.ws_data += n
                self.skip -= n
                data = data[n:]
                continue
            self.buf += data
            data = b""
            b = self.buf
            if len(b) < 2:
                return
            ln = b[1] & 127
            need = 2 + (2 if ln == 126 else 8 if ln == 127 else 0) + (4 if b[1] & 128 else 0)
            if len(b) < need:
                return
            if ln == 126:
                ln = struct.unpack_from(">H", b, 2)[0]
            elif ln == 127:
                ln = struct.unpack_from(">Q", b, 2)[0]
            op = b[0] & 15
            self.ws_header += need
            self.ctrl = op >= 8
            if self.ctrl:
                self.ctrl_frames += 1
                self.pings += op == 9
            else:
                self.frames += 1
                if len(self.sizes) < 100000:
                    self.sizes.append(ln)
            self.skip = ln
            data, self.buf = b[need:], b""

    def plaintext(self):
        return self.http + self.ws_header + self.ws_data + self.ws_ctrl + self.other + len(self.buf)


class Records:
    """TLS record headers of one raw direction: bytes per content type (5-byte headers included)."""

    def __init__(self):
        self.buf = b""
        self.skip = 0
        self.kind = 0
        self.by_type = {}
        self.records = 0

    def feed(self, data):
        while data:
            if self.skip:
                n = min(self.skip, len(data))
                self.by_type[self.kind] = self.by_type.get(self.kind, 0) + n
                self.skip -= n
                data = data[n:]
                continue
            self.buf += data
            data = b""
            if len(self.buf) < 5:
                return
            self.kind = self.buf[0]
            self.skip = struct.unpack_from(">H", self.buf, 3)[0]
            self.records += 1
            self.by_type[self.kind] = self.by_type.get(self.kind, 0) + 5
            data, self.buf = self.buf[5:], b""


class Conn:
    """One station connection: raw counts (relay), TLS records, plaintext (CSMS), TCP_INFO."""

    def __init__(self):
        self.raw_up = self.raw_down = 0
        self.rec_up, self.rec_down = Records(), Records()
        self.up, self.down = Plain(False), Plain(True)
        self.sock = None
        self.info = None          # (segs_out, segs_in, bytes_acked, bytes_received) at the end
        self.closed = False

    def tcp(self):
        if self.closed or self.sock is None:
            return self.info
        return tcp_info(self.sock) or self.info


class Meter:
    """All connections of one contestant run; snapshot() sums them (open ones read live)."""

    def __init__(self):
        self.conns = []
        self._by_port = {}

    def conn(self, port):
        c = self._by_port.get(port)
        if c is None:
            c = self._by_port[port] = Conn()
            self.conns.append(c)
        return c

    def snapshot(self):
        s = {"conns": 0, "tcp_info": True}
        for k in ("raw", "http", "ws_header", "ws_data", "ws_ctrl", "frames", "ctrl_frames", "pings",
                  "other", "segs", "tls_hs", "tls_alert", "tls_app"):
            s["up_" + k] = s["down_" + k] = 0
        for c in self.conns:
            if c.raw_up == 0 and c.up.plaintext() == 0:
                continue
            s["conns"] += 1
            for side, raw, plain, rec in (("up_", c.raw_up, c.up, c.rec_up),
                                          ("down_", c.raw_down, c.down, c.rec_down)):
                s[side + "raw"] += raw
                for k in Plain.FIELDS:
                    s[side + k] += getattr(plain, k)
                s[side + "tls_hs"] += rec.by_type.get(20, 0) + rec.by_type.get(22, 0)
                s[side + "tls_alert"] += rec.by_type.get(21, 0)
                s[side + "tls_app"] += rec.by_type.get(23, 0)
            t = c.tcp()
            if t is None:
                s["tcp_info"] = False
            else:
                s["down_segs"] += t[0]    # the relay's socket sends toward the station
                s["up_segs"] += t[1]
        return s

    def per_connection(self):
        """[{raw_up, raw_down, plain_up, plain_down, tcp_info}] of every connection (diagnostics)."""
        return [{"raw_up": c.raw_up, "raw_down": c.raw_down, "plain_up": c.up.plaintext(),
                 "plain_down": c.down.plaintext(), "relayed": c.sock is not None, "tcp_info": c.tcp()}
                for c in self.conns]

    def sizes(self, up=True):
        out = []
        for c in self.conns:
            out += (c.up if up else c.down).sizes
        return out


def counting_connection(meter):
    """A websockets ServerConnection class counting the plaintext of each connection into meter."""
    from websockets.asyncio.server import ServerConnection

    class _Transport:
        def __init__(self, transport, plain):
            self._t = transport
            self._plain = plain

        def write(self, data):
            self._plain.feed(bytes(data))
            self._t.write(data)

        def writelines(self, chunks):
            for d in chunks:
                self.write(d)

        def __getattr__(self, name):
            return getattr(self._t, name)

    class CountingConnection(ServerConnection):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._wire = meter.conn(transport.get_extra_info("peername")[1])
            self.transport = _Transport(transport, self._wire.down)

        def data_received(self, data):
            self._wire.up.feed(data)
            super().data_received(data)

    return CountingConnection


class CountingProxy:
    """TCP relay station -> 127.0.0.1:<port> -> CSMS, counting raw bytes per connection into meter."""

    def __init__(self, meter, target_port, target_host="127.0.0.1", tls=False):
        self.meter = meter
        self.target = (target_host, target_port)
        self.tls = tls
        self.port = 0
        self._server = None
        self._live = set()
        self.connections = 0

    async def online(self):
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def offline(self):
        """Network down: stop listening (connection refused) and reset every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for w, c in list(self._live):
            self._finish(c)
            w.transport.abort()

    async def close(self):
        await self.offline()

    def _finish(self, c):
        if not c.closed:
            c.info = tcp_info(c.sock) or c.info
            c.closed = True

    async def _handle(self, reader, writer):
        self.connections += 1
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        c = self.meter.conn(uw.get_extra_info("sockname")[1])
        c.sock = writer.get_extra_info("socket")
        self._live.add((writer, c))

        async def pump(src, dst, up):
            rec = c.rec_up if up else c.rec_down
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    if up:
                        c.raw_up += len(data)
                    else:
                        c.raw_down += len(data)
                    if self.tls:
                        rec.feed(data)
                    c.info = tcp_info(c.sock) or c.info   # last known, should the socket go first
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            try:
                if dst.can_write_eof():
                    dst.write_eof()
            except OSError:
                pass

        try:
            await asyncio.gather(pump(reader, uw, True), pump(ur, writer, False))
            await asyncio.sleep(0.2)    # the last FIN/ACK segments reach the kernel's counters
        except asyncio.CancelledError:
            pass
        finally:
            self._finish(c)
            self._live.discard((writer, c))
            for w in (uw, writer):
                w.transport.abort()
