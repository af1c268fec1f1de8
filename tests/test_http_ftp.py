"""``lite_stack.core.http`` against real servers of the desktop side, on CPython and (as a
subprocess, tests/http_client.py) on the MicroPython unix port: ftp:// RETR and STOR (RFC 959,
passive, TYPE I) against pyftpdlib through ``ocpp2lite.files.serve_ftp``, and http:// GET/PUT
against ``ocpp2lite.files.serve_files`` (the lab's firmware / log endpoint)."""
import asyncio
import json
import os
import sys

import pytest

from ocpp2lite.files import serve_files
from tests.mp import ROOT, micropython_cmd

INTERPS = ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)]
DATA = os.urandom(5000) + b"tail"


async def _client(interp, *args):
    cmd = micropython_cmd() if interp == "micropython" else [sys.executable]
    p = await asyncio.create_subprocess_exec(*cmd, "tests/http_client.py", *args, cwd=ROOT,
                                             stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 0, (out, err)
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("interp", INTERPS)
def test_ftp_retr_and_stor_passive_RFC959_against_pyftpdlib(interp, tmp_path):
    pytest.importorskip("pyftpdlib")
    from ocpp2lite.files import serve_ftp
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "fw.bin").write_bytes(DATA)
    src = tmp_path / "log.txt"
    src.write_bytes(DATA[:3000])
    ftp = serve_ftp("127.0.0.1", 0, str(root), "lab", "s3cr%t")
    try:
        base = ftp.url.replace("s3cr%t", "s3cr%25t")
        got = asyncio.run(_client(interp, "get", base + "/fw.bin", str(tmp_path / "fw.out")))
        assert got == {"ok": True, "n": len(DATA)} and (tmp_path / "fw.out").read_bytes() == DATA
        got = asyncio.run(_client(interp, "put", base + "/up.log", str(src)))
        assert got == {"ok": True, "n": 3000} and (root / "up.log").read_bytes() == DATA[:3000]
        got = asyncio.run(_client(interp, "get", base + "/missing.bin", str(tmp_path / "m")))
        assert got["ok"] is False and got["status"] == 550 and not (tmp_path / "m").exists()
        got = asyncio.run(_client(interp, "get", base + "/fw.bin", str(tmp_path / "m"), "100"))
        assert got == {"ok": False, "status": 0, "error": "too large"}
        assert not (tmp_path / "m").exists()
        bad = ftp.url.replace("s3cr%t", "wrong")
        got = asyncio.run(_client(interp, "get", bad + "/fw.bin", str(tmp_path / "m")))
        assert got["ok"] is False and got["status"] == 530
    finally:
        ftp.close()


@pytest.mark.parametrize("interp", INTERPS)
def test_http_get_and_put_against_the_lab_file_server(interp, tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    (root / "fw.bin").write_bytes(DATA)
    src = tmp_path / "diag.log"
    src.write_bytes(b"line\n" * 300)

    async def main():
        srv = await serve_files("127.0.0.1", 0, str(root))
        try:
            a = await _client(interp, "get", srv.url + "/files/fw.bin", str(tmp_path / "o"))
            b = await _client(interp, "put", srv.url + "/upload/diag.log", str(src))
            c = await _client(interp, "get", srv.url + "/files/nope", str(tmp_path / "n"))
        finally:
            srv.close()
            await srv.wait_closed()
        return a, b, c
    a, b, c = asyncio.run(main())
    assert a == {"ok": True, "n": len(DATA)} and (tmp_path / "o").read_bytes() == DATA
    assert b == {"ok": True, "n": 1500} and (root / "diag.log").read_bytes() == b"line\n" * 300
    assert c["ok"] is False and c["status"] == 404


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pytest.importorskip("cryptography")
    from tests.pki import make_pki
    return make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.mark.parametrize("interp", INTERPS)
def test_https_verifies_the_server_right_root_wrong_root_wrong_host_no_root(interp, tmp_path, pki):
    from tests.pki import server_context
    root = tmp_path / "files"
    root.mkdir()
    (root / "fw.bin").write_bytes(DATA)
    src = tmp_path / "diag.log"
    src.write_bytes(b"x" * 700)

    async def main(srv_pem, srv_key, host="127.0.0.1"):
        srv = await serve_files("127.0.0.1", 0, str(root), ssl=server_context(srv_pem, srv_key))
        base = "https://%s:%d" % (host, srv.port)
        try:
            ok = await _client(interp, "get", base + "/files/fw.bin", str(tmp_path / "o"), "-",
                               pki["root_cert_pem"])
            put = await _client(interp, "put", base + "/upload/d.log", str(src), "-",
                                pki["root_cert_pem"])
            wrong = await _client(interp, "get", base + "/files/fw.bin", str(tmp_path / "w"), "-",
                                  pki["other_cert_pem"])
            default = await _client(interp, "get", base + "/files/fw.bin", str(tmp_path / "d"))
        finally:
            srv.close()
            await srv.wait_closed()
        return ok, put, wrong, default
    for host in ("127.0.0.1", "localhost"):
        ok, put, wrong, default = asyncio.run(main(pki["srv_pem"], pki["srv_key"], host))
        assert ok == {"ok": True, "n": len(DATA)} and (tmp_path / "o").read_bytes() == DATA
        assert put == {"ok": True, "n": 700} and (root / "d.log").read_bytes() == b"x" * 700
        assert wrong["ok"] is False and not (tmp_path / "w").exists(), wrong
        assert default["ok"] is False, default   # verifying default: the test root is unknown
    ok, _, _, _ = asyncio.run(main(pki["wrong_pem"], pki["wrong_key"]))
    assert ok["ok"] is False, ok                 # certificate for another host name
