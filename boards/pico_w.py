"""Raspberry Pi Pico W (RP2040 + CYW43439) charger board.

One EVSE, 1-phase 32 A (7.36 kW), fixed cable with a Type 2 connector, Eastron SDM120 on RS-485,
MFRC522 RFID reader, RDC-DD / RCD trip input, contactor with mirror contact, on-board LED.

Pin map (RP2040 GPIO numbers; GP23/24/25/29 belong to the CYW43 radio on the Pico W):

| Function                          | GPIO          | Notes                                   |
|-----------------------------------|---------------|-----------------------------------------|
| CP PWM out (1 kHz, slice 7A)      | GP14          | to the +/-12 V op-amp stage             |
| CP sense in (ADC0)                | GP26          | divider + offset: -12..+12 V -> 0..3.3 V |
| Contactor relay driver            | GP15          | high = coil energised                   |
| Contactor mirror contact          | GP13          | internal pull-up, closed = low          |
| RCD / RDC-DD trip                 | GP12          | internal pull-up, tripped = low         |
| Status LED                        | "LED"         | on-board LED (driven through the CYW43) |
| RS-485 TX / RX / DE (UART0)       | GP0 / GP1 / GP2 | MAX3485, DE and /RE tied              |
| S0 pulse input (METER = "S0")     | GP11          | internal pull-up                        |
| MFRC522 SCK / MOSI / MISO (SPI0)  | GP18 / GP19 / GP16 |                                    |
| MFRC522 SDA(CS) / RST             | GP17 / GP20   |                                         |

``CP_CAL``: raw ``read_u16`` at -12 V and at +12 V on the CP sense input; calibrate per unit (see
boards/esp32_devkit.py). The RP2040 ADC reads 0..3.3 V linearly (ADC_VREF = 3V3).
"""
from boards._common import serial, firmware_version

VENDOR = "OCPP2Lite"
MODEL = "LitePicoW"
SERIAL = serial("PW-")
FIRMWARE_VERSION = firmware_version("0.1.0")
EVSES = 1
CONNECTOR_TYPE = "cType2"  # fixed cable with a Type 2 connector (Part 2 ConnectorEnumType)
FIXED_CABLE = True
PHASES = 1
MAX_CURRENT_A = 32
VOLTAGE_V = 230
MAX_POWER_W = 7360

# Memory bounds (bytes / entries); visible in the device model as limits.
MAX_FRAME = 8192     # largest OCPP-J frame received or sent (InstallCertificate needs ~6 kB)
SEND_QUEUE = 8       # waiting non-transaction CALLs; one more is refused (QueueFull, logged)
TX_QUEUE = 64        # persisted TransactionEvents awaiting confirmation
TX_ENDED_SAMPLES = 8  # meter values kept per transaction for its Ended event (J01/J02 TxEnded*)

# Wiring
CP_PWM = 14
CP_ADC = 26
CP_CAL = (4000, 61535)
CP_INVERT = False
CP_SAMPLES = 160      # ADC readings per burst: must span >= 1 PWM period (1 ms)
RELAY = 15
RELAY_ACTIVE = 1
RELAY_FB = 13
RELAY_FB_ACTIVE = 0
RCD = 12
RCD_ACTIVE = 0
LED = "LED"
METER = "SDM120"     # "SDM120", "SDM630" or "S0"
METER_UART = 0
METER_TX = 0
METER_RX = 1
METER_DE = 2
METER_BAUD = 2400     # SDM120 factory setting; 9600 (set on the meter) reads faster
METER_UNIT = 1
S0_PIN = 11
S0_PPK = 1000        # pulses per kWh
# What the meter offers: the valuesList of the measurand variables (an S0 line has no V / A).
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import") + \
    (() if METER == "S0" else ("Current.Import", "Voltage"))
RFID_SPI = 0
RFID_SCK = 18
RFID_MOSI = 19
RFID_MISO = 16
RFID_CS = 17
RFID_RST = 20
RFID_BAUD = 1000000


def make_meter(clock):
    from machine import Pin, UART
    if METER == "S0":
        from hal.s0 import S0Meter
        return S0Meter(Pin(S0_PIN, Pin.IN, Pin.PULL_UP), clock, S0_PPK)
    from hal.modbus import ModbusRTU
    from hal.sdm import SdmMeter
    uart = UART(METER_UART, baudrate=METER_BAUD, tx=Pin(METER_TX), rx=Pin(METER_RX), timeout=0)
    bus = ModbusRTU(uart, clock, Pin(METER_DE, Pin.OUT, value=0), baudrate=METER_BAUD)
    return SdmMeter(bus, clock, METER_UNIT, METER)


def make_hal(clock, evses=EVSES):
    """-> ([hal.Evse], Mfrc522). One EVSE only (one pin set); ``evses`` > 1 raises ValueError."""
    if evses != 1:
        raise ValueError("pico_w has 1 EVSE")
    from machine import Pin, PWM, ADC, SPI
    from hal import Evse
    from hal.pilot import PwmPilot
    from hal.contactor import RelayContactor
    from hal.io import FaultPin, AnyFault, EvseLed
    from hal.mfrc522 import Mfrc522
    pwm = PWM(Pin(CP_PWM), freq=1000, duty_u16=65535)
    pilot = PwmPilot(pwm, ADC(Pin(CP_ADC)), clock, MAX_CURRENT_A, CP_CAL, CP_SAMPLES,
                     invert=CP_INVERT)
    rcd = FaultPin(Pin(RCD, Pin.IN, Pin.PULL_UP), "RCD", RCD_ACTIVE)
    contactor = RelayContactor(Pin(RELAY, Pin.OUT, value=1 - RELAY_ACTIVE), pilot, clock,
                               Pin(RELAY_FB, Pin.IN, Pin.PULL_UP), RELAY_ACTIVE, RELAY_FB_ACTIVE,
                               fault_input=rcd)
    evse = Evse(pilot, contactor, make_meter(clock), None, AnyFault(rcd, pilot))
    evse.led = EvseLed(Pin(LED, Pin.OUT, value=0), clock, evse)
    spi = SPI(RFID_SPI, baudrate=RFID_BAUD, sck=Pin(RFID_SCK), mosi=Pin(RFID_MOSI),
              miso=Pin(RFID_MISO))
    rfid = Mfrc522(spi, Pin(RFID_CS, Pin.OUT, value=1), clock, Pin(RFID_RST, Pin.OUT, value=0))
    return [evse], rfid


# L01 firmware update (lite_stack/blocks/firmware.py): the image is an application bundle (the
# stack's .mpy files packed by ocpp2lite deploy); it is staged in the flash file system in A/B
# slots behind the atomic pointer ``fw_boot`` (boards/_fwslot.py), which the boot script reads to
# pick the bundle; a bundle that fails to start leaves the pointer at ``trial`` for the loader
# to fall back on.
def install_firmware(path, state_dir):
    from boards import _fwslot
    _fwslot.stage(path, state_dir)


def firmware_booted(state_dir):
    from boards import _fwslot
    return _fwslot.confirm(state_dir)
