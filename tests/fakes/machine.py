"""A fake MicroPython ``machine`` module (Pin, PWM, ADC, UART, SPI, Timer, WDT, ...) for tests.

Runs on CPython and on the MicroPython unix port (whose built-in ``machine`` has no Pin/PWM/UART).
``install()`` puts it in ``sys.modules["machine"]`` so board modules' ``import machine`` gets it;
``clear()`` forgets every wire and device between tests.

The "board" is a set of registries keyed by pin / bus id, so device models attach to the wires the
way the real parts are soldered:
- every GPIO is a ``Line``: what the MCU drives (``out``), what the outside drives (``ext``: 0/1,
  None = floating -> pull level, or a callable evaluated on each read), ``watchers`` told when the
  MCU output changes, and an IRQ fired on external edges (``Line.drive``);
- ``attach_adc(pin, fn)``: ``ADC.read_u16()`` returns ``fn()``;
- ``attach_uart(id, dev)``: ``UART.write`` hands bytes to ``dev.on_write(data)``; bytes from the
  device arrive through ``dev.poll()`` (checked by ``any``/``read``) or ``uart.feed(data)``;
- ``attach_spi(id, cs_pin, dev)``: transfers while that chip-select line is low go to
  ``dev.transfer(data) -> bytes`` (``dev.select()`` is called on the falling CS edge).
"""
import sys

_lines = {}
_adc = {}
_uart_dev = {}
_spi_dev = {}
pwms = {}
wdts = []
timers = []
resets = []
LOG = 32    # bound of every log the fakes keep (tests of long runs must not grow the heap)


def clear():
    _lines.clear()
    _adc.clear()
    _uart_dev.clear()
    _spi_dev.clear()
    pwms.clear()
    del wdts[:]
    del timers[:]
    del resets[:]


def install():
    sys.modules["machine"] = sys.modules[__name__]
    return sys.modules[__name__]


def _id(p):
    return p.line.id if isinstance(p, Pin) else p


def line(pin_id):
    """The wire of a GPIO id (created on first use)."""
    ln = _lines.get(pin_id)
    if ln is None:
        ln = Line(pin_id)
        _lines[pin_id] = ln
    return ln


def attach_adc(pin_id, fn):
    _adc[pin_id] = fn


def attach_uart(uart_id, dev):
    _uart_dev[uart_id] = dev


def attach_spi(bus_id, cs_pin_id, dev):
    _spi_dev.setdefault(bus_id, []).append((cs_pin_id, dev))
    line(cs_pin_id).watchers.append(lambda lv: dev.select() if lv == 0 and hasattr(dev, "select")
                                    else None)


class Line:
    def __init__(self, pin_id):
        self.id = pin_id
        self.mode = -1
        self.pull = -1
        self.out = 0
        self.ext = None
        self.watchers = []
        self.handler = None
        self.trigger = 0
        self.writes = 0
        self.pin = None

    def level(self):
        if self.mode == Pin.OUT or self.mode == Pin.OPEN_DRAIN and self.out == 0:
            return self.out
        e = self.ext
        if callable(e):
            e = e()
        if e is None:
            return 1 if self.pull == Pin.PULL_UP else 0
        return 1 if e else 0

    def set_out(self, v):
        v = 1 if v else 0
        if v != self.out:
            self.out = v
            self.writes += 1
            for w in self.watchers:
                w(v)

    def drive(self, v):
        """Drive the wire from outside (a model or test); fires the IRQ on a matching edge."""
        old = self.level()
        self.ext = v
        new = self.level()
        if self.handler is not None and old != new:
            edge = Pin.IRQ_RISING if new else Pin.IRQ_FALLING
            if self.trigger & edge:
                self.handler(self.pin)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, pin_id, mode=-1, pull=-1, value=None, **kw):
        self.line = line(pin_id)
        self.line.pin = self
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None, **kw):
        if mode != -1:
            self.line.mode = mode
        if pull != -1:
            self.line.pull = pull
        if value is not None:
            self.line.set_out(value)

    def value(self, v=None):
        if v is None:
            return self.line.level()
        self.line.set_out(v)

    __call__ = value

    def on(self):
        self.line.set_out(1)

    def off(self):
        self.line.set_out(0)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False, **kw):
        self.line.handler = handler
        self.line.trigger = trigger
        self.line.pin = self
        return self

    def __repr__(self):
        return "Pin(%r)" % (self.line.id,)


class Signal:
    def __init__(self, pin, invert=False):
        self.pin = pin
        self.invert = invert

    def value(self, v=None):
        if v is None:
            return self.pin.value() ^ self.invert
        self.pin.value((1 if v else 0) ^ self.invert)


class PWM:
    def __init__(self, pin, freq=0, duty_u16=None, duty_ns=None, invert=False, **kw):
        self.pin = pin
        self._freq = freq
        self._duty = 0 if duty_u16 is None else duty_u16
        self.active = True
        self.changes = 0
        pwms[_id(pin)] = self

    def init(self, freq=None, duty_u16=None, **kw):
        if freq is not None:
            self._freq = freq
        if duty_u16 is not None:
            self.duty_u16(duty_u16)
        self.active = True

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16")
        if d != self._duty:
            self.changes += 1
        self._duty = d

    def deinit(self):
        self.active = False


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3

    def __init__(self, pin, atten=None, **kw):
        self.id = _id(pin)
        self.reads = 0

    def atten(self, a):
        pass

    def width(self, w):
        pass

    def read_u16(self):
        self.reads += 1
        fn = _adc.get(self.id)
        v = int(fn()) if fn else 0
        return 0 if v < 0 else 65535 if v > 65535 else v

    def read(self):
        return self.read_u16() >> 4


class UART:
    def __init__(self, uart_id, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None,
                 timeout=0, **kw):
        self.id = uart_id
        self.baudrate = baudrate
        self.rx = bytearray()
        self.written = []   # the last LOG writes, as bytes
        self.deinited = False

    def init(self, *a, **kw):
        pass

    def deinit(self):
        self.deinited = True

    def _pump(self):
        dev = _uart_dev.get(self.id)
        if dev is not None and hasattr(dev, "poll"):
            d = dev.poll()
            if d:
                self.rx.extend(d)

    def feed(self, data):
        self.rx.extend(data)

    def write(self, buf):
        data = bytes(buf)
        if len(self.written) >= LOG:
            del self.written[0]
        self.written.append(data)
        dev = _uart_dev.get(self.id)
        if dev is not None:
            dev.on_write(data)
        return len(data)

    def any(self):
        self._pump()
        return len(self.rx)

    def read(self, n=None):
        self._pump()
        if not self.rx:
            return None
        if n is None or n > len(self.rx):
            n = len(self.rx)
        d = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return d

    def readinto(self, buf, nbytes=None):
        self._pump()
        n = len(buf) if nbytes is None else nbytes
        if n > len(self.rx):
            n = len(self.rx)
        if not n:
            return None
        for i in range(n):
            buf[i] = self.rx[i]
        self.rx = self.rx[n:]
        return n

    def flush(self):
        pass

    def txdone(self):
        return True


class SPI:
    MSB = 0
    LSB = 1

    def __init__(self, bus_id, baudrate=1000000, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None, **kw):
        self.id = bus_id
        self.baudrate = baudrate
        self.transfers = 0

    def init(self, *a, **kw):
        pass

    def deinit(self):
        pass

    def _xfer(self, data):
        self.transfers += 1
        for cs, dev in _spi_dev.get(self.id, ()):
            if line(cs).level() == 0:
                return dev.transfer(bytes(data))
        return b"\xff" * len(data)   # nobody selected: MISO pulled up

    def write(self, buf):
        self._xfer(buf)

    def read(self, n, write=0):
        return bytes(self._xfer(bytes([write]) * n))

    def readinto(self, buf, write=0):
        r = self._xfer(bytes([write]) * len(buf))
        for i in range(len(buf)):
            buf[i] = r[i]

    def write_readinto(self, wbuf, rbuf):
        if len(wbuf) != len(rbuf):
            raise ValueError("buffers must be the same length")
        r = self._xfer(bytes(wbuf))
        for i in range(len(rbuf)):
            rbuf[i] = r[i]


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, timer_id=-1, mode=PERIODIC, period=-1, freq=None, callback=None, **kw):
        self.id = timer_id
        self.callback = None
        timers.append(self)
        if callback is not None:
            self.init(mode=mode, period=period, freq=freq, callback=callback)

    def init(self, mode=PERIODIC, period=-1, freq=None, callback=None, **kw):
        self.mode = mode
        self.period = period
        self.freq = freq
        self.callback = callback

    def deinit(self):
        self.callback = None

    def fire(self):
        """Test helper: run the callback as the hardware would at expiry."""
        cb = self.callback
        if self.mode == Timer.ONE_SHOT:
            self.callback = None
        if cb is not None:
            cb(self)


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        wdts.append(self)

    def feed(self):
        self.feeds += 1


class RTC:
    def __init__(self, id=0):
        self._dt = (2000, 1, 1, 5, 0, 0, 0, 0)

    def datetime(self, dt=None):
        if dt is None:
            return self._dt
        self._dt = tuple(dt)


class ResetCalled(Exception):
    pass


def reset():
    resets.append("reset")
    raise ResetCalled()


def soft_reset():
    resets.append("soft_reset")
    raise ResetCalled()


def unique_id():
    return b"\x24\x0a\xc4\x12\x34\x56"


def freq(f=None):
    return 240000000


def idle():
    pass


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def reset_cause():
    return 1


PWRON_RESET = 1
WDT_RESET = 3
