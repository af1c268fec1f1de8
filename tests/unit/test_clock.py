"""lite_stack.clock: RFC 3339 formatting/parsing and the virtual clock (both interpreters)."""
import asyncio
from lite_stack.clock import iso, parse_iso
from lite_stack.vclock import VirtualClock
from tests.unit.util import run, raises


def test_iso_roundtrip_known_dates():
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(1767225600) == "2026-01-01T00:00:00Z"
    assert iso(951782400) == "2000-02-29T00:00:00Z"
    for t in (0, 86399, 951782400, 1767225600, 4102444799):
        assert parse_iso(iso(t)) == t


def test_parse_iso_fractions_and_offsets():
    assert parse_iso("2026-01-01T00:00:00.123Z") == 1767225600
    assert parse_iso("2026-01-01T01:00:00+01:00") == 1767225600
    assert parse_iso("2025-12-31T23:00:00-01:00") == 1767225600


def test_parse_iso_rejects_garbage():
    for bad in ("", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "x" * 20,
                "2026-01-01T00:00:00.Z", 12):
        raises(ValueError, parse_iso, bad)


def test_virtual_clock_orders_sleepers_and_jumps():
    clock = VirtualClock(start=1767225600)
    order = []

    async def sleeper(name, s):
        await clock.sleep(s)
        order.append((name, clock.ms()))

    async def main():
        driver = asyncio.create_task(clock.run())
        await asyncio.gather(sleeper("b", 3600), sleeper("a", 60), sleeper("c", 86400 * 30))
        driver.cancel()

    run(main())
    assert order == [("a", 60000), ("b", 3600000), ("c", 86400 * 30 * 1000)]
    assert clock.now() == 1767225600 + 86400 * 30


def test_virtual_clock_wait_times_out_or_returns_on_set():
    clock = VirtualClock()

    async def main():
        driver = asyncio.create_task(clock.run())
        ev = asyncio.Event()
        r1 = await clock.wait(ev, 5)
        t1 = clock.ms()

        async def setter():
            await clock.sleep(2)
            ev.set()
        asyncio.create_task(setter())
        r2 = await clock.wait(ev, 30)
        t2 = clock.ms()
        driver.cancel()
        return r1, t1, r2, t2

    r1, t1, r2, t2 = run(main())
    assert (r1, t1) == (False, 5000)
    assert r2 is True and 7000 <= t2 <= 7100


def test_clock_wait_on_kick_set_timeout_and_an_earlier_deadline_parked_later():
    """Real-time ``Clock.wait`` on ``Kick``s (parked on the clock's one timer, no task per wait):
    a Kick set wakes its waiter at once; a wait parked after a longer one still times out at its
    own deadline (the timer re-arms); a second waiter on the same Kick falls back to wait_for."""
    from lite_stack.clock import Clock, Kick
    clock = Clock()

    async def main():
        long_k, short_k, set_k = Kick(), Kick(), Kick()
        out = {}

        async def waiter(name, k, s):
            t0 = clock.ms()
            r = await clock.wait(k, s)
            out[name] = (r, clock.ms() - t0)

        a = asyncio.create_task(waiter("long", long_k, 5))
        await asyncio.sleep(0)
        b = asyncio.create_task(waiter("short", short_k, 0.05))
        c = asyncio.create_task(waiter("set", set_k, 5))
        d = asyncio.create_task(waiter("second", set_k, 5))   # same Kick: wait_for fallback
        await clock.sleep(0.02)
        set_k.set()
        await clock.sleep(0.1)
        long_k.set()
        for t in (a, b, c, d):
            await t
        # the timed-out wait was woken by a pulse: its Kick is unset and free again, and a set()
        # after the timeout is kept for the next wait
        pulsed = (short_k.is_set(), short_k.parked)
        short_k.set()
        again = await clock.wait(short_k, 5)
        return out, len(clock._parked), pulsed, again

    out, parked, pulsed, again = run(main())
    assert pulsed == (False, False) and again is True
    assert out["short"][0] is False and 40 <= out["short"][1] < 1000
    assert out["set"][0] is True and out["set"][1] < 1000
    assert out["second"][0] is True and out["second"][1] < 1000
    assert out["long"][0] is True and out["long"][1] < 1000
    assert parked == 0
