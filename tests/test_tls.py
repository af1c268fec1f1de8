"""Security profile 2 really authenticates the CSMS (Part 2 A00, Part 4 §5): the station's TLS
path (``certstore.tls_context`` + ``ws.WebSocket``) on CPython *and* the MicroPython unix port
(mbedTLS) against a real TLS WebSocket server on loopback with a test PKI made at run time
(tests/pki.py). Accepts the right chain (IP and DNS host), refuses a wrong root, a certificate
for another host name and a server that offers only TLS 1.1; each refusal is classified as the
security event the link records (InvalidCsmsCertificate / InvalidTLSVersion)."""
import asyncio
import json
import ssl
import sys

import pytest

pytest.importorskip("cryptography")
from websockets.asyncio.server import serve  # noqa: E402

from tests.mp import ROOT, micropython_cmd  # noqa: E402
from tests.pki import make_pki, server_context  # noqa: E402

INTERPS = ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(str(tmp_path_factory.mktemp("pki")))


async def _echo(ws):
    async for m in ws:
        await ws.send(m)


def run_client(interp, ctx, root_pem, host="127.0.0.1"):
    async def main():
        async with serve(_echo, "127.0.0.1", 0, ssl=ctx, subprotocols=["ocpp2.0.1"]) as srv:
            port = srv.sockets[0].getsockname()[1]
            cmd = micropython_cmd() if interp == "micropython" else [sys.executable]
            p = await asyncio.create_subprocess_exec(
                *cmd, "tests/tls_client.py", "wss://%s:%d/CS001" % (host, port), root_pem,
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(p.communicate(), 60)
        assert p.returncode == 0, (out, err)
        return json.loads(out.decode().strip().splitlines()[-1])
    return asyncio.run(main())


@pytest.mark.parametrize("interp", INTERPS)
def test_sp2_right_chain_accepted_ip_and_dns_host_TC_A_04_CS(interp, pki):
    ctx = server_context(pki["srv_pem"], pki["srv_key"])
    for host in ("127.0.0.1", "localhost"):
        got = run_client(interp, ctx, pki["root_cert_pem"], host)
        assert got == {"ok": True, "echo": "hello"}, (host, got)


@pytest.mark.parametrize("interp", INTERPS)
def test_sp2_wrong_root_refused_InvalidCsmsCertificate_TC_A_05_CS(interp, pki):
    got = run_client(interp, server_context(pki["srv_pem"], pki["srv_key"]), pki["other_cert_pem"])
    assert not got["ok"] and got["status"] == 0 and got["event"] == "InvalidCsmsCertificate", got


@pytest.mark.parametrize("interp", INTERPS)
def test_sp2_wrong_host_name_refused_InvalidCsmsCertificate(interp, pki):
    got = run_client(interp, server_context(pki["wrong_pem"], pki["wrong_key"]),
                     pki["root_cert_pem"])
    assert not got["ok"] and got["event"] == "InvalidCsmsCertificate", got


@pytest.mark.parametrize("interp", INTERPS)
def test_sp2_tls_1_1_server_refused_TC_A_06_CS(interp, pki):
    try:
        ctx = server_context(pki["srv_pem"], pki["srv_key"], ssl.TLSVersion.TLSv1_1)
    except (ssl.SSLError, ValueError) as e:
        pytest.skip("this OpenSSL cannot offer TLS 1.1: %s" % e)
    got = run_client(interp, ctx, pki["root_cert_pem"])
    assert not got["ok"] and got["status"] == 0, got
    if interp == "micropython":   # mbedTLS names the reason; OpenSSL's server just resets
        assert got["event"] == "InvalidTLSVersion", got
