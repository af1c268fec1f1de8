"""Board modules: constants mirror boards/desktop.py, pin maps are sane, make_hal builds the drivers."""
import sys

from tests.fakes import machine as fm
from tests.unit.util import raises, tmpdir
from lite_stack.vclock import VirtualClock
import boards
import boards.desktop as desktop

HW = ("esp32_devkit", "pico_w")
# Part 2 ConnectorEnumType (the AC ones a Lite station can have)
CONNECTOR_TYPES = ("cType1", "cType2", "sType2", "sType3", "s309-1P-16A", "s309-1P-32A",
                   "s309-3P-16A", "s309-3P-32A", "cTesla", "Other1PhMax16A", "Other1PhOver16A",
                   "Other3Ph", "Unknown")


def load(name):
    fm.install()
    fm.clear()
    # a board module reads the (fake) machine at import: import it afresh, whatever imported it
    # before in this process (e.g. ocpp2lite pics --board)
    sys.modules.pop("boards." + name, None)
    return boards.load(name)


def test_boards_mirror_desktop_constants():
    names = [n for n in dir(desktop) if n.isupper()]
    assert len(names) >= 14
    for b in HW:
        mod = load(b)
        for n in names:
            assert hasattr(mod, n), (b, n)
            assert type(getattr(mod, n)) == type(getattr(desktop, n)), (b, n)
        assert callable(mod.make_hal)
        assert mod.MAX_POWER_W == mod.VOLTAGE_V * mod.MAX_CURRENT_A * mod.PHASES
        assert mod.CONNECTOR_TYPE in CONNECTOR_TYPES
        assert mod.PHASES in (1, 3) and mod.EVSES == 1
        # BootNotification ChargingStationType: vendorName CiString50, model CiString20,
        # serialNumber CiString25, firmwareVersion CiString50
        assert 0 < len(mod.VENDOR) <= 50 and 0 < len(mod.MODEL) <= 20
        assert 0 < len(mod.SERIAL) <= 25 and 0 < len(mod.FIRMWARE_VERSION) <= 50
        assert mod.MAX_FRAME >= 6000   # InstallCertificate: certificate CiString5500 + envelope


def test_board_selected_by_name():
    assert load("pico_w").MODEL == "LitePicoW"
    assert load("esp32_devkit").MODEL == "LiteESP32"
    raises(ImportError, boards.load, "no_such_board")


def test_serial_from_unique_id():
    assert load("esp32_devkit").SERIAL == "E32-240AC4123456"
    assert load("pico_w").SERIAL == "PW-240AC4123456"


def _pins(mod):
    return [getattr(mod, n) for n in ("CP_PWM", "CP_ADC", "RELAY", "RELAY_FB", "RCD", "LED",
                                       "METER_TX", "METER_RX", "METER_DE", "S0_PIN", "RFID_SCK",
                                       "RFID_MOSI", "RFID_MISO", "RFID_CS", "RFID_RST")]


def test_pin_maps_have_no_conflicts_and_respect_the_chip():
    e = load("esp32_devkit")
    pins = _pins(e)
    assert len(set(pins)) == len(pins)
    assert 32 <= e.CP_ADC <= 39                        # ADC1: usable with Wi-Fi on
    for n in ("CP_PWM", "RELAY", "METER_TX", "METER_DE", "RFID_SCK", "RFID_MOSI", "RFID_CS",
              "RFID_RST"):
        assert getattr(e, n) < 34, n                    # 34..39 are input-only
    for p in pins:
        assert p not in (6, 7, 8, 9, 10, 11), p         # SPI flash
    p = load("pico_w")
    pins = _pins(p)
    assert len(set(pins)) == len(pins)
    assert 26 <= p.CP_ADC <= 28
    for n in pins:
        assert n not in (23, 24, 25, 29), n             # CYW43 radio on the Pico W


def test_make_hal_builds_the_real_drivers():
    from hal.pilot import PwmPilot
    from hal.contactor import RelayContactor
    from hal.sdm import SdmMeter
    from hal.mfrc522 import Mfrc522
    from hal.io import AnyFault, EvseLed
    for name, phases in (("esp32_devkit", 3), ("pico_w", 1)):
        mod = load(name)
        clock = VirtualClock()
        evses, rfid = mod.make_hal(clock, 1)
        assert len(evses) == 1
        e = evses[0]
        assert isinstance(e.pilot, PwmPilot) and isinstance(e.contactor, RelayContactor)
        assert isinstance(e.meter, SdmMeter) and e.meter.phases == phases
        assert isinstance(rfid, Mfrc522) and isinstance(e.led, EvseLed)
        assert isinstance(e.fault_input, AnyFault) and e.lock is None   # fixed cable
        pwm = fm.pwms[mod.CP_PWM]
        assert pwm.freq() == 1000 and pwm.duty_u16() == 65535         # +12 V, no PWM
        assert fm.line(mod.RELAY).out == 1 - mod.RELAY_ACTIVE           # contactor open
        assert fm.line(mod.RFID_CS).out == 1                           # reader deselected
        assert e.pilot.max_a == mod.MAX_CURRENT_A
        assert e.contactor.fault_input is not None
        raises(ValueError, mod.make_hal, clock, 2)


def test_s0_meter_variant():
    from hal.s0 import S0Meter
    mod = load("pico_w")
    old = mod.METER
    mod.METER = "S0"
    try:
        evses, rfid = mod.make_hal(VirtualClock(), 1)
        assert isinstance(evses[0].meter, S0Meter)
    finally:
        mod.METER = old


def test_firmware_version_carries_the_image_hash():
    d = tmpdir("fwimg")
    with open(d + "/fw_image.py", "w") as f:
        f.write('OCPP_BOARD = "pico_w"\nSHA256 = "%s"\n' % ("0123456789abcdef" * 4))
    sys.path.insert(0, d)
    try:
        for m in ("boards.pico_w", "fw_image"):
            if m in sys.modules:
                del sys.modules[m]
        mod = load("pico_w")
        assert mod.FIRMWARE_VERSION == "0.1.0+0123456789abcdef"
    finally:
        sys.path.remove(d)
        for m in ("boards.pico_w", "fw_image"):
            if m in sys.modules:
                del sys.modules[m]
    assert load("pico_w").FIRMWARE_VERSION == "0.1.0"
