"""B Provisioning (Part 2 B01-B03 registration, B11/B12 Reset; B05/B06 Set/GetVariables and B07
GetBaseReport are the on-demand blocks ``variables`` and ``report``).

Registration (B01-B03): BootNotification on every connection until Accepted (reason PowerUp;
RemoteReset after a Reset, ScheduledReset after a Reset OnIdle that waited for the transactions
to end (TC_B_21), persisted in store record ``boot``; FirmwareUpdate when ``ctx.boot_reason`` says
so before this block is built (the resident ``fwstatus`` block, L01); Triggered after a
TriggerMessage(BootNotification) during Pending, TC_B_02); while Pending or Rejected nothing
else is sent (B02.FR.02/B03.FR.02) except what a TriggerMessage asks for during Pending; retries
after ``interval`` (B02.FR.01/B03.FR.01), or ``BOOT_RETRY_S`` when the CSMS gives 0 or no answer.
A TriggerMessage(BootNotification) during Pending cuts the wait short (F06.FR.17: Rejected once
Accepted). While Rejected every CSMS request is answered CALLERROR SecurityError (B03.FR.08,
TC_B_30), through the RPC gate (``Rpc.gate``); while Pending the CSMS may configure the station
(B02.FR.03). Accepted: HeartbeatInterval from ``interval`` (B01.FR.04), the clock from
``currentTime``, then the event ``accepted`` (statuses, security events, queued transactions).

Reset (B11/B12): ``Immediate``, or ``OnIdle`` with no transaction: Accepted, executed after the
response. ``OnIdle`` during a transaction: Scheduled; no new transaction starts
(``ctx.reset_pending``) and the Reset runs when the last transaction has ended (B12.FR.01). A
per-EVSE Reset is Rejected (UnsupportedRequest; TC_B_28/TC_B_29 are optional). Executing: every
transaction ends (ResetCommand / ImmediateReset), the queue gets up to 5 s to drain, the next
boot reason RemoteReset is persisted, ``RESET_GRACE_S`` lets frames in flight arrive, then
``done`` is set and the station returns "reset".
"""
import asyncio

from device_model import ids
from lite_stack.clock import Kick
from lite_stack.context import status
from lite_stack.core.rpc import CallError

BOOT_RETRY_S = 30  # s: BootNotification retry when the CSMS gives interval 0 / no answer
RESET_GRACE_S = 1  # s: after the Reset answer, before closing: frames in flight reach the CSMS
STORE = "boot"



class Provisioning:
    HANDLERS = ("Reset", "reset")

    def __init__(self, ctx, connected):
        """``connected``: the link's asyncio.Event, set while a WebSocket is open."""
        self.ctx = ctx
        self.connected = connected
        self.boot_reason = (ctx.store.load(STORE) or {}).get("boot", "PowerUp")
        if self.boot_reason == "PowerUp":
            self.boot_reason = ctx.boot_reason   # FirmwareUpdate, set by fwstatus (L01)
        ctx.boot_reason = self.boot_reason  # read by transaction recovery (E11: ImmediateReset)
        self._trigger = Kick()
        self.job = None                   # the task executing the Reset, once one is due
        self._next_reason = "RemoteReset"   # boot reason after the Reset is executed
        self.done = asyncio.Event()       # set when a Reset has been executed
        if self.boot_reason != "PowerUp":
            self._save()                  # the reason is told once: the next boot is PowerUp
        ctx.triggers["BootNotification"] = self.trigger_boot
        ctx.rpc.gate = self.gate

    def gate(self, action):
        """``Rpc.gate``: CALLERROR SecurityError for every CSMS request while the registration is
        Rejected (B03.FR.08, TC_B_30); None (handle it) otherwise."""
        if self.ctx.registration == "Rejected":
            return CallError("SecurityError", "Registration Rejected: %s refused" % action)
        return None

    def _save(self, boot="PowerUp"):
        self.ctx.store.save(STORE, {"boot": boot})

    def tasks(self):
        return [self._boot_task()]   # a Reset gets its task when it is due (``job``)

    # ---- B01-B03 ---------------------------------------------------------------------------------
    async def _boot_task(self):
        ctx = self.ctx
        board = ctx.board
        while not ctx.accepted:
            await self.connected.wait()
            payload = {"reason": self.boot_reason, "chargingStation": {
                "model": board.MODEL, "vendorName": board.VENDOR,
                "serialNumber": board.SERIAL, "firmwareVersion": board.FIRMWARE_VERSION}}
            self._trigger.clear()
            r = await ctx.send("BootNotification", payload)
            interval = BOOT_RETRY_S
            if r is not None:
                ctx.registration = r["status"]
                ctx.csms_time(r["currentTime"])
                if r["interval"] > 0:
                    interval = r["interval"]
                if r["status"] == "Accepted":
                    if r["interval"] > 0:
                        ctx.dm.set(ids.HEARTBEAT_INTERVAL, r["interval"])
                    ctx.accepted = True
                    ctx.log("registration Accepted")
                    reason = ctx.boot_reason   # why this start happened (not "Triggered")
                    self.boot_reason = "PowerUp"
                    await ctx.emit_wait("accepted", None, reason)
                    return
            elif ctx.rpc.conn is None:
                continue
            await ctx.clock.wait(self._trigger, interval)

    def trigger_boot(self, targets):
        if self.ctx.accepted:
            return "Rejected"  # F06.FR.17 (TC_F_26)

        async def fire():
            self.boot_reason = "Triggered"   # TC_B_02 step 15
            self._trigger.set()
        self.ctx.after(fire)
        return "Accepted"

    # ---- B11/B12 -------------------------------------------------------------------------------------
    def reset(self, p):
        ctx = self.ctx
        if "evseId" in p:
            return status("Rejected", "UnsupportedRequest")
        kind = p["type"]
        if kind == "OnIdle" and any(e.tx for e in ctx.evses):
            ctx.reset_pending = "OnIdle"
            self._next_reason = "ScheduledReset"   # TC_B_21 step 7
            return status("Scheduled")  # B12.FR.01

        async def fire():
            if self.job is None:   # see on_event
                self.job = asyncio.create_task(self._reset())
        ctx.after(fire)
        return status("Accepted")

    def on_event(self, kind, evse, data):
        if kind == "tx_ended" and self.ctx.reset_pending == "OnIdle" \
                and not any(e.tx for e in self.ctx.evses) and self.job is None:
            # the Reset starts once: a later trigger (an Immediate Reset after a Scheduled one,
            # the tx_ended events of its own end_all) finds it started. It runs as a task of its
            # own, outside the bounded task set like the resident task that used to wait for it;
            # Station.run cancels it with the station's tasks.
            self.job = asyncio.create_task(self._reset())

    async def _reset(self):
        ctx = self.ctx
        ctx.emit("end_all", None, ("ResetCommand", "ImmediateReset"))
        self.boot_reason = self._next_reason
        self._save(self._next_reason)
        for _ in range(50):
            if not len(ctx.queue) or not ctx.online():
                break
            await ctx.clock.sleep(0.1)
        # a CSMS that is still handling one of our CALLs may drop the Reset answer (or others)
        # still unread in its buffer when the connection closes at once (seen with `websockets`)
        await ctx.clock.sleep(RESET_GRACE_S)
        self.done.set()
