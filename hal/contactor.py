"""Contactor (power relay) on a GPIO, with optional auxiliary-contact feedback.

Interface (``hal.Contactor``):

- ``close()`` -> bool: refuses (False, relay untouched) while the pilot is not in state C/D,
  while no current is offered (pilot duty 0 or 1000 permille: no PWM, charging not allowed),
  while the ``fault_input`` is active or after a contactor fault (IEC 61851-1:2017 A.3 / Table A.6:
  the supply is switched on only in C/D with PWM).
- ``open()``; ``is_closed()`` -> the feedback contact if wired (debounced by ``settle_ms``),
  else the commanded state; ``fault()`` -> None, "Welded" or "FailedToClose".
- Supervision (``check()``, run by ``is_closed()``, ``fault()`` and ``task()``): drops the relay
  as soon as the pilot leaves C/D, the PWM is removed or the fault input trips (IEC 61851-1
  Table A.6: switch off within 100 ms when the EV goes C -> B; ``task()`` checks every
  ``period_ms`` = 40 ms, so with the pilot's ``confirm`` = 2 bursts the relay drops at most
  80 ms after the EV opened S2, at one ADC burst per 40 ms). With a feedback contact a mismatch lasting ``settle_ms`` latches a fault:
  feedback closed while commanded open -> "Welded" (IEC 61851-1:2017 8.2 / IEC 62955 welding
  detection); feedback open while commanded closed -> "FailedToClose" (relay opened again).
  ``reset_fault()`` clears the latch only once the feedback agrees with the open relay.
- ``async task()``: optional supervision loop for the station (non-blocking, on the clock).

Levels: ``relay_active`` / ``feedback_active`` are the pin levels meaning "closed" (relay drivers
and mirror contacts wired to pull-ups are often active-low).
"""
from hal import Contactor


class RelayContactor(Contactor):
    def __init__(self, relay, pilot, clock, feedback=None, relay_active=1, feedback_active=1,
                 settle_ms=300, fault_input=None, period_ms=40):
        self.relay = relay
        self.pilot = pilot
        self.clock = clock
        self.feedback = feedback
        self.relay_active = relay_active
        self.feedback_active = feedback_active
        self.settle_ms = settle_ms
        self.fault_input = fault_input
        self.period_ms = period_ms
        self._cmd = False
        self._t = clock.ms()
        self._fault = None
        self.drops = 0  # interlock openings (EV left C/D, PWM removed, fault input)
        self._running = False
        relay.value(1 - relay_active)

    def allowed(self):
        """True when closing is permitted: pilot C/D, PWM on, no fault input, no latched fault."""
        if self._fault:
            return False
        if self.fault_input is not None and self.fault_input.active():
            return False
        if self.pilot.state() not in "CD":
            return False
        d = self.pilot.duty_permille()
        return 0 < d < 1000

    def _set(self, on):
        if on != self._cmd:
            self._cmd = on
            self._t = self.clock.ms()
        self.relay.value(self.relay_active if on else 1 - self.relay_active)

    def close(self):
        if not self.allowed():
            return False
        self._set(True)
        return True

    def open(self):
        self._set(False)

    def _fb(self):
        return self.feedback.value() == self.feedback_active

    def check(self):
        if self._cmd and not self.allowed():
            self._set(False)
            self.drops += 1
        if self.feedback is not None and self._fault is None:
            if self._fb() != self._cmd and self.clock.ms() - self._t >= self.settle_ms:
                if self._cmd:
                    self._fault = "FailedToClose"
                    self._set(False)
                else:
                    self._fault = "Welded"

    def is_closed(self):
        self.check()
        if self.feedback is None:
            return self._cmd
        return self._fb()

    def fault(self):
        self.check()
        return self._fault

    def reset_fault(self):
        """Clear a latched fault once the contact reads open; returns True when cleared."""
        if self._cmd or (self.feedback is not None and self._fb()):
            return False
        self._fault = None
        self._t = self.clock.ms()
        return True

    async def task(self):
        if self._running:
            return
        self._running = True
        try:
            while True:
                self.check()
                await self.clock.sleep_ms(self.period_ms)
        finally:
            self._running = False
