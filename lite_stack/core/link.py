"""The link to the CSMS: connect, HTTP Basic auth, TLS context, reconnect back-off and the PING
watchdog (OCPP 2.0.1 Part 4 §5). Knows nothing of OCPP messages beyond handing each received
text frame to ``Rpc.on_frame``.

``Link(url, station_id, dm, clock, rpc, emit, log, ws_factory=None, max_frame=8192,
password=None)``: ``url`` is the CSMS URL without the station id (``/<station_id>`` is appended,
Part 4 §3.1.1); ``dm`` gives the back-off, ping, timeout and password variables; ``emit`` is
``Context.emit`` (events ``connected`` / ``disconnected``); ``ws_factory`` is
``async (url, auth, max_frame, clock) -> connection`` with ``recv/send/ping/close`` (default
``lite_stack.core.ws.WebSocket.connect``); ``password`` is the factory Basic-auth password (a
BasicAuthPassword set by the CSMS and persisted in the device model wins, A01).
``await run()`` runs until cancelled.

A connection is down when its reader ends (EOF, CLOSE, reset, protocol error), when the PING
watchdog closes it, or when a write on it fails (``Rpc.on_lost``: a TCP abort is often seen by a
write before the reader runs). Whichever comes first: ``connected`` is cleared and the RPC layer
forgets the connection at once (so no sender retries on it), the reader and watchdog are
cancelled, ``disconnected`` is emitted, and the back-off (Part 4 §5.3) precedes the next attempt.
"""
import asyncio
import os

from device_model import ids


class Link:
    def __init__(self, url, station_id, dm, clock, rpc, emit, log, ws_factory=None, max_frame=8192,
                 password=None):
        self.url = url.rstrip("/") + "/" + station_id
        self.station_id = station_id
        self.dm = dm
        self.clock = clock
        self.rpc = rpc
        self.emit = emit
        self.log = log
        self.ws_factory = ws_factory
        self.max_frame = max_frame
        self.password = password
        self.connected = asyncio.Event()
        self._down = asyncio.Event()
        rpc.on_lost = self._lost

    def auth(self):
        """(username, password) for HTTP Basic auth (security profile 1, Part 2 A00.FR.2xx), or
        None without a password."""
        pw = self.dm.get(ids.BASIC_AUTH_PASSWORD) or self.password
        return (self.station_id, pw) if pw else None

    async def _connect(self):
        if self.ws_factory:
            return await self.ws_factory(self.url, self.auth(), self.max_frame, self.clock)
        from lite_stack.core.ws import WebSocket
        return await WebSocket.connect(self.url, "ocpp2.0.1", self.auth(), None, self.max_frame,
                                       self.dm.get(ids.MESSAGE_TIMEOUT), self.clock)

    def backoff(self, fails):
        """Seconds to wait after ``fails`` failed attempts in a row (Part 4 §5.3):
        RetryBackOffWaitMinimum doubled min(fails, RetryBackOffRepeatTimes) times, plus a random
        0..RetryBackOffRandomRange."""
        wait = self.dm.get(ids.RETRY_BACKOFF_WAIT_MINIMUM)
        wait <<= min(fails, self.dm.get(ids.RETRY_BACKOFF_REPEAT_TIMES))
        rr = self.dm.get(ids.RETRY_BACKOFF_RANDOM_RANGE)
        if rr > 0:
            wait += int.from_bytes(os.urandom(2), "big") % (rr + 1)
        return wait

    async def run(self):
        fails = 0
        while True:
            try:
                conn = await self._connect()
            except Exception as e:  # OSError, WsError, timeouts: all mean "try again later"
                self.log("connect failed: %s %s" % (type(e).__name__, e))
                conn = None
            if conn is None:
                wait = self.backoff(fails)
                fails += 1
                await self.clock.sleep(wait)
                continue
            fails = 0
            self._down = down = asyncio.Event()
            self.rpc.conn = conn
            self.log("connected to %s" % self.url)
            self.connected.set()
            self.emit("connected")
            ping = asyncio.create_task(self._ping(conn))
            reader = asyncio.create_task(self._read(conn, down))
            try:
                await down.wait()
            finally:  # also when the station stops (Reset): no task outlives its connection
                reader.cancel()
                ping.cancel()
            self.connected.clear()
            self.rpc.disconnected()
            self.emit("disconnected")
            self.log("disconnected")
            try:
                await conn.close()
            except Exception:
                pass

    async def _read(self, conn, down):
        try:
            while True:
                text = await conn.recv()
                if text is None:
                    break
                await self.rpc.on_frame(text)
        except Exception as e:
            self.log("connection error: %s %s" % (type(e).__name__, e))
        finally:
            down.set()

    def _lost(self, conn):
        """``Rpc.on_lost``: a write on ``conn`` failed; take the link down now (see the module
        docstring), before any other task can send on it again."""
        if self.rpc.conn is None or self.rpc.conn is conn:
            self.connected.clear()
            self._down.set()

    async def _ping(self, conn):
        """Part 4 §5.2 WebSocketPingInterval: PING every interval; a PING whose PONG has not come
        back one interval later means a dead connection (e.g. a mobile NAT mapping dropped
        silently): close it so the reconnect starts now instead of after a TCP timeout."""
        sent = None
        while True:
            iv = self.dm.get(ids.WEBSOCKET_PING_INTERVAL)
            await self.clock.sleep(iv if iv > 0 else 60)
            if iv <= 0 or not hasattr(conn, "ping"):
                sent = None
                continue
            pong = getattr(conn, "last_pong_ms", -1)   # -1: this transport reports no PONGs
            if sent is not None and pong != -1 and (pong is None or pong < sent):
                self.log("no PONG within %d s: closing the connection" % iv)
                try:
                    await conn.close()
                except Exception:
                    pass
                return
            try:
                sent = self.clock.ms()
                await conn.ping()
            except Exception:
                return

    async def close(self):
        conn = self.rpc.conn
        self.rpc.disconnected()
        if conn:
            try:
                await conn.close()
            except Exception:
                pass
