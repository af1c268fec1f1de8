"""NXP MFRC522 RFID reader on SPI: ISO/IEC 14443A card UID as an OCPP IdToken.

Sources: NXP MFRC522 datasheet rev. 3.9 (SPI address byte §8.1.2.3, registers §9.3, Transceive
§10.3.1.8, timer §8.5); ISO/IEC 14443-3 §6 (REQA 0x26 / WUPA 0x52 short frames, anticollision and
SELECT per cascade level 0x93/0x95/0x97 with NVB, cascade tag 0x88, BCC, SAK bit 3 "UID not
complete", HLTA 0x50 0x00) and Annex B (CRC_A, preset 0x6363).

Interface (``hal.RfidReader``): ``poll()`` -> None or ``(id_token, "ISO14443")`` once per swipe.
OCPP 2.0.1 Part 2 IdTokenEnumType ISO14443: the 4, 7 or 10 byte UID as hex; ``uid_format``
"hex" (upper case, bytes in anticollision order, default), "hex_reversed" or "dec" (little-endian
decimal, as printed by many access-control readers) to match what a CSMS has on file.

One swipe = one token: a card that has been read is halted (HLTA), so a card resting on the
reader answers no further REQA until it leaves the field; a card that bounces in and out of the
field within ``holdoff_ms`` of its last read is not reported again. Two cards in the field are
separated by the bit-wise anticollision and reported one per scan.

Non-blocking: ``poll()`` does one scan at most every ``scan_ms`` (REQA, anticollision, SELECT,
HLTA: about 8-20 SPI register accesses) and waits for the chip only by polling ComIrqReg at most
``max_polls`` times; the chip's own timer (about 5 ms) ends a transceive without an answer.
Bring-up (soft reset, 50 ms oscillator start, version check 0x91/0x92/0x88) is a state machine
stepped by ``poll()``. ``ok`` is False while the chip does not answer (``error`` = "NoReader");
bring-up is retried every ``retry_ms``.
"""
from binascii import hexlify

from hal import RfidReader

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_CMD = const(0x01)
_COMIRQ = const(0x04)
_ERR = const(0x06)
_FIFO = const(0x09)
_FIFOLVL = const(0x0A)
_CTRL = const(0x0C)
_BITFRM = const(0x0D)
_COLL = const(0x0E)
_MODE = const(0x11)
_TXCTRL = const(0x14)
_TXASK = const(0x15)
_RFCFG = const(0x26)
_TMODE = const(0x2A)
_TPRESC = const(0x2B)
_TRELH = const(0x2C)
_TRELL = const(0x2D)
_VERSION = const(0x37)

_IDLE = const(0x00)
_TRANSCEIVE = const(0x0C)
_SOFTRESET = const(0x0F)

_VERSIONS = (0x91, 0x92, 0x88)  # MFRC522 v1.0, v2.0, FM17522 clone
_MAXRX = const(16)


def crc_a(buf, start, n):
    """ISO/IEC 14443-3 Annex B CRC_A over buf[start:start+n]; send low byte first."""
    crc = 0x6363
    for i in range(start, start + n):
        b = (buf[i] ^ crc) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xFFFF
    return crc


def format_uid(uid, fmt="hex"):
    """UID bytes -> IdToken string: "hex" (upper case), "hex_reversed" or "dec"."""
    if fmt == "dec":
        v = 0
        for i in range(len(uid) - 1, -1, -1):
            v = (v << 8) | uid[i]
        return str(v)
    if fmt == "hex_reversed":
        uid = bytes(reversed(uid))
    return hexlify(uid).decode().upper()


class Mfrc522(RfidReader):
    def __init__(self, spi, cs, clock, rst=None, scan_ms=100, holdoff_ms=2000, uid_format="hex",
                 max_polls=200, retry_ms=5000, gain=0x70):
        self.spi = spi
        self.cs = cs
        self.clock = clock
        self.rst = rst
        self.scan_ms = scan_ms
        self.holdoff_ms = holdoff_ms
        self.uid_format = uid_format
        self.max_polls = max_polls
        self.retry_ms = retry_ms
        self.gain = gain
        self._w = bytearray(2)
        self._fw = bytearray(11)          # [FIFO write address, frame bytes...]
        self._fw[0] = (_FIFO << 1) & 0x7E
        self._fwm = memoryview(self._fw)
        self._ra = bytearray(_MAXRX + 1)  # FIFO read: address repeated, 0 to end
        self._rb = bytearray(_MAXRX + 1)
        self._ram = memoryview(self._ra)
        self._rbm = memoryview(self._rb)
        self._cl = bytearray(5)           # one cascade level: 4 bytes + BCC
        self._coll = 0
        self._stage = 0
        self._t = None
        self._scan_t = None
        self._last = None
        self._last_t = 0
        self.ok = False
        self.error = None
        self.version = None
        self.reads = 0
        cs.value(1)

    # ---- SPI register access --------------------------------------------------------------------
    def _wr(self, reg, val):
        w = self._w
        w[0] = (reg << 1) & 0x7E
        w[1] = val
        self.cs.value(0)
        self.spi.write(w)
        self.cs.value(1)

    def _rd(self, reg):
        w = self._w
        w[0] = 0x80 | ((reg << 1) & 0x7E)
        w[1] = 0
        self.cs.value(0)
        self.spi.write_readinto(w, w)
        self.cs.value(1)
        return w[1]

    def _fifo_read(self, n):
        a = 0x80 | ((_FIFO << 1) & 0x7E)
        ra = self._ra
        for i in range(n):
            ra[i] = a
        ra[n] = 0
        self.cs.value(0)
        self.spi.write_readinto(self._ram[:n + 1], self._rbm[:n + 1])
        self.cs.value(1)

    def _transceive(self, n, last_bits=0, rx_align=0):
        """Send ``_fw[1:1+n]``; -> bytes received into ``_rb[1:]``, -1 no answer, -2 error."""
        self._wr(_CMD, _IDLE)
        self._wr(_COMIRQ, 0x7F)
        self._wr(_FIFOLVL, 0x80)
        self.cs.value(0)
        self.spi.write(self._fwm[:n + 1])
        self.cs.value(1)
        self._wr(_CMD, _TRANSCEIVE)
        bf = (rx_align << 4) | last_bits
        self._wr(_BITFRM, bf | 0x80)
        done = False
        for _ in range(self.max_polls):
            irq = self._rd(_COMIRQ)
            if irq & 0x30:  # RxIRq | IdleIRq
                done = True
                break
            if irq & 0x01:  # TimerIRq: no answer in time
                break
        self._wr(_BITFRM, bf)
        if not done:
            return -1
        err = self._rd(_ERR)
        if err & 0x13:  # BufferOvfl | ParityErr | ProtocolErr
            return -2
        self._coll = err & 0x08
        n = self._rd(_FIFOLVL) & 0x7F
        if n > _MAXRX:
            n = _MAXRX
        if n:
            self._fifo_read(n)
        return n

    # ---- bring-up ----------------------------------------------------------------------------------
    def _bringup(self, now):
        if self._stage == 0:
            if self._t is not None and now - self._t < self.retry_ms:
                return
            if self.rst is not None:
                self.rst.value(1)
            self._wr(_CMD, _SOFTRESET)
            self._t = now
            self._stage = 1
            return
        if now - self._t < 50:
            return
        v = self._rd(_VERSION)
        if v not in _VERSIONS or self._rd(_CMD) & 0x10:
            self.ok = False
            self.error = "NoReader"
            self.version = v
            self._stage = 0
            return
        self.version = v
        self._wr(_TMODE, 0x80)     # TAuto: timer starts at the end of each transmission
        self._wr(_TPRESC, 0xA9)    # 13.56 MHz / (2 * 169 + 1) = 40 kHz: 25 us ticks
        self._wr(_TRELH, 0x00)
        self._wr(_TRELL, 0xC8)     # 200 ticks: 5 ms answer timeout
        self._wr(_TXASK, 0x40)     # 100 % ASK
        self._wr(_MODE, 0x3D)      # CRC preset 0x6363
        self._wr(_RFCFG, self.gain)
        self._wr(_TXCTRL, self._rd(_TXCTRL) | 0x03)  # antenna drivers on
        self._stage = 2
        self.ok = True
        self.error = None

    # ---- ISO 14443-3 ---------------------------------------------------------------------------
    def _request(self, cmd):
        self._wr(_COLL, 0x00)      # ValuesAfterColl = 0: bits after a collision read as 0
        self._fw[1] = cmd
        n = self._transceive(1, 7)
        return n == 2 or (n > 0 and self._coll)

    def _anticollision(self, sel):
        """Fill ``_cl`` with the 40 bits of cascade level ``sel``; False on failure."""
        b = self._cl
        f = self._fw
        known = 0
        for _ in range(33):
            nb = known >> 3
            bits = known & 7
            m = nb + (1 if bits else 0)
            f[1] = sel
            f[2] = ((2 + nb) << 4) | bits
            for i in range(m):
                f[3 + i] = b[i]
            n = self._transceive(2 + m, bits, bits)
            if n <= 0:
                return False
            rb = self._rb
            if bits:
                mask = (1 << bits) - 1
                b[nb] = (b[nb] & mask) | (rb[1] & ~mask & 0xFF)
            else:
                b[nb] = rb[1]
            for i in range(1, n):
                if nb + i < 5:
                    b[nb + i] = rb[1 + i]
            if not self._coll:
                return b[0] ^ b[1] ^ b[2] ^ b[3] == b[4]
            c = self._rd(_COLL)
            if c & 0x20:           # CollPosNotValid
                return False
            pos = (c & 0x1F) or 32  # 1-based bit position of the first collision
            if pos <= known:
                return False
            known = pos
            b[(pos - 1) >> 3] |= 1 << ((pos - 1) & 7)   # follow the card with a 1 there
        return False

    def _select(self):
        uid = b""
        f = self._fw
        for sel in (0x93, 0x95, 0x97):
            if not self._anticollision(sel):
                return None
            f[1] = sel
            f[2] = 0x70
            for i in range(5):
                f[3 + i] = self._cl[i]
            c = crc_a(f, 1, 7)
            f[8] = c & 0xFF
            f[9] = c >> 8
            if self._transceive(9) != 3 or self._coll:
                return None
            rb = self._rb
            if crc_a(rb, 1, 1) != rb[2] | (rb[3] << 8):
                return None
            if rb[1] & 0x04:           # SAK: UID not complete, cascade tag first
                uid += bytes(self._cl[1:4])
            else:
                return uid + bytes(self._cl[0:4])
        return None

    def _halt(self):
        f = self._fw
        f[1] = 0x50
        f[2] = 0x00
        c = crc_a(f, 1, 2)
        f[3] = c & 0xFF
        f[4] = c >> 8
        self._transceive(4)

    def read_uid(self):
        """One scan: the UID bytes of a card newly in the field (then halted), or None."""
        if not self._request(0x26):
            return None
        uid = self._select()
        if uid is not None:
            self._halt()
        return uid

    def poll(self):
        now = self.clock.ms()
        if self._stage != 2:
            self._bringup(now)
            return None
        if self._scan_t is not None and now - self._scan_t < self.scan_ms:
            return None
        self._scan_t = now
        if self._rd(_VERSION) not in _VERSIONS:   # chip reset or unplugged: bring it up again
            self._stage = 0
            self._t = None
            self.ok = False
            self.error = "NoReader"
            return None
        uid = self.read_uid()
        if uid is None:
            return None
        if uid == self._last and now - self._last_t < self.holdoff_ms:
            self._last_t = now
            return None
        self._last = uid
        self._last_t = now
        self.reads += 1
        return format_uid(uid, self.uid_format), "ISO14443"
