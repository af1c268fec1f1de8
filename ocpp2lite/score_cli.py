"""``ocpp2lite score`` command line (see ocpp2lite/score.py for the scenario, ocpp2lite/wire.py for
the counting, ocpp2lite/score_month.py for the month). Desktop only."""
import argparse
import asyncio
import shlex
import shutil
import sys

from ocpp2lite.score import RUN, STEPS, score


def default_stations():
    """Our station on CPython and on MicroPython, and the reference station on the `ocpp` library."""
    py = shlex.quote(sys.executable)
    out = [("Lite on CPython", py + " -m ocpp2lite sim")]
    mp = shutil.which("micropython")
    if mp:
        out.append(("Lite on MicroPython", shlex.quote(mp) + " -X heapsize=2M -m lite_stack.sim"))
    out.append(("ocpp library (reference)", py + " -m bench.ref_station"))
    return out


def main(argv=None):
    from ocpp2lite import score_report
    ap = argparse.ArgumentParser(
        prog="ocpp2lite score",
        description="Footprint scoreboard: run the same scripted Lite scenario (boot, FullInventory, three "
                    "charging sessions, offline queue and replay, Reset, idle) against every station "
                    "command (docs/sim-contract.md), count its bytes on the wire per layer and direction "
                    "(WebSocket payload and framing, HTTP Upgrade, TLS records, TCP/IP headers from the "
                    "kernel's segment counts) and extrapolate a month of bench/data.py's Lite usage "
                    "profile. Without --station: our station on CPython and MicroPython and the "
                    "reference station on the `ocpp` library. Writes score.json, score.md and score.png.")
    ap.add_argument("--station", action="append", metavar="COMMAND",
                    help="shell command starting a station (repeatable, one per contestant)")
    ap.add_argument("--name", action="append", metavar="N", help="name of the --station of the same position")
    ap.add_argument("--tls", action="store_true", help="wss:// with security profile 2 (the CSMS offers "
                    "TLS 1.2 only; the station gets OCPP_CSMS_ROOT_CERT and OCPP_BASIC_AUTH_PASSWORD)")
    ap.add_argument("--repeat", type=int, default=1, metavar="K", help="runs per station, each its own row (default 1)")
    ap.add_argument("--out", default="score-results", metavar="DIR", help="output directory (default ./score-results)")
    ap.add_argument("--connect-timeout", type=float, default=RUN["connect_s"],
                    help="seconds a station has to connect (default %(default)s)")
    ap.add_argument("--scenarios", action="store_true",
                    help="also run our certification-named black-box scenarios (tests/test_e2e.py) against "
                         "each station, once (a few minutes each; the command runs as sh -c 'exec COMMAND')")
    ap.add_argument("--heap", action="store_true",
                    help="for a MicroPython station (command with -X heapsize=N): bisect the smallest heap "
                         "that passes every step (6 more runs, several minutes); other stations n/a")
    a = ap.parse_args(argv)
    if a.station:
        names = a.name or []
        stations = [(names[i] if i < len(names) else "station %d" % (i + 1), s) for i, s in enumerate(a.station)]
    else:
        stations = default_stations()
    bar = score_report.Progress(len(stations) * a.repeat, len(STEPS) + 1)
    results = asyncio.run(score(stations, a.tls, a.repeat, {"connect_s": a.connect_timeout}, bar))
    bar.close()
    if a.scenarios:
        from ocpp2lite import score_scenarios
        done = {}
        for r in results:
            if r["cmd"] not in done:
                sys.stderr.write("certification-named scenarios: %s ...\n" % r["name"])
                done[r["cmd"]] = score_scenarios.run(r["cmd"])
            r["scenarios"] = done[r["cmd"]]
    if a.heap:
        from ocpp2lite import score_heap
        done = {}
        for r in results:
            if r["cmd"] not in done and r["status"] == "ok" and score_heap.HEAP_RE.search(r["cmd"]):
                sys.stderr.write("smallest -X heapsize: %s ...\n" % r["name"])
                done[r["cmd"]] = asyncio.run(score_heap.search(r["name"], r["cmd"], a.tls,
                                                               {"connect_s": a.connect_timeout}))
            r["heap"] = done.get(r["cmd"])
    paths = score_report.write(results, a.out)
    print(score_report.leaderboard_text(results))
    print("wrote " + ", ".join(paths))
    return 0
