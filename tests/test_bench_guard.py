"""CI guard (issue 5): the quick bench must show the stack inside OCA's Lite targets.

Fails when the ROM of a device build exceeds 200 kB, the RAM working set on the MicroPython unix
port exceeds 50 kB, or the Lite-tuned month exceeds 25 MB. Sizes, heap counts and byte counts are
deterministic; nothing here asserts a timing. Also checks that one `ocpp2lite bench` run writes
the JSON, the Markdown and the PNGs.
"""
import json
import os

import pytest

from bench import cli


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


def test_ram_working_set_is_within_50_kB(quick):
    for label, value, unit, target, ok in _figure(quick, "ram", 50.0, "kB"):
        assert ok and value <= 50.0, (label, value)


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
