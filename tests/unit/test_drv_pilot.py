"""hal.pilot.PwmPilot against the simulated CP circuit (IEC 61851-1:2017 Annex A), both interpreters."""
from tests.fakes import machine as fm
from tests.fakes.cp import CpCircuit
from lite_stack.vclock import VirtualClock
from hal.pilot import PwmPilot

PWM_PIN = 27
ADC_PIN = 34


def make(noise_mv=0, invert=False, max_a=32, confirm=2):
    fm.install()
    fm.clear()
    clock = VirtualClock()
    cp = CpCircuit(PWM_PIN, ADC_PIN, noise_mv=noise_mv, invert=invert)
    pwm = fm.PWM(fm.Pin(PWM_PIN), freq=1000, duty_u16=65535)
    pilot = PwmPilot(pwm, fm.ADC(fm.Pin(ADC_PIN)), clock, max_a=max_a, invert=invert,
                     confirm=confirm)
    return clock, cp, pwm, pilot


def settle(clock, pilot, n=4):
    st = None
    for _ in range(n):
        clock.advance(25)
        st = pilot.state()
    return st


def test_A8_duty_cycle_for_offered_current():
    clock, cp, pwm, pilot = make(max_a=80)
    assert pilot.duty_permille() == 1000 and pwm.duty_u16() == 65535  # no PWM: steady +12 V
    for amps, permille in ((6, 100), (10, 166), (16, 266), (32, 533), (51, 850), (63, 892),
                           (80, 960)):
        pilot.set_current(amps)
        assert pilot.duty_permille() == permille, (amps, pilot.duty_permille())
        assert pwm.duty_u16() == permille * 65535 // 1000
    pilot.set_current(5)          # below 6 A: charging not allowed, no PWM
    assert pilot.duty_permille() == 1000 and pilot.offered_a() == 0
    pilot.set_current(0)
    assert pilot.duty_permille() == 1000


def test_A8_offered_current_is_min_of_ocpp_board_and_max():
    clock, cp, pwm, pilot = make(max_a=16)
    pilot.set_current(32)         # OCPP asks more than the board/cable allows
    assert pilot.offered_a() == 16 and pilot.duty_permille() == 266
    pilot.set_board_limit(10)     # e.g. thermal derating
    assert pilot.offered_a() == 10 and pilot.duty_permille() == 166
    pilot.set_current(8)
    assert pilot.offered_a() == 8 and pilot.duty_permille() == 133
    pilot.set_board_limit(None)
    pilot.set_current(13.5)
    assert pilot.duty_permille() == 225


def test_A23_digital_communication_5_percent_and_state_F_output():
    clock, cp, pwm, pilot = make()
    pilot.set_current(16)
    pilot.set_digital(True)
    assert pilot.duty_permille() == 50 and pwm.duty_u16() == 50 * 65535 // 1000
    pilot.set_digital(False)
    assert pilot.duty_permille() == 266
    pilot.set_unavailable(True)   # steady -12 V: state F
    reads = cp.duty_permille()
    assert pilot.duty_permille() == 0 and reads == 0
    assert pilot.state() == "F"
    pilot.set_unavailable(False)
    assert pilot.duty_permille() == 266


def test_A4_states_A_B_C_D_E_from_cp_voltage():
    clock, cp, pwm, pilot = make()
    assert settle(clock, pilot) == "A"
    cp.plug_in()
    assert settle(clock, pilot) == "B"          # EV waits for PWM
    pilot.set_current(16)
    assert settle(clock, pilot) == "C"          # EV closed S2
    assert 5500 < pilot.high_mv < 6500 and pilot.low_mv < -11000
    cp.ventilation = True
    assert settle(clock, pilot) == "D"
    cp.ventilation = False
    assert settle(clock, pilot) == "C"
    pilot.set_current(0)                         # PWM off: EV opens S2
    assert settle(clock, pilot) == "B"
    cp.short = True
    assert settle(clock, pilot) == "E"
    cp.short = False
    cp.plug_out()
    assert settle(clock, pilot) == "A"


def test_A4_hysteresis_around_thresholds():
    clock, cp, pwm, pilot = make(confirm=1)
    cp.plug_in()
    cp.forced_mv = 8000
    assert settle(clock, pilot) == "B"
    cp.forced_mv = 7300          # below the 7.5 V threshold but inside the 0.4 V hysteresis
    assert settle(clock, pilot) == "B"
    cp.forced_mv = 7000
    assert settle(clock, pilot) == "C"
    cp.forced_mv = 7800          # back above 7.5 V, still inside the hysteresis
    assert settle(clock, pilot) == "C"
    cp.forced_mv = 8000
    assert settle(clock, pilot) == "B"


def test_A4_state_change_needs_consecutive_bursts():
    clock, cp, pwm, pilot = make(confirm=2)
    cp.plug_in()
    assert settle(clock, pilot) == "B"
    cp.forced_mv = 6000           # one burst at C ...
    clock.advance(25)
    assert pilot.state() == "B"
    cp.forced_mv = None           # ... then back to B: a glitch, not a change
    assert settle(clock, pilot) == "B"
    cp.forced_mv = 6000
    clock.advance(25)
    assert pilot.state() == "B"
    clock.advance(25)
    assert pilot.state() == "C"


def test_A4_noisy_levels_classify_stably():
    clock, cp, pwm, pilot = make(noise_mv=600)
    cp.plug_in()
    pilot.set_current(32)
    seen = set()
    for _ in range(40):
        clock.advance(25)
        seen.add(pilot.state())
    assert seen <= {"A", "B", "C"}, seen     # no spurious D/E/F from +-0.6 V noise
    assert settle(clock, pilot) == "C"
    for _ in range(40):
        clock.advance(25)
        assert pilot.state() == "C"


def test_A4_missing_diode_is_a_pilot_fault_until_unplug():
    clock, cp, pwm, pilot = make()
    cp.diode = False
    cp.plug_in()
    assert settle(clock, pilot) == "B" and pilot.error is None  # no PWM: no negative level to check
    pilot.set_current(16)
    assert settle(clock, pilot, 6) == "F"
    assert pilot.error == "PilotDiode" and pilot.active() == "PilotDiode"
    assert -7000 < pilot.low_mv < -5000          # the EV load shows on the negative half-wave
    cp.plug_out()
    assert settle(clock, pilot) == "A"
    assert pilot.error is None and pilot.active() is None


def test_diode_present_no_fault_at_any_duty():
    clock, cp, pwm, pilot = make(max_a=80)
    cp.plug_in()
    for amps in (6, 16, 32, 63, 80):
        pilot.set_current(amps)
        assert settle(clock, pilot) in "C", amps
        assert pilot.error is None, amps


def test_state_sampling_is_rate_limited():
    clock, cp, pwm, pilot = make()
    adc = pilot.adc
    pilot.state()
    n = adc.reads
    assert n == 64
    pilot.state()
    clock.advance(10)
    pilot.state()
    assert adc.reads == n        # within min_interval_ms: cached
    clock.advance(15)
    pilot.state()
    assert adc.reads == 2 * n


def test_inverted_output_stage():
    clock, cp, pwm, pilot = make(invert=True)
    pilot.set_current(16)
    assert pwm.duty_u16() == 65535 - 266 * 65535 // 1000
    assert cp.duty_permille() in (266, 267)
    cp.plug_in()
    assert settle(clock, pilot) == "C"


def test_burst_inside_the_negative_phase_is_inconclusive():
    clock, cp, pwm, pilot = make(confirm=1)
    cp.plug_in()
    pilot.set_current(6)                     # 10 % duty: 100 us high, 900 us low
    assert settle(clock, pilot) == "C"
    cp.step = 1                              # a burst now covers 64 us of the period
    cp._phase = 200
    clock.advance(25)
    assert pilot.state() == "C" and pilot.short_bursts == 1   # kept, not "F"
    cp.short = True                          # 0 V steady is a real reading (state E)
    cp.step = 37
    assert settle(clock, pilot) == "E"


class _StubAdc:
    """Replays preallocated raw samples without allocating (for heap_lock)."""

    def __init__(self, raws):
        from array import array
        self.vals = array("H", raws)
        self.i = 0

    def read_u16(self):
        i = self.i
        self.i = i + 1 if i + 1 < len(self.vals) else 0
        return self.vals[i]


def test_state_poll_allocates_nothing():
    fm.install()
    fm.clear()
    clock = VirtualClock()
    lo, hi = 4000, 61535
    c_high = lo + (6000 + 12000) * (hi - lo) // 24000     # state C
    c_low = lo                                             # -12 V
    raws = [c_high if (i * 37) % 1000 < 266 else c_low for i in range(64)]
    pilot = PwmPilot(fm.PWM(fm.Pin(PWM_PIN)), _StubAdc(raws), clock, confirm=1)
    pilot.set_current(16)
    clock.advance(25)
    assert pilot.state() == "C"
    try:
        import micropython
        lock = micropython.heap_lock
        unlock = micropython.heap_unlock
    except (ImportError, AttributeError):   # CPython: the behaviour is still checked below
        lock = unlock = lambda: None
    for _ in range(3):
        clock.advance(25)
        lock()
        try:
            st = pilot.state()
            cached = pilot.state()
        finally:
            unlock()
        assert st == "C" and cached == "C" and pilot.error is None
