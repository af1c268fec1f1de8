"""Interop scenario for lite_stack.core.ws, run as a script by tests/test_ws_interop.py under MicroPython
(and CPython): micropython tests/ws_interop_client.py URL [CA_DER|-] [USER PASSWORD]

Against the scenario server of test_ws_interop.py: send a BootNotification-like text and a 70000-byte
text (both echoed), then wait in recv() while the server pings (answered automatically) and sends
"pinged", then the server closes with 1001. Prints one JSON object: the results, or
{"error": str, "status": int} on WsError.
"""
import asyncio
import json
import sys

sys.path.insert(0, "") if "" not in sys.path else None
from lite_stack.core.ws import WebSocket, WsError  # noqa: E402


def _ssl_context(ca_der):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(ca_der, "rb") as f:
        ctx.load_verify_locations(cadata=f.read())
    return ctx


async def main(argv):
    url = argv[1]
    ctx = _ssl_context(argv[2]) if len(argv) > 2 and argv[2] != "-" else None
    auth = (argv[3], argv[4]) if len(argv) > 4 else None
    try:
        ws = await WebSocket.connect(url, auth=auth, ssl=ctx, max_frame=100000, timeout=10)
    except WsError as e:
        return {"error": str(e), "status": e.status}
    boot = "[2,\"1\",\"BootNotification\",{\"reason\":\"PowerUp\"}]"
    await ws.send(boot)
    r1 = await ws.recv()
    await ws.send("x" * 70000)
    r2 = await ws.recv()
    r3 = await ws.recv()  # server pings first; the PONG goes out from inside recv()
    r4 = await ws.recv()  # server CLOSE 1001 -> None
    return {"echo": r1 == boot, "big": len(r2) if r2 else 0, "after_ping": r3, "end": r4,
            "close_code": ws.close_code, "closed": ws.closed, "bytes_in": ws.bytes_in,
            "bytes_out": ws.bytes_out}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv))))
