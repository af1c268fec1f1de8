"""lite_stack.core.ws against a real RFC 6455 server: the `websockets` library (CPython only).

The client runs in-process on CPython and as a subprocess on the MicroPython unix port
(tests/ws_interop_client.py), over ws:// and wss:// (self-signed certificate made here).
"""
import asyncio
import datetime
import ipaddress
import json
import ssl

import pytest
from websockets.asyncio.server import basic_auth, serve
from websockets.exceptions import ConnectionClosed

from lite_stack.core.ws import Oversized, WebSocket, WsError
from tests.mp import ROOT, micropython_cmd

BOOT = "[2,\"1\",\"BootNotification\",{\"reason\":\"PowerUp\"}]"
USER, PASSWORD = "CS001", "0123456789abcdef"


async def scenario_handler(ws):
    """The scenario of tests/ws_interop_client.py: echo two messages, ping, text, close 1001."""
    for _ in range(2):
        await ws.send(await ws.recv())
    waiter = await ws.ping(b"hb")
    await asyncio.wait_for(waiter, 5)
    await ws.send("pinged")
    await ws.close(1001, "going away")


class Server:
    """websockets server on 127.0.0.1:<free port>; records each request and handler outcome."""

    def __init__(self, handler=scenario_handler, tls=None, auth=False, subprotocols=("ocpp2.0.1",)):
        self.handler, self.tls, self.auth, self.subprotocols = handler, tls, auth, subprotocols
        self.requests, self.results = [], []

    async def __aenter__(self):
        def process_request(conn, request):
            self.requests.append(request)
            if self.auth:
                return basic_auth(realm="ocpp", credentials=(USER, PASSWORD))(conn, request)

        async def handler(ws):
            self.results.append({"subprotocol": ws.subprotocol})
            try:
                await self.handler(ws)
            except ConnectionClosed as e:
                self.results[-1]["closed"] = (e.rcvd.code if e.rcvd else None,
                                              e.rcvd.reason if e.rcvd else None)

        self.srv = serve(handler, "127.0.0.1", 0, ssl=self.tls, ping_interval=None,
                         subprotocols=list(self.subprotocols) if self.subprotocols else None,
                         process_request=process_request)
        server = await self.srv.__aenter__()
        self.port = server.sockets[0].getsockname()[1]
        self.url = "%s://127.0.0.1:%d/ocpp/%s" % ("wss" if self.tls else "ws", self.port, USER)
        return self

    async def __aexit__(self, *exc):
        await self.srv.__aexit__(*exc)


def make_cert(tmp_path, name="csms"):
    """Self-signed server certificate for 127.0.0.1 -> (cert.pem, key.pem, cert.der)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem, kpem, der = (tmp_path / (name + ".pem"), tmp_path / (name + ".key"), tmp_path / (name + ".der"))
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    kpem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(pem), str(kpem), str(der)


def server_tls(tmp_path):
    pem, kpem, der = make_cert(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem, kpem)
    return ctx, pem, der


async def cpython_scenario(url, **kw):
    ws = await WebSocket.connect(url, max_frame=100000, timeout=10, **kw)
    await ws.send(BOOT)
    r1 = await ws.recv()
    await ws.send("x" * 70000)
    r2 = await ws.recv()
    r3 = await ws.recv()
    r4 = await ws.recv()
    return ws, (r1, len(r2), r3, r4, ws.close_code, ws.closed)


EXPECTED = (BOOT, 70000, "pinged", None, 1001, True)


async def run_micropython(*args):
    p = await asyncio.create_subprocess_exec(*micropython_cmd(), "tests/ws_interop_client.py", *args,
                                             cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 0, (out, err)
    return json.loads(out.decode().strip().splitlines()[-1])


# --- CPython client in-process --------------------------------------------------------------------

def test_handshake_subprotocol_echo_large_ping_and_server_close():
    async def main():
        async with Server() as s:
            ws, got = await cpython_scenario(s.url)
        return s, ws, got

    s, ws, got = asyncio.run(main())
    assert got == EXPECTED
    assert s.results[0]["subprotocol"] == "ocpp2.0.1"
    req = s.requests[0]
    assert req.path == "/ocpp/CS001" and req.headers["Sec-WebSocket-Protocol"] == "ocpp2.0.1"
    assert ws.bytes_out > 70000 + len(BOOT) and ws.bytes_in > 70000 + len(BOOT)


def test_client_close_reaches_websockets_server_with_code_and_reason():
    async def handler(ws):
        await ws.recv()

    async def main():
        async with Server(handler) as s:
            ws = await WebSocket.connect(s.url)
            await ws.close(1000, "bye")
            await asyncio.sleep(0.1)
        return s, ws

    s, ws = asyncio.run(main())
    assert ws.closed and s.results[0]["closed"] == (1000, "bye")


def test_oversized_server_message_skipped_connection_kept_issue13():
    """A 44 kB text message from a real server (websockets) over max_frame 8192: skipped, its
    head returned as ``Oversized``, the connection stays and the next message arrives."""
    got = []

    async def handler(ws):
        await ws.send('[2,"big-7","SetVariables",{"x":"' + "y" * 44000 + '"}]')
        await ws.send("after")
        got.append(await ws.recv())

    async def main():
        async with Server(handler) as s:
            ws = await WebSocket.connect(s.url, max_frame=8192)
            a = await ws.recv()
            b = await ws.recv()
            await ws.send("still here")
            await asyncio.sleep(0.1)
            await ws.close()
            return a, b

    a, b = asyncio.run(main())
    assert isinstance(a, Oversized) and a.size > 44000 and a.head.startswith(b'[2,"big-7"')
    assert b == "after" and got == ["still here"]


def test_basic_auth_accepted_and_wrong_password_401_TC_A_01_CS():
    async def main():
        async with Server(auth=True) as s:
            ws, got = await cpython_scenario(s.url, auth=(USER, PASSWORD))
            with pytest.raises(WsError) as e:
                await WebSocket.connect(s.url, auth=(USER, "wrong-password-123"))
            with pytest.raises(WsError) as e2:
                await WebSocket.connect(s.url)
        return got, e.value, e2.value

    got, e, e2 = asyncio.run(main())
    assert got == EXPECTED
    assert e.status == 401 and e2.status == 401


def test_server_without_ocpp201_subprotocol_refused_Part4_3_1_2():
    async def main():
        async with Server(subprotocols=None) as s:
            with pytest.raises(WsError) as e:
                await WebSocket.connect(s.url)
        return e.value

    assert asyncio.run(main()).status == 0


def test_wss_self_signed_verified_and_untrusted_refused(tmp_path):
    tls, pem, _ = server_tls(tmp_path)
    other_pem, _, _ = make_cert(tmp_path, "other")

    async def main():
        async with Server(tls=tls) as s:
            ctx = ssl.create_default_context(cafile=pem)
            ws, got = await cpython_scenario(s.url, ssl=ctx)
            with pytest.raises(WsError):
                await WebSocket.connect(s.url, ssl=ssl.create_default_context(cafile=other_pem))
        return got

    assert asyncio.run(main()) == EXPECTED


def test_wss_url_without_ssl_uses_default_context_and_ws_url_ignores_ssl(tmp_path, monkeypatch):
    tls, pem, _ = server_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", pem)  # the default context trusts our CSMS certificate

    async def main():
        async with Server(tls=tls) as s:
            ws_tls, got = await cpython_scenario(s.url)
        async with Server() as s:
            ws_plain, got2 = await cpython_scenario(s.url, ssl=ssl.create_default_context())
        return got, got2

    assert asyncio.run(main()) == (EXPECTED, EXPECTED)


def test_raw_websockets_frames_fragmented_from_server():
    async def handler(ws):
        await ws.send(iter(["[2,", "\"9\",", "\"Reset\",{}]"]))  # fragmented text message
        await ws.send(b"\x00binary")  # ignored by the client
        await ws.send("next")
        await ws.recv()

    async def main():
        async with Server(handler) as s:
            ws = await WebSocket.connect(s.url)
            got = (await ws.recv(), await ws.recv())
            await ws.close()
        return got

    assert asyncio.run(main()) == ("[2,\"9\",\"Reset\",{}]", "next")


# --- MicroPython client as a subprocess -----------------------------------------------------------

@pytest.mark.micropython
def test_micropython_client_ws_scenario():
    async def main():
        async with Server() as s:
            return s, await run_micropython(s.url)

    s, got = asyncio.run(main())
    assert (got["echo"], got["big"], got["after_ping"], got["end"], got["close_code"], got["closed"]) \
        == (True, 70000, "pinged", None, 1001, True), got
    assert s.results[0]["subprotocol"] == "ocpp2.0.1"
    assert got["bytes_out"] > 70000 and got["bytes_in"] > 70000


@pytest.mark.micropython
def test_micropython_client_basic_auth_ok_and_401():
    async def main():
        async with Server(auth=True) as s:
            ok = await run_micropython(s.url, "-", USER, PASSWORD)
            bad = await run_micropython(s.url, "-", USER, "wrong-password-123")
        return ok, bad

    ok, bad = asyncio.run(main())
    assert ok["after_ping"] == "pinged" and ok["close_code"] == 1001, ok
    assert bad["status"] == 401, bad


@pytest.mark.micropython
def test_micropython_client_wss_self_signed_and_untrusted_refused(tmp_path):
    tls, _, der = server_tls(tmp_path)
    _, _, other_der = make_cert(tmp_path, "other")

    async def main():
        async with Server(tls=tls) as s:
            ok = await run_micropython(s.url, der)
            bad = await run_micropython(s.url, other_der)
        return ok, bad

    ok, bad = asyncio.run(main())
    assert (ok["echo"], ok["big"], ok["after_ping"], ok["close_code"]) == (True, 70000, "pinged", 1001), ok
    assert "error" in bad and bad["status"] == 0, bad
