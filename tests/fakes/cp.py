"""The control pilot wire between the EVSE's PWM stage and a simulated EV (IEC 61851-1 Annex A).

The EVSE side drives +12 V / -12 V with the duty cycle of the fake PWM on ``pwm_pin``; the EV
side loads the high level (A 12 V, B 9 V, C 6 V, D 3 V, E 0 V nominal, Table A.4) and its diode
keeps the low level at -12 V. ``read_u16`` (attached to the ADC on ``adc_pin``) returns one sample
at a phase that steps ``step`` (37) /1000 of a period per reading, scaled by the same two-point calibration the
driver uses, plus optional deterministic noise. The EV closes S2 (B -> C, or D with ventilation)
only while it wants energy and sees a PWM between 8 % and 97 % - as a real EV does.
"""
from tests.fakes import machine as fm

NOMINAL_MV = {"A": 12000, "B": 9000, "C": 6000, "D": 3000, "E": 0}


class CpCircuit:
    def __init__(self, pwm_pin, adc_pin, cal=(4000, 61535), noise_mv=0, invert=False):
        self.pwm_pin = pwm_pin
        self.cal = cal
        self.noise_mv = noise_mv
        self.invert = invert
        self.plugged = False
        self.ev_wants = True
        self.ventilation = False
        self.diode = True
        self.short = False
        self.offset_mv = 0
        self.forced_mv = None   # override the high level (mV), e.g. to walk across a threshold
        self.step = 37          # phase advance per ADC reading, 1/1000 of a PWM period
        self._phase = 0
        self._seed = 12345
        fm.attach_adc(adc_pin, self.read_u16)

    def plug_in(self):
        self.plugged = True

    def plug_out(self):
        self.plugged = False

    def duty_permille(self):
        pwm = fm.pwms.get(self.pwm_pin)
        if pwm is None or not pwm.active:
            return 1000
        d = pwm.duty_u16() * 1000 // 65535
        return 1000 - d if self.invert else d

    def ev_state(self):
        if self.short:
            return "E"
        if not self.plugged:
            return "A"
        d = self.duty_permille()
        if self.ev_wants and 80 <= d <= 970:
            return "D" if self.ventilation else "C"
        return "B"

    def levels(self):
        """(high, low) CP voltage in mV for the current EV state and EVSE output."""
        st = self.ev_state()
        high = NOMINAL_MV[st] if self.forced_mv is None else self.forced_mv
        high += self.offset_mv
        if st == "E":
            return high, high
        low = -12000 if (self.diode or st == "A") else -high
        return high, low

    def _noise(self):
        if not self.noise_mv:
            return 0
        self._seed = (self._seed * 1103515245 + 12345) & 0x7FFFFFFF
        return (self._seed >> 8) % (2 * self.noise_mv + 1) - self.noise_mv

    def read_u16(self):
        self._phase = (self._phase + self.step) % 1000
        high, low = self.levels()
        mv = high if self._phase < self.duty_permille() else low
        mv += self._noise()
        lo, hi = self.cal
        return lo + (mv + 12000) * (hi - lo) // 24000
