"""A Security, the part every start needs: SecurityEventNotification (Part 2 A04) for what the
stack detects today — StartupOfTheDevice, ResetOrReboot (after a CSMS Reset) and StateFileCorrupt
(a persisted record was unreadable and its defaults were restored, ``Store.corrupt``) — sent
after registration is Accepted (not queued across reboots). Other blocks report an event with
``ctx.emit("security", None, (type, techInfo or None))``; it is sent when online, else dropped
(the bounded offline ring and the security log come with security profile 2, issue 11).

Security profiles 2/3, certificates (A00-A03, M) are the named place ``certificates``.
"""

TECH_INFO_MAX = 255  # SecurityEventNotificationRequest.techInfo maxLength (Part 2)


class Security:
    HANDLERS = {}

    def __init__(self, ctx):
        self.ctx = ctx

    def on_event(self, kind, evse, data):
        if kind == "accepted":
            return self._after_boot(data)
        if kind == "security":
            return self.send(data[0], data[1])

    async def _after_boot(self, reason):
        if reason in ("RemoteReset", "ScheduledReset"):
            await self.send("ResetOrReboot", "Reset by the CSMS")
        else:
            await self.send("StartupOfTheDevice", None)
        corrupt = self.ctx.store.corrupt
        for name in corrupt:
            await self.send("StateFileCorrupt", "recovered defaults for " + name)
        corrupt[:] = []

    async def send(self, kind, info):
        """SecurityEventNotification ``kind`` (SecurityEventEnumType text) with ``info``."""
        ctx = self.ctx
        if not ctx.accepted:
            return
        p = {"type": kind, "timestamp": ctx.iso_now()}
        if info:
            p["techInfo"] = info[:TECH_INFO_MAX]
        await ctx.send("SecurityEventNotification", p)
