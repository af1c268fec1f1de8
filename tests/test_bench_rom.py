"""bench/rom.py: ROM figures (deterministic: bytes of mpy-cross output), CPython only."""
import functools
import os
import subprocess

from bench import rom
from ocpp2lite import deploy

ROOT = rom.ROOT


@functools.lru_cache(maxsize=1)
def result():
    return rom.run(quick=True)


def test_rom_compiles_every_stack_module_with_the_manifest_opt_level():
    r = result()
    paths = {m["path"] for m in r["modules"]}
    assert set(rom.stack_modules(ROOT)) <= paths
    assert "firmware/main.py" in paths and "fw_image.py" in paths
    assert r["mpy_cross"]["opt"] == rom.manifest_opt(ROOT) == 3
    assert r["mpy_cross"]["flags"][0] == "-O3"
    assert "mpy-cross" in r["mpy_cross"]["version"] or "MicroPython" in r["mpy_cross"]["version"]
    assert all(m["bytes"] > 0 for m in r["modules"])


def test_rom_sizes_equal_an_independent_mpy_cross_run(tmp_path):
    r = result()
    size = {m["path"]: m["bytes"] for m in r["modules"]}
    exe = rom.mpy_cross_cmd()
    for path, name in (("lite_stack/core/rpc.py", "lite_stack/core/rpc.py"), ("firmware/main.py", "main.py")):
        out = str(tmp_path / "x.mpy")
        subprocess.run([exe, "-O3", "-s", name, "-o", out, os.path.join(ROOT, path)], check=True)
        assert os.path.getsize(out) == size[path], path


def test_rom_manifest_opt_is_read_from_the_manifest(tmp_path):
    (tmp_path / "firmware").mkdir()
    m = tmp_path / "firmware" / "manifest.py"
    m.write_text('module("a.py", base_path=x, opt=2)\nmodule("b.py", opt=2)\n')
    assert rom.manifest_opt(str(tmp_path)) == 2
    m.write_text('module("a.py", opt=2)\nmodule("b.py", opt=3)\n')
    try:
        rom.manifest_opt(str(tmp_path))
    except ValueError:
        pass
    else:
        raise AssertionError("mixed opt levels accepted")


def test_rom_every_module_belongs_to_a_functional_block():
    r = result()
    ids = {b[0] for b in r["blocks"]}
    for m in r["modules"]:
        assert m["block"] in ids, m
    assert rom.block_of("lite_stack/new_block.py") == "other"  # an unmapped module is visible
    assert rom.block_of("hal/pilot.py") == "hal"
    assert rom.block_of("lite_stack/blocks/transactions.py") == "transactions"
    assert rom.block_of("lite_stack/core/link.py") == "core"
    # issue 12: the file client has its own row; the firmware and diagnostics blocks own theirs
    assert rom.block_of("lite_stack/core/http.py") == rom.block_of("lite_stack/core/ftp.py") == "filetransfer"
    assert rom.block_of("lite_stack/core/sigverify.py") == rom.block_of("lite_stack/blocks/fwstatus.py") == "firmware"
    assert rom.block_of("lite_stack/diaglog.py") == "diagnostics"
    assert rom.block_of("lite_stack/core/net.py") == "core"   # shared with the WebSocket
    dev = r["builds"][r["largest_device"]]
    assert all(dev["by_block"].get(b, 0) > 0 for b in rom.TRANSFER_BLOCKS)
    assert rom.transfer_bytes(dev) == sum(m["bytes"] for m in r["modules"] if m["block"] in rom.TRANSFER_BLOCKS
                                          and r["largest_device"] in m["builds"])
    row = [x for x in rom.headline(r) if "HTTP/FTP client" in x[0]]
    assert row and row[0][1] == round(rom.transfer_bytes(dev) / 1000.0, 1)


def test_rom_build_totals_add_up():
    r = result()
    size = {m["path"]: m["bytes"] for m in r["modules"]}
    for name, b in r["builds"].items():
        assert b["bytes"] == sum(size[m] for m in b["modules"]), name
        assert sum(b["by_block"].values()) == b["bytes"], name
        assert b["frozen_est"] == int(round(b["bytes"] * rom.FROZEN_FACTOR))
        assert b["frozen_range"][0] <= b["frozen_est"] <= b["frozen_range"][1]
        assert 0 < b["ocpp_part_bytes"] < b["bytes"]


def test_rom_device_builds_are_the_deploy_images_and_desktop_has_no_drivers():
    r = result()
    boards = deploy.boards_available(ROOT)
    assert set(r["builds"]) == {"desktop"} | set(boards)
    for board in boards:
        want = [rel if base == ROOT else "firmware/" + rel for base, rel in deploy.image_sources(board, ROOT)]
        assert r["builds"][board]["modules"] == want + ["fw_image.py"]
        assert "hal/sim.py" not in want and "boards/desktop.py" not in want
        assert "hal/pilot.py" in want and "boards/%s.py" % board in want
    desk = r["builds"]["desktop"]["modules"]
    assert "hal/sim.py" in desk and "boards/desktop.py" in desk
    assert not any(m in desk for m in ("hal/pilot.py", "hal/mfrc522.py", "boards/_common.py",
                                       "firmware/main.py"))
    assert r["largest_device"] in boards


def test_rom_headline_against_200_kB():
    r = result()
    rows = rom.headline(r)
    assert rows[0][3] == 200.0
    for name, value, unit, target, ok in rows:
        assert unit == "kB"
        if target is not None:
            assert ok == (value * 1000 <= r["target_bytes"] + 50), name  # value rounded to 0.1 kB


def test_rom_markdown_cites_sources_and_plot_writes_a_png(tmp_path):
    r = result()
    md = rom.markdown(r)
    assert "-O3" in md and r["mpy_cross"]["version"] in md
    assert "121,170" in md and "8657db0b91afb4ca8dfb208164b099dc161f6c7c" in md
    assert "micropython-notes.md" in md
    assert "| **Total** |" in md
    png = tmp_path / "rom.png"
    rom.plot(r, str(png))
    assert png.stat().st_size > 1000
