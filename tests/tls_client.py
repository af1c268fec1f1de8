"""The station's own wss:// path, run as a script on MicroPython and CPython by tests/test_tls.py:
micropython tests/tls_client.py URL ROOT_PEM [USER PASSWORD]

Installs ROOT_PEM as the only CSMSRootCertificate (``lite_stack.core.certstore``), builds the TLS
context the link uses (``tls_context``) and opens ``lite_stack.core.ws.WebSocket`` with it.
Prints one JSON object: {"ok": true, "echo": ...} after one echoed message, or
{"ok": false, "status": int, "event": SecurityEventEnumType or null, "error": str}.
"""
import asyncio
import json
import sys

sys.path.insert(0, "") if "" not in sys.path else None
from lite_stack.core.certstore import CertStore, tls_context, tls_failure  # noqa: E402
from lite_stack.core.ws import WebSocket, WsError  # noqa: E402
from tests.unit.util import MemStore  # noqa: E402



async def main(argv):
    certs = CertStore(MemStore(), 4)
    with open(argv[2]) as f:
        st = certs.install("CSMSRootCertificate", f.read())
    if st != "Accepted":
        return {"ok": False, "status": -1, "event": None, "error": "install " + st}
    auth = (argv[3], argv[4]) if len(argv) > 4 else None
    try:
        ws = await WebSocket.connect(argv[1], "ocpp2.0.1", auth, tls_context(certs.roots()), 8192, 10)
    except WsError as e:
        return {"ok": False, "status": e.status, "event": tls_failure(str(e)), "error": str(e)}
    await ws.send("hello")
    echo = await ws.recv()
    await ws.close()
    return {"ok": True, "echo": echo}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv))))
