"""L01 end to end on CPython: ``ocpp2lite sign-firmware`` signs an image whose signature the
stack's pure-Python verifier accepts, and ``ocpp2lite demo --firmware`` runs a whole signed update
(HTTP download from the lab file server, reboot, BootNotification FirmwareUpdate, Installed)
against the embedded CSMS with the station on CPython and on the MicroPython unix port."""
import base64
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from lite_stack.core import sigverify, x509
from ocpp2lite import cli, fwsign

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_sign_firmware_cli_signature_verifies_in_the_stack(tmp_path, capsys, kind):
    root, _, cert, key = fwsign.make_signer(kind)
    (tmp_path / "k.pem").write_bytes(fwsign.pem(key))
    (tmp_path / "c.pem").write_bytes(fwsign.pem(cert))
    img = tmp_path / "img.bin"
    img.write_bytes(os.urandom(50000))
    assert cli.main(["sign-firmware", "--key", str(tmp_path / "k.pem"), "--cert",
                     str(tmp_path / "c.pem"), "--out", str(tmp_path / "sig"), str(img)]) == 0
    sig = capsys.readouterr().out.strip()
    assert (tmp_path / "sig").read_text().strip() == sig
    c = sigverify.check_chain(x509.pem_ders(fwsign.pem(cert))[0],
                              [x509.pem_ders(fwsign.pem(root))[0]], None)
    assert sigverify.verify(c, hashlib.sha256(img.read_bytes()).digest(), base64.b64decode(sig))
    # a certificate of another key is refused
    _, _, other, _ = fwsign.make_signer(kind)
    (tmp_path / "o.pem").write_bytes(fwsign.pem(other))
    assert cli.main(["sign-firmware", "--key", str(tmp_path / "k.pem"), "--cert",
                     str(tmp_path / "o.pem"), str(img)]) == 1
    assert cli.main(["sign-firmware", "--key", str(tmp_path / "missing.pem"), str(img)]) == 1


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_L01_demo_firmware_whole_signed_update_TC_L_01_CS(interp):
    args = [sys.executable, "-m", "ocpp2lite", "demo", "--firmware"]
    if interp == "micropython":
        if not (os.environ.get("MICROPYTHON") or shutil.which("micropython")):
            pytest.skip("micropython not installed")
        args.append("--micropython")
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert ("firmware status  Downloading -> Downloaded -> SignatureVerified -> Installing -> "
            "InstallRebooting -> Installed") in r.stdout
    assert '"reason":"FirmwareUpdate"' in r.stdout and "FirmwareUpdated" in r.stdout


def test_L01_exit_on_reset_process_exits_0_and_reports_installed_after_restart(tmp_path):
    """OCPP_EXIT_ON_RESET=1: after InstallRebooting the simulator exits 0; started again on the
    same state dir it boots with reason FirmwareUpdate and reports Installed (TC_L_01 steps 14-19)."""
    import asyncio
    from ocpp2lite import demo_fw
    from ocpp2lite.csms import Csms
    from ocpp2lite.demo import StationProcess, station_command, station_env
    from ocpp2lite.files import serve_files

    async def main():
        fw_env, files, (cert, sig) = demo_fw.prepare(str(tmp_path))
        state = str(tmp_path / "state")
        os.mkdir(state)
        csms = Csms(log=lambda line: None)
        await csms.start()
        srv = await serve_files("127.0.0.1", 0, files)
        env = station_env(csms.url, "FW-1", state, exit_on_reset=True, extra=fw_env)
        st = StationProcess(station_command("cpython"), env=env)
        try:
            await st.start()
            await csms.wait_for("StatusNotification", timeout=20, station="FW-1")
            res = await csms.call("UpdateFirmware", {"requestId": 5, "firmware": {
                "location": "%s/files/%s" % (srv.url, demo_fw.IMAGE),
                "retrieveDateTime": "2020-01-01T00:00:00Z", "signingCertificate": cert,
                "signature": sig}}, timeout=20, station="FW-1")
            assert res["status"] == "Accepted"
            assert await st.wait_exit(30) == 0
            mark = csms.mark()
            st2 = StationProcess(station_command("cpython"), env=env)
            await st2.start()
            try:
                boot, _ = await csms.wait_for("BootNotification", timeout=20, since=mark, station="FW-1")
                assert boot["reason"] == "FirmwareUpdate"
                await csms.wait_for("FirmwareStatusNotification",
                                    lambda p: p["status"] == "Installed" and p["requestId"] == 5,
                                    timeout=20, since=mark, station="FW-1")
            finally:
                await st2.stop()
            seq = [p["status"] for p, _ in csms.requests("FirmwareStatusNotification", station="FW-1")]
            assert seq == demo_fw.EXPECTED
            assert not csms.violations
        finally:
            await st.stop()
            srv.close()
            await csms.stop()
    asyncio.run(main())
