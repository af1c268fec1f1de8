"""``lite_stack.core.http`` as a script, run on MicroPython and CPython by tests/test_http_ftp.py:
micropython tests/http_client.py get|put URL PATH [MAX_BYTES|-] [ROOT_PEM]

ROOT_PEM: for https://, the only trust anchor (``core.certstore.tls_context``, as the station
builds it from its CSMSRootCertificates); without it the client's verifying default is used.

Prints one JSON object: {"ok": true, "n": bytes} or {"ok": false, "status": int, "error": str}.
"""
import asyncio
import json
import sys

sys.path.insert(0, "") if "" not in sys.path else None
from lite_stack.clock import Clock  # noqa: E402
from lite_stack.core.http import HttpError, download, upload  # noqa: E402


async def main(argv):
    tls = None
    if len(argv) > 5:
        from lite_stack.core.certstore import CertStore, tls_context
        from tests.unit.util import MemStore
        certs = CertStore(MemStore(), 4)
        with open(argv[5]) as f:
            certs.install("CSMSRootCertificate", f.read())
        tls = tls_context(certs.roots())
    try:
        if argv[1] == "get":
            mx = int(argv[4]) if len(argv) > 4 and argv[4] != "-" else None
            n = await download(argv[2], argv[3], Clock(), 10, max_bytes=mx, tls=tls)
        else:
            n = await upload(argv[2], argv[3], Clock(), 10, tls=tls)
    except HttpError as e:
        return {"ok": False, "status": e.status, "error": e.message}
    except OSError as e:
        return {"ok": False, "status": -1, "error": repr(e)}
    return {"ok": True, "n": n}


print(json.dumps(asyncio.run(main(sys.argv))))
