"""hal.contactor.RelayContactor with a simulated contactor + mirror contact and CP circuit."""
import asyncio

from tests.fakes import machine as fm
from tests.fakes.cp import CpCircuit
from tests.fakes.contactor import ContactorModel
from tests.unit.util import run
from lite_stack.vclock import VirtualClock
from hal.pilot import PwmPilot
from hal.contactor import RelayContactor
from hal.io import FaultPin

RELAY, FB, RCD, PWM_PIN, ADC_PIN = 26, 35, 39, 27, 34


def make(feedback=True, relay_active=1, fb_active=0, rcd=False):
    fm.install()
    fm.clear()
    clock = VirtualClock()
    cp = CpCircuit(PWM_PIN, ADC_PIN)
    pilot = PwmPilot(fm.PWM(fm.Pin(PWM_PIN), freq=1000, duty_u16=65535),
                     fm.ADC(fm.Pin(ADC_PIN)), clock)
    model = ContactorModel(RELAY, FB if feedback else None, relay_active, fb_active)
    fault = None
    if rcd:
        fm.line(RCD).ext = 1      # RCD healthy: trip output released (pulled up)
        fault = FaultPin(fm.Pin(RCD, fm.Pin.IN), "RcdTrip", 0)
    c = RelayContactor(fm.Pin(RELAY, fm.Pin.OUT), pilot, clock,
                       fm.Pin(FB, fm.Pin.IN) if feedback else None, relay_active, fb_active,
                       settle_ms=300, fault_input=fault)
    return clock, cp, pilot, model, c


def to_state(clock, pilot, want, n=6):
    for _ in range(n):
        clock.advance(25)
        if pilot.state() == want:
            return True
    return False


def test_close_refused_unless_C_or_D_with_pwm():
    clock, cp, pilot, model, c = make()
    assert to_state(clock, pilot, "A")
    assert c.close() is False and not model.energised()            # A: no EV
    cp.plug_in()
    assert to_state(clock, pilot, "B")
    assert c.close() is False and not model.energised()            # B: EV not ready
    cp.ev_wants = True
    pilot.set_current(16)
    assert to_state(clock, pilot, "C")
    pilot.set_current(0)                                           # C seen, but PWM gone
    assert c.close() is False and not model.energised()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C")
    assert c.close() is True and model.closed()
    clock.advance(50)
    assert c.is_closed() is True and c.fault() is None


def test_close_allowed_in_state_D():
    clock, cp, pilot, model, c = make()
    cp.plug_in()
    cp.ventilation = True
    pilot.set_current(16)
    assert to_state(clock, pilot, "D")
    assert c.close() is True and model.closed()


def test_opens_when_ev_leaves_C():
    clock, cp, pilot, model, c = make()
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    cp.ev_wants = False                         # EV opens S2: C -> B
    assert to_state(clock, pilot, "B")
    assert c.is_closed() is False and not model.energised()
    assert c.drops == 1 and c.fault() is None


def test_opens_when_pwm_removed_and_refuses_in_B_after():
    clock, cp, pilot, model, c = make()
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    pilot.set_current(0)                        # charging no longer allowed
    assert c.is_closed() is False and not model.energised()
    assert c.drops == 1


def test_welded_contactor_detected_after_settle_time():
    clock, cp, pilot, model, c = make()
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    clock.advance(100)
    model.welded = True
    c.open()
    clock.advance(299)
    assert c.fault() is None                    # mirror contact may still be moving
    clock.advance(1)
    assert c.fault() == "Welded"
    assert c.is_closed() is True                # the power path really is closed
    assert c.close() is False                   # latched: never close again on a fault
    assert c.reset_fault() is False             # still welded
    model.welded = False
    assert c.reset_fault() is True and c.fault() is None


def test_welded_at_power_up():
    fm.install()
    fm.clear()
    clock = VirtualClock()
    model = ContactorModel(RELAY, FB, 1, 0)
    model.welded = True
    pilot = PwmPilot(fm.PWM(fm.Pin(PWM_PIN)), fm.ADC(fm.Pin(ADC_PIN)), clock)
    c = RelayContactor(fm.Pin(RELAY, fm.Pin.OUT), pilot, clock, fm.Pin(FB, fm.Pin.IN), 1, 0)
    assert c.fault() is None
    clock.advance(300)
    assert c.fault() == "Welded"


def test_failed_to_close_detected_and_relay_released():
    clock, cp, pilot, model, c = make()
    model.stuck_open = True
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C")
    assert c.close() is True and model.energised()
    clock.advance(100)
    assert c.is_closed() is False and c.fault() is None
    clock.advance(200)
    assert c.fault() == "FailedToClose"
    assert not model.energised()


def test_without_feedback_reports_commanded_state_and_no_fault():
    clock, cp, pilot, model, c = make(feedback=False)
    model.welded = True                         # undetectable without a mirror contact
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    assert c.is_closed() is True
    c.open()
    clock.advance(1000)
    assert c.is_closed() is False and c.fault() is None


def test_active_low_relay_driver():
    clock, cp, pilot, model, c = make(relay_active=0, fb_active=1)
    assert fm.line(RELAY).out == 1 and not model.closed()      # released at start
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    assert fm.line(RELAY).out == 0 and model.closed()
    clock.advance(50)
    assert c.is_closed()
    c.open()
    assert fm.line(RELAY).out == 1 and not c.is_closed()


def test_rcd_trip_refuses_and_opens():
    clock, cp, pilot, model, c = make(rcd=True)
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    fm.line(RCD).drive(0)                       # RCD trips
    assert c.is_closed() is False and not model.energised()
    fm.line(RCD).drive(1)                       # latched until cleared
    assert c.close() is False
    assert c.fault_input.clear() is True
    assert c.close() is True


def test_task_supervises_on_the_clock():
    clock, cp, pilot, model, c = make()
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    log = []

    async def main():
        drv = asyncio.create_task(clock.run())
        sup = asyncio.create_task(c.task())
        await clock.sleep_ms(200)
        cp.plug_out()                           # cable pulled while charging
        t0 = clock.ms()
        while model.energised():
            await clock.sleep_ms(5)
        log.append(clock.ms() - t0)
        sup.cancel()
        drv.cancel()

    run(main())
    assert log and log[0] <= 100, log           # IEC 61851-1 Table A.6: open within 100 ms


def test_supervision_allocates_nothing():
    clock, cp, pilot, model, c = make()
    cp.plug_in()
    pilot.set_current(16)
    assert to_state(clock, pilot, "C") and c.close()
    try:
        import micropython
        lock = micropython.heap_lock
        unlock = micropython.heap_unlock
    except (ImportError, AttributeError):
        lock = unlock = lambda: None
    pilot.state()                               # burst done; supervision reuses it (cached)
    lock()
    try:
        c.check()
        closed = c.is_closed()
        fault = c.fault()
    finally:
        unlock()
    assert closed is True and fault is None
