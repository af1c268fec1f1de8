"""The Charging Station: the composition root. It builds the store, the device model, the RPC
layer, the link, the EVSEs and the functional blocks (``lite_stack.blocks``), wires them through
one ``lite_stack.context.Context`` and runs their tasks; it holds no OCPP behaviour of its own.

``Station(settings, board, clock=None, hal=None, ws_factory=None, log=None)``
- settings: dict with ``csms_url`` (the station appends "/<station_id>"), ``station_id``,
  ``password`` (None, or the HTTP Basic password of security profiles 1/2; a BasicAuthPassword
  set by the CSMS and persisted in the device model wins), ``state_dir`` (persisted state),
  ``evses`` (EVSEs, one connector each), ``poll_ms`` (HAL poll period, default 100); optional
  ``security_profile`` (default from the URL: ws 0 / ws + password 1 / wss 2),
  ``csms_root_cert`` / ``manufacturer_root_cert`` (path of a PEM file installed as
  CSMSRootCertificate / ManufacturerRootCertificate). URL, security profile and certificates
  are factory defaults: read only on a start whose state holds no network profile yet
  (``lite_stack.core.netconf``); afterwards the persisted state rules.
- board: a ``boards.*`` module; hal: ``(list of hal.Evse, rfid reader)`` or None for
  ``board.make_hal(clock, evses)``; ws_factory: ``async (url, auth, max_frame, clock) -> connection``
  with ``recv/send/ping/close`` (default ``lite_stack.core.ws.WebSocket.connect``); log:
  callable(text) or None (frames are logged as "> " sent, "< " received).
- ``await run()`` returns "reset" after an OCPP Reset was executed (B11/B12): the caller reboots.

Data flows one way: frame -> ``Rpc`` -> ``Router`` -> block handler -> device model / HAL ->
event (``Context.emit``) -> block -> ``Context.send`` -> ``Rpc`` -> frame. The poll loop reads
the HAL of every EVSE (``Evse.read``: edge events) and then runs each block's per-EVSE ``poll``
step: authorization, transactions, availability.
"""
import asyncio

from device_model import ids
from lite_stack.core import release


class Station:
    def __init__(self, settings, board, clock=None, hal=None, ws_factory=None, log=None):
        # the classes used only here are imported here: no slot each in this module's dict (RAM)
        from device_model import DeviceModel
        from device_model.store import Store
        from lite_stack.blocks import Router
        from lite_stack.blocks.authorization import Authorization
        from lite_stack.blocks.availability import Availability
        from lite_stack.blocks.fwstatus import FirmwareStatus
        from lite_stack.blocks.metering import Metering
        from lite_stack.blocks.provisioning import Provisioning
        from lite_stack.blocks.security import Security
        from lite_stack.blocks.transactions import Transactions
        from lite_stack.clock import Clock
        from lite_stack.context import Context
        from lite_stack.core.link import Link
        from lite_stack.core.rpc import Rpc
        from lite_stack.diaglog import DiagLog
        from lite_stack.evse import Evse
        from lite_stack.txqueue import TxQueue
        self.settings = settings
        self.board = board
        self.clock = clock = clock or Clock()
        self.station_id = settings["station_id"]
        self.store = store = Store(settings.get("state_dir") or "ocpp_state")
        n = int(settings.get("evses") or getattr(board, "EVSES", 1))
        if hal is None:
            hal = board.make_hal(clock, n)
        evse_hal, self.rfid = hal
        self.txq = TxQueue(store, getattr(board, "TX_QUEUE", 64), 2 * n)
        self.dm = DeviceModel(board, store, n)
        self._log = log
        self.rpc = Rpc(clock, None, getattr(board, "SEND_QUEUE", 8), self._rpc_log if log else None)
        self.evses = []
        self.ctx = ctx = Context(clock, self.dm, store, board, self.evses, self.txq, self.rpc, log)
        for i in range(n):
            self.evses.append(Evse(i + 1, evse_hal[i], ctx.emit))
        self.rpc.spawn = ctx.spawn
        url = settings["csms_url"]
        from lite_stack.core.netconf import NetConf, factory_sp   # for this start only, see below
        fresh = NetConf(store, self.dm, url, factory_sp(
            url, settings.get("password"), settings.get("security_profile"))).fresh
        certs = ctx.certs
        if fresh:
            self._factory_certs(certs, settings, ctx.log)
        self.dm.set(ids.CERTIFICATE_ENTRIES, certs.count())
        # the DER reader, the certificates and the profiles come back when used (Context.certs/net)
        release("lite_stack.core.x509", "lite_stack.core.certstore", "lite_stack.core.netconf")
        self.dm.validate = self._validate
        self.link = Link(url, self.station_id, self.dm, clock, self.rpc, ctx.emit,
                         ctx.log, ws_factory, getattr(board, "MAX_FRAME", 8192),
                         settings.get("password"), ctx)
        ctx.reconnect = self.link.reconnect
        fw = FirmwareStatus(ctx)   # before provisioning: it may set the boot reason FirmwareUpdate
        self.provisioning = Provisioning(ctx, self.link.connected)
        ctx.reboot = self.provisioning.done.set
        self.availability = av = Availability(ctx)
        self.dm.live = av
        self.dm.on_change = lambda vid, v: ctx.emit("var", None, (vid, v))
        auth = Authorization(ctx)
        self.transactions = tx = Transactions(ctx)
        # composition order = event order: after registration the statuses go first, then the
        # security events, then the queued TransactionEvents
        # (F remote control is the on-demand block ``remote``: lite_stack.blocks.ON_DEMAND)
        self.blocks = [self.provisioning, av, Security(ctx), auth, tx, Metering(ctx), fw]
        self._polls = (auth.poll, tx.poll, av.poll)   # per EVSE: held auth, power path, status
        router = Router(ctx)
        ctx.demand = router.demand
        for b in self.blocks:
            router.add(b)
            if hasattr(b, "on_event"):
                ctx.subscribe(b)
        self.rpc.handlers = router
        self.diag = DiagLog(getattr(store, "root", None), clock)   # N01 diagnostics log; taps ctx.log
        self.diag.attach(ctx)
        self.loop_ms = clock.ms()   # liveness for the firmware watchdog

    def _factory_certs(self, certs, settings, log):
        for key, typ in (("csms_root_cert", "CSMSRootCertificate"),
                         ("manufacturer_root_cert", "ManufacturerRootCertificate")):
            path = settings.get(key)
            if path:
                with open(path) as f:
                    st = certs.install(typ, f.read())
                log("factory %s %s: %s" % (typ, path, st))

    def _validate(self, vid, value):
        # DeviceModel.validate: NetworkConfigurationPriority (B10, A05.FR.02)
        if vid == ids.NETWORK_CONFIGURATION_PRIORITY:
            try:
                return self.ctx.net.check_priority(value, bool(self.ctx.certs.roots()))
            finally:
                release("lite_stack.core.certstore", "lite_stack.core.netconf")
        return True

    def _rpc_log(self, direction, text):
        self._log(direction + " " + text)

    # ---- read-only views (sim, lab panel, tests) ----------------------------------------------------
    @property
    def certs(self):
        """The installed CA certificates, read now (``Context.certs``; tests, bench)."""
        return self.ctx.certs

    @property
    def net(self):
        """The network connection profiles, read now (``Context.net``; tests)."""
        return self.ctx.net

    @property
    def accepted(self):
        return self.ctx.accepted

    @property
    def registration(self):
        return self.ctx.registration

    def online(self):
        return self.ctx.online()

    def wake(self):
        """HAL input changed: run the poll loop now."""
        self.ctx.wake()

    # ---- tasks -----------------------------------------------------------------------------------------
    async def run(self):
        """Run until a Reset has been executed; returns "reset"."""
        coros = [self.link.run(), self._poll_task()]
        for b in self.blocks:
            if hasattr(b, "tasks"):
                coros.extend(b.tasks())
        for obj in [self.rfid] + [e.hal.meter for e in self.evses] + [e.hal.contactor for e in self.evses]:
            if hasattr(obj, "task"):
                coros.append(obj.task())
        tasks = [asyncio.create_task(c) for c in coros]
        await self.provisioning.done.wait()
        if self.provisioning.job is not None:
            tasks.append(self.provisioning.job)   # the Reset being executed (B11/B12)
        for t in tasks:
            t.cancel()
        self.ctx.tasks.cancel()
        await asyncio.sleep(0)
        await self.link.close()
        return "reset"

    async def _poll_task(self):
        ctx = self.ctx
        poll_s = self.settings.get("poll_ms", 100) / 1000
        while True:
            now = ctx.clock.ms()
            for e in self.evses:
                try:
                    e.read()
                    for step in self._polls:
                        step(e, now)
                except Exception as ex:
                    ctx.log("EVSE %d poll error: %s %s" % (e.id, type(ex).__name__, ex))
            t = self.rfid.poll() if self.rfid else None
            if t:
                ctx.emit("token", None, (t[0], t[1]))
            self.loop_ms = ctx.clock.ms()
            ctx.wake_ev.clear()
            await ctx.clock.wait(ctx.wake_ev, poll_s)
