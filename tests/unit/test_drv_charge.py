"""A full simulated charge on each hardware board, at the wire level, on both interpreters.

The board's ``make_hal`` builds the real drivers on the fake ``machine``; device models sit on the
board's pins (CP circuit + EV, contactor with mirror contact, Modbus meter, MFRC522 with a card).
A small station loop drives the HAL the way the stack does (every 100 ms: ``pilot.state()``,
``rfid.poll()``, ``contactor.close()/open()``, ``meter.energy_wh()``) and the drivers' own
``task()`` coroutines run beside it: pilot A -> B, card swipe authorizes, PWM on, EV goes to C,
contactor closes, Modbus energy counts up, unplug ends the transaction.
"""
import asyncio

from tests.fakes import machine as fm
from tests.fakes.cp import CpCircuit
from tests.fakes.contactor import ContactorModel
from tests.fakes.sdm import SdmModel
from tests.fakes.mfrc522 import Mfrc522Model, Card
from tests.unit.util import run
from lite_stack.vclock import VirtualClock
import boards

CHARGE_S = 300


def rig(name):
    fm.install()
    fm.clear()
    b = boards.load(name)
    clock = VirtualClock()
    cp = CpCircuit(b.CP_PWM, b.CP_ADC, cal=b.CP_CAL, noise_mv=200)
    k = ContactorModel(b.RELAY, b.RELAY_FB, b.RELAY_ACTIVE, b.RELAY_FB_ACTIVE)
    fm.line(b.RCD).ext = 1 - b.RCD_ACTIVE
    meter = SdmModel(b.METER_UART, clock, b.METER_UNIT, b.METER,
                     power=lambda: b.MAX_POWER_W if k.closed() else 0, start_wh=1000)
    reader = Mfrc522Model(b.RFID_SPI, b.RFID_CS)
    evses, rfid = b.make_hal(clock, 1)
    return b, clock, cp, k, meter, reader, evses[0], rfid


async def station(clock, evse, rfid, b, log, stop):
    """What the stack does with the HAL, reduced to one transaction."""
    tx = None
    last = None
    while not stop:
        st = evse.pilot.state()
        if st != last:
            log.append(("state", st, clock.ms()))
            last = st
        tok = rfid.poll()
        if tok is not None:
            log.append(("token", tok, clock.ms()))
            if tx is None and st in "BCD":
                tx = {"id": tok[0], "start_wh": evse.meter.energy_wh(), "t": clock.ms()}
                evse.pilot.set_current(b.MAX_CURRENT_A)      # authorized: offer current
        if tx is not None and st in "CD" and not evse.contactor.is_closed():
            if evse.contactor.close():
                log.append(("closed", clock.ms()))
        if tx is not None and st == "A":                      # EV unplugged: end
            evse.contactor.open()
            evse.pilot.set_current(0)
            tx["stop_wh"] = evse.meter.energy_wh()
            tx["fault"] = evse.fault()
            log.append(("ended", tx, clock.ms()))
            tx = None
        await clock.sleep_ms(100)


def charge(name):
    b, clock, cp, k, meter, reader, evse, rfid = rig(name)
    log = []
    stop = []
    card = Card(b"\xde\xad\xbe\xef")
    power_after = []

    async def ev_and_user():
        await clock.sleep(1)
        cp.plug_in()                          # A -> B
        await clock.sleep(2)
        reader.place(card)                    # swipe
        await clock.sleep(1)
        reader.remove(card)
        await clock.sleep(CHARGE_S)
        cp.plug_out()                         # C -> A: unplug ends the transaction
        await clock.sleep(3)
        power_after.append(evse.meter.power_w())
        stop.append(1)

    async def main():
        drv = asyncio.create_task(clock.run())
        tasks = [asyncio.create_task(o.task()) for o in (evse.meter, evse.contactor, evse.led)]
        st = asyncio.create_task(station(clock, evse, rfid, b, log, stop))
        await ev_and_user()
        await asyncio.sleep(0)
        for t in tasks + [st, drv]:
            t.cancel()

    run(main())
    return b, log, k, meter, evse, power_after


def check(name):
    b, log, k, meter, evse, power_after = charge(name)
    states = [e[1] for e in log if e[0] == "state"]
    assert states == ["A", "B", "C", "A"], states
    tokens = [e[1] for e in log if e[0] == "token"]
    assert tokens == [("DEADBEEF", "ISO14443")], tokens
    closed = [e for e in log if e[0] == "closed"]
    assert len(closed) == 1 and k.closings == 1
    ended = [e[1] for e in log if e[0] == "ended"]
    assert len(ended) == 1
    tx = ended[0]
    assert tx["id"] == "DEADBEEF" and tx["fault"] is None
    assert tx["start_wh"] == 1000
    want = b.MAX_POWER_W * CHARGE_S // 3600
    got = tx["stop_wh"] - tx["start_wh"]
    assert abs(got - want) <= want // 100 + 2, (got, want)    # Modbus energy counted up
    assert not k.closed() and not evse.contactor.is_closed()
    assert power_after == [0]                 # meter shows no power after the unplug
    assert evse.meter.ok and evse.meter.errors == 0
    assert meter.energy_wh() - 1000 == got or abs(meter.energy_wh() - 1000 - got) <= 2


def test_full_charge_pico_w_sdm120():
    check("pico_w")


def test_full_charge_esp32_devkit_sdm630():
    check("esp32_devkit")
