"""Issue 13: the fast seeded subset of the fuzz and connection-fault campaigns (CPython side;
the full runs are ``python -m bench.fuzz --frames 1000000``, ``micropython -m bench.fuzz --frames
100000`` and ``python -m bench.netfuzz garble|faults --interp ...``, figures in docs/robustness.md).
Each test also checks that it exercised what it claims (frame kinds, faults, reconnects)."""
import asyncio
import json
import subprocess

import pytest
from hypothesis import given, settings, strategies as hs

from bench import fuzz, netfuzz
from tests.mp import ROOT, micropython_cmd


def test_fuzz_rpc_layer_seeded_subset_cpython():
    res = asyncio.run(fuzz.Fuzzer(5).run(15000, 5000))
    assert res["violations"] == 0, res["failures"]
    assert res["alive"] and res["store_writes_by_garbage"] == 0
    assert all(res["kinds"].get(k, 0) > 100 for k in
               ("valid", "payload", "frame", "text", "answer", "oversized")), res["kinds"]
    assert res["heap_last"] < 2 * res["heap_first"]


@pytest.mark.micropython
def test_fuzz_rpc_layer_seeded_subset_micropython():
    p = subprocess.run(micropython_cmd() + ["-m", "bench.fuzz", "--frames", "5000", "--seed", "5",
                                            "--sample", "1000"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert p.returncode == 0 and res["violations"] == 0, res["failures"]
    assert res["interpreter"] == "micropython" and res["frames"] == 5000


_FZ = []


@settings(max_examples=300, deadline=None)
@given(hs.one_of(hs.text(max_size=200), hs.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 hs.recursive(hs.none() | hs.booleans() | hs.integers() | hs.text(max_size=40),
                              lambda c: hs.lists(c, max_size=5) | hs.dictionaries(
                                  hs.text(max_size=10), c, max_size=5), max_leaves=20).map(
                     lambda v: json.dumps([2, "h-1", "GetVariables", v]))))
def test_fuzz_rpc_hypothesis_frames_answered_once_with_the_right_code(text):
    if not _FZ:
        _FZ.append(fuzz.Fuzzer(9))
    fz = _FZ[0]

    async def one():
        fz.frame = lambda: ("hypothesis", text)
        before = fz.bad
        await fz.one()
        return fz.bad - before
    assert asyncio.run(one()) == 0, fz.fails[-1:]


@pytest.mark.parametrize("interp", ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
def test_garbled_websocket_frames_over_a_real_socket(interp):
    res = asyncio.run(netfuzz.garble(interp, frames=300, seed=11, batch=30))
    assert res["violations"] == 0, (res["failures"], res.get("station_tail"))
    assert res["alive"] and not res["tracebacks"] and res["frames"] == 300
    assert res["reconnects_expected"] >= 1 and res["ws"].get("oversized", 0) >= 3


@pytest.mark.parametrize("interp", ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
def test_connection_faults_no_spin_no_lost_transaction_event(interp):
    res = asyncio.run(netfuzz.faults(interp, cycles=4, seed=4, storm=4,
                                     kinds=("rst_now", "close_now", "rst_mid_frame", "rst_on_te")))
    assert res["violations"] == 0, res["failures"]
    assert res["cycles"] == 8 and res["connections"] >= 8
    assert res["seqnos"] >= 5 and res["max_log_lines_per_s"] < 400
