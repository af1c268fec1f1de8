"""``ocpp2lite bench``: measure the stack against OCA's Lite targets and write a report.

    ocpp2lite bench                       # all measurements, report under ./bench-results
    ocpp2lite bench rom data --quick      # a subset, the fast deterministic mode (as in CI)
    ocpp2lite bench ram --port /dev/ttyUSB0   # the RAM scenario on a board over serial

Every measurement module (``bench.rom``, ``bench.ram``, ``bench.data``, ``bench.cpu``) exposes
``run(quick, progress, **opts) -> dict``, ``headline(result)``, ``markdown(result)`` and
optionally ``plot(result, png)``; this command runs the selected ones, writes ``bench.json``,
``bench.md`` and one PNG per module into ``--out`` and prints the headline figures against the
targets (50 kB RAM: imported stack + working set on the 32-bit firmware in qemu, 200 kB ROM, 25 MB
of data a month). Exit status 1 when a headline figure misses its target.
"""
import argparse
import importlib
import json
import os
import sys
import time

MODULES = ("rom", "ram", "data", "cpu")
TITLES = {"rom": "ROM", "ram": "RAM", "data": "Monthly data", "cpu": "CPU"}


class _Progress:
    """A tqdm bar per long run; silent when stderr is not a terminal unless forced."""

    def __init__(self, name, enabled):
        self.name = name
        self.enabled = enabled
        self.bar = None

    def __call__(self, done, total, label=""):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=self.name, unit="step", leave=False, file=sys.stderr)
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        if label:
            self.bar.set_postfix_str(str(label)[:40], refresh=False)
        self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_modules(names, quick=False, port=None, progress=True, log=None):
    """Run the bench modules ``names``; returns {name: {"result", "headline", "seconds"} or
    {"error": text}}. A module that fails is reported, the others still run."""
    out = {}
    for name in names:
        mod = importlib.import_module("bench." + name)
        opts = {}
        if name == "ram" and port:
            opts["port"] = port
        if name == "data" and not quick:
            opts["wire"] = True     # bench/data_wire.py: the Lite month measured on a real socket
        bar = _Progress(name, progress)
        t0 = time.time()
        try:
            res = mod.run(quick=quick, progress=bar, **opts)
            out[name] = {"result": res, "headline": [list(h) for h in mod.headline(res)],
                         "seconds": round(time.time() - t0, 1)}
        except Exception as e:  # report and go on: one broken measurement must not hide the rest
            out[name] = {"error": "%s: %s" % (type(e).__name__, e), "seconds": round(time.time() - t0, 1)}
        finally:
            bar.close()
        if log:
            log("%s done in %.1f s" % (name, out[name]["seconds"]))
    return out


def _fmt(v):
    if isinstance(v, float):
        return "%.3g" % v if abs(v) < 100 else "%.1f" % v
    return str(v)


def headline_table(results):
    """Markdown table of every headline figure against its target."""
    rows = ["| measurement | figure | target | verdict |", "|---|---|---|---|"]
    for name in MODULES:
        r = results.get(name)
        if r is None:
            continue
        if "error" in r:
            rows.append("| %s | **failed**: %s | | |" % (TITLES[name], r["error"]))
            continue
        for h in r["headline"]:
            label, value, unit, target, ok = h
            if target is None:
                tgt = ""
            elif ok is None:  # a published figure to compare with, not a target
                tgt = "cf. %s %s" % (_fmt(target), unit)
            else:
                tgt = "≤ %s %s" % (_fmt(target), unit)
            verdict = "" if ok is None else ("meets" if ok else "**misses**")
            rows.append("| %s | %s %s | %s | %s |" % (label, _fmt(value), unit, tgt, verdict))
    return "\n".join(rows)


def write_report(results, out_dir, plots=True, quick=False):
    """Write bench.json, bench.md and the PNGs; returns the list of files written."""
    os.makedirs(out_dir, exist_ok=True)
    files = []
    meta = {"quick": quick, "python": sys.version.split()[0], "platform": sys.platform,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = os.path.join(out_dir, "bench.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, sort_keys=True, default=str)
    files.append(path)
    md = ["# OCPP2.Lite bench report", "",
          "Measured %s (Python %s%s). Targets from the Open Charge Alliance's OCPP2.Lite talks: "
          "50 kB RAM, 200 kB ROM, at most 25 MB of mobile data a month." % (
              meta["date"], meta["python"], ", quick mode" if quick else ""), "",
          "## Headline", "", headline_table(results), ""]
    for name in MODULES:
        r = results.get(name)
        if r is None or "error" in r:
            continue
        mod = importlib.import_module("bench." + name)
        body = mod.markdown(r["result"]).strip()
        if not body.startswith("#"):
            md += ["## " + TITLES[name], ""]
        md += [body, ""]
        if plots and hasattr(mod, "plot"):
            png = os.path.join(out_dir, name + ".png")
            try:
                mod.plot(r["result"], png)
                files.append(png)
                md += ["![%s](%s)" % (TITLES[name], name + ".png"), ""]
            except Exception as e:
                md += ["(plot failed: %s: %s)" % (type(e).__name__, e), ""]
    path = os.path.join(out_dir, "bench.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    files.insert(1, path)
    return files


def misses(results):
    """Headline figures that miss their target, as (module, label) pairs."""
    bad = []
    for name, r in results.items():
        if "error" in r:
            bad.append((name, r["error"]))
            continue
        for h in r["headline"]:
            if h[4] is False:
                bad.append((name, h[0]))
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="ocpp2lite bench",
        description="Measure ROM (mpy-cross), RAM (a 32-bit MicroPython firmware in qemu, the unix port, "
                    "or a board), monthly mobile "
                    "data (30 simulated days) and CPU per message, side by side with the "
                    "alternatives, against the OCPP2.Lite targets (50 kB RAM, 200 kB ROM, 25 MB a "
                    "month). Writes bench.json, bench.md and PNG plots.")
    ap.add_argument("what", nargs="*", metavar="{rom,ram,data,cpu,all}",
                    help="measurements to run (default all)")
    ap.add_argument("--quick", action="store_true",
                    help="the fast deterministic subset used by the CI guard (no bisection, no TLS, "
                         "Lite-tuned month only, few CPU iterations)")
    ap.add_argument("--out", default="bench-results", help="results folder (default ./bench-results)")
    ap.add_argument("--port", help="run the RAM scenario on a board on this serial port "
                                   "(the firmware must be on the board)")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    a = ap.parse_args(argv)
    bad = [w for w in a.what if w not in MODULES + ("all",)]
    if bad:
        ap.error("unknown measurement %s (choose from %s, all)" % (", ".join(bad), ", ".join(MODULES)))
    names = MODULES if not a.what or "all" in a.what else tuple(n for n in MODULES if n in a.what)
    results = run_modules(names, a.quick, a.port, progress=not a.no_progress,
                          log=lambda s: print(s, file=sys.stderr))
    files = write_report(results, a.out, plots=not a.no_plots, quick=a.quick)
    print(headline_table(results))
    print()
    for f in files:
        print("wrote", f)
    bad = misses(results)
    for name, what in bad:
        print("MISSED: %s: %s" % (name, what), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
