"""The link to the CSMS: connect, HTTP Basic auth, TLS context, reconnect back-off and the PING
watchdog (OCPP 2.0.1 Part 4 §5). Knows nothing of OCPP messages beyond handing each received
text frame to ``Rpc.on_frame``.

``Link(url, station_id, dm, clock, rpc, emit, log, ws_factory=None, max_frame=8192,
password=None, ctx=None)``: ``url`` is the CSMS URL without the station id
(``/<station_id>`` is appended, Part 4 §3.1.1); ``dm`` gives the back-off, ping, timeout and
password variables; ``emit`` is ``Context.emit`` (events ``connected`` / ``disconnected`` and
``security`` for the failures below); ``ws_factory`` is ``async (url, auth, max_frame, clock) ->
connection`` with ``recv/send/ping/close`` (default ``lite_stack.core.ws.WebSocket.connect``,
given a TLS context for wss://); ``password`` is the factory Basic-auth password (a
BasicAuthPassword set by the CSMS and persisted in the device model wins, A01); ``ctx``: None
(``url`` alone, security profile 1, no trust anchors) or the station's ``Context``, read per use
(RAM: ``core.netconf`` and ``core.certstore`` are imported for it and released after): its
``net`` (the ``core.netconf.NetConf`` profiles, per attempt and per connection), its ``certs``
(a ``core.certstore.CertStore``, per wss:// attempt: its CSMSRootCertificates are the only
trust anchors of wss://) and its ``keep_csms_root``, set on each connection (security profile
>= 2, M04).

Profiles (B10): the link connects with the first slot of NetworkConfigurationPriority; after
NetworkProfileConnectionAttempts failed attempts in a row on a slot it moves to the next one
(B10.FR.04), wrapping round; ``slot`` / ``sp`` are the profile in use, and on each connection it
logs the slot and sets SecurityCtrlr.SecurityProfile. Security profile 0 sends no credentials,
1 and 2 HTTP Basic auth; 2 needs wss:// and an installed CSMSRootCertificate (no root: no
connection attempt).

Refusals become security events (A04): HTTP 401 -> FailedToAuthenticateAtCsms (A01/A02, then
back-off), a server certificate that does not chain to an installed root or match the host ->
InvalidCsmsCertificate, TLS below 1.2 -> InvalidTLSVersion (A00, Part 4 §5).

Back-off (Part 4 §5.3, TC_B_57): after a connection loss the first attempt waits
``backoff(0)`` (RetryBackOffWaitMinimum plus jitter), each failed attempt doubles the base up to
RetryBackOffRepeatTimes, then it stays constant.

``reconnect()`` closes the connection in use; the run loop then connects again at once with the
current password and profile (A01 steps 3-4 after a new BasicAuthPassword).
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
from lite_stack.core import release

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

BACKOFF_FLOOR_S = const(2)  # s: least wait between two attempts, even with both back-off variables 0
CERTSTORE = "lite_stack.core.certstore"   # RAM: imported for a wss:// attempt or a refusal only
NETCONF = "lite_stack.core.netconf"       # RAM: imported per attempt and per connection only


class Link:
    def __init__(self, url, station_id, dm, clock, rpc, emit, log, ws_factory=None, max_frame=8192,
                 password=None, ctx=None):
        self.url = url.rstrip("/") + "/" + station_id
        self.ctx = ctx
        self.slot = None   # configuration slot in use (or being tried)
        self.sp = 1        # its security profile
        self._order = None
        self._idx = 0
        self._tries = 0
        self._again = False
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
        """(username, password) for HTTP Basic auth (security profiles 1 and 2, Part 2 A00), or
        None without a password or with security profile 0."""
        pw = self.dm.get(ids.BASIC_AUTH_PASSWORD) or self.password
        return (self.station_id, pw) if pw and self.sp else None

    def _profile(self):
        # -> URL to connect to; sets slot/sp from the profile chosen (B10.FR.04)
        if self.ctx is None:
            return self.url
        net = self.ctx.net   # the profiles, read for this attempt
        try:
            if self._order is None:
                self._order = net.order() or [None]
            if self._tries >= self.dm.get(ids.NETWORK_PROFILE_CONNECTION_ATTEMPTS) \
                    and len(self._order) > 1:
                self._idx = (self._idx + 1) % len(self._order)
                self._tries = 0
            self._tries += 1
            self.slot = self._order[self._idx]
            p = net.get(self.slot) if self.slot is not None else None
            if p is None and self.slot is not None:   # dropped after an upgrade (A05): re-read
                self._order = net.order() or [None]
                self._idx = 0
                self.slot = self._order[0]
                p = net.get(self.slot) if self.slot is not None else None
        finally:
            release(NETCONF)
        if p is None:
            return self.url
        self.sp = p.get("securityProfile", 1)
        return p["ocppCsmsUrl"].rstrip("/") + "/" + self.station_id

    async def _connect(self):
        self.url_used = url = self._profile()
        if self.ws_factory:
            return await self.ws_factory(url, self.auth(), self.max_frame, self.clock)
        from lite_stack.core.ws import WebSocket
        ctx = None
        if url.startswith("wss://"):
            ctx = self.ctx.csms_tls() if self.ctx is not None else None
            if ctx is None:
                raise OSError("wss:// without an installed CSMSRootCertificate")
        elif self.sp >= 2:
            raise OSError("security profile %d needs wss://" % self.sp)
        return await WebSocket.connect(url, "ocpp2.0.1", self.auth(), ctx, self.max_frame,
                                       self.dm.get(ids.MESSAGE_TIMEOUT), self.clock)

    def backoff(self, fails):
        """Seconds to wait after ``fails`` failed attempts in a row (Part 4 §5.3):
        RetryBackOffWaitMinimum doubled min(fails, RetryBackOffRepeatTimes) times (then
        constant), plus a random 0..RetryBackOffRandomRange; never below ``BACKOFF_FLOOR_S``, so
        the link cannot spin with both variables at 0."""
        wait = self.dm.get(ids.RETRY_BACKOFF_WAIT_MINIMUM)
        wait <<= min(fails, self.dm.get(ids.RETRY_BACKOFF_REPEAT_TIMES))
        rr = self.dm.get(ids.RETRY_BACKOFF_RANDOM_RANGE)
        if rr > 0:
            wait += int.from_bytes(os.urandom(2), "big") % (rr + 1)
        return wait if wait > BACKOFF_FLOOR_S else BACKOFF_FLOOR_S

    def _refused(self, e):
        # a failed attempt -> security event (A04) when it is an authentication / TLS refusal
        if getattr(e, "status", 0) == 401:
            self.emit("security", None, ("FailedToAuthenticateAtCsms", "HTTP 401"))
            return
        from lite_stack.core.certstore import tls_failure
        try:
            kind = tls_failure(str(e))
        finally:
            release(CERTSTORE)
        if kind:
            self.emit("security", None, (kind, str(e)))

    async def reconnect(self):
        """Close the connection in use (if any): the run loop connects again at once (A01)."""
        conn = self.rpc.conn
        if conn is not None:
            self._again = True
            try:
                await conn.close()
            except Exception:
                pass

    async def run(self):
        fails = 0
        while True:
            try:
                conn = await self._connect()
            except Exception as e:  # OSError, WsError, timeouts: all mean "try again later"
                self.log("connect failed: %s %s" % (type(e).__name__, e))
                self._refused(e)
                conn = None
            if conn is None:
                wait = self.backoff(fails)
                fails += 1
                await self.clock.sleep(wait)
                continue
            fails = 0
            self._tries = 0
            self._down = down = asyncio.Event()
            self.rpc.conn = conn
            if self.ctx is not None and self.slot is not None:
                try:
                    self.dm.set(ids.SECURITY_PROFILE, self.sp)
                    self.ctx.net.connected(self.slot)
                except (ValueError, OSError, KeyError):   # flash full / record unreadable:
                    pass                                   # the connection still counts
                finally:
                    release(NETCONF)
                self.log("connected with network profile slot %s (security profile %d)"
                         % (self.slot, self.sp))
            if self.ctx is not None:
                self.ctx.keep_csms_root = self.sp >= 2
            self.log("connected to %s" % self.url_used)
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
            # RAM: nothing of the lost connection (stream, tasks) stays alive in this long-lived
            # frame through the back-off (its slots would hold them until the next connection)
            conn = ping = reader = down = None
            if self._again:    # A01: reconnect at once with the new password
                self._again = False
            else:              # Part 4 §5.3 (TC_B_57): the first attempt after a loss waits too
                await self.clock.sleep(self.backoff(0))
                fails = 1

    async def _read(self, conn, down):
        try:
            while await self._one(conn):
                pass
        except Exception as e:
            self.log("connection error: %s %s" % (type(e).__name__, e))
        finally:
            down.set()

    async def _one(self, conn):
        # One received frame, handled in a coroutine frame of its own that is garbage once it
        # returns: in the loop's long-lived frame a stale value-stack slot would keep the last
        # message (up to MAX_FRAME bytes) alive until the next one (measured on the 32-bit
        # firmware: the 0.6 kB SetVariables text of the bench's Core day). False: closed.
        text = await conn.recv()
        if text is None:
            return False
        await self.rpc.on_frame(text)
        return True

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
