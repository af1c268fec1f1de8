"""L01 resident part (Part 2 L01, F06): what must live while no firmware update runs. The update
itself is the on-demand block ``firmware``; this block only reads its store record ``fw``.

- At construction (before provisioning reads it): when the persisted update is at
  ``Installing`` / ``InstallRebooting``, this start is the reboot into the new image, so
  ``ctx.boot_reason`` becomes ``FirmwareUpdate`` (BootNotification reason, L01.FR.09 /
  TC_L_01 step 15).
- After registration (event ``accepted``): a pending update is resumed (``ctx.demand("firmware")``
  loads the block): it reports Installed / InstallationFailed after the reboot, or continues a
  download or install cut by a power loss.
- TriggerMessage FirmwareStatusNotification: Accepted for any EVSE (the message is station-wide,
  TC_F_17), then ``Idle`` with no update running (none, or the last one ended: F06.FR.16,
  L01.FR.25, TC_F_18), else the last status sent with its ``requestId`` (L01.FR.26, TC_F_19).
"""
STORE = "fw"


class FirmwareStatus:
    HANDLERS = ()

    def __init__(self, ctx):
        self.ctx = ctx
        rec = ctx.store.load(STORE)
        self.pending = isinstance(rec, dict) and "st" in rec
        if self.pending and rec["st"] in ("Installing", "InstallRebooting"):
            ctx.boot_reason = "FirmwareUpdate"
        ctx.triggers["FirmwareStatusNotification"] = self.trigger

    def on_event(self, kind, evse, data):
        if kind == "accepted" and self.pending and self.ctx.demand:
            self.pending = False
            self.ctx.demand("firmware")

    def trigger(self, targets):
        ctx = self.ctx

        async def send():
            rec = ctx.store.load(STORE)
            p = {"status": "Idle"}
            if isinstance(rec, dict) and rec.get("st") not in (None, "Accepted"):
                p = {"status": rec["st"], "requestId": rec["rid"]}
            await ctx.send("FirmwareStatusNotification", p)
        ctx.after(send)
        return "Accepted"
