"""E Transactions (Part 2 E01-E10, E14) for TxStartPoint = TxStopPoint = PowerPathClosed (E01 S5,
E06 S5), and the delivery of the persisted TransactionEvent queue (E11-E13).

Start: the power path closes when the EV is plugged in (control pilot B/C/D), an IdToken is held
on the EVSE (``Evse.auth``: local card C01, RequestStartTransaction F01/F02), the EVSE may start
(``ctx.may_start``: Operative, no fault, no Reset pending) and the EV requests energy (C/D), so
the contactor closes: then Started is queued with the triggerReason of the condition that came
last (E01-E03, Part 6 TC_E_01..E_04): Authorized, RemoteStart, CablePluggedIn (cable after card),
or ChargingStateChanged when the EV came last (current offered, the EV in state B for
``EV_READY_GRACE_MS`` or more before requesting energy).
End: on purpose only — local stop (event ``stop`` from authorization, E07), RequestStopTransaction
(F03), EV unplugged (E06: EVCommunicationLost / EVDisconnected), Reset (B12: ResetCommand /
ImmediateReset), a fault (AbnormalCondition) or the CSMS's non-Accepted idTokenInfo with
StopTxOnInvalidId (E05: Deauthorized / DeAuthorized). An EV that pauses (C -> B) keeps the
transaction with chargingState SuspendedEV; with StopTxOnInvalidId false a deauthorized one is
kept SuspendedEVSE with the contactor open (E05.FR.03; MaxEnergyOnInvalidId is not supported).
Meter values: J02 TxUpdated samples every TxUpdatedInterval s, TxEnded samples buffered
(``meter.TxEndedBuffer``) for the Ended event, J01 aligned samples as events from metering.

Persistence: the transaction (record ``tx<evse>``) is written before its Started is queued, so a
power cut never leaves a Started without its Ended (``txrecover``: PowerLoss, or ImmediateReset
after a Reset); the energy register (record ``meter``) is written before each Ended is queued and
restored after a reboot, so it never runs backwards.

Delivery (E11-E13): queued events go in order, one at a time; a CALLERROR or no answer is an
attempt (a CALLRESULT failing our schema check is not: delivered, logged): MessageAttempts
[TransactionEvent] attempts, MessageAttemptInterval x attempts apart, then the event is dropped
(E13.FR.03); a lost connection is not an attempt: the sender waits for the next connection (a
failed write takes the link down at once, ``Rpc.lost``) and sends the same message again.
"""
from device_model import ids
from lite_stack import meter
from lite_stack.clock import iso, Kick
from lite_stack.core import release, rpc as _rpc

RECOVER = "lite_stack.txrecover"   # power-cut recovery: imported at start, released after

EV_READY_GRACE_MS = 3000   # EV slower than this to request energy after the offer: it came last


class Tx:
    __slots__ = ("id", "seq", "token", "group", "remote_id", "state", "last_sample_ms",
                 "last_ended_ms", "ended", "suspended")

    def __init__(self, tx_id, token, group, remote_id, start_ms, ended_limit=8):
        self.id = tx_id
        self.seq = 0
        self.token = token
        self.group = group
        self.remote_id = remote_id
        self.state = "Charging"
        self.last_sample_ms = start_ms
        self.last_ended_ms = start_ms
        self.ended = meter.TxEndedBuffer(ended_limit)  # samples for the Ended event (J01/J02)
        self.suspended = False


class Transactions:
    HANDLERS = ()   # GetTransactionStatus (E14): the on-demand block blocks/txstatus.py

    def __init__(self, ctx):
        self.ctx = ctx
        board = ctx.board
        self.max_current = getattr(board, "MAX_CURRENT_A", 16)
        self.ended_limit = getattr(board, "TX_ENDED_SAMPLES", 8)
        self.stops = {}            # evse id -> (triggerReason, stoppedReason, idToken or None)
        self._offered = {}         # evse id -> ms since when all but the EV's request were met
        self._kick = Kick()
        self._full = False         # the queue refused an Updated event (MemoryExhaustion told)
        self._n = 0
        ctx.triggers["TransactionEvent"] = self.trigger
        from lite_stack import txrecover   # once at start, then released (RAM)
        try:
            txrecover.recover(self, Tx)
        finally:
            release(RECOVER)

    def tasks(self):
        return [self._sender()]

    def new_tx_id(self):
        """A transactionId unique across reboots (<= 36 chars): boot prefix + counter."""
        self._n += 1
        return "%s-%d" % (self.ctx.rpc.boot_id, self._n)

    # ---- events from other blocks and the EVSEs -----------------------------------------------------
    def on_event(self, kind, e, data):
        if kind == "stop":
            self._request_stop(e, data)
        elif kind == "unplugged":
            self._request_stop(e, ("EVCommunicationLost", "EVDisconnected", None))  # E06/E10
        elif kind == "fault" and data:
            self._request_stop(e, ("AbnormalCondition",
                                   "GroundFault" if data == "RCD" else "Other", None))
        elif kind == "end_all":
            for x in self.ctx.evses:
                if x.tx:
                    self._end(x, data[0], data[1])
        elif kind == "meter_clock":
            if e.tx:
                self.event(e, "Updated", "MeterValueClock", meter_values=[data])
        elif kind == "meter_clock_ended":
            if e.tx and e.tx.ended.add(self.ctx.clock.now(), "Sample.Clock", data):
                self.persist(e)
        elif kind == "connected":
            self._kick.set()
        elif kind == "accepted":
            return self._kick_now()

    async def _kick_now(self):
        self._kick.set()

    def _request_stop(self, e, why):
        """End ``e``'s transaction at its next poll; a later request replaces an earlier one
        (the EV unplugged after a remote stop: EVDisconnected)."""
        if e.tx:
            self.stops[e.id] = why

    # ---- the state machine, once per poll -----------------------------------------------------------
    def poll(self, e, now):
        ctx = self.ctx
        if e.tx:
            self._poll_tx(e, now)
        elif e.auth and e.plugged and ctx.may_start(e):
            e.offer(self.max_current)
            since = self._offered.setdefault(e.id, now)
            if e.ev_ready() and e.close():
                self._offered.pop(e.id, None)
                self._start(e, now, now - since >= EV_READY_GRACE_MS)
        else:
            self._offered.pop(e.id, None)
            e.offer(0)

    def _poll_tx(self, e, now):
        dm = self.ctx.dm
        why = self.stops.pop(e.id, None)
        if why:
            self._end(e, why[0], why[1], why[2])
            return
        tx = e.tx
        closed = e.is_closed()
        if tx.suspended:
            if closed:
                e.open()
            e.offer(0)
            new = "SuspendedEVSE"
        else:
            if e.ev_ready() and not closed and not e.fault:
                closed = e.close()
            new = "Charging" if closed else ("SuspendedEV" if e.pilot == "B" else "EVConnected")
        if new != tx.state:
            tx.state = new
            self.event(e, "Updated", "Deauthorized" if new == "SuspendedEVSE" else
                       "ChargingStateChanged", charging_state=new)
        interval = dm.get(ids.SAMPLED_TX_UPDATED_INTERVAL)
        if interval > 0 and now - tx.last_sample_ms >= interval * 1000:
            tx.last_sample_ms = now
            mv = meter.sample(self.ctx, e, ids.SAMPLED_TX_UPDATED_MEASURANDS, "Sample.Periodic")
            if mv:
                self.event(e, "Updated", "MeterValuePeriodic", meter_values=[mv])
        interval = dm.get(ids.SAMPLED_TX_ENDED_INTERVAL)
        if interval > 0 and now - tx.last_ended_ms >= interval * 1000:
            tx.last_ended_ms = now
            if tx.ended.add(int(self.ctx.clock.now()), "Sample.Periodic", meter.read(
                    e.hal.meter, dm.get(ids.SAMPLED_TX_ENDED_MEASURANDS))):
                self.persist(e)

    def _start(self, e, now, ev_last=False):
        ctx = self.ctx
        token, group, remote_id, _, trigger = e.auth
        if ev_last:
            trigger = "ChargingStateChanged"   # the EV's request for energy came last (E01-E03)
        e.auth = None
        tx = Tx(self.new_tx_id(), token, group, remote_id, now, self.ended_limit)
        e.tx = tx
        if ctx.dm.get(ids.SAMPLED_TX_ENDED_INTERVAL) > 0:
            tx.ended.add(int(ctx.clock.now()), "Transaction.Begin", meter.read(
                e.hal.meter, ctx.dm.get(ids.SAMPLED_TX_ENDED_MEASURANDS)))
        self.persist(e)  # E11: survive a power cut between here and the Started event
        mv = meter.sample(self.ctx, e, ids.SAMPLED_TX_STARTED_MEASURANDS, "Transaction.Begin")
        self.event(e, "Started", trigger, charging_state="Charging", id_token=token,
                   meter_values=[mv] if mv else None)
        ctx.emit("tx_started", e, tx.id)

    def _end(self, e, trigger, reason, id_token=None):
        e.open()
        self.stops.pop(e.id, None)
        self.save_registers()  # before the Ended is queued: a power cut after it keeps the register
        self.event(e, "Ended", trigger, stopped_reason=reason, id_token=id_token,
                   meter_values=self.ended_values(e),
                   charging_state="EVConnected" if e.plugged else "Idle")
        tid = e.tx.id
        e.last_tx_id = tid
        e.tx = None
        self.persist(e)
        self.ctx.emit("tx_ended", e, tid)

    def ended_values(self, e):
        """meterValue of the Ended event: the buffered TxEnded samples, then the Transaction.End
        sample of SampledDataCtrlr.TxEndedMeasurands (J02)."""
        mvs = e.tx.ended.meter_values(iso)
        mv = meter.sample(self.ctx, e, ids.SAMPLED_TX_ENDED_MEASURANDS, "Transaction.End")
        if mv:
            mvs.append(mv)
        return mvs or None

    def event(self, e, event_type, trigger, charging_state=None, stopped_reason=None,
              id_token=None, meter_values=None):
        """Build, persist and queue one TransactionEventRequest (E01-E13). Returns False when an
        Updated event did not fit the queue (nothing is consumed then: ``TxQueue.push``)."""
        ctx = self.ctx
        tx = e.tx
        info = {"transactionId": tx.id}
        if charging_state:
            info["chargingState"] = charging_state
        if stopped_reason:
            info["stoppedReason"] = stopped_reason
        if tx.remote_id is not None and event_type == "Started":
            info["remoteStartId"] = tx.remote_id
        msg = {"eventType": event_type, "timestamp": ctx.iso_now(), "triggerReason": trigger,
               "seqNo": tx.seq, "transactionInfo": info}
        if tx.seq == 0 or event_type == "Started":
            msg["evse"] = {"id": e.id, "connectorId": 1}
        if id_token:
            msg["idToken"] = id_token
        if meter_values:
            msg["meterValue"] = meter_values
        if not ctx.online():
            msg["offline"] = True
        if not ctx.queue.push(msg):
            if not self._full:   # A04 MemoryExhaustion (critical), once until a push succeeds
                ctx.emit("security", None, ("MemoryExhaustion", "TransactionEvent queue full"))
            self._full = True
            return False
        self._full = False
        tx.seq += 1
        if event_type != "Ended":
            self.persist(e)
        self._kick.set()
        return True

    # ---- persistence ----------------------------------------------------------------------------------
    def persist(self, e):
        """Write (or remove) the store record ``tx<evse>`` of EVSE ``e``'s transaction."""
        name = "tx%d" % e.id
        tx = e.tx
        if tx is None:
            self.ctx.store.remove(name)
            return
        s = {"id": tx.id, "seq": tx.seq, "token": tx.token, "group": tx.group,
             "wh": e.hal.meter.energy_wh()}
        if tx.ended.items:
            s["ended"] = tx.ended.dump()
        self.ctx.store.save(name, s)

    def save_registers(self):
        """Persist every EVSE's energy register (Wh), read back by ``txrecover`` after a reboot."""
        try:
            self.ctx.store.save("meter", [e.hal.meter.energy_wh() for e in self.ctx.evses])
        except Exception as ex:
            self.ctx.log("meter register not saved: %s" % ex)

    # ---- TriggerMessage (F06) ----------------------------------------------------------------------------
    def trigger(self, targets):
        """F06 TriggerMessage(TransactionEvent): an Updated event with triggerReason Trigger for
        each target EVSE with a transaction; Rejected when none has one."""
        todo = [e for e in targets if e.tx]
        if not todo:
            return "Rejected"

        async def send():
            for e in todo:
                if e.tx:
                    mv = meter.sample(self.ctx, e, ids.SAMPLED_TX_UPDATED_MEASURANDS, "Trigger")
                    self.event(e, "Updated", "Trigger", charging_state=e.tx.state,
                               meter_values=[mv] if mv else None)
        self.ctx.after(send)
        return "Accepted"

    # ---- E11-E13 delivery ----------------------------------------------------------------------------------
    async def _sender(self):
        ctx = self.ctx
        q = ctx.queue
        attempts = 0
        msg = r = info = handle = None
        while True:
            h = q.head() if ctx.online() else None
            if h is None:
                # nothing to send: drop the last message and answer before the long wait (a
                # suspended frame keeps what its locals hold)
                msg = r = info = handle = None
                self._kick.clear()
                await ctx.clock.wait(self._kick, 5)
                continue
            handle, msg = h
            try:
                ctx.last_call_ms = ctx.clock.ms()
                r = await ctx.rpc.call("TransactionEvent", msg, ctx.dm.get(ids.MESSAGE_TIMEOUT))
            except _rpc.NotConnected:
                # the link is down: wait for it to come back, never retry at once (send spin)
                self._kick.clear()
                await ctx.clock.wait(self._kick, 5)
                continue
            except _rpc.QueueFull:
                await ctx.clock.sleep(1)
                continue
            except _rpc.InvalidResult as ex:
                # a CALLRESULT with our messageId: the CSMS has the event; it stays delivered
                ctx.log("TransactionEvent seqNo %d delivered, answer not valid: %s" % (
                    msg["seqNo"], ex.code))
                r = {}   # its content is not acted on (no E05 deauthorization from it)
            except (_rpc.RpcTimeout, _rpc.CallError) as ex:
                attempts += 1
                ctx.log("TransactionEvent seqNo %d attempt %d failed: %s" % (msg["seqNo"], attempts, ex))
                if attempts >= ctx.dm.get(ids.MESSAGE_ATTEMPTS_TE):
                    q.pop(handle)
                    attempts = 0
                else:
                    await ctx.clock.sleep(ctx.dm.get(ids.MESSAGE_ATTEMPT_INTERVAL_TE) * attempts)
                continue
            attempts = 0
            q.pop(handle)
            info = r.get("idTokenInfo")
            if info and info.get("status") != "Accepted" and msg.get("idToken"):
                tid = msg["transactionInfo"]["transactionId"]
                for e in ctx.evses:
                    if e.tx and e.tx.id == tid:
                        self._deauthorize(e)

    def _deauthorize(self, e):
        """E05: StopTxOnInvalidId true ends the transaction (Deauthorized / DeAuthorized,
        E05.FR.02); false keeps it suspended without energy (E05.FR.03)."""
        if self.ctx.dm.get(ids.STOP_TX_ON_INVALID_ID):
            self._request_stop(e, ("Deauthorized", "DeAuthorized", None))
        else:
            e.tx.suspended = True
        self.ctx.wake()
