"""Monthly data of our own station measured on a real socket, next to bench/data.py's model.

``bench data`` (not ``--quick``) runs ``ocpp2lite score --tls`` for our station on CPython: the
scripted Lite scenario over wss:// (TLS 1.2, the CSMS's P-256 leaf), every byte counted on the
CSMS side (ocpp2lite/wire.py: WebSocket bytes parsed, TCP payload with the TLS records at a relay
socket, TCP segments from the kernel's TCP_INFO), and the month extrapolated from the cost measured
per event with bench/data.py's Lite usage profile (ocpp2lite/score_month.py). What stays a stated
constant: 52 B of IPv4/TCP headers per segment; what differs from a mobile link: loopback's MSS and
ACK timing (the kernel counts the segments it really sent). The 30-day simulation of bench/data.py
still gives the per-message-type breakdown, which the scoreboard's short run cannot.
"""
import asyncio
import shlex
import sys


def measure(progress=None):
    """{"month": score_month result, "status", "run_bytes", "wall_s"} or {"error": text}."""
    from ocpp2lite import score, score_report
    cmd = "%s -m ocpp2lite sim" % shlex.quote(sys.executable)

    def prog(name, k, what):
        if progress:
            progress(k, len(score.STEPS) + 1, "wire: " + what)
    try:
        r = asyncio.run(score.Run("Lite on CPython", cmd, tls=True, progress=prog).go())
    except Exception as e:   # a broken measurement is reported, the model still stands
        return {"error": "%s: %s" % (type(e).__name__, e)}
    s = score_report.summary(r)
    return {"status": s["status"], "month": s["month"], "run_bytes": s["run_bytes"], "wall_s": s["wall_s"]}


def markdown(w, modelled_mb=None):
    L = ["", "### Measured on the wire (`ocpp2lite score --tls`, our station on CPython)", ""]
    if "error" in w or not w.get("month"):
        L.append("Not measured: %s." % (w.get("error") or w.get("status")))
        return L
    m = w["month"]
    L.append("Lite-tuned month measured on a real socket, TLS included: **%.2f MB** (the model above: "
             "%s MB). Cost per event measured in a %.0f s run, counts from the Lite usage profile:"
             % (m["total_b"] / 1e6, "%.2f" % modelled_mb if modelled_mb is not None else "n/a", w["wall_s"]))
    L += ["", "| layer | MB/month |", "|---|---:|"]
    for k, v in m["layers_b"].items():
        L.append("| %s | %.3f |" % (k, v / 1e6))
    L += ["", "| event | measured cost (B) | a month | MB/month |", "|---|---:|---:|---:|"]
    for k, it in m["items"].items():
        L.append("| %s | %.1f | %s | %.3f |" % (k, it["measured_cost_b"], it["count"], it["month_b"] / 1e6))
    return L
