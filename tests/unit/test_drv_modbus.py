"""hal.modbus.ModbusRTU + hal.sdm.SdmMeter against a simulated Eastron meter on a fake UART."""
import asyncio
import struct

from tests.fakes import machine as fm
from tests.fakes.sdm import SdmModel, crc16_ref, frame
from tests.unit.util import run, raises
from lite_stack.vclock import VirtualClock
from hal.modbus import ModbusRTU, ModbusError, crc16
from hal.sdm import SdmMeter, f32_scaled

UART_ID = 2
DE = 4


def make(model="SDM120", power=7400, start_wh=0, de=False, timeout_ms=250, latency_ms=30):
    fm.install()
    fm.clear()
    clock = VirtualClock()
    dev = SdmModel(UART_ID, clock, 1, model, power, 230.0, start_wh, latency_ms)
    uart = fm.UART(UART_ID, baudrate=9600)
    bus = ModbusRTU(uart, clock, fm.Pin(DE, fm.Pin.OUT) if de else None, timeout_ms=timeout_ms)
    meter = SdmMeter(bus, clock, 1, model, fail_limit=2)
    return clock, dev, uart, bus, meter


def drive(clock, coro):
    """Run one coroutine with the virtual clock ticking."""
    async def main():
        t = asyncio.create_task(clock.run())
        try:
            return await coro
        finally:
            t.cancel()
    return run(main())


def test_crc16_modbus_known_frames():
    # Modbus over Serial Line V1.02 examples / widely published frames
    assert crc16(b"\x01\x03\x00\x00\x00\x0a", 6) == 0xCDC5      # sent as C5 CD
    assert crc16(b"\x01\x04\x00\x00\x00\x02", 6) == 0xCB71      # sent as 71 CB
    assert crc16_ref(b"\x01\x03\x00\x00\x00\x0a") == 0xCDC5
    for body in (b"\x11\x04\x00\x48\x00\x02", b"\xf7\x03\x13\x89\x00\x0a", b"\x00"):
        assert crc16(body, len(body)) == crc16_ref(body)


def test_request_frame_on_the_wire():
    clock, dev, uart, bus, meter = make()
    data = drive(clock, bus.read(1, 4, 0x0048, 2))
    assert uart.written == [frame(b"\x01\x04\x00\x48\x00\x02")]
    assert dev.requests == [(1, 4, 0x48, 2)]
    assert len(data) == 4


def test_sdm120_values_in_integer_units():
    clock, dev, uart, bus, meter = make(power=7400, start_wh=12345)
    assert drive(clock, meter.update()) is True
    assert meter.ok and meter.error is None
    assert meter.energy_wh() == 12345
    assert meter.power_w() == 7400
    assert meter.read("Voltage") == 230.0
    assert abs(meter.read("Current.Import") - 7400 / 230) < 0.002
    assert meter.read("Energy.Active.Import.Register") == 12345
    assert meter.read("Power.Active.Import") == 7400


def test_sdm630_three_phases():
    clock, dev, uart, bus, meter = make("SDM630", power=11040, start_wh=5)
    assert drive(clock, meter.update())
    assert meter.power_w() == 11040
    assert meter.phase_values("Voltage") == (230.0, 230.0, 230.0)
    assert meter.phase_values("Current.Import") == (16.0, 16.0, 16.0)
    assert meter.read("Current.Import") == 16.0
    assert dev.requests[0] == (1, 4, 0, 18) and dev.requests[1] == (1, 4, 0x48, 2)


def test_energy_counts_up_on_the_clock():
    clock, dev, uart, bus, meter = make(power=3600)

    async def main():
        t = asyncio.create_task(meter.task())
        await clock.sleep(3600)
        t.cancel()
    drive(clock, main())
    assert 3590 <= meter.energy_wh() <= 3600, meter.energy_wh()
    assert 3300 <= meter.reads <= 3601   # period_ms between cycles + ~70 ms per cycle


def test_timeout_when_meter_silent_keeps_last_values():
    clock, dev, uart, bus, meter = make(power=1000, start_wh=50)
    assert drive(clock, meter.update())
    dev.silent = True
    t0 = clock.ms()
    e = None
    try:
        drive(clock, bus.read(1, 4, 0, 2))
    except ModbusError as x:
        e = x
    assert e is not None and e.args[0] == "Timeout"
    assert 250 <= clock.ms() - t0 <= 300
    assert drive(clock, meter.update()) is False
    assert meter.ok is True                     # one failure is tolerated (fail_limit=2)
    assert drive(clock, meter.update()) is False
    assert meter.ok is False and meter.error == "Timeout" and meter.errors == 2
    assert meter.energy_wh() == 50 and meter.power_w() == 1000
    dev.silent = False
    assert drive(clock, meter.update()) and meter.ok


def test_bad_crc_rejected():
    clock, dev, uart, bus, meter = make()
    dev.corrupt = True
    e = raises(ModbusError, drive, clock, bus.read(1, 4, 0, 2))
    assert e.args[0] == "CRC"
    assert drive(clock, meter.update()) is False and meter.error == "CRC"


def test_exception_response():
    clock, dev, uart, bus, meter = make()
    e = raises(ModbusError, drive, clock, bus.read(1, 4, 0x1FF, 4))
    assert e.args == ("Exception", 2)
    e = raises(ModbusError, drive, clock, bus.read(1, 3, 0, 2))
    assert e.args == ("Exception", 1)


def test_other_unit_gets_no_answer():
    clock, dev, uart, bus, meter = make()
    e = raises(ModbusError, drive, clock, bus.read(7, 4, 0, 2))
    assert e.args[0] == "Timeout"
    assert dev.requests == [(7, 4, 0, 2)]


def test_energy_register_never_goes_back():
    clock, dev, uart, bus, meter = make(start_wh=1000)
    assert drive(clock, meter.update()) and meter.energy_wh() == 1000
    dev.energy_override_kwh = 0.5
    assert drive(clock, meter.update())
    assert meter.energy_wh() == 1000 and meter.glitches == 1
    dev.energy_override_kwh = 1.25
    assert drive(clock, meter.update()) and meter.energy_wh() == 1250


def test_nan_energy_is_an_error():
    clock, dev, uart, bus, meter = make(start_wh=10)
    dev.nan = True
    assert drive(clock, meter.update()) is False
    assert meter.energy_wh() == 0 and meter.errors == 1


def test_f32_scaled_matches_float32_exactly():
    for v in (0.0, 0.001, 1.5, 7.4, 230.1, 12345.678, 16777.217, 99999.99, 1234567.0, -3.25,
              1e-40):
        b = struct.pack(">f", v)
        f = struct.unpack(">f", b)[0]           # the float32 value the meter really sent
        for scale in (1, 10, 1000):
            want = int(f * scale + (0.5 if f >= 0 else -0.5))
            got = f32_scaled(b, 0, scale)
            assert abs(got - want) <= 1, (v, scale, got, want)   # only the tie rounding may differ
    assert f32_scaled(b"\x47\x12\x34\x56", 0, 1000) == 37428336   # 37428.3359375 kWh
    raises(ValueError, f32_scaled, b"\x7f\xc0\x00\x00", 0, 1)


def test_rs485_driver_enable_only_while_sending():
    clock, dev, uart, bus, meter = make(de=True)
    seen = []
    orig = dev.on_write

    def on_write(data):
        seen.append(fm.line(DE).out)
        orig(data)
    dev.on_write = on_write
    assert fm.line(DE).out == 0
    drive(clock, bus.read(1, 4, 0, 2))
    assert seen == [1] and fm.line(DE).out == 0


class Rs485Line:
    """Two meters on one RS-485 pair: both hear every frame, the addressed one answers."""

    def __init__(self, *devs):
        self.devs = devs

    def on_write(self, data):
        for d in self.devs:
            d.on_write(data)

    def poll(self):
        out = b""
        for d in self.devs:
            r = d.poll()
            if r:
                out += r
        return out


def test_two_meters_share_one_bus():
    fm.install()
    fm.clear()
    clock = VirtualClock()
    m1 = SdmModel(UART_ID, clock, 1, "SDM120", 1000, 230.0, 100)
    m2 = SdmModel(UART_ID, clock, 2, "SDM120", 2000, 231.0, 200)
    fm.attach_uart(UART_ID, Rs485Line(m1, m2))
    bus = ModbusRTU(fm.UART(UART_ID), clock)
    a = SdmMeter(bus, clock, 1)
    b = SdmMeter(bus, clock, 2)

    async def both():
        return await asyncio.gather(a.update(), b.update())
    assert drive(clock, both()) == [True, True]
    assert (a.energy_wh(), a.power_w(), b.energy_wh(), b.power_w()) == (100, 1000, 200, 2000)
    assert b.read("Voltage") == 231.0


def test_timeout_and_gap_follow_the_baud_rate():
    fm.install()
    fm.clear()
    clock = VirtualClock()
    dev = SdmModel(UART_ID, clock)
    dev.silent = True
    bus = ModbusRTU(fm.UART(UART_ID, baudrate=2400), clock, timeout_ms=250, baudrate=2400)
    assert bus.char_us == 4583 and bus.gap_ms == 17      # 3.5 characters at 2400 Bd
    t0 = clock.ms()
    raises(ModbusError, drive, clock, bus.read(1, 4, 0, 14))
    # 250 ms turnaround + (8 request + 33 reply bytes) x 4.583 ms on the wire
    assert 250 + 187 <= clock.ms() - t0 <= 250 + 187 + 10, clock.ms() - t0
    dev.silent = False
    t1 = clock.ms()
    drive(clock, bus.read(1, 4, 0, 2))
    assert dev.requests[-1] == (1, 4, 0, 2)
    assert clock.ms() - t1 >= 17                          # waited the inter-frame gap first
