"""The one clock of the stack: every timer, timestamp and sleep goes through it.

Shapes and units:
- ``ms()``: monotonic milliseconds, int, never wraps (accumulated from ``ticks_ms`` on MicroPython).
- ``now()``: wall-clock time, int seconds since 1970-01-01T00:00:00Z (UTC).
- ``await sleep(s)`` / ``await sleep_ms(ms)``: suspend the calling task.
- ``await wait(event, s)``: wait for an ``asyncio.Event`` at most ``s`` seconds; True if it was set.
- ``set_time(epoch_s)``: set the wall clock (G02: synced from BootNotificationResponse /
  HeartbeatResponse ``currentTime``, Part 2 B01.FR.06 / G02.FR.05).

``Clock`` uses the interpreter's clocks; ``VirtualClock`` runs on simulated time so tests and the
bench can run a simulated month in seconds; a board can subclass ``Clock`` to read its RTC.
RFC 3339 helpers (``iso`` / ``parse_iso``) live here because every timestamp is made from ``now()``.
"""
import asyncio
import time

try:  # MicroPython
    from time import ticks_ms, ticks_diff
except ImportError:  # CPython
    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_diff(a, b):
        return a - b

# Seconds between 1970-01-01 and the interpreter's time.time() epoch (embedded ports count from 2000).
_EPOCH_OFFSET = 0 if time.gmtime(0)[0] == 1970 else 946684800


class Clock:
    """Real-time clock built on the interpreter's clocks."""

    def __init__(self):
        self._last = ticks_ms()
        self._ms = 0
        self._wall_offset = 0  # seconds added to time.time() after set_time()

    def ms(self):
        t = ticks_ms()
        self._ms += ticks_diff(t, self._last)
        self._last = t
        return self._ms

    def now(self):
        return int(time.time()) + _EPOCH_OFFSET + self._wall_offset

    def set_time(self, epoch_s):
        self._wall_offset += int(epoch_s) - self.now()

    async def sleep(self, s):
        await asyncio.sleep_ms(int(s * 1000)) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(s)

    async def sleep_ms(self, ms):
        await self.sleep(ms / 1000)

    async def wait(self, event, s):
        if event.is_set():
            return True
        try:
            await asyncio.wait_for(event.wait(), s)
            return True
        except asyncio.TimeoutError:
            return False


class VirtualClock(Clock):
    """Simulated time: sleeps complete in zero real time, in deadline order.

    Time advances only when every task of the event loop is idle: ``sleep`` parks the caller on a
    bounded list of deadlines; the ``run`` task yields to the loop a few times and then jumps to the
    earliest deadline. ``start`` is the wall-clock time (epoch seconds) at ms() == 0.
    ``max_sleepers`` bounds the parked list; parking beyond it raises ``OverflowError``.
    """

    def __init__(self, start=1767225600, max_sleepers=64, idle_spins=20):
        self._ms = 0
        self._wall = start * 1000
        self._sleepers = []
        self._max = max_sleepers
        self._spins = idle_spins
        self.real_io = 0  # tests set >0 to let real sockets progress between jumps (ms of real sleep)

    def ms(self):
        return self._ms

    def now(self):
        return (self._wall + self._ms) // 1000

    def set_time(self, epoch_s):
        self._wall = int(epoch_s) * 1000 - self._ms

    def advance(self, ms):
        """Move time forward by ``ms`` now, waking every sleeper whose deadline has passed."""
        self._ms += int(ms)
        self._wake()

    def _wake(self):
        i = 0
        while i < len(self._sleepers):
            s = self._sleepers[i]
            if s[0] <= self._ms:
                self._sleepers.pop(i)
                s[1].set()
            else:
                i += 1

    async def sleep_ms(self, ms):
        if ms <= 0:
            await asyncio.sleep(0)
            return
        if len(self._sleepers) >= self._max:
            raise OverflowError("VirtualClock: too many sleepers")
        ev = asyncio.Event()
        entry = [self._ms + int(ms), ev]
        self._sleepers.append(entry)
        try:
            await ev.wait()
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    async def sleep(self, s):
        await self.sleep_ms(int(s * 1000))

    async def wait(self, event, s):
        """Wait for ``event`` at most ``s`` simulated seconds; True if it was set. The waiter is
        parked like a sleeper (one deadline entry) and a small relay task wakes it when the event
        is set, so a long wait costs no polling (a simulated month stays fast)."""
        if event.is_set():
            return True
        ms = int(s * 1000)
        if ms <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        if len(self._sleepers) >= self._max:
            raise OverflowError("VirtualClock: too many sleepers")
        wake = asyncio.Event()
        entry = [self._ms + ms, wake]
        self._sleepers.append(entry)
        relay = asyncio.create_task(_relay(event, wake))
        try:
            await wake.wait()
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)
            relay.cancel()
        return event.is_set()

    async def run(self, until_ms=None):
        """Drive simulated time until ``until_ms`` (or forever): jump to the earliest deadline
        whenever the loop has been idle for ``idle_spins`` yields."""
        while until_ms is None or self._ms < until_ms:
            for _ in range(self._spins):
                await asyncio.sleep(0)
            if self.real_io:
                await asyncio.sleep(self.real_io / 1000)
            if not self._sleepers:
                continue
            nxt = min(s[0] for s in self._sleepers)
            if until_ms is not None and nxt > until_ms:
                nxt = until_ms
            if nxt > self._ms:
                self._ms = nxt
            self._wake()


async def _relay(src, dst):
    await src.wait()
    dst.set()


def _days_from_civil(y, m, d):
    # days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm)
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def iso(epoch_s):
    """RFC 3339 UTC timestamp without fractions, e.g. ``2026-01-01T00:00:00Z`` (Part 2 §2.1.4:
    dateTime, at most 3 decimals)."""
    epoch_s = int(epoch_s)
    days, rem = divmod(epoch_s, 86400)
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y += m <= 2
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, rem // 3600, rem // 60 % 60, rem % 60)


def parse_iso(s):
    """Parse an RFC 3339 date-time (``YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)``) to int epoch seconds.
    Raises ``ValueError`` on anything else."""
    if not isinstance(s, str) or len(s) < 19 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt" \
            or s[13] != ":" or s[16] != ":":
        raise ValueError("not an RFC 3339 date-time")
    y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
        raise ValueError("date-time field out of range")
    i = 19
    if i < len(s) and s[i] == ".":
        i += 1
        j = i
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        if i == j:
            raise ValueError("empty fraction")
    rest = s[i:]
    off = 0
    if rest in ("Z", "z"):
        pass
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        off = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        if rest[0] == "-":
            off = -off
    else:
        raise ValueError("bad time zone")
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off
