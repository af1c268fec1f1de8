"""G Availability (Part 2 G01-G04) and the live values the device model reads.

- G01 StatusNotification: one per change of a connector status, none duplicated; after a
  transaction ended its queued TransactionEvents (the Ended event) go first, waiting at most
  MessageTimeout, so a silent CSMS cannot hold the status back (E06 ordering).
- B04 after a reconnect: every connector status when the station was offline longer than
  OfflineThreshold (B04.FR.01), else only those that changed (B04.FR.02).
- G02 Heartbeat after HeartbeatInterval s without any other CALL (G02.FR.02 lets a station skip
  it while other traffic shows it is alive); the clock is set from ``currentTime``.
- G03/G04 ChangeAvailability for an EVSE/connector or the whole Charging Station: Accepted, or
  Scheduled while a transaction runs (applied when it ends, G03.FR.05/G04.FR.06, TC_G_14); the Operative
  flags persist across reboots (store record ``avail``: TC_G_18/G_19/G_21).
- TriggerMessage entries: StatusNotification, Heartbeat (F06).

Connector status (ConnectorStatusEnumType): Faulted (a fault), else Occupied (a transaction),
else Unavailable (EVSE or Charging Station Inoperative, or a firmware install pending (L01.FR.07,
``ctx.fw_pending``), even with a cable plugged in: a Scheduled
Inoperative applies when the transaction ends, G04.FR.06, TC_G_14), else Occupied (plugged in),
else Available.
"""
from device_model import ids
from lite_stack.clock import Kick
from lite_stack.context import status

AVAILABLE = "Available"
OCCUPIED = "Occupied"
UNAVAILABLE = "Unavailable"
FAULTED = "Faulted"
STORE = "avail"



class Availability:
    HANDLERS = ("ChangeAvailability", "change_availability")

    def __init__(self, ctx):
        self.ctx = ctx
        self.pending_station_op = None
        self.reported = {}           # evse id -> last status the CSMS was told (dedupe, B04)
        self._hb_change = Kick()
        state = ctx.store.load(STORE) or {}
        ctx.operative = state.get("op", True)
        ops = state.get("evse_op") or []
        for e in ctx.evses:
            e.operative = ops[e.id - 1] if e.id - 1 < len(ops) else True
        ctx.triggers["StatusNotification"] = self.trigger_status
        ctx.triggers["Heartbeat"] = self.trigger_heartbeat

    def tasks(self):
        return [self._heartbeat_task()]

    def _save(self):
        ctx = self.ctx
        ctx.store.save(STORE, {"op": ctx.operative, "evse_op": [e.operative for e in ctx.evses]})

    # ---- connector status (G01, B04) ----------------------------------------------------------
    def status_of(self, e):
        if e.fault:
            return FAULTED
        if e.tx:
            return OCCUPIED
        if not (e.operative and self.ctx.operative) or self.ctx.fw_pending:
            return UNAVAILABLE   # (fw_pending: a firmware install waits, L01.FR.07) also with the EV still plugged in (TC_G_14 step 7)
        if e.plugged:
            return OCCUPIED
        return AVAILABLE

    def poll(self, e, now):
        s = self.status_of(e)
        if s != e.status:
            e.status = s
            if self.ctx.accepted:
                self.ctx.spawn(self.notify(e))

    async def notify(self, e, force=False):
        ctx = self.ctx
        tid = e.last_tx_id
        if tid is not None:
            t0 = ctx.clock.ms()
            limit = ctx.dm.get(ids.MESSAGE_TIMEOUT) * 1000
            while ctx.online() and ctx.queue.has(tid) and ctx.clock.ms() - t0 < limit:
                await ctx.clock.sleep(0.05)
            if not ctx.queue.has(tid):
                e.last_tx_id = None
        if e.status is None:   # before the first poll (found by bench/fuzz.py: a status None)
            e.status = self.status_of(e)
        s = e.status
        if not force and self.reported.get(e.id) == s:
            return
        self.reported[e.id] = s
        r = await ctx.send("StatusNotification", {"timestamp": ctx.iso_now(), "connectorStatus": s,
                                                  "evseId": e.id, "connectorId": 1})
        if r is None and self.reported.get(e.id) == s:
            self.reported.pop(e.id, None)   # not delivered: tell again when back online (B04)

    async def _report_all(self, force):
        for e in self.ctx.evses:
            e.status = self.status_of(e)
            await self.notify(e, force)

    def on_event(self, kind, evse, data):
        ctx = self.ctx
        if kind == "accepted":
            self._hb_change.set()
            return self._report_all(True)
        if kind == "connected":
            if ctx.accepted:
                off = ctx.clock.ms() - ctx.offline_since
                return self._report_all(off > ctx.dm.get(ids.OFFLINE_THRESHOLD) * 1000)
        elif kind == "disconnected":
            ctx.offline_since = ctx.clock.ms()
        elif kind == "tx_ended":
            self._tx_ended(evse)
        elif kind == "var" and data[0] == ids.HEARTBEAT_INTERVAL:
            self._hb_change.set()

    def _tx_ended(self, e):
        """Apply a Scheduled ChangeAvailability once the transaction has ended (G03.FR.05)."""
        ctx = self.ctx
        changed = False
        if e.pending_op is not None:
            e.operative = e.pending_op
            e.pending_op = None
            changed = True
        if self.pending_station_op is not None and not any(x.tx for x in ctx.evses):
            ctx.operative = self.pending_station_op
            self.pending_station_op = None
            changed = True
        if changed:
            self._save()

    # ---- G03/G04 ChangeAvailability -------------------------------------------------------------
    def change_availability(self, p):
        ctx = self.ctx
        op = p["operationalStatus"] == "Operative"
        ev = p.get("evse")
        if ev is None or ev.get("id", 0) == 0:
            if any(e.tx for e in ctx.evses) and ctx.operative != op:
                self.pending_station_op = op
                return status("Scheduled")
            ctx.operative = op
            self.pending_station_op = None
        else:
            e = ctx.evse(ev["id"])
            if e is None or ev.get("connectorId", 1) != 1:
                return status("Rejected")
            if e.tx and e.operative != op:
                e.pending_op = op
                return status("Scheduled")
            e.operative = op
            e.pending_op = None
        self._save()
        ctx.wake()
        return status("Accepted")

    # ---- G02 heartbeat ----------------------------------------------------------------------------
    async def _heartbeat_task(self):
        ctx = self.ctx
        while True:
            iv = ctx.dm.get(ids.HEARTBEAT_INTERVAL)
            if iv <= 0:
                self._hb_change.clear()
                await ctx.clock.wait(self._hb_change, 60)
                continue
            due = ctx.last_call_ms + iv * 1000
            now = ctx.clock.ms()
            if now < due:
                self._hb_change.clear()
                await ctx.clock.wait(self._hb_change, (due - now) / 1000)
                continue
            if ctx.online():
                await self.heartbeat()
            else:
                ctx.last_call_ms = now

    async def heartbeat(self):
        r = await self.ctx.send("Heartbeat", {})
        if r:
            self.ctx.csms_time(r["currentTime"])

    # ---- F06 TriggerMessage entries ---------------------------------------------------------------
    def trigger_status(self, targets):
        async def send():
            for e in targets:
                await self.notify(e, True)
        self.ctx.after(send)
        return "Accepted"

    def trigger_heartbeat(self, targets):
        self.ctx.after(self.heartbeat)
        return "Accepted"

    # ---- live values of the device model (DeviceModel ``live``) -----------------------------------
    def now(self):
        return self.ctx.clock.now()

    def availability_state(self, evse_id, connector_id):
        """AvailabilityState of the Charging Station (evse 0), an EVSE or its connector."""
        ctx = self.ctx
        if evse_id == 0:
            if not ctx.operative:
                return UNAVAILABLE
            sts = [self.status_of(e) for e in ctx.evses]
            for s in (OCCUPIED, FAULTED, AVAILABLE):
                if s in sts and (s != FAULTED or len(set(sts)) == 1):
                    return s
            return UNAVAILABLE
        e = ctx.evse(evse_id)
        return self.status_of(e) if e else UNAVAILABLE

    def power_w(self, evse_id):
        """EVSE.Power Actual (W) from the meter HAL."""
        e = self.ctx.evse(evse_id)
        return e.hal.meter.power_w() if e else 0
