"""ESP32 DevKitC (ESP32-WROOM-32, 4 MB flash, no PSRAM) charger board.

One EVSE, 3-phase 16 A (11 kW), fixed cable with a Type 2 connector, Eastron SDM630 on RS-485,
MFRC522 RFID reader, RDC-DD / RCD trip input, contactor with mirror contact, status LED.

Pin map (ESP32 GPIO numbers; ADC1 only - ADC2 is unusable while Wi-Fi runs):

| Function                         | GPIO | Notes                                              |
|----------------------------------|------|----------------------------------------------------|
| CP PWM out (1 kHz)               | 27   | to the +/-12 V op-amp stage                        |
| CP sense in (ADC1_CH6)           | 34   | divider + offset: -12..+12 V -> 0.1..3.1 V, 11 dB  |
| Contactor relay driver           | 26   | high = coil energised                              |
| Contactor mirror contact         | 35   | input only: external 10 k pull-up, closed = low    |
| RCD / RDC-DD trip                | 39   | input only: external pull-up, tripped = low        |
| Status LED                       | 2    | on-board blue LED                                  |
| RS-485 TX / RX / DE (UART2)      | 17 / 16 / 4 | MAX3485, DE and /RE tied                    |
| S0 pulse input (METER = "S0")    | 36   | input only, external pull-up                       |
| MFRC522 SCK / MOSI / MISO (SPI2) | 18 / 23 / 19 |                                            |
| MFRC522 SDA(CS) / RST            | 5 / 22 |                                                  |

``CP_CAL`` is the two-point CP calibration in ``ADC.read_u16`` units (raw at -12 V, raw at +12 V):
measure both with the EVSE output forced to -12 V (``set_unavailable(True)``) and to +12 V with no
EV, and put the values here (the ESP32 ADC is non-linear near the rails: stay within 0.1-3.1 V).
"""
from boards._common import serial, firmware_version

VENDOR = "OCPP2Lite"
MODEL = "LiteESP32"
SERIAL = serial("E32-")
FIRMWARE_VERSION = firmware_version("0.1.0")
EVSES = 1
CONNECTOR_TYPE = "cType2"  # fixed cable with a Type 2 connector (Part 2 ConnectorEnumType)
FIXED_CABLE = True
PHASES = 3
MAX_CURRENT_A = 16
VOLTAGE_V = 230
MAX_POWER_W = 11040

# Memory bounds (bytes / entries); visible in the device model as limits.
MAX_FRAME = 8192     # largest OCPP-J frame received or sent (InstallCertificate needs ~6 kB)
SEND_QUEUE = 8       # waiting non-transaction CALLs; one more is refused (QueueFull, logged)
TX_QUEUE = 64        # persisted TransactionEvents awaiting confirmation
TX_ENDED_SAMPLES = 8  # meter values kept per transaction for its Ended event (J01/J02 TxEnded*)

# Wiring
CP_PWM = 27
CP_ADC = 34
CP_CAL = (4000, 61535)
CP_INVERT = False
CP_SAMPLES = 64      # ADC readings per burst: must span >= 1 PWM period (1 ms)
RELAY = 26
RELAY_ACTIVE = 1
RELAY_FB = 35
RELAY_FB_ACTIVE = 0
RCD = 39
RCD_ACTIVE = 0
LED = 2
METER = "SDM630"     # "SDM630", "SDM120" or "S0"
METER_UART = 2
METER_TX = 17
METER_RX = 16
METER_DE = 4
METER_BAUD = 9600     # SDM630 factory setting
METER_UNIT = 1
S0_PIN = 36
S0_PPK = 1000        # pulses per kWh
# What the meter offers: the valuesList of the measurand variables (an S0 line has no V / A).
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import") + \
    (() if METER == "S0" else ("Current.Import", "Voltage"))
RFID_SPI = 2
RFID_SCK = 18
RFID_MOSI = 23
RFID_MISO = 19
RFID_CS = 5
RFID_RST = 22
RFID_BAUD = 1000000


def make_meter(clock):
    from machine import Pin, UART
    if METER == "S0":
        from hal.s0 import S0Meter
        return S0Meter(Pin(S0_PIN, Pin.IN), clock, S0_PPK)
    from hal.modbus import ModbusRTU
    from hal.sdm import SdmMeter
    uart = UART(METER_UART, baudrate=METER_BAUD, tx=METER_TX, rx=METER_RX, timeout=0)
    bus = ModbusRTU(uart, clock, Pin(METER_DE, Pin.OUT, value=0), baudrate=METER_BAUD)
    return SdmMeter(bus, clock, METER_UNIT, METER)


def make_hal(clock, evses=EVSES):
    """-> ([hal.Evse], Mfrc522). One EVSE only (one pin set); ``evses`` > 1 raises ValueError."""
    if evses != 1:
        raise ValueError("esp32_devkit has 1 EVSE")
    from machine import Pin, PWM, ADC, SPI
    from hal import Evse
    from hal.pilot import PwmPilot
    from hal.contactor import RelayContactor
    from hal.io import FaultPin, AnyFault, EvseLed
    from hal.mfrc522 import Mfrc522
    pwm = PWM(Pin(CP_PWM), freq=1000, duty_u16=65535)
    adc = ADC(Pin(CP_ADC), atten=ADC.ATTN_11DB)
    pilot = PwmPilot(pwm, adc, clock, MAX_CURRENT_A, CP_CAL, CP_SAMPLES,
                     invert=CP_INVERT)
    rcd = FaultPin(Pin(RCD, Pin.IN), "RCD", RCD_ACTIVE)
    contactor = RelayContactor(Pin(RELAY, Pin.OUT, value=1 - RELAY_ACTIVE), pilot, clock,
                               Pin(RELAY_FB, Pin.IN), RELAY_ACTIVE, RELAY_FB_ACTIVE,
                               fault_input=rcd)
    evse = Evse(pilot, contactor, make_meter(clock), None, AnyFault(rcd, pilot))
    evse.led = EvseLed(Pin(LED, Pin.OUT, value=0), clock, evse)
    spi = SPI(RFID_SPI, baudrate=RFID_BAUD, sck=Pin(RFID_SCK), mosi=Pin(RFID_MOSI),
              miso=Pin(RFID_MISO))
    rfid = Mfrc522(spi, Pin(RFID_CS, Pin.OUT, value=1), clock, Pin(RFID_RST, Pin.OUT, value=0))
    return [evse], rfid


# L01 firmware update (lite_stack/blocks/firmware.py): the image is an ESP32 app image written to
# the next OTA app partition; the bootloader boots it once and rolls back unless the new app marks
# itself valid (``firmware_booted``, after registration). Needs a partition table with OTA slots.
FW_SECTOR = 4096
FW_LABEL = "fw_ota"   # state file: the label of the partition set to boot


def install_firmware(path, state_dir):
    """Write ``path`` to the next OTA partition in 4 kB blocks and make it the boot partition.
    ``ValueError``: not an ESP32 app image (magic 0xE9) or larger than the partition; ``OSError``:
    flash failure (the boot partition is then unchanged)."""
    import esp32
    part = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
    size = part.info()[3]
    buf = bytearray(FW_SECTOR)
    blk = 0
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            if blk == 0 and buf[0] != 0xE9:
                raise ValueError("not an ESP32 app image")
            if (blk + 1) * FW_SECTOR > size:
                raise ValueError("image larger than the OTA partition")
            for i in range(n, FW_SECTOR):
                buf[i] = 0xFF
            part.writeblocks(blk, buf)
            blk += 1
    if not blk:
        raise ValueError("empty image")
    with open(state_dir + "/" + FW_LABEL, "w") as f:
        f.write(part.info()[4])
    part.set_boot()


def firmware_booted(state_dir):
    """True when the running partition is the one ``install_firmware`` set (then the rollback is
    cancelled); False when the bootloader rolled back to the old app."""
    import esp32
    try:
        with open(state_dir + "/" + FW_LABEL) as f:
            want = f.read()
    except OSError:
        return False
    if esp32.Partition(esp32.Partition.RUNNING).info()[4] != want:
        return False
    esp32.Partition.mark_app_valid_cancel_rollback()
    return True
