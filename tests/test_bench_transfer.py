"""bench/transfer.py (issue 12 budget): the RAM peak during a signed firmware update (ECDSA P-256,
RSA-2048) and during a log upload, through the stack's real HTTP client over a fake
``asyncio.open_connection``, on the 32-bit qemu firmware (against 50 kB: imports + working set)
and on the unix port (1 MB image; the working set does not depend on the image size).

The firmware test is skipped without the ARM toolchain / qemu unless ``OCPP2LITE_REQUIRE_FW32=1``
(.ci/run), where it must run."""
import hashlib
import os

import pytest

from bench import fw32, ram, transfer


def _board_image(size):
    # the board-side generator (bench/ram_transfer.py), run here on CPython piece by piece
    ns = {}
    with open(transfer.TRANSFER_SCRIPT) as f:
        exec(compile(f.read(), transfer.TRANSFER_SCRIPT, "exec"), ns)
    ns["_T"]["base"] = bytes(((i * 7) + (i >> 5) + 1) & 255 for i in range(512))
    out = bytearray()
    off = 0
    for n in (512, 512, 100, 412, 300, 700, 512):     # aligned reads, and unaligned ones
        out += ns["image_piece"](off, n)
        off += n
    return bytes(out[:size])


def test_host_signs_the_bytes_the_board_streams():
    assert _board_image(3048) == transfer.image(3048)
    img = transfer.image(140000)
    assert len(img) == 140000 and img[512] == 1 and img[513] == 0 and img[512 * 257 + 1] == 1
    o = transfer.opts(140000, "desktop", "/s", ["lite_stack"])
    assert [u[0] for u in o["updates"]] == ["ec", "rsa"] and o["log"] is True
    from lite_stack.core import sigverify, x509
    from binascii import a2b_base64
    digest = hashlib.sha256(img).digest()
    for tag, cert, sig in o["updates"]:
        c = x509.parse(x509.pem_ders(cert)[0])
        assert sigverify.verify(c, digest, a2b_base64(sig)), tag
    assert transfer.opts(10, "b", "/s", [], phases=("log",))["updates"] == []


def _check(r, size):
    assert r["ok"], (r["error"], [x.get("stderr_tail") for x in r.get("runs", {}).values()])
    t = r["transfers"]
    assert t["fw_ec"] == ["Installed", str(size)] and t["fw_rsa"] == ["Installed", str(size)]
    assert t["log"][0] == "Uploaded" and int(t["log"][1]) > 4096     # a full log ring was read
    f = r["figures"]
    for tag in ("ec", "rsa", "log"):
        p = f["phases"][tag]
        assert p["total"] == p["stack_import"] + p["working_set"] and p["working_set"] > 0, tag
    for tag in ("ec", "rsa"):                  # sampled while streaming: every 8 kB
        assert f["phases"][tag]["dl_samples"] >= size // 8192, tag
    assert f["imports_fw"] > f["imports_diag"] > 0
    return f


def test_transfer_peaks_on_the_32_bit_firmware_are_within_50_kB():
    miss = fw32.missing_tools()
    if miss and os.environ.get("OCPP2LITE_REQUIRE_FW32") != "1":
        pytest.skip("no ARM toolchain / qemu: %s" % ", ".join(miss))
    r = transfer.fw32_transfer()
    f = _check(r, transfer.FW32_SIZE)
    for tag in ("ec", "rsa", "log"):
        assert f["phases"][tag]["total"] <= transfer.TARGET_TOTAL_KB * 1024, (tag, f["phases"][tag])
    rows = transfer.headline_rows(r)
    assert [row[3] for row in rows[:3]] == [ram.TARGET_TOTAL_KB] * 3 and all(row[4] for row in rows[:3])
    md = "\n".join(transfer.markdown(r))
    assert "firmware update, ECDSA P-256" in md and "(met)" in md


@pytest.mark.micropython
def test_transfer_on_the_unix_port_1_MB_and_memory_constant_in_the_image_size():
    r = transfer.unix_transfer(transfer.UNIX_SIZE)
    f = _check(r, transfer.UNIX_SIZE)
    small = transfer.unix_transfer(transfer.UNIX_SMALL, phases=("ec",))
    assert small["ok"], small["error"]
    # 4x the image, the same heap: fixed 512 B chunks and a streaming hash
    assert abs(f["phases"]["ec"]["working_set"] - small["figures"]["phases"]["ec"]["working_set"]) <= 256
    rows = transfer.headline_rows(None, r)
    assert rows[0][1] is None and rows[0][4] is False              # no firmware run: an error row
    assert any("1024 kB image" in row[0] for row in rows[1:])
