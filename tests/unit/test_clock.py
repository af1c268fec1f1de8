"""lite_stack.clock: RFC 3339 formatting/parsing and the virtual clock (both interpreters)."""
import asyncio
from lite_stack.clock import iso, parse_iso, VirtualClock
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
