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
