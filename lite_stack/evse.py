"""One EVSE with one connector: the connector state machine over the HAL inputs (IEC 61851-1
control pilot states A-F, fault input) and the shared state the functional blocks keep about it.

``Evse(evse_id, hal, emit)``; ``hal`` is a ``hal.Evse`` (pilot, contactor, meter, lock, fault);
``emit(kind, evse, data)`` is ``Context.emit``. ``read()`` samples the HAL once per poll and
emits the edges: ``fault`` (data = fault code, or None when cleared; the power path is opened
and no current offered before the event, IEC 61851-1 §6.3.1), ``plugged`` (pilot A -> B/C/D)
and ``unplugged`` (B/C/D -> A). The Evse holds no station or block reference.

Shared fields and the block that writes each:
- ``plugged``, ``fault``, ``pilot`` (last pilot state letter): this module.
- ``auth``: authorization (C01/F01): ``[idToken, groupIdToken or None, remoteStartId or None,
  since_ms, triggerReason]`` held for the next power-path close; transactions consumes it.
- ``tx``, ``last_tx_id``: transactions (E).
- ``operative``, ``pending_op``, ``status``: availability (G).
"""


class Evse:
    def __init__(self, evse_id, hal, emit):
        self.id = evse_id
        self.hal = hal
        self._emit = emit
        self.plugged = False
        self.fault = None
        self.pilot = "A"
        self.operative = True      # this EVSE's/connector's own persisted Operative flag (G03)
        self.pending_op = None     # ChangeAvailability waiting for the transaction to end (G03.FR.05)
        self.auth = None
        self.tx = None
        self.last_tx_id = None     # the transaction that ended last, until its messages are sent
        self.status = None         # the connector status last computed (G01)
        self._offered = 0
        hal.contactor.open()       # a (re)boot starts with the power path open and no PWM
        hal.pilot.set_current(0)

    def read(self):
        """Sample the pilot and the fault input; emit ``fault``/``plugged``/``unplugged`` edges.
        A pilot in state E or F is a fault ("PilotE"/"PilotF") unless the HAL reports one."""
        hal = self.hal
        fault = hal.fault()
        pilot = hal.pilot.state()
        self.pilot = pilot
        if pilot in "EF" and not fault:
            fault = "Pilot" + pilot
        if fault != self.fault:
            self.fault = fault
            if fault:
                self.open()
            self._emit("fault", self, fault)
        plugged = pilot in "BCD"
        if plugged != self.plugged:
            self.plugged = plugged
            self._emit("plugged" if plugged else "unplugged", self, None)

    def ev_ready(self):
        """The EV requests energy (pilot C or D)."""
        return self.pilot in "CD"

    def offer(self, amps):
        """Set the PWM current offer (A; 0 = no PWM), only on change."""
        if amps != self._offered:
            self._offered = amps
            self.hal.pilot.set_current(amps)

    def open(self):
        """Open the power path: contactor open and the PWM offer forced to 0 A (also when this
        object believes it is already 0: a fault must leave no doubt)."""
        self.hal.contactor.open()
        self._offered = 0
        self.hal.pilot.set_current(0)

    def close(self):
        """Close the contactor; True when closed (the HAL may refuse, e.g. a welded check)."""
        return self.hal.contactor.close()

    def is_closed(self):
        return self.hal.contactor.is_closed()
