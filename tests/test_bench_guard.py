"""CI guard (issue 5): the quick bench must show the stack inside OCA's Lite targets.

Fails when the ROM of a device build exceeds 200 kB, the RAM total (imported stack + working set)
on the 32-bit MicroPython firmware in qemu exceeds 50 kB, over the Core day and during a firmware
update / log upload (bench/transfer.py; also when it could not be measured: CI
installs the ARM toolchain and qemu, .ci/run), or the Lite-tuned month exceeds 25 MB. Sizes, heap
counts and byte counts are deterministic; nothing here asserts a timing. Also checks that one
`ocpp2lite bench` run writes the JSON, the Markdown and the PNGs, and that the README's RAM figures
and docs/bench/bench.md's headline are the committed docs/bench/bench.json's (bench output, not typed).
"""
import json
import os

import pytest

from bench import cli, ram, readme

DOCS_BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "bench")


@pytest.fixture(scope="module")
def quick():
    return cli.run_modules(("rom", "ram", "data"), quick=True, progress=False)


def _figure(results, module, target, unit):
    r = results[module]
    assert "error" not in r, r.get("error")
    hs = [h for h in r["headline"] if h[3] == target and h[2] == unit]
    assert hs, r["headline"]
    return hs


def test_rom_of_every_build_is_within_200_kB(quick):
    for label, value, unit, target, ok in _figure(quick, "rom", 200.0, "kB"):
        assert ok and value <= 200.0, (label, value)


def test_ram_total_on_the_32_bit_firmware_is_within_50_kB(quick):
    hs = _figure(quick, "ram", 50.0, "kB")
    assert hs[0][0] == ram.FW32_LABEL, hs                      # the Core day's total first
    # then issue 12's: the peak during a firmware update (ECDSA, RSA) and during a log upload
    assert len(hs) == 4 and all("32-bit MCU, peak during a" in h[0] for h in hs[1:]), hs
    for label, value, unit, target, ok in hs:
        assert value is not None and ok and value <= 50.0, (label, value)
    fw = quick["ram"]["result"]["fw32"]
    f = fw["run"]["figures"]
    assert fw["total"] == f["stack_import"] + f["working_set"]
    assert [s["step"] for s in f["steps"]] == list(ram.STEPS)  # the whole Core day ran on the firmware
    assert fw["maxsize"] == 2 ** 31 - 1                        # a 32-bit build


def test_lite_tuned_month_is_within_25_MB(quick):
    hs = _figure(quick, "data", 25.0, "MB")
    assert any("lite" in h[0] for h in hs), hs
    for label, value, unit, target, ok in hs:
        assert ok and value <= 25.0, (label, value)


def test_no_headline_misses_its_target(quick):
    assert cli.misses(quick) == []


def test_report_writes_json_markdown_and_pngs(quick, tmp_path):
    files = cli.write_report(quick, str(tmp_path), plots=True, quick=True)
    names = sorted(os.path.basename(f) for f in files)
    assert "bench.json" in names and "bench.md" in names
    pngs = [f for f in files if f.endswith(".png")]
    assert len(pngs) == 3, names
    for p in pngs:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(str(tmp_path), "bench.json")) as f:
        doc = json.load(f)
    assert set(doc["results"]) == {"rom", "ram", "data"}
    md = open(os.path.join(str(tmp_path), "bench.md")).read()
    assert "## Headline" in md and "meets" in md and "**misses**" not in md


def test_misses_reports_a_figure_over_its_target_and_a_failed_module():
    fake = {"rom": {"headline": [["ROM", 250.0, "kB", 200.0, False]], "result": {}},
            "data": {"error": "RuntimeError: boom"}}
    assert cli.misses(fake) == [("rom", "ROM"), ("data", "RuntimeError: boom")]
    table = cli.headline_table(fake)
    assert "**misses**" in table and "**failed**" in table


def test_cli_help_and_unknown_measurement(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    assert "50 kB RAM" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main(["flash"])
    assert e.value.code == 2


def test_cli_quick_rom_writes_report_and_exits_0(tmp_path, capsys):
    assert cli.main(["rom", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "ROM" in out and "meets" in out
    assert os.path.exists(os.path.join(str(tmp_path), "rom.png"))


def test_readme_ram_figures_are_the_committed_bench_json():
    with open(os.path.join(DOCS_BENCH, "bench.json")) as f:
        doc = json.load(f)
    with open(readme.README) as f:
        text = f.read()
    assert readme.current_block(text) == readme.ram_block(doc), "run: python -m bench.readme"
    assert doc["results"]["ram"]["headline"][0][0] == ram.FW32_LABEL


def test_docs_bench_md_headline_is_the_committed_bench_json():
    with open(os.path.join(DOCS_BENCH, "bench.json")) as f:
        doc = json.load(f)
    with open(os.path.join(DOCS_BENCH, "bench.md")) as f:
        md = f.read()
    assert cli.headline_table(doc["results"]) in md
    assert ram.markdown(doc["results"]["ram"]["result"]).strip() in md   # the RAM section, as generated
