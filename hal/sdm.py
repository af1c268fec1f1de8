"""Eastron SDM120 / SDM630 energy meter over Modbus RTU (``hal.modbus.ModbusRTU``).

Register maps (Eastron SDM120-Modbus / SDM630-Modbus V2 protocol documents, function 04 input
registers, IEEE 754 float32, high word first):

- SDM120: 0x0000 voltage V, 0x0006 current A, 0x000C active power W, 0x0048 import active energy
  kWh. One cycle reads 0x0000..0x000D (14 registers) and 0x0048 (2).
- SDM630: 0x0000/02/04 phase 1-3 voltage V (L-N), 0x0006/08/0A phase currents A, 0x000C/0E/10
  phase powers W, 0x0048 import active energy kWh. One cycle reads 0x0000..0x0011 (18) and 0x0048.

Interface (``hal.EnergyMeter``): ``energy_wh()`` -> int Wh, ``power_w()`` -> int W (sum of phases),
``read(measurand)`` for the ``measurands`` below ("Voltage": L1 in V; "Current.Import": the
highest phase current in A), ``phase_values(measurand)`` -> tuple per phase. Getters return the
last values read and never block.

Non-blocking: ``await update()`` runs one read cycle (two Modbus requests) and returns True/False;
``async task()`` repeats it every ``period_ms`` (the station starts it). Failures never raise out
of ``task``: after ``fail_limit`` consecutive failed cycles ``ok`` goes False and ``error`` holds
the last ``ModbusError`` kind ("Timeout", "CRC", ...); values keep their last reading.

Energy is kept in integer Wh: float32 registers are decoded with integer arithmetic
(``f32_scaled``), so 32-bit-float ports lose nothing beyond the meter's own float32 resolution.
The import register never goes backwards: a smaller reading is rejected and counted in
``glitches`` (OCPP 2.0.1 Part 2 J: Energy.Active.Import.Register is a monotonic register).
"""
from hal import EnergyMeter

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_ENERGY_REG = const(0x0048)
_FUNC = const(4)


def f32_scaled(b, off, scale):
    """IEEE 754 big-endian float32 at ``b[off:off+4]`` times ``scale``, rounded to the nearest
    int, computed without floats. Raises ValueError for NaN/infinity."""
    u = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]
    e = (u >> 23) & 0xFF
    m = u & 0x7FFFFF
    if e == 0xFF:
        raise ValueError("float32 NaN/inf")
    if e:
        m |= 0x800000
        sh = e - 150
    else:
        sh = -149
    v = m * scale
    if sh >= 0:
        v <<= sh
    else:
        v = (v + (1 << (-sh - 1))) >> -sh
    return -v if u >> 31 else v


class SdmMeter(EnergyMeter):
    measurands = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
                  "Voltage")

    def __init__(self, bus, clock, unit=1, model="SDM120", period_ms=1000, fail_limit=3):
        if model not in ("SDM120", "SDM630"):
            raise ValueError("model")
        self.bus = bus
        self.clock = clock
        self.unit = unit
        self.model = model
        self.phases = 3 if model == "SDM630" else 1
        self.period_ms = period_ms
        self.fail_limit = fail_limit
        self._wh = 0
        self._w = 0
        self._dv = [0] * self.phases   # voltage, 0.1 V
        self._ma = [0] * self.phases   # current, mA
        self.ok = False
        self.error = None
        self.errors = 0
        self.glitches = 0
        self.reads = 0
        self._fails = 0
        self._running = False

    def energy_wh(self):
        return self._wh

    def power_w(self):
        return self._w

    def read(self, measurand):
        if measurand == "Voltage":
            return self._dv[0] / 10
        if measurand == "Current.Import":
            return max(self._ma) / 1000
        return EnergyMeter.read(self, measurand)

    def phase_values(self, measurand):
        if measurand == "Voltage":
            return tuple(v / 10 for v in self._dv)
        if measurand == "Current.Import":
            return tuple(a / 1000 for a in self._ma)
        return None

    async def update(self):
        n = self.phases
        try:
            d = await self.bus.read(self.unit, _FUNC, 0, 14 if n == 1 else 18)
            w = 0
            for i in range(n):
                self._dv[i] = f32_scaled(d, 4 * i, 10)
                self._ma[i] = f32_scaled(d, 12 + 4 * i, 1000)
                w += f32_scaled(d, 24 + 4 * i, 1)
            d = await self.bus.read(self.unit, _FUNC, _ENERGY_REG, 2)
            wh = f32_scaled(d, 0, 1000)
        except Exception as e:  # ModbusError, ValueError (NaN), OSError from the UART
            self.errors += 1
            self._fails += 1
            self.error = e.args[0] if e.args else type(e).__name__
            if self._fails >= self.fail_limit:
                self.ok = False
            return False
        self._w = w if w > 0 else 0  # import power; export is not an import measurand
        if wh >= self._wh:
            self._wh = wh
        else:
            self.glitches += 1
        self._fails = 0
        self.ok = True
        self.error = None
        self.reads += 1
        return True

    async def task(self):
        if self._running:
            return
        self._running = True
        try:
            while True:
                await self.update()
                await self.clock.sleep_ms(self.period_ms)
        finally:
            self._running = False
