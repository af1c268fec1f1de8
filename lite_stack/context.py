"""The narrow view a functional block gets of the Charging Station (``Context``), and the one
bounded task set.

A block (``lite_stack/blocks/<block>.py``) never sees the station or another block. It gets a
``Context`` and talks through it:

- ``clock`` (the one injectable clock), ``dm`` (device model), ``store`` (persisted records; each
  block owns the record names it writes), ``board`` (constants), ``evses`` (list of
  ``lite_stack.evse.Evse``: the shared connector state), ``queue`` (the persisted
  TransactionEvent queue, ``lite_stack.txqueue.TxQueue``), ``log(text)`` (also written to
  ``diag``, the diagnostics log ``lite_stack.diaglog.DiagLog``, when set; its ``upload`` is the
  requestId of the GetLog upload in progress or None).
- ``await send(action, payload)``: a non-transaction CALL; the response payload, or None when it
  could not be delivered (offline, send queue full, timeout, CALLERROR).
- ``emit(kind, evse, data)``: an event to every block that has ``on_event``, called at once in
  the order the blocks were composed; a block that has async work returns a coroutine, which
  runs as a task (``emit``) or is awaited in order (``await emit_wait(...)``). Events:
    ``connected``: None, None (WebSocket open)          ``disconnected``: None, None
    ``accepted``: None, boot reason (B01 registration Accepted in this run)
    ``plugged`` / ``unplugged``: evse, None (control pilot left/entered state A)
    ``fault``: evse, fault code or None (cleared)
    ``token``: None, (idToken, type) presented at the reader (C01)
    ``remote_start``: evse, (idToken dict, groupIdToken or None, remoteStartId) (F01/F02)
    ``stop``: evse, (triggerReason, stoppedReason, idToken or None) (E07, F03, ...)
    ``end_all``: None, (triggerReason, stoppedReason) (B12 Reset)
    ``tx_started`` / ``tx_ended``: evse, transactionId
    ``meter_clock``: evse, MeterValueType (J01 aligned sample while a transaction runs)
    ``meter_clock_ended``: evse, ``[[measurand, value], ...]`` (J01 TxEnded aligned sample)
    ``var``: None, (variable id, value) after the CSMS changed a variable (B05)
    ``customer_clear``: None, idToken dict (N10: drop what is held for this IdToken)
    ``security``: None, (SecurityEventEnumType text, techInfo or None) (A04)
- ``triggers``: dict requestedMessage -> callable(targets) -> status string, filled by the block
  that owns the message, used by TriggerMessage (F06).
- ``after(fn, dropped=None)``: run the zero-argument coroutine function ``fn`` once the response
  to the CALL being handled has been sent (F06 triggered messages, B07 NotifyReport parts, B11
  Reset); ``dropped()`` instead when it never starts (task set full, ...): an on-demand block
  passes its ``done``.
- ``spawn(coro)``: start a task in the station's one bounded task set (``TaskSet``).
- ``reconnect``: coroutine function closing the CSMS connection so that the link opens a new one
  at once (A01 after a new BasicAuthPassword; run it through ``after``), or None.
- ``certs``: the installed CA certificates (M03-M05), a ``lite_stack.core.certstore.CertStore``
  read from the store on each access (not resident: whoever reads it releases
  ``lite_stack.core.certstore`` after its use; an on-demand block lists it in ``RELEASE``);
  ``keep_csms_root`` (link: the connection in use has security profile >= 2, so the last
  CSMSRootCertificate may not be deleted, M04);
  ``net``: the network connection profiles (B09/B10/A05), a ``lite_stack.core.netconf.NetConf``
  read from the store on each access (not resident either: the user releases
  ``lite_stack.core.netconf``).
- ``demand(name)``: start the on-demand block ``name`` without a request (its ``resume``; see
  ``lite_stack.blocks``); ``reboot()``: end this run as after an executed Reset (the station's
  ``run`` returns "reset", the caller restarts: L01 InstallRebooting); ``download`` / ``upload``:
  None, or an async downloader / uploader with the signature of ``lite_stack.core.http.download``
  / ``upload`` used instead of the HTTP/FTP client (tests, fuzzing).
- Shared station state, each field written by one block only: ``accepted``/``registration``
  and ``boot_reason`` (provisioning: this start's BootReasonEnumType), ``operative`` (availability: the Charging Station-level Operative flag, G04),
  ``reset_pending`` (provisioning: "OnIdle" while a Reset waits for transactions, B12.FR.01),
  ``fw_pending`` (firmware: an install waits for the transactions to end, L01.FR.06/07: no new
  transaction, idle connectors Unavailable), ``last_call_ms`` (any CALL; the heartbeat block reads it, G02.FR.02), ``offline_since``
  (link).
"""
import asyncio

from device_model import ids
from lite_stack.clock import iso, Kick, parse_iso
from lite_stack.core import release, rpc as _rpc


def same_token(a, b):
    """Do the IdTokenType dicts ``a`` and ``b`` name the same IdToken: equal ``idToken`` and
    ``type`` (Part 2 IdTokenType; ``additionalInfo`` ignored)? False when ``a`` is empty/None."""
    return bool(a) and a.get("idToken") == b.get("idToken") and a.get("type") == b.get("type")


def status(s, reason=None):
    """A response payload ``{"status": s}``, with ``statusInfo.reasonCode`` when ``reason`` is given
    (Part 2 StatusInfoType; reasonCode is a CiString of at most 20 characters)."""
    r = {"status": s}
    if reason:
        r["statusInfo"] = {"reasonCode": reason}
    return r


class TaskSet:
    """The station's fire-and-forget tasks (status notifications, token handling, jobs after a
    response), each kept referenced until it ends: CPython's loop holds tasks weakly, so an
    unreferenced task can be collected mid-run.

    Bound: ``limit`` tasks (board ``TASKS``, default 8). When full, ``spawn`` closes the new
    coroutine without running it, counts it in ``refused``, and returns None: the callers are
    paths that a later event repeats (a status is re-sent on change or reconnect; a card can be
    presented again), never the transaction queue, which has its own task."""

    def __init__(self, limit=8, log=None):
        self.limit = limit
        self.refused = 0
        self._log = log
        self._tasks = []

    def __len__(self):
        return len(self._tasks)

    def spawn(self, coro):
        if len(self._tasks) >= self.limit:
            self.refused += 1
            try:
                coro.close()
            except Exception:
                pass
            if self._log:
                self._log("task set full (%d): a job was refused" % self.limit)
            return None
        t = asyncio.create_task(self._run(coro))
        self._tasks.append(t)
        return t

    async def _run(self, coro):
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a block bug must never take the station down
            if self._log:
                self._log("task failed: %s %s" % (type(e).__name__, e))
        finally:
            self._forget()

    def _forget(self):
        cur = asyncio.current_task()
        for i in range(len(self._tasks)):
            if self._tasks[i] is cur:
                self._tasks.pop(i)
                return

    def cancel(self):
        for t in self._tasks:
            t.cancel()
        self._tasks = []


class Context:
    """See the module docstring. Built by ``lite_stack.station.Station``."""

    def __init__(self, clock, dm, store, board, evses, queue, rpc, log=None):
        self.clock = clock
        self.dm = dm
        self.store = store
        self.board = board
        self.evses = evses
        self.queue = queue
        self.rpc = rpc
        self._log = log
        self.tasks = TaskSet(getattr(board, "TASKS", 8), self.log)
        self.triggers = {}
        self._subs = []
        self.accepted = False
        self.registration = None
        self.operative = True
        self.reset_pending = None
        self.fw_pending = False
        self.demand = None
        self.reboot = None
        self.download = None
        self.upload = None
        self.boot_reason = "PowerUp"
        self.last_call_ms = clock.ms()
        self.offline_since = clock.ms()
        self.wake_ev = Kick()
        self.reconnect = None
        self.keep_csms_root = False
        self.diag = None

    @property
    def certs(self):
        """The installed CA certificates, read now: ``CertStore(store, board CERT_SLOTS or 4)``
        with ``keep_csms_root`` (see the module docstring; the caller releases the module)."""
        from lite_stack.core.certstore import CertStore
        c = CertStore(self.store, getattr(self.board, "CERT_SLOTS", 4))
        c.keep_csms_root = self.keep_csms_root
        return c

    def csms_tls(self):
        """The verifying TLS client context that trusts the installed CSMSRootCertificates
        (``core.certstore.tls_context``: certificate and host name checked), or None when none is
        installed; ``core.certstore`` is released after (RAM). Used for wss:// (A00 security
        profile 2, the link) and https:// file transfers (L01, N01)."""
        try:
            roots = self.certs.roots()
            if not roots:
                return None
            from lite_stack.core.certstore import tls_context
            return tls_context(roots)
        finally:
            release("lite_stack.core.certstore")

    @property
    def net(self):
        """The network connection profiles, read now: ``NetConf(store, dm)`` (see the module
        docstring; the caller releases the module)."""
        from lite_stack.core.netconf import NetConf
        return NetConf(self.store, self.dm)

    def log(self, text):
        if self.diag is not None:   # the diagnostics log (lite_stack.diaglog, N01)
            self.diag.add(text)
        if self._log:
            self._log(text)

    def subscribe(self, block):
        self._subs.append(block)

    def _fire(self, kind, evse, data):
        jobs = None
        for b in self._subs:
            try:
                c = b.on_event(kind, evse, data)
            except Exception as e:
                self.log("event %s failed: %s %s" % (kind, type(e).__name__, e))
                continue
            if c is not None:
                if jobs is None:
                    jobs = []
                jobs.append(c)
        return jobs

    def emit(self, kind, evse=None, data=None):
        """Tell every subscribed block; a coroutine a block returns runs as a task."""
        for c in self._fire(kind, evse, data) or ():
            self.spawn(c)

    async def emit_wait(self, kind, evse=None, data=None):
        """As ``emit``, but the blocks' coroutines run one after the other, in composition order,
        before this returns (e.g. after registration: statuses, then security events)."""
        jobs = self._fire(kind, evse, data) or ()
        i = 0
        try:
            while i < len(jobs):
                c = jobs[i]
                i += 1
                try:
                    await c
                except Exception as e:
                    self.log("event %s failed: %s %s" % (kind, type(e).__name__, e))
        finally:
            while i < len(jobs):   # cancelled (e.g. a Reset): never leave a coroutine unawaited
                jobs[i].close()
                i += 1

    def spawn(self, coro):
        return self.tasks.spawn(coro)

    def after(self, fn, dropped=None):
        """Queue ``fn`` to run after the current response (Rpc.after, at most Rpc.MAX_AFTER);
        ``dropped()`` is called instead if it never starts (see ``Rpc.add_after``)."""
        self.rpc.add_after(fn, dropped)

    def wake(self):
        """A HAL input or a block's state changed: run the poll loop now."""
        self.wake_ev.set()

    def online(self):
        """Connected and registered (B01 Accepted in this run)."""
        return self.rpc.conn is not None and self.accepted

    def csms_time(self, text):
        """Set the clock from a CSMS ``currentTime`` (BootNotificationResponse B01, HeartbeatResponse G02)
        when ClockCtrlr.TimeSource names Heartbeat first; with RealTimeClock first the board's own
        clock is kept. A malformed time is ignored."""
        src = self.dm.get(ids.TIME_SOURCE)
        if not src.startswith("Heartbeat"):
            return
        try:
            self.clock.set_time(parse_iso(text))
        except (ValueError, TypeError):
            pass

    def iso_now(self):
        return iso(self.clock.now())

    def evse(self, evse_id):
        """The Evse with id ``evse_id`` (1-based), or None."""
        if type(evse_id) is int and 1 <= evse_id <= len(self.evses):
            return self.evses[evse_id - 1]
        return None

    def may_start(self, e):
        """May a new transaction start on EVSE ``e``? (G03/G04 Operative, no fault, no Reset
        OnIdle pending: B12.FR.01, no firmware install pending: L01.FR.07)"""
        return e.operative and self.operative and not e.fault and not self.reset_pending \
            and not self.fw_pending

    async def send(self, action, payload, timeout=None):
        """A non-transaction CALL (not queued across reboots). Returns the response payload, or
        None when it could not be delivered."""
        if timeout is None:
            timeout = self.dm.get(ids.MESSAGE_TIMEOUT)
        try:
            self.last_call_ms = self.clock.ms()
            return await self.rpc.call(action, payload, timeout)
        except (_rpc.RpcTimeout, _rpc.CallError, _rpc.QueueFull, _rpc.NotConnected) as e:
            self.log("%s not delivered: %s %s" % (action, type(e).__name__, e))
            return None
