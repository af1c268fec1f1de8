"""bench/cpu.py and bench/cpu_ours.py: the per-message CPU bench (CPython only). Nothing here
asserts on timings; the tests prove both stations do the same exchanges and the plumbing works."""
import asyncio
import functools
import json
import shutil
import sys

from bench import cpu, cpu_ours


@functools.lru_cache(maxsize=1)
def quick():
    return cpu.run(quick=True)


def _run_once(bench, case):
    async def main():
        await getattr(bench, case)()
        return bench.conn.last
    return asyncio.run(main())


def _payload(frame):
    f = json.loads(frame)
    return f[2] if f[0] == 3 else f[3]


def _drop_ts(p):
    p = json.loads(json.dumps(p))
    p.pop("timestamp", None)
    for mv in p.get("meterValue", []):
        mv.pop("timestamp", None)
    return p


def test_cpu_ours_and_ocpp_lib_station_do_the_same_exchanges():
    ours = cpu_ours.Bench("mem")
    theirs = cpu.TheirBench("mem", validate=True)
    try:
        for case in ("get_variables", "set_variables", "request_start"):
            a, b = _run_once(ours, case), _run_once(theirs, case)
            assert a.startswith("[3,") and b.startswith("[3,"), (a, b)
            assert _payload(a) == _payload(b), case
        assert _payload(_run_once(ours, "request_start"))["status"] == "Accepted"
        a, b = _run_once(ours, "heartbeat"), _run_once(theirs, "heartbeat")
        assert json.loads(a)[2:] == json.loads(b)[2:] == ["Heartbeat", {}]
        a, b = _run_once(ours, "transaction_event"), _run_once(theirs, "transaction_event")
        assert json.loads(a)[2] == json.loads(b)[2] == "TransactionEvent"
        pa, pb = _drop_ts(_payload(a)), _drop_ts(_payload(b))
        wh = pa["meterValue"][0]["sampledValue"][0].pop("value")  # the simulated meter counts on
        assert isinstance(wh, int) and 12345 <= wh < 12400
        assert pb["meterValue"][0]["sampledValue"][0].pop("value") == 12345
        assert pa == pb
    finally:
        ours.close()
        theirs.close()


def test_cpu_transaction_event_is_persisted_then_removed_on_confirm():
    b = cpu_ours.Bench("file")
    try:
        st = b.st
        _run_once(b, "transaction_event")
        assert len(st.txq) == 0 and st.store.names("txq.") == []
        assert st.store.load("tx1")["seq"] == 2  # the transaction state went to flash
        assert b.conn.sent == 1
    finally:
        b.close()


def test_cpu_check_rejects_a_callerror():
    b = cpu_ours.Bench("mem")
    try:
        asyncio.run(b.st.rpc.on_frame('[2,"x1","NoSuchAction",{}]'))
        assert b.conn.last.startswith("[4,")
        try:
            b.check()
        except AssertionError:
            pass
        else:
            raise AssertionError("check() accepted a CALLERROR")
    finally:
        b.close()


def test_cpu_frame_parsing_helpers():
    assert cpu_ours.message_id('[2,"ab-1","Heartbeat",{}]') == "ab-1"
    assert cpu._call_parts('[2,"ab-1","TransactionEvent",{"a":"b"}]') == ("ab-1", "TransactionEvent")


def test_cpu_count_workloads_send_the_expected_number_of_messages():
    n, warm = 3, 1
    want = len(cpu_ours.CASES) * (warm + n) + n  # one case doubled
    assert cpu_ours.count_cases("mem", n, "heartbeat", warmup=warm) == want
    assert cpu.count_theirs("mem", n, "heartbeat", warmup=warm) == want
    assert cpu_ours.count_cases("mem", n, None, warmup=warm) == want - n


def test_cpu_ours_runs_on_micropython():
    res = cpu.time_micropython("file", cpu_ours.CASES, 2, 1, 1)
    assert set(res) == set(cpu_ours.CASES)
    assert all(len(v) == 1 and v[0] > 0 for v in res.values())


def test_cpu_callgrind_counts_grow_with_work():
    if not shutil.which("valgrind"):
        return  # valgrind not installed: the bench then reports no instruction counts
    a = cpu.callgrind_instructions([sys.executable, "-S", "-c", "for i in range(20000): pass"])
    b = cpu.callgrind_instructions([sys.executable, "-S", "-c", "for i in range(220000): pass"])
    assert 0 < a < b


def test_cpu_quick_run_shape_headline_markdown_plot(tmp_path):
    r = quick()
    rows = r["rows"]
    assert [x["case"] for x in rows if x["mode"] == "file"] == list(cpu_ours.CASES)
    assert [x["case"] for x in rows if x["mode"] == "mem"] == list(cpu.PERSISTING)
    for x in rows:
        for k in ("ours_us", "default_us", "sync_us", "novalidate_us", "ours_mp_us"):
            assert x[k] > 0, (x["case"], k)
    assert r["instructions"] is None  # not in quick mode
    json.dumps(r)
    h = cpu.headline(r)
    assert len(h) == 3 and all(t is None and ok is None for _, _, _, t, ok in h)
    md = cpu.markdown(r)
    assert "ours/theirs" in md and "MicroPython" in md
    png = tmp_path / "cpu.png"
    cpu.plot(r, str(png))
    assert png.stat().st_size > 1000
