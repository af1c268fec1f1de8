"""A Security, the part every start needs: security events (Part 2 A04), the security log, and
the reconnect after a new BasicAuthPassword (A01).

Events come from ``ctx.emit("security", None, (type, techInfo or None))`` (the link: HTTP 401
FailedToAuthenticateAtCsms, InvalidCsmsCertificate, InvalidTLSVersion; the certificate and
network-profile blocks: ReconfigurationOfSecurityParameters) and from this block: after
registration StartupOfTheDevice or ResetOrReboot (after a CSMS Reset), and StateFileCorrupt (a
persisted record was unreadable and its defaults were restored, ``Store.corrupt``).

Every event goes to the security log (``lite_stack.seclog``: bounded, power-cut safe, read by
GetLog). RAM: ``lite_stack.seclog`` is not resident; this block imports it for each write or ring
read and releases it at once (``SECLOG``), so its code objects live only while an event is kept.
Critical events (Part 2 Appendix 1 "Critical": all but ``NOT_CRITICAL``) go to the persisted
offline ring first and are delivered from it in order, oldest first, each removed
once the CSMS answered (the SecurityEventNotification was Accepted); a full ring drops its
oldest and counts it. Non-critical events are sent only when online, else only logged.

A01: when SetVariables changed SecurityCtrlr.BasicAuthPassword (answer Accepted), the
connection is closed after the response and opened again with the new password
(``ctx.reconnect``); a 401 then is FailedToAuthenticateAtCsms and the link backs off.
"""
from device_model import ids
from lite_stack.clock import iso
from lite_stack.core import release

TECH_INFO_MAX = 255  # SecurityEventNotificationRequest.techInfo maxLength (Part 2)
NOT_CRITICAL = ("FailedToAuthenticateAtCsms", "CsmsFailedToAuthenticate",
                "ReconfigurationOfSecurityParameters", "InvalidMessages", "AttemptedReplayAttacks")
SECLOG = "lite_stack.seclog"   # imported per use, released after (see the module docstring)


def _seclog(store):
    # -> lite_stack.seclog.SecLog over ``store``; the caller releases SECLOG after its use
    from lite_stack.seclog import SecLog
    return SecLog(store)


class Security:
    HANDLERS = ()

    def __init__(self, ctx):
        self.ctx = ctx
        self._flushing = False

    def on_event(self, kind, evse, data):
        if kind == "accepted":
            return self._after_boot(data)
        if kind == "security":
            return self.record(data[0], data[1])
        if kind == "connected" and self.ctx.accepted:   # back online in this run: the ring
            return self.flush()
        if kind == "var" and data[0] == ids.BASIC_AUTH_PASSWORD and self.ctx.reconnect:
            self.ctx.after(self.ctx.reconnect)   # A01: reconnect with the new password
            return self.record("ReconfigurationOfSecurityParameters", "BasicAuthPassword")

    async def _after_boot(self, reason):
        if reason in ("RemoteReset", "ScheduledReset"):
            self._keep("ResetOrReboot", "Reset by the CSMS")
        else:
            self._keep("StartupOfTheDevice", None)
        corrupt = self.ctx.store.corrupt
        for name in corrupt:
            self._keep("StateFileCorrupt", "recovered defaults for " + name)
        corrupt[:] = []
        await self.flush()

    def _keep(self, kind, info):
        # log the event; a critical one also into the offline ring. -> True if ringed
        ctx = self.ctx
        t = ctx.clock.now()
        if info:
            info = info[:TECH_INFO_MAX]
        try:
            log = _seclog(ctx.store)
            log.add(t, kind, info)
            if kind in NOT_CRITICAL:
                return False
            log.push(t, kind, info)
        except OSError as e:   # flash full or gone: the event still goes out when online
            ctx.log("security log: %s" % e)
            return False
        finally:
            release(SECLOG)
        return True

    def record(self, kind, info):
        """Record event ``kind`` (SecurityEventEnumType text) with ``info``; returns the coroutine
        that delivers it (or None)."""
        ringed = self._keep(kind, info)
        if ringed:
            return self.flush()
        return self._send(self.ctx.clock.now(), kind, info)

    async def send(self, kind, info):
        """Record and deliver ``kind`` now (kept for callers of the former API)."""
        c = self.record(kind, info)
        if c is not None:
            await c

    async def _send(self, t, kind, info):
        ctx = self.ctx
        if not ctx.online():
            return False
        p = {"type": kind, "timestamp": iso(t)}
        if info:
            p["techInfo"] = info[:TECH_INFO_MAX]
        return await ctx.send("SecurityEventNotification", p) is not None

    async def flush(self):
        """Deliver the ring in order while online; stop at the first event not answered."""
        if self._flushing:
            return
        self._flushing = True
        try:
            while self.ctx.online():
                items = self._ring(False)
                if not items:
                    return
                t, kind, info = items[0]
                if not await self._send(t, kind, info):
                    return
                self._ring(True)
        finally:
            self._flushing = False

    def _ring(self, pop):
        # -> the offline ring's events, oldest first; ``pop``: forget the oldest (delivered) instead
        try:
            log = _seclog(self.ctx.store)
            if pop:
                return log.pop()
            return log.ring()[1]
        finally:
            release(SECLOG)

