"""``ocpp2lite score --heap``: the smallest MicroPython ``-X heapsize`` that still runs the whole
scripted scenario (every step passed), found by bisection over reruns of the scenario.

Only for a station command that contains ``-X heapsize=<n>[k|K|m|M]`` (a MicroPython unix port
station; the bisection rewrites that option). Any other station: "n/a" (a black box gives no heap
figure). Each probe is a full run (~80 s): a search of STEPS probes takes several minutes.
The figure is the smallest tried size that passed, to a resolution of RESOLUTION bytes.
"""
import re

from ocpp2lite.score import Run

HEAP_RE = re.compile(r"-X\s*heapsize=(\d+)([kKmM]?)")
RESOLUTION = 16 * 1024
STEPS = 6


def _bytes(num, unit):
    return int(num) * {"": 1, "k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20}[unit]


def with_heap(cmd, nbytes):
    return HEAP_RE.sub("-X heapsize=%d" % nbytes, cmd, count=1)


async def search(name, cmd, tls=False, run=None, probes=STEPS):
    """{"heapsize": bytes, "probes": [(bytes, status)]} or {"error": text} / None (not MicroPython)."""
    m = HEAP_RE.search(cmd)
    if not m:
        return None
    hi = _bytes(m.group(1), m.group(2))      # passed in the main run (the caller checks)
    lo = 0
    tried = []
    for _ in range(probes):
        if hi - lo <= RESOLUTION:
            break
        mid = (lo + hi) // 2 // 1024 * 1024
        r = await Run(name, with_heap(cmd, mid), tls, run).go()
        tried.append((mid, r["status"]))
        if r["status"] == "ok":
            hi = mid
        else:
            lo = mid
    return {"heapsize": hi, "probes": tried, "resolution": max(RESOLUTION, hi - lo)}
