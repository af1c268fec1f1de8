"""bench/ram.py, bench/ram_station.py, bench/ram_board.py, bench/port.py (CPython pytest).

The station runs on the MicroPython unix port; figures asserted are heap byte counts (never timings).
"""
import os
import shutil
import ssl
import subprocess

import pytest

from bench import port, ram
from tests.mp import ROOT, micropython_cmd


# ---- pure host-side pieces --------------------------------------------------------------------

def test_parse_output_reads_samples_pool_files_late_imports_and_qstr():
    text = ("@P 518144\n@R start 7264\n@R sys 11392\n@Q sys\n"
            "qstr pool: n_pool=3, n_qstr=93, n_str_data_bytes=642, n_total_bytes=2370\n"
            "@R stack 136640\n@Q stack\nqstr pool: n_pool=6, n_qstr=841, n_str_data_bytes=8520, "
            "n_total_bytes=22760\n@F lite_stack.core.rpc /rom/lite_stack/rpc.mpy\nnoise line\n@L asyncio.lock\n"
            "@R tx:BootNotification 140000\n@R bad-line\n")
    r = ram.parse_output(text)
    assert r["pool"] == 518144
    assert r["samples"] == [["start", 7264], ["sys", 11392], ["stack", 136640], ["tx:BootNotification", 140000]]
    assert r["qstr"] == {"sys": 2370, "stack": 22760}
    assert r["files"] == {"lite_stack.core.rpc": "/rom/lite_stack/rpc.mpy"}
    assert r["late"] == ["asyncio.lock"]


def test_analyse_splits_imported_stack_from_working_set():
    run = {"samples": [["start", 1000], ["image", 61000], ["sys", 65000], ["stack", 135000],
                       ["rx:frame", 140000], ["step:boot", 150000], ["tx:NotifyReport", 171000],
                       ["tx:done", 160000], ["step:end", 155000]],
           "qstr": {"sys": 2000, "stack": 22000}, "late": []}
    a = ram.analyse(run)
    assert a["image"] == 60000                      # the ROMFS block, not the stack's
    assert a["sys_import"] == 4000
    assert a["stack_import"] == 70000
    assert a["stack_import_qstr"] == 20000 and a["stack_import_no_qstr"] == 50000
    assert (a["peak"], a["peak_label"], a["working_set"]) == (171000, "tx:NotifyReport", 36000)
    assert a["steps"] == [{"step": "boot", "live": 15000, "peak": 15000},
                          {"step": "end", "live": 20000, "peak": 36000}]
    assert a["boot_live"] == 15000 and a["end_live"] == 20000
    assert a["by_message"][0] == ["tx:NotifyReport", 36000]


def test_bisect_finds_the_threshold_to_1_kB_and_confirms_it(monkeypatch):
    calls = []

    def fake(mode, rom, k, tries):
        calls.append(k)
        ok = k >= 203
        tries.append({"heap_kb": k, "ok": ok, "error": None if ok else "MemoryError", "stage": "scenario",
                      "pool": k * 1012, "elapsed_s": 0})
        return ok
    monkeypatch.setattr(ram, "passes", fake)
    b = ram.bisect_heap("rom", "img", 150, 214)
    assert (b["min_kb"], b["fail_kb"], b["unstable_kb"]) == (203, 202, [])
    assert calls.count(203) == 3                      # found once, confirmed twice
    assert b["pool_at_min"] == 203 * 1012

    flaky = {"n": 0}

    def flaky_fake(mode, rom, k, tries):              # 203 passes, then fails once on confirmation
        ok = k >= 203
        if k == 203:
            flaky["n"] += 1
            ok = flaky["n"] != 2
        tries.append({"heap_kb": k, "ok": ok, "error": None, "stage": None, "pool": 0, "elapsed_s": 0})
        return ok
    monkeypatch.setattr(ram, "passes", flaky_fake)
    b = ram.bisect_heap("rom", "img", 150, 214)
    assert b["unstable_kb"] == [203] and b["min_kb"] == 205


@pytest.mark.micropython
def test_romfs_image_mounts_on_micropython_with_packages(tmp_path):
    img = ram.romfs_image({"pkg/__init__.py": b"", "pkg/mod.py": b"X = 41 + 1\n", "top.py": b"Y = 'top'\n"})
    path = tmp_path / "t.romfs"
    path.write_bytes(img)
    code = ("import vfs, sys\nimg = open(%r, 'rb').read()\nvfs.mount(vfs.VfsRom(img), '/rom')\n"
            "sys.path.insert(0, '/rom')\nimport pkg.mod, top\nprint(pkg.mod.X, top.Y, pkg.mod.__file__)\n"
            % str(path))
    p = subprocess.run(micropython_cmd() + ["-c", code], capture_output=True, text=True, timeout=30)
    assert p.stdout.split() == ["42", "top", "/rom/pkg/mod.py"], p.stderr


# ---- the Core day on the unix port ------------------------------------------------------------

@pytest.mark.micropython
def test_quick_run_gives_the_working_set_and_romfs_executes_in_place(tmp_path):
    r = ram.run(quick=True, fw32=False)   # the 32-bit firmware run: tests/test_bench_guard.py
    main = r["runs"][r["main"]]
    assert main["ok"], (main["error"], main["stderr_tail"])
    assert main["violations"] == 0
    f = main["figures"]
    steps = [s["step"] for s in f["steps"]]
    assert steps == list(ram.STEPS)                   # every step of the Core day was sampled
    from lite_stack.blocks import ON_DEMAND
    lazy = {"lite_stack.blocks." + n for n in ON_DEMAND[1::2]} | {"device_model.report"}
    assert set(f["late_imports"]) <= lazy              # only on-demand blocks load after the baseline
    assert 0 < f["working_set"] <= ram.TARGET_WORKING_SET_KB * 1024
    assert abs(f["probes"]) < 4096                     # the bench's wrappers: left out of both figures
    assert f["peak"] == f["stack"] + f["probes"] + f["working_set"]
    if r["main"] == "rom":
        assert main["files"]["lite_stack.core.rpc"] == "/rom/lite_stack/core/rpc.mpy"
        py = ram.analyse(r["imports"]["py"])["stack_import"]
        rom = ram.analyse(r["imports"]["rom"])["stack_import"]
        assert rom < py * 0.75                         # bytecode and strings stay in the image
        assert f["image"] >= r["rom"]["image_bytes"]   # the image block is not counted as stack
    h = {name.split(" (")[0]: (v, target, ok) for name, v, unit, target, ok in ram.headline(r)}
    ws = h["RAM working set"]
    assert ws[0] == round(f["working_set"] / 1024, 1) and ws[1] is None   # secondary: no target
    total = ram.headline(r)[0]                       # the headline row: not measured in this run
    assert total[0].startswith(ram.FW32_LABEL) and total[1] is None and total[3] == ram.TARGET_TOTAL_KB
    md = ram.markdown(r)
    assert "(ii) working set" in md and "Per step" in md
    png = tmp_path / "ram.png"
    ram.plot(r, str(png))
    assert png.stat().st_size > 10000


@pytest.mark.micropython
def test_wss_run_counts_mbedtls_heap_outside_the_gc_heap(tmp_path):
    pytest.importorskip("cryptography")
    so = ram.build_mprobe(str(tmp_path))
    if so is None:
        pytest.skip("no C compiler for the malloc probe")
    pem, key, der = ram.make_cert(str(tmp_path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem, key)
    r = ram.scenario_run(mode="py", tls=(ctx, der), mprobe=so)
    assert r["ok"], (r["error"], r["stderr_tail"])
    tls = ram.tls_figures({"samples": r["samples"]}, r)
    # one verified TLS session holds mbedTLS's 16 KiB input + 4 KiB output record buffers
    assert tls["mbedtls_boot_tls"] >= 20 * 1024
    assert tls["mbedtls_peak_tls"] >= tls["mbedtls_boot_tls"]
    assert tls["mbedtls_end_tls"] < 2 * tls["mbedtls_boot_tls"]   # the dropped session was freed
    f = ram.analyse(r)
    assert f["working_set"] <= ram.TARGET_WORKING_SET_KB * 1024   # TLS buffers are not in the GC heap here


# ---- --port: the board script over a (fake) serial raw REPL -----------------------------------

@pytest.mark.micropython
def test_port_runs_board_script_over_raw_repl_paste_and_plain(tmp_path):
    pytest.importorskip("serial")
    samples = {}
    for raw_paste in (True, False):
        fb = port.FakeBoard(raw_paste=raw_paste)
        dev = fb.start()
        seen = []
        state = str(tmp_path / "state")
        try:
            r = port.run_board(dev, state_dir=state, progress=lambda d, t, l: seen.append(l), timeout=120)
        finally:
            fb.stop()
        assert r["ok"], r["error"]
        assert fb.log == ["ctrl-c", "ctrl-c", "raw", "soft-reset", "paste" if raw_paste else "raw-exec",
                          "friendly"]
        assert seen == ["step:" + s for s in ram.STEPS]
        a = ram.analyse(r)
        assert [s["step"] for s in a["steps"]] == list(ram.STEPS)
        assert 0 < a["working_set"] <= ram.TARGET_WORKING_SET_KB * 1024
        assert not os.path.exists(state)              # the board script cleans up its state
        samples[raw_paste] = r["samples"]
    # simulated time and no sockets: the same heap samples whichever way the code was sent
    assert samples[True] == samples[False]


@pytest.mark.micropython
def test_port_reports_the_boards_traceback():
    pytest.importorskip("serial")
    fb = port.FakeBoard()
    dev = fb.start()
    try:
        repl = port.RawRepl(dev)
        repl.enter(soft_reset=False)
        out, err = repl.run("print('@R x 1')\nraise ValueError('boom')\n", timeout=30)
        repl.exit()
        repl.close()
    finally:
        fb.stop()
    assert ram.parse_output(out.decode())["samples"] == [["x", 1]]
    assert b"ValueError: boom" in err
    r = port._result(out.decode(), err.decode(), "fake")
    assert not r["ok"] and "ValueError: boom" in r["error"]


@pytest.mark.micropython
def test_board_script_is_plain_micropython_without_desktop_imports():
    src = open(os.path.join(ROOT, "bench", "ram_board.py")).read()
    for banned in ("import tests", "ocpp2lite", "hal.sim", "import bench"):
        assert banned not in src
    assert shutil.which("mpy-cross") is None or subprocess.run(
        ["mpy-cross", "-O3", "-o", os.devnull, os.path.join(ROOT, "bench", "ram_board.py")]).returncode == 0
