"""Optional charger inputs/outputs: fault inputs (RCD, overtemperature) and a status LED.

- ``FaultPin(pin, code="RCD", active=0, latch=True)`` (``hal.FaultInput``): ``active()`` ->
  None or ``code`` while the pin is at its ``active`` level; latched faults stay until ``clear()``
  succeeds (only once the input is inactive). For an RDC-DD / RCD trip output (IEC 62955,
  IEC 61851-1:2017 8.5: DC fault current protection) latching is the safe default; the code
  "RCD" is what lite_stack.evse reports as a GroundFault.
- ``AnyFault(*inputs)``: the first active code of several fault inputs (e.g. RCD and pilot).
- ``EvseLed(pin, clock, evse, active=1)``: shows the hardware state of one ``hal.Evse`` without
  any help from the stack: fault -> fast blink (4 Hz), contactor closed -> slow blink (1 Hz),
  EV plugged -> on, idle -> off with a 50 ms blip every 2 s. ``poll()`` updates the pin;
  ``async task()`` calls it every 125 ms. Board modules hang it on ``evse.led``.
"""


class FaultPin:
    def __init__(self, pin, code="RCD", active=0, latch=True):
        self.pin = pin
        self.code = code
        self.level = active
        self.latch = latch
        self._latched = False

    def active(self):
        if self.pin.value() == self.level:
            if self.latch:
                self._latched = True
            return self.code
        return self.code if self._latched else None

    def clear(self):
        """Reset a latched fault; False (still latched) while the input is active."""
        if self.pin.value() == self.level:
            return False
        self._latched = False
        return True


class AnyFault:
    def __init__(self, *inputs):
        self.inputs = inputs

    def active(self):
        for i in self.inputs:
            c = i.active()
            if c:
                return c
        return None


OFF = 0
ON = 1
SLOW = 2
FAST = 3
BLIP = 4


class EvseLed:
    def __init__(self, pin, clock, evse=None, active=1):
        self.pin = pin
        self.clock = clock
        self.evse = evse
        self.active = active
        self.mode = OFF
        self._running = False

    def pattern(self):
        """The mode for the EVSE's current hardware state (OFF/ON/SLOW/FAST/BLIP)."""
        e = self.evse
        if e is None:
            return self.mode
        if e.fault():
            return FAST
        if e.contactor.is_closed():
            return SLOW
        if e.pilot.state() in "BCD":
            return ON
        return BLIP

    def level(self, mode, ms):
        if mode == ON:
            return 1
        if mode == SLOW:
            return 1 if ms % 1000 < 500 else 0
        if mode == FAST:
            return 1 if ms % 250 < 125 else 0
        if mode == BLIP:
            return 1 if ms % 2000 < 50 else 0
        return 0

    def poll(self):
        self.mode = self.pattern()
        on = self.level(self.mode, self.clock.ms())
        self.pin.value(self.active if on else 1 - self.active)
        return on

    async def task(self):
        if self._running:
            return
        self._running = True
        try:
            while True:
                self.poll()
                await self.clock.sleep_ms(125)
        finally:
            self._running = False
