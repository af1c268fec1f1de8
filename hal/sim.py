"""Simulated drivers that behave like the hardware (used by the desktop simulator and tests).

- ``SimPilot``: the EV side of the control pilot. ``plug_in()`` -> state B, then C once the EV
  requests energy (by default right after plugging in) *and* the EVSE offers current (PWM on),
  as a real EV only closes S2 when it sees a PWM signal; ``plug_out()`` -> A; ``ev_state("B"|"C")``.
- ``SimContactor``: closes only while the pilot is in C/D and current is offered; reports a
  ``fault`` as an error code; opens by itself when the pilot leaves C/D (EV opened S2).
- ``SimMeter``: energy grows with power x time on the injected clock (integer Wh, remainder
  carried in mWh so no energy is lost to rounding); power is 0 while the contactor is open.
- ``SimRfid``: one queued swipe at a time is returned by ``poll()``; a new swipe replaces an unread one.
"""
from hal import ControlPilot, Contactor, EnergyMeter, RfidReader, ConnectorLock, FaultInput, Evse, \
    duty_for_current


class SimPilot(ControlPilot):
    def __init__(self):
        self.plugged = False
        self.ev_wants = True  # EV requests energy (S2 closed) when allowed
        self.amps = 0
        self.error = None  # "E" or "F" to simulate a pilot fault

    def plug_in(self):
        self.plugged = True
        self.ev_wants = True

    def plug_out(self):
        self.plugged = False

    def ev_state(self, st):
        self.ev_wants = st in ("C", "D")

    def state(self):
        if self.error:
            return self.error
        if not self.plugged:
            return "A"
        if self.ev_wants and self.amps >= 6:
            return "C"
        return "B"

    def set_current(self, amps):
        self.amps = amps

    def duty_permille(self):
        return duty_for_current(self.amps)


class SimContactor(Contactor):
    def __init__(self, pilot):
        self.pilot = pilot
        self.closed = False
        self.error = None
        self.meter = None  # the SimMeter integrating energy while closed

    def _set(self, closed):
        if closed != self.closed and self.meter is not None:
            self.meter._update()  # integrate up to the switching moment at the old state
        self.closed = closed

    def close(self):
        if self.error or self.pilot.state() not in "CD" or self.pilot.amps < 6:
            return False
        self._set(True)
        return True

    def open(self):
        self._set(False)

    def is_closed(self):
        if self.closed and self.pilot.state() not in "CD":
            self._set(False)  # EV opened S2 / unplugged: the relay drops out
        return self.closed

    def fault(self):
        return self.error


class SimMeter(EnergyMeter):
    measurands = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
                  "Voltage")

    def __init__(self, clock, contactor, power_w=7400, voltage=230, phases=1, start_wh=0):
        self.clock = clock
        self.contactor = contactor
        self.set_power = power_w
        self.voltage = voltage
        self.phases = phases
        self._mwh = start_wh * 1000
        self._t = clock.ms()
        if hasattr(contactor, "meter"):
            contactor.meter = self

    def _update(self):
        t = self.clock.ms()
        dt = t - self._t
        self._t = t
        if dt > 0 and self.contactor.is_closed():
            self._mwh += self.set_power * dt // 3600  # W * ms / 3600 = mWh

    def set_energy_wh(self, wh):
        """Restore the import register (Wh) after a reboot (the station keeps it in flash)."""
        self._update()
        self._mwh = int(wh) * 1000

    def set_load(self, power_w):
        """The EV's power draw from now on (W); energy so far is integrated at the old power."""
        self._update()
        self.set_power = power_w

    def energy_wh(self):
        self._update()
        return self._mwh // 1000

    def power_w(self):
        self._update()
        return self.set_power if self.contactor.is_closed() else 0

    def read(self, measurand):
        if measurand == "Current.Import":
            p = self.power_w()
            return round(p / (self.voltage * self.phases), 1) if p else 0
        if measurand == "Voltage":
            return self.voltage
        return EnergyMeter.read(self, measurand)


class SimRfid(RfidReader):
    def __init__(self):
        self._pending = None

    def swipe(self, id_token, token_type="ISO14443"):
        self._pending = (id_token, token_type)

    def poll(self):
        p = self._pending
        self._pending = None
        return p


class SimLock(ConnectorLock):
    def __init__(self):
        self.unlocks = 0
        self.fail = False

    def unlock(self):
        self.unlocks += 1
        return not self.fail


class SimFault(FaultInput):
    def __init__(self):
        self.code = None

    def active(self):
        return self.code


def make_sim_evse(clock, fixed_cable=True, power_w=7400, lock=None):
    """One simulated EVSE with its pilot, contactor, meter, fault input and connector lock
    (``lock`` None: a lock for a socket outlet only; True/False: with or without one)."""
    pilot = SimPilot()
    contactor = SimContactor(pilot)
    meter = SimMeter(clock, contactor, power_w)
    if lock is None:
        lock = not fixed_cable
    return Evse(pilot, contactor, meter, SimLock() if lock else None, SimFault())
