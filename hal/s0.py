"""Energy meter read through its S0 pulse output (IEC 62053-31 / DIN 43864).

The meter's open-collector S0 output pulls the input pin low for each ``1000 / pulses_per_kwh`` Wh
(e.g. 1000 imp/kWh -> 1 Wh per pulse). The pin interrupt (falling edge) only increments an int, so
it allocates nothing and may run as a hard IRQ.

Interface (``hal.EnergyMeter``):
- ``energy_wh()`` -> ``start_wh + pulses * 1000 // pulses_per_kwh`` (int Wh, no rounding drift:
  always computed from the total count).
- ``power_w()`` -> int W averaged over at least ``window_ms``: ``pulses * 3.6e9 / (ppk * ms)``.
  Without pulses the estimate decays to the largest power that would still have produced no
  pulse (one pulse in the quiet time) and reads 0 once that is below ``min_w``.
- ``set_energy_wh(wh)``: restore the register after a reboot (pulses are not kept across resets;
  the board/stack persists the last value) - the S0 line carries no absolute reading.
Power/energy updates happen in the getters on the injected clock; there is no task.
"""
from hal import EnergyMeter

_K = 3600000000  # W * ms per kWh


class S0Meter(EnergyMeter):
    def __init__(self, pin, clock, pulses_per_kwh=1000, start_wh=0, window_ms=10000, min_w=10):
        self.pin = pin
        self.clock = clock
        self.ppk = pulses_per_kwh
        self.start_wh = start_wh
        self.window_ms = window_ms
        self.min_w = min_w
        self.pulses = 0
        self._tw = clock.ms()
        self._cw = 0
        self._p = 0
        self._run = False
        pin.irq(handler=self._pulse, trigger=pin.IRQ_FALLING)

    def _pulse(self, _pin):
        self.pulses += 1

    def set_energy_wh(self, wh):
        self.start_wh = wh - self.pulses * 1000 // self.ppk

    def energy_wh(self):
        return self.start_wh + self.pulses * 1000 // self.ppk

    def power_w(self):
        now = self.clock.ms()
        c = self.pulses
        dt = now - self._tw
        if c != self._cw:
            if not self._run:  # first pulses after idle: start the averaging window here
                self._run = True
                self._tw = now
                self._cw = c
            elif dt >= self.window_ms:
                self._p = (c - self._cw) * _K // (self.ppk * dt)
                self._tw = now
                self._cw = c
        elif dt > 0 and self._run:
            cap = _K // (self.ppk * dt)
            if cap < self._p:
                self._p = cap
            if cap < self.min_w:
                self._p = 0
                self._run = False
        return self._p
