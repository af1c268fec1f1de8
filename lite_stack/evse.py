"""One EVSE with one connector: connector status (G01), authorization state (C01, E03), and the
transaction lifecycle for TxStartPoint = TxStopPoint = PowerPathClosed (E01 S5, E06 S5).

The power path closes when the EV is plugged in (control pilot B/C/D), an IdToken is authorized
(local swipe C01 or RequestStartTransaction F01/F02), the EVSE is operative and not faulted, and the
EV requests energy (state C/D) so the contactor closes: then TransactionEvent Started is queued with
the trigger that completed the conditions (Authorized, CablePluggedIn, RemoteStart or
ChargingStateChanged). The transaction ends when the power path is opened on purpose: local stop
(same IdToken or same groupIdToken, E07), RequestStopTransaction (F03), EV unplugged (E06: triggerReason
EVCommunicationLost, stoppedReason EVDisconnected), a Reset (B12), a fault (AbnormalCondition) or a
deauthorization by the CSMS with StopTxOnInvalidId (E05). An EV that pauses (C -> B) keeps the
transaction with chargingState SuspendedEV.

Transaction state is persisted (store name ``tx<evse>``) before its Started event is queued, so a
power cut never leaves a Started without its Ended (see ``recover``).
"""
from device_model import ids
from lite_stack import meter
from lite_stack.txqueue import ENDED
from lite_stack.clock import iso

# Connector statuses (Part 2 ConnectorStatusEnumType)
AVAILABLE = "Available"
OCCUPIED = "Occupied"
UNAVAILABLE = "Unavailable"
FAULTED = "Faulted"


class Tx:
    __slots__ = ("id", "seq", "token", "group", "remote_id", "start_ms", "state", "last_sample_ms",
                 "last_ended_ms", "ended", "suspended")

    def __init__(self, tx_id, token, group, remote_id, start_ms, ended_limit=8):
        self.id = tx_id
        self.seq = 0
        self.token = token
        self.group = group
        self.remote_id = remote_id
        self.start_ms = start_ms
        self.state = "Charging"
        self.last_sample_ms = start_ms
        self.last_ended_ms = start_ms
        self.ended = meter.TxEndedBuffer(ended_limit)  # samples for the Ended event (J01/J02)
        self.suspended = False   # E05 with StopTxOnInvalidId false: no energy, transaction kept


class Evse:
    def __init__(self, station, evse_id, hal):
        self.st = station
        self.id = evse_id
        self.hal = hal
        self.plugged = False
        self.fault = None
        self.operative = True      # this EVSE's/connector's own persisted Operative flag
        self.pending_op = None     # ChangeAvailability waiting for the transaction to end (G03.FR.05)
        self.auth = None           # [idToken dict, groupIdToken dict or None, remoteStartId or None, since_ms, trigger]
        self.tx = None
        self.last_tx_id = None     # the transaction that ended last, until its messages are sent
        self.status = None         # current ConnectorStatus
        self.pending_trigger = None
        self.stop_request = None   # (triggerReason, stoppedReason, idToken or None)
        hal.contactor.open()       # a (re)boot starts with the power path open and no PWM
        hal.pilot.set_current(0)
        self._offered = 0

    # ---- status (G01) ------------------------------------------------------------------------
    def compute_status(self):
        if self.fault:
            return FAULTED
        if self.plugged or self.tx:
            return OCCUPIED
        if not (self.operative and self.st.operative):
            return UNAVAILABLE
        return AVAILABLE

    def is_operative(self):
        """May a new transaction start here? (G03/G04 Operative, no fault, no Reset OnIdle pending)"""
        return self.operative and self.st.operative and not self.fault and not self.st.reset_pending

    # ---- HAL polling -----------------------------------------------------------------------
    def poll(self):
        """Read the HAL and advance the state machine; called from the station's poll loop."""
        st = self.st
        hal = self.hal
        now = st.clock.ms()
        fault = hal.fault()
        pilot = hal.pilot.state()
        if pilot in "EF" and not fault:
            fault = "Pilot" + pilot
        if fault != self.fault:
            self.fault = fault
            if fault:
                hal.contactor.open()
                hal.pilot.set_current(0)
                self._offered = 0
                if self.tx:
                    self.stop_request = ("AbnormalCondition",
                                         "GroundFault" if fault == "RCD" else "Other", None)
        plugged = pilot in "BCD"
        if plugged != self.plugged:
            self.plugged = plugged
            if plugged:
                if self.auth and not self.tx:
                    self.auth[4] = "CablePluggedIn"
            else:
                if self.tx:
                    # E06 S5 / E10: StopTxOnEVSideDisconnect (RO true) ends the transaction
                    self.stop_request = ("EVCommunicationLost", "EVDisconnected", None)
                self.auth = None
        # E03.FR.05: authorized but no cable within EVConnectionTimeOut
        if self.auth and not self.plugged and not self.tx:
            if now - self.auth[3] >= st.dm.get(ids.EV_CONNECTION_TIMEOUT) * 1000:
                st.log("EVSE %d: EVConnectionTimeOut, authorization cleared" % self.id)
                self.auth = None
        if self.tx:
            self._poll_tx(now, pilot)
        elif self.auth and self.plugged and self.is_operative():
            self._offer(st.max_current)
            if pilot in "CD":
                if hal.contactor.close():
                    self._start(now)
        else:
            self._offer(0)
        st.update_status(self)

    def _offer(self, amps):
        if amps != self._offered:
            self._offered = amps
            self.hal.pilot.set_current(amps)

    def _poll_tx(self, now, pilot):
        st = self.st
        hal = self.hal
        if self.stop_request:
            trig, reason, token = self.stop_request
            self.stop_request = None
            self._end(trig, reason, token)
            return
        tx = self.tx
        closed = hal.contactor.is_closed()
        if tx.suspended:
            if closed:
                hal.contactor.open()
            self._offer(0)
            new = "SuspendedEVSE"
        else:
            if pilot in "CD" and not closed and not self.fault:
                closed = hal.contactor.close()
            new = "Charging" if closed else ("SuspendedEV" if pilot == "B" else "EVConnected")
        if new != tx.state:
            tx.state = new
            self.event("Updated", "Deauthorized" if new == "SuspendedEVSE" else "ChargingStateChanged",
                       charging_state=new)
        interval = st.dm.get(ids.SAMPLED_TX_UPDATED_INTERVAL)
        if interval > 0 and now - tx.last_sample_ms >= interval * 1000:
            tx.last_sample_ms = now
            mv = meter.sample(st, self, ids.SAMPLED_TX_UPDATED_MEASURANDS, "Sample.Periodic")
            if mv:
                self.event("Updated", "MeterValuePeriodic", meter_values=[mv], droppable=True)
        interval = st.dm.get(ids.SAMPLED_TX_ENDED_INTERVAL)
        if interval > 0 and now - tx.last_ended_ms >= interval * 1000:
            tx.last_ended_ms = now
            if tx.ended.add(int(st.clock.now()), "Sample.Periodic", meter.read(
                    hal.meter, st.dm.get(ids.SAMPLED_TX_ENDED_MEASURANDS))):
                st.persist_tx(self)

    # ---- authorization -----------------------------------------------------------------------
    def authorize(self, id_token, group, remote_id=None, trigger="Authorized"):
        """Hold an authorization for the next power-path close (C01 / F01 / F02)."""
        self.auth = [id_token, group, remote_id, self.st.clock.ms(), trigger]

    def stop_by(self, id_token, group):
        """E07 local stop: the same IdToken, or one with the same groupIdToken. Returns True if the
        transaction will end."""
        tx = self.tx
        if not tx:
            return False
        same = tx.token and tx.token.get("idToken") == id_token.get("idToken") \
            and tx.token.get("type") == id_token.get("type")
        if same or (group and tx.group and group.get("idToken") == tx.group.get("idToken")):
            self.stop_request = ("StopAuthorized", "Local", None if same else id_token)
            return True
        return False

    def deauthorize(self):
        """E05: the CSMS answered a TransactionEvent with a non-Accepted idTokenInfo (also the
        offline-started transaction of C15). StopTxOnInvalidId true: end the transaction
        (triggerReason Deauthorized, stoppedReason DeAuthorized; E05.FR.02). False: keep the
        transaction but stop the energy: contactor open, 0 A offered, chargingState
        SuspendedEVSE (E05.FR.03; MaxEnergyOnInvalidId is not supported, so no energy at all)."""
        if not self.tx:
            return
        if self.st.dm.get(ids.STOP_TX_ON_INVALID_ID):
            self.stop_request = ("Deauthorized", "DeAuthorized", None)
        else:
            self.tx.suspended = True

    # ---- transaction events ------------------------------------------------------------------
    def _start(self, now):
        st = self.st
        token, group, remote_id, _, trigger = self.auth
        self.auth = None
        tx = Tx(st.new_tx_id(), token, group, remote_id, now, st.tx_ended_limit)
        self.tx = tx
        if st.dm.get(ids.SAMPLED_TX_ENDED_INTERVAL) > 0:
            tx.ended.add(int(st.clock.now()), "Transaction.Begin", meter.read(
                self.hal.meter, st.dm.get(ids.SAMPLED_TX_ENDED_MEASURANDS)))
        st.persist_tx(self)  # E11: survive a power cut between here and the Started event
        mv = meter.sample(st, self, ids.SAMPLED_TX_STARTED_MEASURANDS, "Transaction.Begin")
        self.event("Started", trigger, charging_state="Charging", id_token=token,
                   meter_values=[mv] if mv else None)

    def _end(self, trigger, reason, id_token=None):
        st = self.st
        self.hal.contactor.open()
        self._offer(0)
        st.save_registers()  # before the Ended is queued: a power cut after it keeps the register
        self.event("Ended", trigger, stopped_reason=reason, id_token=id_token,
                   meter_values=self._ended_values(),
                   charging_state="EVConnected" if self.plugged else "Idle")
        self.last_tx_id = self.tx.id
        self.tx = None
        st.persist_tx(self)
        st.tx_ended(self)

    def _ended_values(self):
        """meterValue of the Ended event: the buffered TxEnded samples, then the
        Transaction.End sample of SampledDataCtrlr.TxEndedMeasurands (J02)."""
        st = self.st
        mvs = self.tx.ended.meter_values(iso)
        mv = meter.sample(st, self, ids.SAMPLED_TX_ENDED_MEASURANDS, "Transaction.End")
        if mv:
            mvs.append(mv)
        return mvs or None

    def end_now(self, trigger, reason):
        """End the transaction immediately (Reset Immediate B12, shutdown)."""
        if self.tx:
            self._end(trigger, reason)

    def event(self, event_type, trigger, charging_state=None, stopped_reason=None, id_token=None,
              meter_values=None, droppable=False):
        """Build, persist and queue one TransactionEventRequest (E01..E13). Returns False when an
        Updated event did not fit the queue (nothing is consumed then)."""
        st = self.st
        tx = self.tx
        info = {"transactionId": tx.id}
        if charging_state:
            info["chargingState"] = charging_state
        if stopped_reason:
            info["stoppedReason"] = stopped_reason
        if tx.remote_id is not None and event_type == "Started":
            info["remoteStartId"] = tx.remote_id
        msg = {"eventType": event_type, "timestamp": st.iso_now(), "triggerReason": trigger,
               "seqNo": tx.seq, "transactionInfo": info}
        if tx.seq == 0 or event_type == "Started":
            msg["evse"] = {"id": self.id, "connectorId": 1}
        if id_token:
            msg["idToken"] = id_token
        if meter_values:
            msg["meterValue"] = meter_values
        if not st.online():
            msg["offline"] = True
        if not st.txq.push(msg):
            return False
        tx.seq += 1
        if event_type != "Ended":
            st.persist_tx(self)
        st.kick_tx()
        return True

    def tx_state(self):
        tx = self.tx
        if not tx:
            return None
        r = {"id": tx.id, "seq": tx.seq, "token": tx.token, "group": tx.group,
             "wh": self.hal.meter.energy_wh()}
        if tx.ended.items:
            r["ended"] = tx.ended.dump()
        return r

    def restore_register(self, wh):
        """After a reboot: a meter whose import register lives in RAM (S0, simulator) restarts
        at 0; set it back to the last value this station persisted, so energy never runs
        backwards within a transaction or across transactions (J: Energy.Active.Import.Register
        is a register, not an interval)."""
        m = self.hal.meter
        if isinstance(wh, int) and hasattr(m, "set_energy_wh") and m.energy_wh() < wh:
            m.set_energy_wh(wh)

    def recover(self, saved):
        """After a reboot with a transaction still open in flash (power cut, crash): end it with
        stoppedReason PowerLoss (or ImmediateReset when a Reset was under way), continuing its seqNo
        after the last queued message, unless its Ended is already queued or its Started was never
        queued (then the CSMS never heard of it and nothing is owed)."""
        st = self.st
        q = st.txq
        self.restore_register(saved.get("wh"))
        last = q.last(saved["id"])
        seq = saved["seq"]
        if last is not None:
            # the newest queued event of this transaction may be newer than the persisted state
            # (a power cut between queuing it and persisting the transaction, or before the
            # station cleared a recovered transaction): its register reading is the floor
            self.restore_register(meter.register_in(q.last_msg(saved["id"])))
            if last[0] == ENDED:
                return
            if last[1] + 1 > seq:
                seq = last[1] + 1
        if seq == 0:
            return
        tx = Tx(saved["id"], saved.get("token"), saved.get("group"), None, st.clock.ms(),
                st.tx_ended_limit)
        tx.seq = seq
        if saved.get("ended"):
            tx.ended.load(saved["ended"])
        self.tx = tx
        reason = "ImmediateReset" if st.boot_reason == "RemoteReset" else "PowerLoss"
        self.event("Ended", "AbnormalCondition", stopped_reason=reason,
                   meter_values=self._ended_values(), charging_state="Idle")
        self.tx = None
