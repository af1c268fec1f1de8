"""The OCPP 2.0.1 functional blocks (Part 2), one module each, and the router of CSMS requests.

Resident blocks are imported by the station at start and live as long as it does; each is a class
built with the station's ``lite_stack.context.Context`` and owns its handlers (``HANDLERS``:
action, method name, ... as flat pairs in a constant tuple), its TriggerMessage entries (``ctx.triggers``), its tasks (``tasks()``),
its event reactions (``on_event``), its per-EVSE poll step (``poll``) and its state:

  A security       SecurityEventNotification (A04)                         blocks/security.py
  B provisioning   B01-B04 registration, B11/B12 Reset                     blocks/provisioning.py
  C authorization  C01 Authorize, C15 offline                              blocks/authorization.py
  E transactions   E01-E10 and the TransactionEvent sender E11-E13         blocks/transactions.py
  G availability   G01 status, G02 heartbeat, G03/G04 ChangeAvailability   blocks/availability.py
  J metering       J01 clock-aligned meter values                          blocks/metering.py
  L fw status      L01 boot reason FirmwareUpdate, resume after a reboot,
                   TriggerMessage FirmwareStatusNotification               blocks/fwstatus.py

On-demand blocks (``ON_DEMAND``: action, module name, ... as flat pairs) are rare: the router imports the module
when its action arrives and drops it from ``sys.modules`` when its work is done, so its function
objects go back to the GC heap while it sleeps. Such a module has ``handle(ctx, action, payload,
done)``; it returns the response payload and calls ``done()`` once all its work (including jobs
run after the response) has ended; a job queued with ``ctx.after(job, done)`` also ends it when
the job never starts (task set full, answer cancelled), and a job calls ``done()`` in a
``finally`` so that a failed send, a CALLERROR or a cancellation ends it too:

  B variables      B05 SetVariables, B06 GetVariables                      blocks/variables.py
  B07 report       GetBaseReport -> NotifyReport                           blocks/report.py
  M certificates   InstallCertificate, GetInstalledCertificateIds,
                   DeleteCertificate (M03-M05)                             blocks/certificates.py
  B net profiles   SetNetworkProfile (B09, A05)                            blocks/netprofile.py
  F remote control F01-F06 RequestStart/StopTransaction, UnlockConnector,
                   TriggerMessage (routed to the resident blocks'
                   ``ctx.triggers``)                                       blocks/remote.py
  P data transfer  DataTransfer (P01)                                      blocks/datatransfer.py
  N customer info  CustomerInformation -> NotifyCustomerInformation
                   (N09 get, N10 clear)                                    blocks/customerinfo.py
  N diagnostics    N01 GetLog -> upload, LogStatusNotification (the
                   trigger and the diagnostics log are resident:
                   lite_stack.diaglog)                                     blocks/diagnostics.py
  L firmware       UpdateFirmware (L01 secure firmware update)             blocks/firmware.py
  E14 tx status    GetTransactionStatus (E14)                              blocks/txstatus.py
  C11 clear cache  ClearCache: Rejected, no cache (C11.FR.04)              blocks/clearcache.py

An on-demand block may also be started without a request: ``Router.demand(name)`` (``ctx.demand``)
calls its ``resume(ctx, done)`` (``fwstatus`` resumes a firmware update after a reboot).

Named places for the blocks still to come (answered CALLERROR NotImplemented until then):
smart charging (K:
``smartcharging``), local authorization list (D: ``locallist``), reservation (H:
``reservation``).
"""
import sys

from lite_stack.core import release   # noqa: F401 (also offered here: station, tests)

ON_DEMAND = (   # action, module name, ...: flat pairs, a constant tuple (ROM when frozen, a dict is RAM)
    "GetVariables", "variables",
    "SetVariables", "variables",
    "GetBaseReport", "report",
    "DataTransfer", "datatransfer",
    "RequestStartTransaction", "remote",
    "RequestStopTransaction", "remote",
    "UnlockConnector", "remote",
    "TriggerMessage", "remote",
    "InstallCertificate", "certificates",
    "GetInstalledCertificateIds", "certificates",
    "DeleteCertificate", "certificates",
    "SetNetworkProfile", "netprofile",
    "CustomerInformation", "customerinfo",
    "UpdateFirmware", "firmware",
    "GetLog", "diagnostics",
    "GetTransactionStatus", "txstatus",
    "ClearCache", "clearcache",
)

_PKG = "lite_stack.blocks"


def pair(pairs, key):
    """The value after ``key`` in a flat pairs tuple (``ON_DEMAND``, a block's ``HANDLERS``), or
    None: keys are at even indexes."""
    for i in range(0, len(pairs), 2):
        if pairs[i] == key:
            return pairs[i + 1]
    return None


def load(name):
    """Import the block module ``lite_stack.blocks.<name>`` and return it."""
    full = _PKG + "." + name
    __import__(full)
    return sys.modules[full]


class Router:
    """The handler table of ``Rpc``: resident handlers by action, on-demand blocks by name.

    ``get(action)`` -> callable(payload) or None (-> CALLERROR NotImplemented). An on-demand block
    is loaded on the first of its actions and released when the last job using it has called
    ``done`` (a count per module: two requests in flight keep it loaded)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.table = {}
        self.busy = {}   # on-demand module name -> requests not yet done

    def add(self, block):
        h = block.HANDLERS
        for i in range(0, len(h), 2):
            self.table[h[i]] = block   # the block, not a bound method: no object per action

    def get(self, action):
        b = self.table.get(action)
        if b is not None:
            return getattr(b, pair(b.HANDLERS, action))
        name = pair(ON_DEMAND, action)
        if name is None:
            return None
        return lambda p: self._demand(name, action, p)

    def demand(self, name):
        """Start the on-demand block ``name`` without a request: its ``resume(ctx, done)``."""
        mod, done = self._load(name)
        try:
            mod.resume(self.ctx, done)
        except Exception as e:
            done()
            self.ctx.log("%s resume failed: %s %s" % (name, type(e).__name__, e))

    def _demand(self, name, action, payload):
        mod, done = self._load(name)
        try:
            return mod.handle(self.ctx, action, payload, done)
        except Exception:
            done()
            raise

    def _load(self, name):
        mod = load(name)
        self.busy[name] = self.busy.get(name, 0) + 1
        finished = [False]

        def done():
            if finished[0]:
                return
            finished[0] = True
            n = self.busy.get(name, 1) - 1
            if n > 0:
                self.busy[name] = n
                return
            self.busy.pop(name, None)
            release(_PKG + "." + name, *getattr(mod, "RELEASE", ()))
        return mod, done
