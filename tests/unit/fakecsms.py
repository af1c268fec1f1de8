"""An in-memory CSMS for in-process station tests on both interpreters (no sockets).

``FakeCsms.factory`` is a Station ``ws_factory``; the fake answers the station's CALLs from
``responses`` (action -> payload or callable(payload) -> payload, or the string "silent" / an
("error", code) tuple), records every frame in ``frames`` as (direction, decoded list) and lets a
test send CSMS-initiated CALLs with ``await csms.call(action, payload)``.

Connection faults (issue 13): ``abort(notice_s, refuse_s, status)`` models a TCP RST: every later
write on the connection fails at once (OSError) while the station's reader only learns of it
``notice_s`` simulated seconds later (never with None: a half-open link); new connections are
refused with HTTP ``status`` for ``refuse_s`` s. A station that retries a failed write without
yielding never lets that clock run: after ``SPIN_LIMIT`` writes on a dead connection the fake
raises ``RuntimeError`` (not an OSError, so it escapes and the test sees ``spins``).
"""
import asyncio
import json

from lite_stack.clock import iso


SPIN_LIMIT = 200


class _Conn:
    def __init__(self, csms):
        self.csms = csms
        self.inbox = []
        self.ev = asyncio.Event()
        self.closed = False
        self.dead = False        # aborted: writes fail, the reader may not know yet
        self.dead_sends = 0

    async def send(self, text):
        if self.dead:
            self.dead_sends += 1
            self.csms.dead_sends += 1
            if self.dead_sends > SPIN_LIMIT:
                self.csms.spins += 1
                raise RuntimeError("send spin on a dead connection")
            raise OSError(104, "ECONNRESET")
        if self.closed:
            raise OSError("closed")
        self.csms._from_station(self, text)

    async def recv(self):
        while not self.inbox:
            if self.closed:
                return None
            self.ev.clear()
            await self.ev.wait()
        return self.inbox.pop(0)

    def push(self, text):
        self.inbox.append(text)
        self.ev.set()

    async def ping(self):
        self.csms.pings += 1

    async def close(self):
        self.closed = True
        self.ev.set()


class Http401(Exception):
    """A handshake refused with HTTP 401 (as ``lite_stack.core.ws.WsError``)."""
    status = 401


class FakeCsms:
    def __init__(self, clock):
        self.clock = clock
        self.conn = None
        self.online = True
        self.frames = []
        self.calls = []        # (action, payload) of station CALLs
        self.results = {}      # our CALL id -> response frame
        self.responses = {}
        self.connects = 0
        self.auths = []
        self.pings = 0
        self.boot_status = "Accepted"
        self.interval = 300
        self.password = None   # set: HTTP Basic auth with this password, else 401
        self.refuse = None     # set: every connection attempt fails with OSError(refuse)
        self.attempts = []     # (clock ms, url) of every connection attempt
        self._n = 0
        self._ev = asyncio.Event()
        self.dead_sends = 0
        self.spins = 0
        self.refused = 0
        self.refuse_until_ms = -1
        self.refuse_status = 503
        self._notice = None

    async def factory(self, url, auth, max_frame, clock):
        self.attempts.append((self.clock.ms(), url))
        if not self.online:
            raise OSError("CSMS unreachable")
        if self.refuse:
            raise OSError(self.refuse)
        if self.clock.ms() < self.refuse_until_ms:
            from lite_stack.core.ws import WsError
            self.refused += 1
            raise WsError("HTTP %d" % self.refuse_status, self.refuse_status)
        self.auths.append(auth)
        if self.password is not None and (not auth or auth[1] != self.password):
            raise Http401()
        self.connects += 1
        self.url = url
        self.conn = _Conn(self)
        return self.conn

    def drop(self):
        """Connection loss: the station sees EOF."""
        if self.conn:
            self.conn.closed = True
            self.conn.ev.set()
            self.conn = None

    def abort(self, notice_s=0.01, refuse_s=0, status=503):
        """TCP abort (RST) of the current connection; see the module docstring."""
        conn = self.conn
        self.conn = None
        self.refuse_until_ms = self.clock.ms() + int(refuse_s * 1000)
        self.refuse_status = status
        if conn is None:
            return
        conn.dead = True
        if notice_s is not None:
            async def notice():
                await self.clock.sleep(notice_s)
                conn.closed = True
                conn.ev.set()
            self._notice = asyncio.create_task(notice())   # kept: the loop holds tasks weakly

    def _default(self, action, p):
        now = iso(self.clock.now())
        if action == "BootNotification":
            return {"currentTime": now, "interval": self.interval, "status": self.boot_status}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "Authorize":
            return {"idTokenInfo": {"status": "Accepted"}}
        if action == "TransactionEvent" and "idToken" in p:
            return {"idTokenInfo": {"status": "Accepted"}}
        return {}

    def _from_station(self, conn, text):
        f = json.loads(text)
        self.frames.append((">", f))
        self._ev.set()
        if f[0] == 2:
            action, p = f[2], f[3]
            self.calls.append((action, p))
            r = self.responses.get(action)
            if r == "silent":
                return
            if isinstance(r, tuple) and r[0] == "error":
                conn.push(json.dumps([4, f[1], r[1], "test", {}]))
                return
            if callable(r):
                r = r(p)
            if r is None:
                r = self._default(action, p)
            conn.push(json.dumps([3, f[1], r]))
        else:
            self.results[f[1]] = f

    def of(self, action):
        return [p for a, p in self.calls if a == action]

    async def wait_for(self, pred, timeout=60):
        """Wait (on the station's clock) until pred() is true; returns its value or raises."""
        t0 = self.clock.ms()
        while True:
            v = pred()
            if v:
                return v
            if self.clock.ms() - t0 > timeout * 1000:
                raise AssertionError("timed out waiting")
            self._ev.clear()
            await self.clock.wait(self._ev, 0.2)

    async def call(self, action, payload, timeout=30):
        """Send a CSMS-initiated CALL; returns the station's frame ([3,...] or [4,...])."""
        self._n += 1
        mid = "csms-%d" % self._n
        self.conn.push(json.dumps([2, mid, action, payload]))
        return await self.wait_for(lambda: self.results.get(mid), timeout)

    async def raw(self, text, timeout=30):
        n = len(self.frames)
        self.conn.push(text)
        return await self.wait_for(lambda: len(self.frames) > n and self.frames[n][1], timeout)
