"""Modbus RTU master on a UART (Modbus Application Protocol V1.1b3, Modbus over Serial Line V1.02).

Non-blocking by design: ``await bus.read(unit, func, start, count)`` writes the request and then
polls ``uart.any()`` between ``clock.sleep_ms(poll_ms)`` naps until the reply is complete or
``timeout_ms`` has passed, so the stack's loop keeps running while the meter answers (9600 Bd:
about 10 ms per 10 bytes, SDM meters answer within 50-200 ms). One request at a time per bus
(``asyncio.Lock``), so several meters can share an RS-485 line.

- ``read(unit, func, start, count)`` -> memoryview of the ``2 * count`` data bytes (big-endian
  registers), valid until the next call; ``func`` 3 (holding) or 4 (input registers).
  Raises ``ModbusError`` with ``args[0]`` one of "Timeout", "CRC", "Frame" (wrong unit, function
  or byte count) or "Exception" (``args[1]`` = the exception code, e.g. 2 illegal data address).
- ``crc16(buf, n)``: CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), sent low byte first
  (Serial Line V1.02 §2.5.1.2 / Appendix B).
- RS-485 direction: ``de`` pin (driver enable, tied to /RE) high while sending, released when
  ``uart.txdone()`` reports the last stop bit out; omit for auto-direction transceivers.
- Frames are bounded: ``count`` <= 125 registers (the 256-byte RTU ADU limit); the receive buffer
  is allocated once. Stale bytes are drained before each request; at least 3.5 character times
  (``gap_ms``, from ``baudrate``) separate frames. The reply deadline is ``timeout_ms`` (the
  meter's turnaround) plus the wire time of request and reply at ``baudrate`` (11 bits/char).
"""
import asyncio

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_MAX_REGS = const(125)


class ModbusError(Exception):
    pass


def crc16(buf, n):
    crc = 0xFFFF
    for i in range(n):
        crc ^= buf[i]
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


class ModbusRTU:
    def __init__(self, uart, clock, de=None, timeout_ms=250, poll_ms=5, baudrate=9600):
        self.uart = uart
        self.clock = clock
        self.de = de
        self.timeout_ms = timeout_ms
        self.poll_ms = poll_ms
        self.char_us = 11000000 // baudrate              # 11 bits per RTU character (§2.5.1)
        self.gap_ms = max(2, (35 * self.char_us + 9999) // 10000)   # 3.5 characters, >= 2 ms
        self._req = bytearray(8)
        self._buf = bytearray(5 + 2 * _MAX_REGS)
        self._mv = memoryview(self._buf)
        self._lock = asyncio.Lock()
        self._last = None
        if de is not None:
            de.value(0)

    async def read(self, unit, func, start, count):
        if not 0 < count <= _MAX_REGS:
            raise ValueError("count")
        await self._lock.acquire()
        try:
            return await self._transact(unit, func, start, count)
        finally:
            self._lock.release()

    async def _transact(self, unit, func, start, count):
        uart = self.uart
        clock = self.clock
        if self._last is not None:
            wait = self.gap_ms - (clock.ms() - self._last)
            if wait > 0:
                await clock.sleep_ms(wait)
        while uart.any():
            uart.readinto(self._buf)
        r = self._req
        r[0] = unit
        r[1] = func
        r[2] = start >> 8
        r[3] = start & 0xFF
        r[4] = count >> 8
        r[5] = count & 0xFF
        c = crc16(r, 6)
        r[6] = c & 0xFF
        r[7] = c >> 8
        need = 5 + 2 * count
        # the meter's answer time plus the time on the wire of request and reply
        deadline = clock.ms() + self.timeout_ms + (8 + need) * self.char_us // 1000
        if self.de is not None:
            self.de.value(1)
        uart.write(r)
        if self.de is not None:
            while not uart.txdone() and clock.ms() < deadline:
                await clock.sleep_ms(1)
            self.de.value(0)
        n = 0
        buf = self._buf
        try:
            while n < need:
                if uart.any():
                    got = uart.readinto(self._mv[n:need])
                    if got:
                        n += got
                    if n >= 2 and buf[1] == func | 0x80:
                        need = 5
                    continue
                if clock.ms() >= deadline:
                    raise ModbusError("Timeout", n)
                await clock.sleep_ms(self.poll_ms)
        finally:
            self._last = clock.ms()
        if crc16(buf, need - 2) != buf[need - 2] | (buf[need - 1] << 8):
            raise ModbusError("CRC")
        if buf[0] != unit:
            raise ModbusError("Frame", "unit")
        if buf[1] == func | 0x80:
            raise ModbusError("Exception", buf[2])
        if buf[1] != func or buf[2] != 2 * count:
            raise ModbusError("Frame", "length")
        return self._mv[3:3 + 2 * count]
