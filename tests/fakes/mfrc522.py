"""A register-level model of an NXP MFRC522 on a fake SPI bus, with ISO 14443A cards in its field.

SPI (datasheet §8.1.2.3): after CS falls the first byte is the address byte (bit 7 read, bits 6..1
register); on a read, every following byte clocks out the register named by the previous byte
and names the next one (0 ends); on a write, every following byte goes to that register (FIFO
writes stream). Registers modelled: CommandReg (Idle, Transceive, SoftReset), ComIrqReg (Set1
semantics), ErrorReg (CollErr), FIFODataReg/FIFOLevelReg (64-byte FIFO, flush), ControlReg
(RxLastBits = 0), BitFramingReg (StartSend, TxLastBits, RxAlign), CollReg (ValuesAfterColl,
CollPos), TxControlReg (antenna), VersionReg (0x92); the rest are plain storage.

Cards (``Card(uid, sak)``) follow ISO/IEC 14443-3: IDLE -(REQA)-> READY -(SELECT all levels)->
ACTIVE -(HLTA)-> HALT -(WUPA)-> READY; a READY card not matching a SELECT goes back to IDLE;
taking a card out of the field resets it. Anticollision answers with the remaining bits of all
matching cards; on the first differing bit the model reports CollErr with CollPos (1-based, 32 ->
0) and the collided and later bits read 0 (ValuesAfterColl = 0). SELECT and HLTA need a valid
CRC_A (computed here independently of the driver). The last 128 frames sent to the cards are
logged in ``frames`` (bytes, tx_last_bits).
"""
from tests.fakes import machine as fm

_CMD = 0x01
_COMIRQ = 0x04
_ERR = 0x06
_FIFO = 0x09
_FIFOLVL = 0x0A
_CTRL = 0x0C
_BITFRM = 0x0D
_COLL = 0x0E
_TXCTRL = 0x14
_VERSION = 0x37


def crc_a_ref(data):
    crc = 0x6363
    for byte in data:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0x8408
    return crc


class Card:
    def __init__(self, uid, sak=0x08):
        self.uid = bytes(uid)
        if len(self.uid) not in (4, 7, 10):
            raise ValueError("UID must be 4, 7 or 10 bytes")
        self.sak = sak
        self.state = "IDLE"
        self.level = 0
        self.reads = 0   # completed selections

    def levels(self):
        return {4: 1, 7: 2, 10: 3}[len(self.uid)]

    def cl(self, level):
        """The 5 bytes (4 + BCC) this card sends at cascade level 0, 1 or 2."""
        u = self.uid
        last = level == self.levels() - 1
        if last:
            b = u[3 * level:3 * level + 4]
        else:
            b = bytes((0x88,)) + u[3 * level:3 * level + 3]
        return b + bytes((b[0] ^ b[1] ^ b[2] ^ b[3],))

    def atqa(self):
        return bytes(({4: 0x04, 7: 0x44, 10: 0x84}[len(self.uid)], 0x00))


def _bit(data, i):
    return (data[i >> 3] >> (i & 7)) & 1


class Mfrc522Model:
    VERSION = 0x92

    def __init__(self, bus_id, cs_pin):
        self.regs = bytearray(64)
        self.fifo = bytearray()
        self.cards = []
        self.frames = []
        self.absent = False   # True: chip not answering (MISO floats high)
        self._first = True
        self._read = False
        self._reg = 0
        self._reset()
        fm.attach_spi(bus_id, cs_pin, self)

    def _reset(self):
        for i in range(64):
            self.regs[i] = 0
        self.regs[_CMD] = 0x20
        self.regs[_COLL] = 0x80
        self.regs[_TXCTRL] = 0x80
        self.fifo = bytearray()
        self.resets = getattr(self, "resets", 0) + 1

    # ---- the field -------------------------------------------------------------------------------
    def place(self, card):
        card.state = "IDLE"
        card.level = 0
        if card not in self.cards:
            self.cards.append(card)

    def remove(self, card):
        if card in self.cards:
            self.cards.remove(card)
        card.state = "IDLE"

    def antenna_on(self):
        return self.regs[_TXCTRL] & 0x03 == 0x03

    # ---- SPI ---------------------------------------------------------------------------------------
    def select(self):
        self._first = True

    def transfer(self, data):
        if self.absent:
            return b"\xff" * len(data)
        out = bytearray(len(data))
        for i in range(len(data)):
            b = data[i]
            if self._first:
                self._first = False
                self._read = bool(b & 0x80)
                self._reg = (b >> 1) & 0x3F
            elif self._read:
                out[i] = self._rd(self._reg)
                self._reg = (b >> 1) & 0x3F
            else:
                self._wr(self._reg, b)
        return bytes(out)

    def _rd(self, reg):
        if reg == _FIFO:
            if not self.fifo:
                return 0
            v = self.fifo[0]
            self.fifo = self.fifo[1:]
            return v
        if reg == _FIFOLVL:
            return len(self.fifo)
        if reg == _VERSION:
            return self.VERSION
        return self.regs[reg]

    def _wr(self, reg, v):
        if reg == _COMIRQ:
            if v & 0x80:
                self.regs[reg] |= v & 0x7F
            else:
                self.regs[reg] &= ~v & 0x7F
        elif reg == _FIFO:
            if len(self.fifo) < 64:
                self.fifo.append(v)
        elif reg == _FIFOLVL:
            if v & 0x80:
                self.fifo = bytearray()
        elif reg == _CMD:
            if v & 0x0F == 0x0F:
                self._reset()
                self.regs[_CMD] = 0x00   # oscillator up at once in the model
            else:
                self.regs[_CMD] = v & 0x3F
        elif reg == _BITFRM:
            self.regs[reg] = v & 0x7F
            if v & 0x80 and self.regs[_CMD] & 0x0F == 0x0C:
                self._transceive(v)
        elif reg == _VERSION:
            pass
        else:
            self.regs[reg] = v

    # ---- ISO 14443-3 ---------------------------------------------------------------------------
    def _transceive(self, bf):
        tx_last = bf & 7
        rx_align = (bf >> 4) & 7
        frame = bytes(self.fifo)
        self.fifo = bytearray()
        if len(self.frames) >= 4 * fm.LOG:
            del self.frames[0]
        self.frames.append((frame, tx_last))
        ans = self._picc(frame, tx_last) if self.antenna_on() else None
        self.regs[_CTRL] &= 0xF8
        if ans is None:
            self.regs[_ERR] = 0
            self.regs[_COMIRQ] |= 0x01   # TimerIRq: nobody answered within the timeout
            return
        data, collpos = ans
        self.fifo = bytearray(data)
        if collpos is None:
            self.regs[_ERR] = 0
            self.regs[_COLL] = (self.regs[_COLL] & 0x80) | 0x20
        else:
            self.regs[_ERR] = 0x08
            self.regs[_COLL] = (self.regs[_COLL] & 0x80) | (collpos & 0x1F)
        self.regs[_COMIRQ] |= 0x20       # RxIRq
        del rx_align

    def _picc(self, frame, tx_last):
        if tx_last == 7 and len(frame) == 1:
            if frame[0] == 0x26:
                who = [c for c in self.cards if c.state == "IDLE"]
            elif frame[0] == 0x52:
                who = [c for c in self.cards if c.state in ("IDLE", "HALT")]
            else:
                return None
            if not who:
                return None
            for c in who:
                c.state = "READY"
                c.level = 0
            return self._combine([c.atqa() for c in who], 0, 16)
        if len(frame) >= 4 and frame[0] == 0x50 and frame[1] == 0x00:
            if crc_a_ref(frame[:2]) != frame[2] | (frame[3] << 8):
                return None
            for c in self.cards:
                if c.state == "ACTIVE":
                    c.state = "HALT"
            return None
        if len(frame) >= 2 and frame[0] in (0x93, 0x95, 0x97):
            level = (frame[0] - 0x93) // 2
            nvb = frame[1]
            if nvb == 0x70:
                return self._select(frame, level)
            nbytes = (nvb >> 4) - 2
            bits = nvb & 0x0F
            if bits != tx_last or len(frame) != 2 + nbytes + (1 if bits else 0):
                return None
            known = 8 * nbytes + bits
            prefix = frame[2:]
            who = []
            for c in self.cards:
                if c.state == "READY" and c.level == level:
                    cl = c.cl(level)
                    if all(_bit(cl, i) == _bit(prefix, i) for i in range(known)):
                        who.append(cl)
            if not who:
                return None
            return self._combine(who, known, 40)
        return None

    def _combine(self, answers, start, end):
        """Superpose the answers' bits start..end-1: (FIFO bytes aligned to start, collpos)."""
        first = start >> 3
        nbytes = ((end + 7) >> 3) - first
        out = bytearray(nbytes)
        collpos = None
        for i in range(start, end):
            vals = set(_bit(a, i) for a in answers)
            if collpos is None and len(vals) > 1:
                collpos = (i + 1) % 32 if start < 32 else i + 1
            if collpos is not None:
                continue   # collided bit and everything after it read 0
            if vals.pop():
                out[(i >> 3) - first] |= 1 << (i & 7)
        return bytes(out), collpos

    def _select(self, frame, level):
        if len(frame) != 9 or crc_a_ref(frame[:7]) != frame[7] | (frame[8] << 8):
            return None
        chosen = None
        for c in self.cards:
            if c.state == "READY" and c.level == level:
                if c.cl(level) == frame[2:7] and chosen is None:
                    chosen = c
                else:
                    c.state = "IDLE"
        if chosen is None:
            return None
        if level < chosen.levels() - 1:
            chosen.level = level + 1
            sak = 0x04
        else:
            chosen.state = "ACTIVE"
            chosen.reads += 1
            sak = chosen.sak
        c = crc_a_ref(bytes((sak,)))
        return bytes((sak, c & 0xFF, c >> 8)), None
