"""bench/fw32.py: the 32-bit MicroPython firmware (qemu Cortex-M3) the RAM headline is measured on.

Pure host-side pieces (cache keys, output parsing, module discovery) always run. The firmware test
builds (or reuses from the cache) the firmware and runs a script in qemu; it is skipped when the ARM
toolchain or qemu is missing, unless ``OCPP2LITE_REQUIRE_FW32=1`` (set by .ci/run), where a missing
toolchain fails it.
"""
import os

import pytest

from bench import fw32, port, ram


# ---- cache keys ---------------------------------------------------------------------------------

def test_tree_key_depends_on_the_source_and_the_patch_set():
    k = fw32.tree_key("sha256:aa", "p1")
    assert k == fw32.tree_key("sha256:aa", "p1") and len(k) == 64
    assert k != fw32.tree_key("sha256:ab", "p1")
    assert k != fw32.tree_key("sha256:aa", "p2")
    assert fw32.tree_key("sha256:aa") == fw32.tree_key("sha256:aa", fw32.patch_set_id())


def test_firmware_key_depends_on_every_frozen_path_and_byte_not_on_order():
    a = {"lite_stack/rpc.py": b"X = 1\n", "hal/__init__.py": b""}
    k = fw32.firmware_key("t", a)
    assert k == fw32.firmware_key("t", dict(reversed(list(a.items()))))
    assert k != fw32.firmware_key("t", {"lite_stack/rpc.py": b"X = 2\n", "hal/__init__.py": b""})
    assert k != fw32.firmware_key("t", {"lite_stack/core/rpc.py": b"X = 1\n", "hal/__init__.py": b""})
    assert k != fw32.firmware_key("t", dict(a, **{"lite_stack/blocks/new.py": b""}))
    assert k != fw32.firmware_key("u", a)


def test_patch_set_id_covers_patches_and_make_variables(monkeypatch):
    k = fw32.patch_set_id()
    monkeypatch.setattr(fw32, "MAKE_VARS", fw32.MAKE_VARS + ("X=1",))
    assert fw32.patch_set_id() != k


def test_patches_apply_once_and_refuse_a_source_they_do_not_fit(tmp_path):
    texts = {}
    for rel, old, new, why in fw32.PATCHES:
        if old is not None:
            texts[rel] = texts.get(rel, "head\n") + old + "middle\n"
    for rel, text in texts.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    fw32.apply_patches(str(tmp_path))
    assert "#define MICROPY_PY_ASYNCIO          (1)" in (tmp_path / "ports/qemu/mpconfigport.h").read_text()
    assert "mp_hal_time_ns" in (tmp_path / "ports/qemu/mphalport.c").read_text()
    assert (tmp_path / "ports/qemu/modtime.c").exists()
    with pytest.raises(fw32.BuildError):          # applied twice: the old text is gone
        fw32.apply_patches(str(tmp_path))


def test_frozen_sources_are_found_by_listing_and_exclude_desktop_only_modules():
    src = fw32.frozen_sources()
    assert "lite_stack/rpc.py" in src or any(p.startswith("lite_stack/core/") for p in src)
    assert "fw_image.py" in src and "main.py" in src
    assert "lite_stack/sim.py" not in src and "hal/sim.py" not in src and "boards/desktop.py" not in src
    text = fw32.manifest_text("/stage", src)
    assert 'include("$(MPY_DIR)/extmod/asyncio")' in text
    assert text.count(", opt=3)") == len(src)


def test_sync_stage_rewrites_only_changed_files(tmp_path):
    stage = str(tmp_path)
    assert fw32._sync_stage(stage, {"a/b.py": b"1", "c.py": b"2"}) == 2
    assert fw32._sync_stage(stage, {"a/b.py": b"1", "c.py": b"2"}) == 0
    assert fw32._sync_stage(stage, {"a/b.py": b"3"}) == 1
    assert not (tmp_path / "c.py").exists()


# ---- output parsing and module discovery ----------------------------------------------------------

def test_parse_imports_and_baseline_lines():
    text = "noise\r\n@M lite_stack.rpc 4112 6016\r\n@M bad 1\r\n@B boot 640 139392\r\n@B mounted 1984\r\n"
    assert fw32.parse_imports(text) == {"lite_stack.rpc": 1904}
    assert fw32.parse_baseline(text) == {"boot": 640, "mounted": 1984}


def test_stack_imports_lists_packages_recursively(tmp_path):
    for rel in ("lite_stack/__init__.py", "lite_stack/sim.py", "lite_stack/core/__init__.py",
                "lite_stack/core/rpc.py", "lite_stack/blocks/__init__.py", "lite_stack/blocks/meter.py",
                "device_model/__init__.py", "device_model/store.py", "hal/__init__.py", "hal/pilot.py",
                "boards/__init__.py", "boards/pico_w.py", "lite_stack/notapkg/x.py"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")
    assert port.stack_imports(str(tmp_path)) == [
        "boards", "device_model", "device_model.store", "hal", "lite_stack", "lite_stack.blocks",
        "lite_stack.blocks.meter", "lite_stack.core", "lite_stack.core.rpc"]
    assert fw32.import_rows(str(tmp_path)) == ["lite_stack.blocks.meter"]
    assert fw32.on_demand_blocks(str(tmp_path)) is None
    # ON_DEMAND maps actions to block modules; a block's RELEASE names what goes with it
    (tmp_path / "lite_stack/blocks/__init__.py").write_text(
        "ON_DEMAND = {'MeterValues': 'meter', 'GetBaseReport': 'report'}\n")
    (tmp_path / "lite_stack/blocks/report.py").write_text("RELEASE = ('device_model.store',)\n")
    assert fw32.on_demand_blocks(str(tmp_path)) == [
        "device_model.store", "lite_stack.blocks.meter", "lite_stack.blocks.report"]
    assert port.stack_imports(str(tmp_path)) == [       # a device imports them only while in use
        "boards", "device_model", "hal", "lite_stack", "lite_stack.blocks", "lite_stack.core",
        "lite_stack.core.rpc"]
    assert "lite_stack.blocks.report" in port.stack_imports(str(tmp_path), on_demand=True)


def test_headline_without_the_toolchain_is_an_error_row_that_misses_the_target():
    rows = ram.fw32_headline({"error": "toolchain missing: missing qemu-system-arm"})
    assert len(rows) == 1
    label, value, unit, target, ok = rows[0]
    assert value is None and target == ram.TARGET_TOTAL_KB and ok is False
    assert "NOT MEASURED" in label and "qemu-system-arm" in label
    md = "\n".join(ram.fw32_markdown({"error": "toolchain missing"}))
    assert "Not measured" in md and "apt-get install" in md


def test_fw32_run_reports_a_missing_toolchain_instead_of_raising(monkeypatch):
    monkeypatch.setattr(fw32, "missing_tools", lambda: ["qemu-system-arm"])
    r = ram.fw32_run()
    assert r["error"].startswith("toolchain missing") and "qemu-system-arm" in r["error"]


# ---- the firmware in qemu ---------------------------------------------------------------------------

SMOKE = """import sys, time, os, json, asyncio, hashlib, binascii
async def f():
    await asyncio.sleep_ms(5)
    return json.loads(json.dumps({"a": [1, 2]}))
print("@S", sys.maxsize == 2**31 - 1, asyncio.run(f())["a"][1], time.gmtime(0)[0], len(time.gmtime()),
      len(os.urandom(16)), binascii.hexlify(hashlib.sha1(b"abc").digest()).decode())
"""


def test_firmware_is_32_bit_with_asyncio_json_gmtime_urandom_and_sha1():
    miss = fw32.missing_tools()
    if miss and os.environ.get("OCPP2LITE_REQUIRE_FW32") != "1":
        pytest.skip("no ARM toolchain / qemu: %s" % ", ".join(miss))
    info = fw32.build()
    out, err = fw32.run_code(info["elf"], SMOKE, timeout=60)
    line = [ln.split()[1:] for ln in out.splitlines() if ln.startswith("@S ")]
    assert line, (out, err)
    # 32-bit; asyncio + json; gmtime (8-tuple, 2000 epoch); 16 bytes of urandom; SHA-1("abc") (FIPS 180)
    assert line[0] == ["True", "2", "2000", "8", "16", "a9993e364706816aba3e25717850c26c9cd0d89d"], (out, err)
    again = fw32.build()                              # the second build is the cached firmware
    assert again["cached"] and again["elf"] == info["elf"]
