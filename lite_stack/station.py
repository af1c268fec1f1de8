"""The Charging Station: connection, registration, heartbeat, the transaction sender and the
routing of CSMS requests to the functional blocks.

``Station(settings, board, clock=None, hal=None, ws_factory=None, log=None)``
- settings: dict with ``csms_url`` (the station appends "/<station_id>"), ``station_id``,
  ``password`` (None, or the HTTP Basic password of security profile 1; a BasicAuthPassword set by
  the CSMS and persisted in the device model wins), ``state_dir`` (persisted state), ``evses``
  (EVSEs, one connector each), ``poll_ms`` (HAL poll period, default 100).
- board: a ``boards.*`` module; hal: ``(list of hal.Evse, rfid reader)`` or None for
  ``board.make_hal(clock, evses)``; ws_factory: ``async (url, auth, max_frame, clock) -> connection``
  with ``recv/send/ping/close`` (default ``lite_stack.ws.WebSocket.connect``).
- ``await run()`` returns "reset" after an OCPP Reset was executed (B11/B12): the caller reboots.

Registration (B01-B03): BootNotification on every start (reason PowerUp, or RemoteReset after a
Reset); while Pending or Rejected nothing else is sent (B02.FR.02/B03.FR.02) except what a
TriggerMessage asks for during Pending; retries after ``interval`` (B02.FR.01/B03.FR.01).
Heartbeat (G02): after HeartbeatInterval seconds without any other CALL (G02.FR.02 lets a station
skip it when other traffic shows it is alive); the clock is set from ``currentTime``.
"""
import asyncio
import os

from device_model import ids
from lite_stack import rpc as _rpc
from lite_stack.clock import Clock, iso, parse_iso
from lite_stack.evse import Evse
from lite_stack.txqueue import TxQueue
from lite_stack import meter

SAMPLE_DEFAULT_RETRY = 30  # s: BootNotification retry when the CSMS gives interval 0 / no answer


class Station:
    def __init__(self, settings, board, clock=None, hal=None, ws_factory=None, log=None):
        from device_model import DeviceModel
        from device_model.store import Store
        self.settings = settings
        self.board = board
        self.clock = clock or Clock()
        self.station_id = settings["station_id"]
        self._log = log
        self.store = Store(settings.get("state_dir") or "ocpp_state")
        n = int(settings.get("evses") or getattr(board, "EVSES", 1))
        self.dm = DeviceModel(board, self.store, n, self)
        self.dm.on_change = self._on_var_change
        if hal is None:
            hal = board.make_hal(self.clock, n)
        evse_hal, self.rfid = hal
        self.evses = [Evse(self, i + 1, evse_hal[i]) for i in range(n)]
        self.max_current = getattr(board, "MAX_CURRENT_A", 16)
        self.txq = TxQueue(self.store, getattr(board, "TX_QUEUE", 64), 2 * n)
        self.tx_ended_limit = getattr(board, "TX_ENDED_SAMPLES", 8)
        self.ws_factory = ws_factory
        self.rpc = _rpc.Rpc(self.clock, self._handlers(), getattr(board, "SEND_QUEUE", 8), self._rpc_log)
        self.accepted = False        # BootNotification Accepted in this run
        self.registration = None     # last RegistrationStatus
        self.operative = True        # ChargingStation-level Operative (G04), persisted
        self.pending_station_op = None
        self.reset_pending = None    # "OnIdle" while waiting for transactions to end (B12.FR.01)
        self._reset_now = asyncio.Event()
        self._tx_kick = asyncio.Event()
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._boot_trigger = asyncio.Event()
        self._hb_change = asyncio.Event()
        self.offline_since = self.clock.ms()
        self.last_call_ms = self.clock.ms()
        self.loop_ms = self.clock.ms()
        self.reported = {}           # evse id -> last status the CSMS was told (dedupe, B04)
        self.var_waiters = {}        # variable id -> asyncio.Event set when the CSMS changes it
        self._tx_n = 0
        self.conn = None
        state = self.store.load("station") or {}
        self.boot_reason = state.get("boot", "PowerUp")
        self.operative = state.get("op", True)
        ops = state.get("evse_op") or []
        for e in self.evses:
            e.operative = ops[e.id - 1] if e.id - 1 < len(ops) else True
        if self.boot_reason != "PowerUp":
            self._save_state()
        self._recover()

    # ---- logging and persistence ------------------------------------------------------------
    def log(self, text):
        if self._log:
            self._log(text)

    def _rpc_log(self, direction, text):
        if self._log:
            self._log(direction + " " + text)

    def _save_state(self, boot="PowerUp"):
        """Persist what must survive a reboot: the next boot reason and the Operative flags
        (G03/G04 ChangeAvailability persists across reboots, TC_G_18/G_19/G_21)."""
        self.store.save("station", {"boot": boot, "op": self.operative,
                                    "evse_op": [e.operative for e in self.evses]})

    def persist_tx(self, evse):
        name = "tx%d" % evse.id
        s = evse.tx_state()
        if s is None:
            self.store.remove(name)
        else:
            self.store.save(name, s)

    def _recover(self):
        """E11/E12 after a power cut: end transactions that were open in flash. First restore the
        meter registers persisted at the last transaction end (``meter`` record)."""
        regs = self.store.load("meter") or []
        done = []
        for e in self.evses:
            if e.id - 1 < len(regs):
                e.restore_register(regs[e.id - 1])
            saved = self.store.load("tx%d" % e.id)
            if saved:
                try:
                    e.recover(saved)
                except Exception as ex:
                    self.log("recover EVSE %d failed: %s" % (e.id, ex))
                done.append("tx%d" % e.id)
        if done:
            self.save_registers()  # before the transactions go: a cut in between keeps both
            for name in done:
                self.store.remove(name)

    def new_tx_id(self):
        """A transactionId unique across reboots (<= 36 chars): boot prefix + counter."""
        self._tx_n += 1
        return "%s-%d" % (self.rpc._prefix, self._tx_n)

    # ---- live values for the device model ---------------------------------------------------
    def now(self):
        return self.clock.now()

    def iso_now(self):
        return iso(self.clock.now())

    def availability_state(self, evse_id, connector_id):
        if evse_id == 0:
            if not self.operative:
                return "Unavailable"
            sts = [e.compute_status() for e in self.evses]
            for s in ("Occupied", "Faulted", "Available"):
                if s in sts and (s != "Faulted" or len(set(sts)) == 1):
                    return s
            return "Unavailable"
        e = self.evse(evse_id)
        return e.compute_status() if e else "Unavailable"

    def power_w(self, evse_id):
        """EVSE.Power Actual (W) from the meter HAL."""
        e = self.evse(evse_id)
        return e.hal.meter.power_w() if e else 0

    def available(self, evse_id, connector_id):
        if evse_id == 0:
            return self.operative
        e = self.evse(evse_id)
        return bool(e and e.operative and self.operative)

    def evse(self, evse_id):
        if isinstance(evse_id, int) and 1 <= evse_id <= len(self.evses):
            return self.evses[evse_id - 1]
        return None

    def online(self):
        return self.rpc.conn is not None and self.accepted

    # ---- outbound ----------------------------------------------------------------------------
    async def send(self, action, payload, timeout=None):
        """Send a non-transaction CALL (not queued across reboots). Returns the response payload or
        None when it could not be delivered (offline, queue full, timeout, CALLERROR)."""
        if timeout is None:
            timeout = self.dm.get(ids.MESSAGE_TIMEOUT)
        try:
            self.last_call_ms = self.clock.ms()
            return await self.rpc.call(action, payload, timeout)
        except (_rpc.RpcTimeout, _rpc.CallError, _rpc.QueueFull, _rpc.NotConnected) as e:
            self.log("%s not delivered: %s %s" % (action, type(e).__name__, e))
            return None

    def kick_tx(self):
        self._tx_kick.set()

    def wake(self):
        """HAL input changed: run the poll loop now."""
        self._wake.set()

    def update_status(self, evse):
        """G01: one StatusNotification per change of the connector status, none duplicated."""
        s = evse.compute_status()
        if s != evse.status:
            evse.status = s
            if self.accepted:
                asyncio.create_task(self._notify_status(evse))

    async def _notify_status(self, evse, force=False):
        # E06/G01: after a transaction ended, its queued TransactionEvents (the Ended event) go
        # before the connector's new status; bounded by MessageTimeout so a silent CSMS cannot
        # hold the status back.
        tid = evse.last_tx_id
        if tid is not None:
            t0 = self.clock.ms()
            limit = self.dm.get(ids.MESSAGE_TIMEOUT) * 1000
            while self.online() and self.txq.has(tid) and self.clock.ms() - t0 < limit:
                await self.clock.sleep(0.05)
            if not self.txq.has(tid):
                evse.last_tx_id = None
        s = evse.status
        if not force and self.reported.get(evse.id) == s:
            return
        self.reported[evse.id] = s
        r = await self.send("StatusNotification", {"timestamp": self.iso_now(), "connectorStatus": s,
                                                   "evseId": evse.id, "connectorId": 1})
        if r is None and self.reported.get(evse.id) == s:
            del self.reported[evse.id]  # not delivered: tell again when back online (B04)

    def save_registers(self):
        """Persist every EVSE's energy register (Wh), read back by ``_recover`` after a reboot."""
        try:
            self.store.save("meter", [e.hal.meter.energy_wh() for e in self.evses])
        except Exception as ex:
            self.log("meter register not saved: %s" % ex)

    def tx_ended(self, evse):
        """A transaction ended: apply a Scheduled ChangeAvailability / Reset (G03.FR.05,
        B12.FR.01)."""
        if evse.pending_op is not None:
            evse.operative = evse.pending_op
            evse.pending_op = None
            self._save_state()
        if self.pending_station_op is not None and not any(e.tx for e in self.evses):
            self.operative = self.pending_station_op
            self.pending_station_op = None
            self._save_state()
        if self.reset_pending == "OnIdle" and not any(e.tx for e in self.evses):
            self._reset_now.set()

    # ---- tasks --------------------------------------------------------------------------------
    async def run(self):
        """Run until a Reset has been executed; returns "reset"."""
        tasks = [asyncio.create_task(self._connection_task()),
                 asyncio.create_task(self._poll_task()),
                 asyncio.create_task(self._boot_task()),
                 asyncio.create_task(self._heartbeat_task()),
                 asyncio.create_task(self._tx_task()),
                 asyncio.create_task(meter.aligned_task(self)),
                 asyncio.create_task(meter.aligned_task(self, ids.ALIGNED_TX_ENDED_INTERVAL))]
        for obj in [self.rfid] + [e.hal.meter for e in self.evses] + [e.hal.contactor for e in self.evses]:
            if hasattr(obj, "task"):
                tasks.append(asyncio.create_task(obj.task()))
        await self._reset_now.wait()
        await self._execute_reset()
        for t in tasks:
            t.cancel()
        await asyncio.sleep(0)
        conn = self.rpc.conn
        self.rpc.disconnected()
        if conn:
            try:
                await conn.close()
            except Exception:
                pass
        return "reset"

    def _auth(self):
        pw = self.dm.get(ids.BASIC_AUTH_PASSWORD) or self.settings.get("password")
        return (self.station_id, pw) if pw else None

    async def _connect(self, url):
        max_frame = getattr(self.board, "MAX_FRAME", 8192)
        timeout = self.dm.get(ids.MESSAGE_TIMEOUT)
        if self.ws_factory:
            return await self.ws_factory(url, self._auth(), max_frame, self.clock)
        from lite_stack.ws import WebSocket
        return await WebSocket.connect(url, "ocpp2.0.1", self._auth(), None, max_frame, timeout,
                                       self.clock)

    async def _connection_task(self):
        """Part 4 §5.3 reconnect back-off: the first retry after RetryBackOffWaitMinimum plus a random
        part of RetryBackOffRandomRange; the wait doubles RetryBackOffRepeatTimes times, then stays."""
        base = self.settings["csms_url"].rstrip("/")
        url = base + "/" + self.station_id
        fails = 0
        while True:
            try:
                conn = await self._connect(url)
            except Exception as e:  # OSError, WsError, timeouts: all mean "try again later"
                self.log("connect failed: %s %s" % (type(e).__name__, e))
                conn = None
            if conn is None:
                wait = self.dm.get(ids.RETRY_BACKOFF_WAIT_MINIMUM)
                wait <<= min(fails, self.dm.get(ids.RETRY_BACKOFF_REPEAT_TIMES))
                rr = self.dm.get(ids.RETRY_BACKOFF_RANDOM_RANGE)
                if rr > 0:
                    wait += int.from_bytes(os.urandom(2), "big") % (rr + 1)
                fails += 1
                await self.clock.sleep(wait)
                continue
            fails = 0
            self.rpc.conn = conn
            self.log("connected to %s" % url)
            self._connected.set()
            ping = asyncio.create_task(self._ping_task(conn))
            if self.accepted:
                asyncio.create_task(self._back_online())
            try:
                while True:
                    text = await conn.recv()
                    if text is None:
                        break
                    await self.rpc.on_frame(text)
            except Exception as e:
                self.log("connection error: %s %s" % (type(e).__name__, e))
            ping.cancel()
            self._connected.clear()
            self.rpc.disconnected()
            self.offline_since = self.clock.ms()
            self.log("disconnected")
            try:
                await conn.close()
            except Exception:
                pass

    async def _ping_task(self, conn):
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

    async def _back_online(self):
        """B04: after reconnecting, report every connector status if the station was offline longer
        than OfflineThreshold (B04.FR.01), otherwise only those that changed (B04.FR.02)."""
        off = self.clock.ms() - self.offline_since
        force = off > self.dm.get(ids.OFFLINE_THRESHOLD) * 1000
        for e in self.evses:
            await self._notify_status(e, force)
        self.kick_tx()

    async def _boot_task(self):
        """B01-B03 registration."""
        while not self.accepted:
            await self._connected.wait()
            payload = {"reason": self.boot_reason, "chargingStation": {
                "model": self.board.MODEL, "vendorName": self.board.VENDOR,
                "serialNumber": self.board.SERIAL, "firmwareVersion": self.board.FIRMWARE_VERSION}}
            self._boot_trigger.clear()
            r = await self.send("BootNotification", payload)
            interval = SAMPLE_DEFAULT_RETRY
            if r is not None:
                self.registration = r["status"]
                try:
                    self.clock.set_time(parse_iso(r["currentTime"]))
                except ValueError:
                    pass
                if r["interval"] > 0:
                    interval = r["interval"]
                if r["status"] == "Accepted":
                    if r["interval"] > 0:
                        self.dm.set(ids.HEARTBEAT_INTERVAL, r["interval"])
                        self._hb_change.set()
                    self.accepted = True
                    await self._on_accepted()
                    return
            elif self.rpc.conn is None:
                continue
            # Pending / Rejected / no answer: wait `interval` (B02.FR.01, B03.FR.01); a TriggerMessage
            # for BootNotification during Pending cuts the wait short (F06.FR.xx).
            await self.clock.wait(self._boot_trigger, interval)

    async def _on_accepted(self):
        self.log("registration Accepted")
        reason = self.boot_reason
        self.boot_reason = "PowerUp"
        for e in self.evses:
            e.status = e.compute_status()
            await self._notify_status(e, True)
        if reason == "RemoteReset":
            await self.security_event("ResetOrReboot", "Reset by the CSMS")
        else:
            await self.security_event("StartupOfTheDevice", None)
        for name in self.store.corrupt:
            await self.security_event("StateFileCorrupt", ("recovered defaults for " + name)[:255])
        self.store.corrupt[:] = []
        self.kick_tx()

    async def security_event(self, kind, info):
        """A02/A03 style SecurityEventNotification (not queued across reboots)."""
        p = {"type": kind, "timestamp": self.iso_now()}
        if info:
            p["techInfo"] = info
        if self.accepted:
            await self.send("SecurityEventNotification", p)

    async def _heartbeat_task(self):
        while True:
            iv = self.dm.get(ids.HEARTBEAT_INTERVAL)
            if iv <= 0:
                await self.clock.sleep(60)
                continue
            due = self.last_call_ms + iv * 1000
            now = self.clock.ms()
            if now < due:
                self._hb_change.clear()
                await self.clock.wait(self._hb_change, (due - now) / 1000)
                continue
            if self.online():
                await self.heartbeat()
            else:
                self.last_call_ms = now

    async def heartbeat(self):
        r = await self.send("Heartbeat", {})
        if r:
            try:
                self.clock.set_time(parse_iso(r["currentTime"]))
            except ValueError:
                pass

    async def _poll_task(self):
        poll_s = self.settings.get("poll_ms", 100) / 1000
        while True:
            for e in self.evses:
                try:
                    e.poll()
                except Exception as ex:
                    self.log("EVSE %d poll error: %s %s" % (e.id, type(ex).__name__, ex))
            t = self.rfid.poll() if self.rfid else None
            if t:
                asyncio.create_task(self.on_token(t[0], t[1]))
            self.loop_ms = self.clock.ms()  # liveness for the firmware watchdog
            self._wake.clear()
            await self.clock.wait(self._wake, poll_s)

    async def _tx_task(self):
        """E11-E13: deliver queued TransactionEvents in order; retry MessageAttempts[TransactionEvent]
        times, waiting MessageAttemptInterval[TransactionEvent] x attempts between tries, when the CSMS
        does not answer or answers CALLERROR; then drop the message (E13.FR.03). A lost connection
        is not an attempt: the message waits for the next connection."""
        attempts = 0
        while True:
            h = self.txq.head() if self.online() else None
            if h is None:
                self._tx_kick.clear()
                await self.clock.wait(self._tx_kick, 5)
                continue
            handle, msg = h
            try:
                self.last_call_ms = self.clock.ms()
                r = await self.rpc.call("TransactionEvent", msg, self.dm.get(ids.MESSAGE_TIMEOUT))
            except _rpc.NotConnected:
                continue
            except _rpc.QueueFull:
                await self.clock.sleep(1)
                continue
            except (_rpc.RpcTimeout, _rpc.CallError) as e:
                attempts += 1
                self.log("TransactionEvent seqNo %d attempt %d failed: %s" % (msg["seqNo"], attempts, e))
                if attempts >= self.dm.get(ids.MESSAGE_ATTEMPTS_TE):
                    self.txq.pop(handle)
                    attempts = 0
                else:
                    await self.clock.sleep(self.dm.get(ids.MESSAGE_ATTEMPT_INTERVAL_TE) * attempts)
                continue
            attempts = 0
            self.txq.pop(handle)
            info = r.get("idTokenInfo")
            if info and info.get("status") != "Accepted" and msg.get("idToken"):
                for e in self.evses:
                    if e.tx and e.tx.id == msg["transactionInfo"]["transactionId"]:
                        e.deauthorize()

    # ---- C01 authorization (local token) ------------------------------------------------------
    async def on_token(self, id_token, token_type):
        """An IdToken was presented at the reader (C01; E07 local stop)."""
        tok = {"idToken": id_token, "type": token_type}
        for e in self.evses:  # E07: the same token stops without asking the CSMS
            if e.tx and e.stop_by(tok, None):
                self.wake()
                return
        if self.online():
            info = await self.authorize(tok)
        elif self.dm.get(ids.OFFLINE_TX_FOR_UNKNOWN_ID):
            # C15: offline, unknown IdToken (no cache, no local list) allowed by
            # OfflineTxForUnknownIdEnabled; the CSMS judges it when the queued Started arrives
            # (idTokenInfo in TransactionEventResponse, E05 with StopTxOnInvalidId).
            info = {"status": "Accepted"}
        else:
            info = None  # C15.FR.02: offline without unknown-id authorization: no transaction
        status = info.get("status") if info else None
        group = info.get("groupIdToken") if info else None
        if status == "Accepted":
            for e in self.evses:  # C09 / E07: another token of the same group stops
                if e.tx and e.stop_by(tok, group):
                    self.wake()
                    return
            target = None
            for e in self.evses:
                if not e.tx and e.is_operative() and e.plugged and not e.auth:
                    target = e
                    break
            if target is None:
                for e in self.evses:
                    if not e.tx and e.is_operative() and not e.auth:
                        target = e
                        break
            if target:
                target.authorize(tok, group)
                self.wake()
        else:
            self.log("IdToken %s not authorized: %s" % (id_token, status))

    async def authorize(self, tok):
        """C01: AuthorizeRequest; returns the idTokenInfo dict or None when offline/no answer."""
        if not self.online():
            return None
        r = await self.send("Authorize", {"idToken": tok})
        return r.get("idTokenInfo") if r else None

    # ---- CSMS-initiated requests ---------------------------------------------------------------
    def _handlers(self):
        from lite_stack import handlers
        return handlers.table(self)

    def _on_var_change(self, vid, value):
        if vid == ids.HEARTBEAT_INTERVAL:
            self._hb_change.set()
        ev = self.var_waiters.get(vid)
        if ev:
            ev.set()

    async def _execute_reset(self):
        """B11/B12: end transactions (ImmediateReset), try to deliver the queue briefly, persist the
        boot reason so the next BootNotification says RemoteReset."""
        for e in self.evses:
            e.end_now("ResetCommand", "ImmediateReset")
        self.boot_reason = "RemoteReset"
        self._save_state("RemoteReset")
        for _ in range(50):
            if not len(self.txq) or not self.online():
                break
            self.kick_tx()
            await self.clock.sleep(0.1)

    def request_reset(self, kind):
        if kind == "Immediate" or not any(e.tx for e in self.evses):
            self._reset_now.set()
        else:
            self.reset_pending = "OnIdle"
