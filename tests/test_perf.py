"""`ocpp2lite perf`: the measured performance parameters stay under the values stated in the PICS.

The only test with a timing assertion, and with generous headroom: the stated values
(ocpp2lite.perf.STATED) are tens of times the loopback measurements of docs/perf.md, because this
machine is shared. Runs the station on both interpreters against the embedded CSMS.
"""
import asyncio

from ocpp2lite import perf


def test_perf_p95_under_the_stated_pics_values(interp):
    raw = asyncio.run(perf.run_one(interp, 5))
    summary = perf.summarize({interp: raw})[interp]
    for key, _, desc in perf.SERIES:
        assert summary[key] is not None and summary[key]["n"] >= 5, desc
    for p, name in perf.PARAMETERS:
        s = summary["param:" + p]
        assert s["p95"] < perf.STATED[p], "%s: p95 %.3f s >= stated %.3f s" % (name, s["p95"], perf.STATED[p])


def test_perf_report_renders_every_parameter():
    fake = {k: [0.001, 0.002, 0.003] for k, _, _ in perf.SERIES}
    md = perf.render_md(perf.summarize({"cpython": fake}), 3, "now", "test")
    for _, name in perf.PARAMETERS:
        assert "| %s |" % name in md
    assert perf.stats([3, 1, 2]) == {"n": 3, "median": 2, "p95": 3, "max": 3}
