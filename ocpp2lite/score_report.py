"""The scoreboard's output: progress bar (stderr), score.json, score.md, score.png (leaderboard).

Desktop only. Figures a black box cannot give honestly are "n/a": certification-named scenarios
passed without --scenarios, the smallest -X heapsize without --heap or for a non-MicroPython station,
the month of a run that did not pass every step.
"""
import json
import os
import sys

from ocpp2lite.score_month import LAYERS, layers, month

MB = 1e6


class Progress:
    """One line on stderr: [#####-----] run i/n  name: step k/s what."""

    def __init__(self, runs, steps, stream=None):
        self.runs, self.steps = runs, steps
        self.stream = stream or sys.stderr
        self.i = 0
        self.last = None

    def __call__(self, name, k, what):
        if name != self.last or k == 1:
            if self.last is not None and k == 1:
                self.i += 1
            self.last = name
        frac = (min(self.i, self.runs - 1) + min(k, self.steps) / self.steps) / max(1, self.runs)
        n = int(frac * 30)
        self.stream.write("\r[%s%s] run %d/%d  %-26s step %d/%d %-30s" % (
            "#" * n, "-" * (30 - n), min(self.i + 1, self.runs), self.runs, name[:26],
            min(k, self.steps - 1), self.steps - 1, what[:30]))
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def _stats(sizes):
    if not sizes:
        return None, None
    s = sorted(sizes)
    return round(sum(s) / len(s), 1), s[min(len(s) - 1, int(0.95 * len(s)))]


def summary(r):
    """The row of one result: status, month and measured figures (JSON-ready)."""
    tls = r["tls"]
    total = {k: v for k, v in r["total"].items()}
    run_layers = layers(total, tls)
    mean, p95 = _stats(r["sizes_up"] + r["sizes_down"])
    m = None
    try:
        m = month(r)
    except Exception as e:   # a run whose windows the arithmetic cannot use still gets its row
        r.setdefault("notes", []).append("month: %s: %s" % (type(e).__name__, e))
    return {"name": r["name"], "cmd": r["cmd"], "status": r["status"], "tls": tls,
            "steps_passed": "%d/%d" % (r["steps_passed"], r["steps"]), "wall_s": r["wall_s"],
            "run_bytes_by_layer": run_layers, "run_bytes": sum(run_layers.values()),
            "connections": total["conns"], "tcp_info": total["tcp_info"],
            "frames": total["up_frames"] + total["down_frames"], "frame_mean": mean, "frame_p95": p95,
            "messages": r["messages"], "month": m, "set_variables": r["set_variables"],
            "notes": r["notes"], "restarts": r["restarts"],
            "certification_scenarios_passed": _scen(r.get("scenarios")),
            "scenarios_failed": (r.get("scenarios") or {}).get("failed"), "smallest_heapsize": _heap(r.get("heap"))}


def _heap(h):
    if not h or "heapsize" not in h:
        return "n/a"
    return "%d kB (+-%d kB)" % (h["heapsize"] // 1024, h["resolution"] // 1024)


def _scen(sc):
    if not sc or "error" in sc:
        return "n/a"
    return "%d/%d" % (sc["passed"], sc["total"])


def _rank(rows):
    return sorted(rows, key=lambda s: (s["month"] is None, s["month"]["total_b"] if s["month"] else 0))


def leaderboard_text(results):
    rows = _rank([summary(r) for r in results])
    out = []
    for k, s in enumerate(rows, 1):
        mo = "%.2f MB/month" % (s["month"]["total_b"] / MB) if s["month"] else "n/a"
        out.append("%d. %-28s %-14s run %d B, %s frames  %s" % (k, s["name"], mo, s["run_bytes"], s["frames"],
                                                               s["status"]))
    return "\n".join(out)


def markdown(results):
    rows = _rank([summary(r) for r in results])
    run = results[0]["run"] if results else {}
    L = ["# Footprint scoreboard (`ocpp2lite score`)", ""]
    L.append("Same scripted scenario for every station (docs/sim-contract.md v1): boot, FullInventory "
             "GetBaseReport, three charging sessions, offline with queued events and their replay, Reset, "
             "idle. %s. Bytes counted on the CSMS side (ocpp2lite/wire.py): WebSocket payload and framing "
             "and the HTTP Upgrade parsed from the plaintext, TCP payload (TLS records included) at a relay "
             "socket, TCP segments from the kernel's TCP_INFO; IPv4+TCP headers assumed 52 B a segment "
             "(SYN/SYN-ACK 60 B). 1 MB = 10^6 B." % ("wss:// (TLS 1.2, security profile 2)"
                                                   if results and results[0]["tls"] else "ws:// (no TLS)"))
    L.append("")
    L.append("Run intervals (shortened for the run): TxUpdatedInterval %s s, charging %s s a session, "
             "WebSocketPingInterval %s s and HeartbeatInterval %s s after the Reset, idle %s s, offline %s s."
             % (run.get("tx_updated_s"), run.get("charge_s"), run.get("ping_s"), run.get("heartbeat_s"),
                run.get("idle_s"), run.get("offline_s")))
    L += ["", "| # | station | result | steps | month (MB) | " + " | ".join(LAYERS) + " | run bytes | frames | "
          "frame mean / p95 (B) | connections | cert. scenarios | min heap |",
          "|---" * (12 + len(LAYERS)) + "|"]
    for k, s in enumerate(rows, 1):
        m = s["month"]
        lay = " | ".join("%.3f" % (m["layers_b"][n] / MB) if m else "n/a" for n in LAYERS)
        L.append("| %d | %s | %s | %s | %s | %s | %d | %d | %s / %s | %d | %s | %s |" % (
            k, s["name"], s["status"], s["steps_passed"], "%.2f" % (m["total_b"] / MB) if m else "n/a", lay,
            s["run_bytes"], s["frames"], s["frame_mean"] if s["frame_mean"] is not None else "n/a",
            s["frame_p95"] if s["frame_p95"] is not None else "n/a", s["connections"],
            s["certification_scenarios_passed"], s["smallest_heapsize"]))
    L += ["", "## The month: measured cost per event x the usage profile", ""]
    prof = next((s["month"]["profile"] for s in rows if s["month"]), None)
    if prof:
        L.append("Profile (bench/data.py USAGE and PROFILES[\"lite\"], not measured): %d sessions a month "
                 "of %d s with a transaction, TxUpdatedInterval %d s, WebSocketPingInterval %d s, "
                 "HeartbeatInterval %d s, %d reconnects and %d Reset a month. A station that rejected an "
                 "interval is counted at the interval it showed in the run."
                 % (prof["sessions_per_month"], prof["tx_s_per_session"], prof["TxUpdatedInterval"],
                    prof["WebSocketPingInterval"], prof["HeartbeatInterval"], prof["reconnects_per_month"],
                    prof["resets_per_month"]))
    for s in rows:
        if not s["month"]:
            continue
        L += ["", "**%s**: %.2f MB/month (per data frame, all layers but the payload: %.1f B; an idle "
              "hour at the profile's intervals: %.0f B)" % (s["name"], s["month"]["total_b"] / MB,
                                                          s["month"]["per_frame_overhead_b"],
                                                          s["month"]["idle_hour_b"]), "",
              "| event | measured cost (B, all layers) | count a month (profile) | bytes a month |",
              "|---|---|---|---|"]
        for k, it in s["month"]["items"].items():
            L.append("| %s | %.1f | %s | %d |" % (k, it["measured_cost_b"], it["count"], it["month_b"]))
    L += ["", "## Messages per type", ""]
    for s in rows:
        L.append("- **%s**: %s" % (s["name"], ", ".join("%s %d" % kv for kv in sorted(s["messages"].items()))
                                    or "none"))
    L += ["", "Certification-named scenarios (tests/test_e2e.py through the contract): only with "
          "`--scenarios`, else n/a. Smallest -X heapsize passing every step: only with `--heap` and "
          "for a MicroPython station (its command has -X heapsize=N), else n/a."]
    for s in rows:
        if s["scenarios_failed"]:
            L.append("- %s failed: %s" % (s["name"], ", ".join(s["scenarios_failed"])))
    return "\n".join(L) + "\n"


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [s for s in _rank([summary(r) for r in results]) if s["month"]]
    fig, ax = plt.subplots(figsize=(9, 2.4 + 0.7 * max(1, len(rows))))
    left = [0.0] * len(rows)
    names = [s["name"] for s in rows]
    for n in LAYERS:
        vals = [s["month"]["layers_b"][n] / MB for s in rows]
        ax.barh(names, vals, left=left, label=n)
        left = [a + b for a, b in zip(left, vals)]
    for i, s in enumerate(rows):
        ax.text(left[i], i, " %.2f MB, steps %s, scenarios %s" % (left[i], s["steps_passed"],
                                                                 s["certification_scenarios_passed"]),
                va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("MB a month (measured cost per event x bench/data.py Lite profile)")
    ax.set_title("ocpp2lite score: bytes on the wire a month, by layer")
    ax.set_xlim(0, max(left + [0.001]) * 1.3)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, n) for n in ("score.json", "score.md", "score.png")]
    with open(paths[0], "w") as f:
        raw = [{k: v for k, v in r.items() if k not in ("sizes_up", "sizes_down")} for r in results]
        json.dump({"results": [summary(r) for r in results], "runs": raw}, f, indent=1)
    with open(paths[1], "w") as f:
        f.write(markdown(results))
    try:
        plot(results, paths[2])
    except ImportError:
        paths = paths[:2]
    return paths
