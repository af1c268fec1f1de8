"""hal.s0.S0Meter (IEC 62053-31 pulse input) and hal.io (fault inputs, status LED) on the fake pins."""
from tests.fakes import machine as fm
from lite_stack.vclock import VirtualClock
from hal.s0 import S0Meter
from hal.io import FaultPin, AnyFault, EvseLed, OFF, ON, SLOW, FAST, BLIP
from hal.sim import make_sim_evse

S0 = 36


def make_s0(ppk=1000, start_wh=0):
    fm.install()
    fm.clear()
    clock = VirtualClock()
    fm.line(S0).ext = 1                      # open collector released: pulled up
    m = S0Meter(fm.Pin(S0, fm.Pin.IN, fm.Pin.PULL_UP), clock, ppk, start_wh)
    return clock, m


def pulse(n=1):
    ln = fm.line(S0)
    for _ in range(n):
        ln.drive(0)                           # IEC 62053-31: >= 30 ms closed ...
        ln.drive(1)                           # ... then open again


def test_s0_counts_falling_edges_only():
    clock, m = make_s0()
    pulse(3)
    assert m.pulses == 3 and m.energy_wh() == 3
    fm.line(S0).drive(1)                      # no edge
    assert m.pulses == 3


def test_s0_energy_integer_wh_without_drift():
    clock, m = make_s0(ppk=800, start_wh=1000)
    pulse(1)
    assert m.energy_wh() == 1001              # 1.25 Wh -> 1 Wh so far
    pulse(799)
    assert m.energy_wh() == 2000              # exactly 1 kWh after 800 pulses
    m.set_energy_wh(5000)                     # restored after a reboot
    pulse(8)
    assert m.energy_wh() == 5010


def test_s0_power_from_pulse_rate_and_decay():
    clock, m = make_s0(ppk=1000)
    # 7200 W at 1000 imp/kWh = one pulse every 500 ms; the stack polls every 100 ms
    for step in range(1, 300):
        clock.advance(100)
        if step % 5 == 0:
            pulse()
        m.power_w()
    assert abs(m.power_w() - 7200) <= 150, m.power_w()
    # charging stops: the estimate falls and reaches 0
    seen = []
    for _ in range(1200):
        clock.advance(1000)
        seen.append(m.power_w())
    assert seen[0] <= 7200 and seen[60] <= 60 and seen[-1] == 0, (seen[0], seen[60], seen[-1])
    assert all(seen[i + 1] <= seen[i] for i in range(len(seen) - 1))


def test_fault_pin_latches_until_cleared():
    fm.install()
    fm.clear()
    fm.line(39).ext = 1
    f = FaultPin(fm.Pin(39, fm.Pin.IN), "RcdTrip", active=0)
    assert f.active() is None
    fm.line(39).drive(0)
    assert f.active() == "RcdTrip"
    assert f.clear() is False                 # still tripped
    fm.line(39).drive(1)
    assert f.active() == "RcdTrip"            # latched
    assert f.clear() is True and f.active() is None
    g = FaultPin(fm.Pin(40, fm.Pin.IN), "OverTemp", active=1, latch=False)
    fm.line(40).drive(1)
    assert g.active() == "OverTemp"
    fm.line(40).drive(0)
    assert g.active() is None
    both = AnyFault(f, g)
    assert both.active() is None
    fm.line(40).drive(1)
    assert both.active() == "OverTemp"


def test_evse_led_follows_hardware_state():
    fm.install()
    fm.clear()
    clock = VirtualClock()
    evse = make_sim_evse(clock)
    led = EvseLed(fm.Pin(2, fm.Pin.OUT), clock, evse)
    led.poll()
    assert led.mode == BLIP
    evse.pilot.plug_in()
    led.poll()
    assert led.mode == ON and fm.line(2).out == 1
    evse.pilot.set_current(16)
    assert evse.contactor.close()
    clock.advance(1000)
    led.poll()
    assert led.mode == SLOW and fm.line(2).out == 1
    clock.advance(500)
    led.poll()
    assert fm.line(2).out == 0
    evse.fault_input.code = "RcdTrip"
    led.poll()
    assert led.mode == FAST
    assert [led.level(FAST, t) for t in (0, 124, 125, 249)] == [1, 1, 0, 0]
    assert led.level(OFF, 0) == 0 and led.level(BLIP, 30) == 1 and led.level(BLIP, 60) == 0
    inv = EvseLed(fm.Pin(3, fm.Pin.OUT), clock, None, active=0)
    inv.mode = ON
    inv.poll()
    assert fm.line(3).out == 0                # active-low LED lit
