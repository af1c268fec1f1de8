"""Hardware abstraction layer: what the OCPP stack needs from a charger, and nothing of OCPP.

The stack *polls* these objects from its main loop (MicroOcpp-style inputs/outputs), so a driver
never calls into the stack and never needs a thread or interrupt handler of its own. One ``Evse``
bundle per EVSE (one connector each); one ``RfidReader`` per station.

Interfaces (duck-typed; the classes below document the shapes and give safe defaults):

- ``ControlPilot`` (IEC 61851-1 control pilot): ``state()`` -> one of "A".."F" (A: no EV,
  B: EV connected / not ready, C: charging, D: charging with ventilation, E: no power / short,
  F: EVSE fault); ``set_current(amps)`` offers a current (0 = no PWM, +12 V steady: charging not
  allowed) and sets the PWM duty per IEC 61851-1 Annex A; ``duty_permille()`` the duty in 0.1 %.
- ``Contactor``: ``close()`` -> bool (False when the interlock refuses: EV not in state C/D or
  charging not allowed); ``open()``; ``is_closed()`` from the feedback contact (or the commanded
  state without one); ``fault()`` -> None or a short error code string (e.g. "Welded").
- ``EnergyMeter``: ``energy_wh()`` -> int Wh import register; ``power_w()`` -> int W;
  ``measurands`` tuple of OCPP measurand names it can deliver; ``read(measurand)`` -> number;
  optional ``set_energy_wh(wh)`` for meters whose register lives in RAM (S0 pulse counter,
  simulator): the station restores the register it persisted so that it never runs backwards
  across a reboot (a Modbus meter keeps its own register and has no such method).
- ``RfidReader``: ``poll()`` -> None or ``(id_token, token_type)`` once per swipe, e.g.
  ``("AB12CD34", "ISO14443")`` (UID as upper-case hex, Part 2 IdTokenEnumType).
- ``ConnectorLock`` (socket outlets only): ``unlock()`` -> bool.
- ``FaultInput``: ``active()`` -> None or an error code string (RCD trip, overtemperature...).
"""

# IEC 61851-1 control pilot states as single characters; "plugged" means the EV is connected.
PLUGGED_STATES = "BCD"
CHARGING_STATES = "CD"


def duty_for_current(amps):
    """PWM duty in permille for an offered current (IEC 61851-1:2017 Table A.8):
    6 A..51 A -> amps / 0.6 %; 51 A..80 A -> amps / 2.5 + 64 %; below 6 A (charging not allowed)
    -> 1000 (steady +12 V, no PWM). Returns an int in 0..1000."""
    if amps < 6:
        return 1000
    if amps <= 51:
        return int(amps * 1000 // 60)
    if amps <= 80:
        return int(amps * 4 + 640)
    return 960


class ControlPilot:
    def state(self):
        return "A"

    def set_current(self, amps):
        pass

    def duty_permille(self):
        return 1000


class Contactor:
    def close(self):
        return False

    def open(self):
        pass

    def is_closed(self):
        return False

    def fault(self):
        return None


class EnergyMeter:
    measurands = ("Energy.Active.Import.Register", "Power.Active.Import")

    def energy_wh(self):
        return 0

    def power_w(self):
        return 0

    def read(self, measurand):
        if measurand == "Energy.Active.Import.Register":
            return self.energy_wh()
        if measurand == "Power.Active.Import":
            return self.power_w()
        return None


class RfidReader:
    def poll(self):
        return None


class ConnectorLock:
    def unlock(self):
        return True


class FaultInput:
    def active(self):
        return None


class Evse:
    """The hardware of one EVSE with one connector: ``pilot``, ``contactor``, ``meter``,
    optional ``lock`` (None for a fixed cable) and optional ``fault_input``."""

    def __init__(self, pilot, contactor, meter, lock=None, fault_input=None):
        self.pilot = pilot
        self.contactor = contactor
        self.meter = meter
        self.lock = lock
        self.fault_input = fault_input

    def fault(self):
        """None or an error code from the fault input or the contactor."""
        f = self.fault_input.active() if self.fault_input else None
        return f or self.contactor.fault()
