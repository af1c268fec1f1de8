"""IEC 61851-1 control pilot, EVSE side: 1 kHz PWM out, CP level sampled by an ADC (Annex A).

Hardware (typical): a PWM pin drives an op-amp/comparator stage that switches CP between +12 V and
-12 V through the 1 kOhm source resistor; CP is fed back to an ADC pin through a divider with an
offset so that -12..+12 V spans the ADC range. Both paths are linear, so a two-point calibration
``cal=(raw at -12 V, raw at +12 V)`` in ``ADC.read_u16`` units maps readings to millivolts.

Interface (``hal.ControlPilot``) and units:

- ``state()`` -> "A".."F". A burst of ``samples`` ADC readings (about one 1 ms PWM period on an
  ESP32/RP2040) is split into the high and the low level; the high level gives the state with
  thresholds half-way between the nominal levels 12/9/6/3/0 V (IEC 61851-1:2017 Table A.4:
  A 11..13 V, B 8..10 V, C 5..7 V, D 2..4 V, E 0 V) and ``hyst_mv`` hysteresis around the current
  band; a change needs ``confirm`` consecutive bursts. Bursts run at most every ``min_interval_ms``
  (later calls return the last state), so several pollers cost one burst. A burst must span at
  least one PWM period (1 ms): ``samples`` is set per board (ESP32 ~64, RP2040 ~160; measure
  ``_sample()`` with ``time.ticks_us``). A burst that saw only the -12 V phase while PWM runs is
  inconclusive: the state is kept and ``short_bursts`` counts it.
- Negative-level (diode) check (Table A.4 note / A.2.2): while PWM runs and the EV is in B/C/D the
  low level must be -12 V; above ``-10.5 V`` for ``confirm`` bursts sets ``error = "PilotDiode"``
  and ``state()`` answers "F" until the EV is unplugged (state A). ``active()`` returns that error
  so the pilot also works as a ``hal.FaultInput``.
- ``set_current(amps)``: limit from the OCPP side (A, int or float). The offered current is
  ``min(amps, max_a, board limit)``; below 6 A (or 0) there is no PWM: steady +12 V, charging not
  allowed. Duty per Table A.8 via ``hal.duty_for_current``. ``set_board_limit(amps)``: limit from
  the board (cable rating from PP, derating; None = ``max_a``).
- ``set_digital(on)``: 5 % duty, digital communication requested (A.2.3 / ISO 15118).
- ``set_unavailable(on)``: steady -12 V, state F (EVSE not available).
- ``duty_permille()`` -> the duty on the wire, 0..1000; ``offered_a()`` -> offered current (A).
- ``high_mv``/``low_mv``: last measured levels (mV, None before the first burst).

Drives only ``pwm.duty_u16()`` (PWM already at 1 kHz, built by the board) and ``adc.read_u16()``;
never sleeps; ``state()`` allocates nothing (checked with ``micropython.heap_lock`` in the tests).
Errors: none raised; an unreadable/absurd level reads as "F".
"""
from array import array

from hal import ControlPilot, duty_for_current

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_STATES = ("A", "B", "C", "D", "E", "F")  # a tuple: indexing returns the same objects
# lower bound (mV) of the high level for A, B, C, D, E; below the last one -> F
_BOUNDS = (10500, 7500, 4500, 1500, -1500)
_DIODE_MAX_MV = const(-10500)   # low level must be below this with an EV diode (nominal -12 V)
_STEADY_SPAN_MV = const(2000)   # bursts narrower than this are a steady level (no PWM)
_DIGITAL = const(50)            # 5 % duty: digital communication


class PwmPilot(ControlPilot):
    def __init__(self, pwm, adc, clock, max_a=32, cal=(4000, 61535), samples=64, hyst_mv=400,
                 confirm=2, min_interval_ms=20, invert=False):
        self.pwm = pwm
        self.adc = adc
        self.clock = clock
        self.max_a = max_a
        self._lo, self._hi = cal
        self._buf = array("H", [0] * samples)
        self.hyst_mv = hyst_mv
        self.confirm = confirm
        self.min_interval_ms = min_interval_ms
        self.invert = invert
        self.ocpp_a = 0
        self.board_a = None
        self.digital = False
        self.unavailable = False
        self._duty = -1
        self._state = "A"
        self._cand = None
        self._count = 0
        self._diode_bad = 0
        self._t = None
        self._high = 0
        self._low = None
        self.high_mv = None
        self.low_mv = None
        self.error = None
        self.short_bursts = 0
        self._apply()

    # ---- output -------------------------------------------------------------------------------
    def offered_a(self):
        a = self.ocpp_a if self.ocpp_a < self.max_a else self.max_a
        if self.board_a is not None and self.board_a < a:
            a = self.board_a
        return a if a >= 6 else 0

    def set_current(self, amps):
        self.ocpp_a = amps if amps > 0 else 0
        self._apply()

    def set_board_limit(self, amps):
        self.board_a = amps
        self._apply()

    def set_digital(self, on):
        self.digital = bool(on)
        self._apply()

    def set_unavailable(self, on):
        self.unavailable = bool(on)
        self._apply()

    def duty_permille(self):
        return self._duty

    def _apply(self):
        if self.unavailable:
            d = 0
        elif self.digital:
            d = _DIGITAL
        else:
            a = self.offered_a()
            d = duty_for_current(a) if a else 1000
        if d != self._duty:
            self._duty = d
            u = d * 65535 // 1000
            self.pwm.duty_u16(65535 - u if self.invert else u)

    # ---- input --------------------------------------------------------------------------------
    def _mv(self, raw):
        return (raw - self._lo) * 24000 // (self._hi - self._lo) - 12000

    def _sample(self):
        """One burst -> ``self._high`` and ``self._low`` (mV; ``_low`` None when the burst shows one
        steady level). Allocates nothing: locals and small ints only."""
        buf = self._buf
        adc = self.adc
        n = len(buf)
        for i in range(n):
            buf[i] = adc.read_u16()
        mn = mx = buf[0]
        for i in range(n):
            v = buf[i]
            if v < mn:
                mn = v
            elif v > mx:
                mx = v
        if self._mv(mx) - self._mv(mn) < _STEADY_SPAN_MV:
            s = 0
            for i in range(n):
                s += buf[i]
            self._high = self._mv(s // n)
            self._low = None
            return
        q = (mx - mn) >> 2
        top = mx - q
        bot = mn + q
        sh = nh = sl = nl = 0
        for i in range(n):
            v = buf[i]
            if v >= top:
                sh += v
                nh += 1
            elif v <= bot:
                sl += v
                nl += 1
        self._high = self._mv(sh // nh)
        self._low = self._mv(sl // nl) if nl else None

    def _classify(self, mv):
        cur = _STATES.index(self._state)
        if cur < 5:
            lo = _BOUNDS[cur] - self.hyst_mv
            hi = (_BOUNDS[cur - 1] if cur else 100000) + self.hyst_mv
            if lo <= mv < hi:
                return self._state
        i = 0
        while i < 5 and mv < _BOUNDS[i]:
            i += 1
        return _STATES[i]

    def state(self):
        if self.unavailable:
            return "F"
        now = self.clock.ms()
        if self._t is not None and now - self._t < self.min_interval_ms:
            return "F" if self.error else self._state
        self._t = now
        self._sample()
        high = self._high
        low = self._low
        if low is None and high < -1500 and 0 < self._duty < 1000:
            self.short_bursts += 1   # burst fell inside the -12 V phase: no high level seen
            return "F" if self.error else self._state
        self.high_mv = high
        self.low_mv = low
        st = self._classify(high)
        if st == self._state:
            self._cand = None
        elif st == self._cand:
            self._count += 1
            if self._count >= self.confirm:
                self._state = st
                self._cand = None
        else:
            self._cand = st
            self._count = 1
            if self.confirm <= 1:
                self._state = st
                self._cand = None
        if self._state == "A":
            self.error = None
            self._diode_bad = 0
        elif low is not None and self._state in "BCD" and 0 < self._duty < 1000:
            if low > _DIODE_MAX_MV:
                self._diode_bad += 1
                if self._diode_bad >= self.confirm:
                    self.error = "PilotDiode"
            else:
                self._diode_bad = 0
        return "F" if self.error else self._state

    def active(self):
        """FaultInput view: None or "PilotDiode" (missing EV diode / CP fault)."""
        return self.error
