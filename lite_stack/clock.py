"""The one clock of the stack: every timer, timestamp and sleep goes through it.

Shapes and units:
- ``ms()``: monotonic milliseconds, int, never wraps (accumulated from ``ticks_ms`` on MicroPython).
- ``now()``: wall-clock time, int seconds since 1970-01-01T00:00:00Z (UTC).
- ``await sleep(s)`` / ``await sleep_ms(ms)``: suspend the calling task.
- ``await wait(event, s)``: wait for an ``asyncio.Event`` at most ``s`` seconds; True if it was set.
  Make the events the stack waits on ``Kick``s: a wait on one is an entry in the clock's table
  woken by ``Kick.set()`` or by the clock's one timer task, not a ``wait_for`` with its own tasks.
- ``set_time(epoch_s)``: set the wall clock (G02: synced from BootNotificationResponse /
  HeartbeatResponse ``currentTime``, Part 2 B01.FR.06 / G02.FR.05).

``Clock`` uses the interpreter's clocks; a board can subclass ``Clock`` to read its RTC. The tests
and the bench replace it with ``lite_stack.vclock.VirtualClock`` (simulated time: a month in
seconds), which lives in a module of its own so that a station never imports it.
The RFC 3339 helpers ``iso`` / ``parse_iso`` are defined in ``device_model.rfc3339`` (the device
model formats ClockCtrlr.DateTime with them) and re-exported here.
"""
import asyncio
import time

from device_model.rfc3339 import iso, parse_iso  # noqa: F401  (re-exported)

try:  # MicroPython
    from time import ticks_ms, ticks_diff
except ImportError:  # CPython
    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_diff(a, b):
        return a - b

# Seconds between 1970-01-01 and the interpreter's time.time() epoch (embedded ports count from 2000).
_EPOCH_OFFSET = 0 if time.gmtime(0)[0] == 1970 else 946684800


MAX_PARKED = 16   # Kick waits parked at once; more fall back to asyncio.wait_for


class Kick(asyncio.Event):
    """An ``asyncio.Event`` made for ``Clock.wait``: the one waiter parked on it awaits the Kick
    itself, and the clock's timer wakes it at its deadline with a pulse (``set()`` then ``clear()``
    at once: the waiter resumes and finds the Kick unset, a timeout). A pending wait costs an entry
    in the clock's table plus one timer task for all of them, instead of ``asyncio.wait_for``'s
    helper tasks (measured on the MicroPython unix port, 64-bit: about 1,070 B per pending wait
    with ``wait_for``). One waiter at a time: a second concurrent waiter on the same Kick falls
    back to ``wait_for``, and a pulse meant for the first may end its wait early (False)."""

    def __init__(self):
        super().__init__()
        self.parked = False   # a wait is parked on this Kick


class Clock:
    """Real-time clock built on the interpreter's clocks."""

    def __init__(self):
        self._last = ticks_ms()
        self._ms = 0
        self._wall_offset = 0  # seconds added to time.time() after set_time()
        self._parked = []      # [deadline ms, Kick, Kick] of the Kick waits in progress
        self._timer = None     # the task waking them at their deadlines (None: none parked)
        self._armed = 0        # the deadline it sleeps to

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
        """Wait for the ``asyncio.Event`` ``event`` at most ``s`` seconds (simulated ones on a
        ``VirtualClock``); True if it was set (see the module docstring on ``Kick``)."""
        if event.is_set():
            return True
        ms = int(s * 1000)
        if ms <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        entry = self._enter(ms, event)
        if entry is None:   # a plain asyncio.Event, a Kick already waited on, or the table full
            try:
                await asyncio.wait_for(event.wait(), s)
            except asyncio.TimeoutError:
                pass
            return event.is_set()
        try:   # one frame per pending wait: no helper coroutine, task or event
            await entry[1].wait()
        finally:
            self._leave(entry)
        return event.is_set()

    def _enter(self, ms, event):
        # park a free Kick: -> its entry [deadline ms, event to await (the Kick), watched Kick] in
        # the table, woken by its set() or by the timer's pulse; None when it cannot be parked
        if getattr(event, "parked", True) or len(self._parked) >= MAX_PARKED:
            return None
        entry = [self.ms() + ms, event, event]
        self._parked.append(entry)
        event.parked = True
        if self._timer is None or entry[0] < self._armed:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = asyncio.create_task(self._tick())
        return entry

    def _leave(self, entry):
        # the entry's wait is over (woken, timed out or cancelled): out of the table, its Kick free
        if entry[1] is entry[2]:
            entry[2].parked = False
        if entry in self._parked:
            self._parked.remove(entry)

    async def _tick(self):
        # the one timer task: wakes parked waits at their deadlines, sleeping to the earliest one
        me = self._timer
        try:
            while self._parked:
                now = self.ms()
                _expire(self._parked, now)
                if self._parked:
                    self._armed = min(e[0] for e in self._parked)
                    await self.sleep_ms(self._armed - now)
        finally:
            if self._timer is me:
                self._timer = None


def _expire(table, now):
    # wake and drop every entry of ``table`` due at ``now`` or whose watched event is set; a wait
    # parked on its Kick is woken by a pulse (set then clear: its waiter resumes, finds it unset)
    i = 0
    while i < len(table):
        e = table[i]
        w = e[2]
        if w is not None and w.is_set():
            table.pop(i)
            if e[1] is not w:   # a wake Event of its own (VirtualClock); a Kick's waiter is scheduled
                e[1].set()
        elif e[0] <= now:
            table.pop(i)
            e[1].set()
            if e[1] is w:
                w.clear()
        else:
            i += 1
