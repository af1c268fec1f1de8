"""hal.mfrc522.Mfrc522 against the MFRC522 register model with ISO 14443A cards (both interpreters)."""
from tests.fakes import machine as fm
from tests.fakes.mfrc522 import Mfrc522Model, Card, crc_a_ref
from lite_stack.vclock import VirtualClock
from hal.mfrc522 import Mfrc522, crc_a, format_uid

BUS, CS, RST = 2, 5, 22


def make(**kw):
    fm.install()
    fm.clear()
    clock = VirtualClock()
    model = Mfrc522Model(BUS, CS)
    rfid = Mfrc522(fm.SPI(BUS), fm.Pin(CS, fm.Pin.OUT, value=1), clock,
                   fm.Pin(RST, fm.Pin.OUT, value=0), **kw)
    return clock, model, rfid


def up(clock, rfid):
    assert rfid.poll() is None                # soft reset issued
    clock.advance(50)
    assert rfid.poll() is None                # version checked, configured
    assert rfid.ok


def scan(clock, rfid, ms=100):
    clock.advance(ms)
    return rfid.poll()


def test_crc_a_iso14443_annex_b_vectors():
    assert crc_a(b"\x00\x00", 0, 2) == 0x1EA0     # transmitted A0 1E
    assert crc_a(b"\x12\x34", 0, 2) == 0xCF26     # transmitted 26 CF
    assert crc_a(b"\x50\x00", 0, 2) == 0xCD57     # HLTA = 50 00 57 CD
    for data in (b"\x93\x70\xde\xad\xbe\xef\x22", b"\x08", b"\x04\x00"):
        assert crc_a(data, 0, len(data)) == crc_a_ref(data)


def test_bringup_soft_reset_version_and_antenna():
    clock, model, rfid = make()
    assert not rfid.ok and not model.antenna_on()
    rfid.poll()
    assert fm.line(RST).out == 1 and model.resets >= 2
    clock.advance(49)
    rfid.poll()
    assert not rfid.ok                            # oscillator start-up time not over
    clock.advance(1)
    rfid.poll()
    assert rfid.ok and rfid.version == 0x92 and model.antenna_on()
    assert model.regs[0x2A] == 0x80 and model.regs[0x2D] == 0xC8   # TAuto, 5 ms timeout


def test_no_reader_reported_and_retried():
    clock, model, rfid = make(retry_ms=1000)
    model.absent = True
    rfid.poll()
    clock.advance(50)
    rfid.poll()
    assert not rfid.ok and rfid.error == "NoReader"
    model.absent = False
    clock.advance(500)
    rfid.poll()
    clock.advance(50)
    rfid.poll()
    assert not rfid.ok                            # waits retry_ms before the next attempt
    clock.advance(500)
    rfid.poll()
    clock.advance(50)
    rfid.poll()
    assert rfid.ok and rfid.error is None


def test_C_4_byte_uid_one_swipe_one_token():
    clock, model, rfid = make()
    up(clock, rfid)
    assert scan(clock, rfid) is None              # empty field
    card = Card(b"\xde\xad\xbe\xef")
    model.place(card)
    assert scan(clock, rfid) == ("DEADBEEF", "ISO14443")
    for _ in range(30):                           # card rests on the reader for 3 s
        assert scan(clock, rfid) is None
    assert card.state == "HALT" and card.reads == 1
    model.remove(card)
    assert scan(clock, rfid) is None
    model.place(card)                             # swiped again after the hold-off
    assert scan(clock, rfid) == ("DEADBEEF", "ISO14443")


def test_bounce_within_holdoff_is_the_same_swipe():
    clock, model, rfid = make(holdoff_ms=2000)
    up(clock, rfid)
    card = Card(b"\x01\x02\x03\x04")
    model.place(card)
    assert scan(clock, rfid) == ("01020304", "ISO14443")
    for _ in range(5):                            # card flutters at the edge of the field
        model.remove(card)
        scan(clock, rfid)
        model.place(card)
        assert scan(clock, rfid) is None
    assert card.reads == 6                        # it was read, but reported once
    other = Card(b"\x0a\x0b\x0c\x0d")
    model.remove(card)
    model.place(other)                            # a different card is reported at once
    assert scan(clock, rfid) == ("0A0B0C0D", "ISO14443")


def test_7_and_10_byte_uids_use_cascade_levels():
    clock, model, rfid = make()
    up(clock, rfid)
    c7 = Card(b"\x04\xa2\x2b\x3a\x5c\x6d\x80", sak=0x00)
    model.place(c7)
    assert scan(clock, rfid) == ("04A22B3A5C6D80", "ISO14443")
    sels = [f[0][0] for f in model.frames if len(f[0]) == 9 and f[0][1] == 0x70]
    assert sels == [0x93, 0x95]
    model.remove(c7)
    c10 = Card(bytes(range(0x11, 0x1B)), sak=0x20)
    model.place(c10)
    assert scan(clock, rfid) == ("1112131415161718191A", "ISO14443")


def test_anticollision_separates_two_cards():
    clock, model, rfid = make()
    up(clock, rfid)
    a = Card(b"\x12\x34\x56\x78")
    b = Card(b"\x12\x34\x57\x78")                  # differ in bit 16 (byte 2, bit 0)
    model.place(a)
    model.place(b)
    first = scan(clock, rfid)
    second = scan(clock, rfid)
    assert first == ("12345778", "ISO14443")       # the driver follows the 1 at the collision
    assert second == ("12345678", "ISO14443")
    assert scan(clock, rfid) is None
    anticoll = [f for f in model.frames if f[0][:1] == b"\x93" and f[0][1] != 0x70]
    assert any(f[0][1] == 0x41 and f[1] == 1 for f in anticoll), anticoll   # 2 bytes + 1 bit known


def test_anticollision_collision_in_first_and_last_bits():
    clock, model, rfid = make()
    up(clock, rfid)
    model.place(Card(b"\x00\x00\x00\x00"))
    model.place(Card(b"\x01\x00\x00\x80"))
    model.place(Card(b"\x00\x00\x00\x80"))
    got = set()
    for _ in range(4):
        r = scan(clock, rfid)
        if r:
            got.add(r[0])
    assert got == {"00000000", "01000080", "00000080"}


def test_frames_on_the_wire():
    clock, model, rfid = make()
    up(clock, rfid)
    model.place(Card(b"\xde\xad\xbe\xef"))
    scan(clock, rfid)
    frames = [f for f in model.frames]
    assert frames[0] == (b"\x26", 7)                            # REQA, 7-bit short frame
    assert frames[1] == (b"\x93\x20", 0)                         # anticollision, NVB 0x20
    sel = frames[2][0]
    assert sel[:7] == b"\x93\x70\xde\xad\xbe\xef" + bytes((0xde ^ 0xad ^ 0xbe ^ 0xef,))
    c = crc_a_ref(sel[:7])
    assert sel[7:] == bytes((c & 0xFF, c >> 8))
    assert frames[3] == (b"\x50\x00\x57\xcd", 0)                # HLTA with CRC_A


def test_uid_formats():
    uid = b"\x04\xa2\x2b\x3a"
    assert format_uid(uid) == "04A22B3A"
    assert format_uid(uid, "hex_reversed") == "3A2BA204"
    assert format_uid(uid, "dec") == str(0x3A2BA204)
    clock, model, rfid = make(uid_format="hex_reversed")
    up(clock, rfid)
    model.place(Card(uid))
    assert scan(clock, rfid) == ("3A2BA204", "ISO14443")


def test_scan_rate_limited_and_chip_loss_recovered():
    clock, model, rfid = make(scan_ms=200)
    up(clock, rfid)
    spi = rfid.spi
    clock.advance(200)
    rfid.poll()
    n = spi.transfers
    clock.advance(100)
    rfid.poll()
    assert spi.transfers == n                     # not yet: one scan per scan_ms
    model.absent = True                           # reader unplugged / browned out
    clock.advance(200)
    rfid.poll()
    assert not rfid.ok and rfid.error == "NoReader"
    model.absent = False
    clock.advance(10)
    rfid.poll()
    clock.advance(50)
    rfid.poll()
    assert rfid.ok
