"""An Eastron SDM120 / SDM630 meter answering Modbus RTU frames on a fake UART.

Implements function 04 (read input registers) with IEEE 754 float32 values, high word first, at
the Eastron register addresses (0x00.. voltages, 0x06.. currents, 0x0C.. powers, 0x48 import
kWh). Requests with a bad CRC or another unit address get no answer (Serial Line V1.02 §2.4.1);
unknown functions get exception 01, registers beyond 0x0200 exception 02. The reply is available
``latency_ms`` after the request on the injected clock. Energy integrates ``power`` (W, a number
or a callable, e.g. "7400 while the contactor is closed") over clock time in integer mWh.
Fault switches: ``silent`` (no reply), ``corrupt`` (bad CRC), ``exception`` (code to answer),
``energy_override_kwh`` (report this instead, e.g. a glitch), ``nan`` (energy register = NaN).
``requests`` keeps the last ``machine.LOG`` requests (unit, function, start, count).

The CRC here is computed independently of hal.modbus (bit loop over a reflected polynomial).
"""
import struct

from tests.fakes import machine as fm


def crc16_ref(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return crc


def frame(body):
    c = crc16_ref(body)
    return bytes(body) + bytes((c & 0xFF, c >> 8))


class SdmModel:
    def __init__(self, uart_id, clock, unit=1, model="SDM120", power=0, voltage=230.0, start_wh=0,
                 latency_ms=30):
        self.clock = clock
        self.unit = unit
        self.model = model
        self.phases = 3 if model == "SDM630" else 1
        self.power = power
        self.voltage = voltage
        self.latency_ms = latency_ms
        self.mwh = start_wh * 1000
        self._t = clock.ms()
        self.silent = False
        self.corrupt = False
        self.exception = None
        self.energy_override_kwh = None
        self.nan = False
        self.requests = []
        self._pending = None
        fm.attach_uart(uart_id, self)

    def power_w(self):
        p = self.power() if callable(self.power) else self.power
        return p

    def _integrate(self):
        t = self.clock.ms()
        dt = t - self._t
        self._t = t
        if dt > 0:
            self.mwh += self.power_w() * dt // 3600

    def energy_wh(self):
        self._integrate()
        return self.mwh // 1000

    def registers(self):
        """{register: float} of the meter's current values."""
        self._integrate()
        n = self.phases
        p = self.power_w()
        r = {}
        for i in range(n):
            r[2 * i] = self.voltage
            r[6 + 2 * i] = (p / n) / self.voltage if p else 0.0
            r[12 + 2 * i] = p / n
        r[0x34] = float(p)
        kwh = self.mwh / 1000000 if self.energy_override_kwh is None else self.energy_override_kwh
        r[0x48] = float("nan") if self.nan else kwh
        r[0x156] = kwh
        return r

    def on_write(self, data):
        if len(data) != 8 or crc16_ref(data[:6]) != data[6] | (data[7] << 8):
            return
        unit, func = data[0], data[1]
        start = (data[2] << 8) | data[3]
        count = (data[4] << 8) | data[5]
        if len(self.requests) >= fm.LOG:
            del self.requests[0]
        self.requests.append((unit, func, start, count))
        if unit != self.unit or self.silent:
            return
        if func != 4:
            reply = frame(bytes((unit, func | 0x80, 1)))
        elif self.exception is not None or start + count > 0x200 or count > 125:
            reply = frame(bytes((unit, 0x84, self.exception or 2)))
        else:
            regs = self.registers()
            out = bytearray()
            reg = start
            while reg < start + count:
                v = regs.get(reg & ~1, 0.0)
                word = struct.pack(">f", v)
                out += word[2:4] if reg & 1 else word[0:2]
                reg += 1
            reply = frame(bytes((unit, 4, len(out))) + bytes(out))
        if self.corrupt:
            reply = reply[:-1] + bytes(((reply[-1] ^ 0x5A),))
        self._pending = (self.clock.ms() + self.latency_ms, reply)

    def poll(self):
        p = self._pending
        if p is not None and self.clock.ms() >= p[0]:
            self._pending = None
            return p[1]
        return None
