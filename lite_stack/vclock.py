"""``VirtualClock``: the stack's one clock on simulated time, for the tests and the bench; a
station on a board never imports this module (it is not in the device
image: ``ocpp2lite.deploy.DESKTOP_ONLY``; the 32-bit RAM bench freezes it as part of its harness).

Same interface as ``lite_stack.clock.Clock`` (ms, now, set_time, sleep, sleep_ms, wait) plus
``advance(ms)`` and the driver task ``run(until_ms=None)``.
"""
import asyncio

from lite_stack.clock import Clock, _expire


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
        self._parked = []   # [deadline ms, event to await, watched event or None] (sleep and wait)
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
        _expire(self._parked, self._ms)

    def _enter(self, ms, event):
        # park the waiter of wait or of sleep_ms (event None) on simulated time: a free Kick is
        # awaited itself (woken by its set() or a pulse, as on Clock); a plain event, a Kick
        # already waited on, or a sleep gets a wake Event of its own, set at the deadline or once
        # the watched event is set. (A relay task created and cancelled per wait instead leaked
        # about 440 B per poll-loop turn on the MicroPython unix port once the station had
        # reconnected.)
        if len(self._parked) >= self._max:
            raise OverflowError("VirtualClock: too many sleepers")
        if event is not None and getattr(event, "parked", True) is False:
            event.parked = True
            entry = [self._ms + int(ms), event, event]
        else:
            entry = [self._ms + int(ms), asyncio.Event(), event]
        self._parked.append(entry)
        return entry

    async def sleep_ms(self, ms):
        if ms <= 0:
            await asyncio.sleep(0)
            return
        entry = self._enter(ms, None)
        try:
            await entry[1].wait()
        finally:
            self._leave(entry)

    async def sleep(self, s):
        await self.sleep_ms(int(s * 1000))

    async def run(self, until_ms=None):
        """Drive simulated time until ``until_ms`` (or forever): jump to the earliest deadline
        whenever the loop has been idle for ``idle_spins`` yields."""
        while until_ms is None or self._ms < until_ms:
            for _ in range(self._spins):
                await asyncio.sleep(0)
                self._wake()   # waiters whose event another task set on its last turn
            if self.real_io:
                await asyncio.sleep(self.real_io / 1000)
            if not self._parked:
                continue
            nxt = min(s[0] for s in self._parked)
            if until_ms is not None and nxt > until_ms:
                nxt = until_ms
            if nxt > self._ms:
                self._ms = nxt
            self._wake()
