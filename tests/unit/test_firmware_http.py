"""L01 bad input through the real HTTP client (``lite_stack.core.http``) on both interpreters: the
in-process station (VirtualClock with ``real_io``) downloads from a tiny asyncio HTTP server written
here that answers 404, refuses, stalls mid-body, cuts the body short, or announces an image larger
than the free flash; each ends in DownloadFailed with a log line, no file left, no crash; a good
image is installed. Power cuts at every persisted step resume or report the failure."""
import asyncio
import os

from lite_stack.vclock import VirtualClock
from tests.unit import fwcerts as F
from tests.unit.test_firmware import IMG, NOW, _req, _sec, _st
from tests.unit.test_station import scenario
from tests.unit.util import start_server, tmpdir



async def _serve(r, w):
    try:
        line = (await r.readline()).decode()
        path = line.split(" ")[1]
        while (await r.readline()) not in (b"\r\n", b"\n", b""):
            pass
        if path == "/fw.bin":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(IMG))
            w.write(IMG)
        elif path == "/short.bin":            # truncated: the connection closes early
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(IMG))
            w.write(IMG[:5000])
        elif path == "/stall.bin":            # stalls mid-download
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(IMG))
            w.write(IMG[:3000])
            await w.drain()
            await asyncio.sleep(30)
        elif path == "/big.bin":              # larger than the free flash
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n")
            w.write(IMG[:1000])
        else:
            w.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
    except Exception:
        pass
    finally:
        try:
            w.close()
            await w.wait_closed()
        except Exception:
            pass


def _rig():
    c = VirtualClock()
    c.real_io = 2
    return c


def test_L01_real_http_bad_input_each_ends_in_download_failed_TC_L_07_CS():
    async def s(rig):
        srv, port = await start_server(_serve)
        try:
            await rig.boot()
            rig.station.certs.install("ManufacturerRootCertificate", F.ROOT_EC)
            base = "http://127.0.0.1:%d" % port
            rid = 0
            for path in ("/missing.bin", "/short.bin", "/stall.bin", "/big.bin"):
                rid += 1
                r = await rig.csms.call("UpdateFirmware", _req(rid=rid, loc=base + path), 120)
                assert r[2]["status"] == "Accepted"
                await rig.csms.wait_for(lambda: _st(rig).count("DownloadFailed") == rid, 200)
                assert "fw.img" not in os.listdir(rig.state_dir)
            # refused: nobody listens on that port any more
            srv.close()
            await srv.wait_closed()
            r = await rig.csms.call("UpdateFirmware", _req(rid=9, loc=base + "/fw.bin"), 120)
            await rig.csms.wait_for(lambda: _st(rig).count("DownloadFailed") == 5, 200)
            assert [x for x in rig.logs if "firmware: download" in x][:4] and not rig.task.done()
            assert _st(rig).count("Downloaded") == 0
        finally:
            srv.close()
    scenario(s, clock=_rig())


def test_L01_real_http_download_verify_install_TC_L_01_CS():
    async def s(rig):
        srv, port = await start_server(_serve)
        try:
            await rig.boot()
            rig.station.certs.install("ManufacturerRootCertificate", F.ROOT_RSA)
            r = await rig.csms.call("UpdateFirmware", _req(
                rid=3, cert=F.SIGN_RSA, sig=F.SIG_RSA, loc="http://127.0.0.1:%d/fw.bin" % port), 120)
            assert r[2]["status"] == "Accepted"
            res = await asyncio.wait_for(rig.task, 60)
            assert res == "reset"
            rig.start()
            await rig.csms.wait_for(lambda: "Installed" in _st(rig), 120)
            assert _st(rig) == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                "InstallRebooting", "Installed"]
            with open(rig.state_dir + "/fw_a.bin", "rb") as f:
                assert f.read() == IMG
        finally:
            srv.close()
    scenario(s, clock=_rig())


def _resume(st, image, expect, board_ok=True):
    """Start a station whose state holds an update persisted at status ``st`` (the power was cut
    right after that status was saved); -> the statuses it reports."""
    d = tmpdir("fwres")
    from device_model.store import Store
    from lite_stack.core.certstore import CertStore
    CertStore(Store(d)).install("ManufacturerRootCertificate", F.ROOT_EC)
    import hashlib
    from binascii import hexlify
    rec = {"st": st, "rid": 5, "loc": "http://127.0.0.1:1/none", "rt": NOW - 100, "it": None,
           "cert": F.SIGN_EC, "sig": F.SIG_EC, "ret": 0, "ri": 1, "n": 1,
           "sha": str(hexlify(hashlib.sha256(IMG).digest()), "ascii")}
    Store(d).save("fw", rec)
    if image is not None:
        with open(d + "/fw.img", "wb") as f:
            f.write(image)
    if board_ok:
        with open(d + "/fw_boot", "w") as f:
            f.write("a trial")

    async def s(rig):
        await rig.boot()
        await rig.csms.wait_for(lambda: _st(rig) and _st(rig)[-1] in expect, 60)
        await rig.settle(1)
        return _st(rig), rig.csms.of("BootNotification")[0]["reason"], _sec(rig)
    return scenario(s, state_dir=d)


def test_L01_power_cut_at_every_step_resumes_or_reports():
    fin = ("Installed", "InstallationFailed", "DownloadFailed", "InstallRebooting", "InvalidSignature")
    # after InstallRebooting / during Installing: the board tells whether the new image runs
    st, reason, sec = _resume("InstallRebooting", None, fin)
    assert st == ["Installed"] and reason == "FirmwareUpdate" and "FirmwareUpdated" in sec
    st, reason, _ = _resume("Installing", None, fin, board_ok=False)
    assert st == ["InstallationFailed"] and reason == "FirmwareUpdate"
    # downloaded image still on flash: verified again from the file, then installed
    for at in ("Downloaded", "SignatureVerified", "InstallScheduled"):
        st, reason, _ = _resume(at, IMG, fin, board_ok=False)
        assert reason == "PowerUp"
        assert st[-2:] == ["Installing", "InstallRebooting"], (at, st)
        assert ("SignatureVerified" in st) == (at == "Downloaded"), (at, st)
    # image lost or damaged: downloaded again (here the server is gone: DownloadFailed)
    st, _, _ = _resume("SignatureVerified", IMG[:-1], fin)
    assert st == ["Downloading", "DownloadFailed"]
    # cut during the last allowed attempt: no retry left
    st, _, _ = _resume("Downloading", None, fin)
    assert st == ["DownloadFailed"]
