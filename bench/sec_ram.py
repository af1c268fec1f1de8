"""RAM of the security parts on the MicroPython unix port (issue 11 budget), run as
``micropython bench/sec_ram.py [WSS_URL ROOT_PEM [WS_URL]]`` from the repository root; prints JSON.

- ``import``: GC heap held after importing the security modules (core.x509, core.certstore,
  core.netconf, seclog, blocks.security; on a device only blocks.security is resident, the others
  are imported per use and released) from .py (frozen .mpy holds less: the
  code objects stay in flash);
- ``certstore_2_roots``: a CertStore with two installed roots (their DER bytes);
- ``ws_connection`` (with a third argument, a ws:// URL, measured first): one plain connection;
- ``tls_connection``: GC heap held by one open wss:// connection made with the station's
  ``tls_context`` (needs WSS_URL and ROOT_PEM; the mbedTLS record buffers are malloc'ed outside
  the GC heap on the unix port: ``rss_kb`` is the process's resident-set growth, reported apart);
- ``tls_connect_peak``: the smallest ``-X heapsize`` is found by the caller, not here.
Measured with ``gc.collect(); gc.mem_alloc()`` at quiet points.
"""
import gc
import json
import sys

sys.path.insert(0, "") if "" not in sys.path else None
from tests.unit.util import MemStore  # noqa: E402  (the in-memory store of the unit tests)


def _rss_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _used():
    gc.collect()
    return gc.mem_alloc()



def main(argv):
    out = {}
    import asyncio  # noqa: F401  (the stack needs it anyway: not counted)
    from device_model import ids  # noqa: F401
    from lite_stack.core import ws  # noqa: F401
    a = _used()
    from lite_stack.core import certstore, netconf, x509  # noqa: F401
    from lite_stack import seclog  # noqa: F401
    from lite_stack.blocks import security  # noqa: F401
    out["import"] = _used() - a
    from tests.unit import certs as C
    a = _used()
    cs = certstore.CertStore(MemStore(), 4)
    cs.install("CSMSRootCertificate", C.ROOT_A + C.ROOT_B)
    out["certstore_2_roots"] = _used() - a
    if len(argv) > 2:
        cs2 = certstore.CertStore(MemStore(), 4)
        with open(argv[2]) as f:
            cs2.install("CSMSRootCertificate", f.read())

        async def conn():
            if len(argv) > 3:   # a plain ws:// connection first: asyncio's stream modules load
                a0 = _used()
                w = await ws.WebSocket.connect(argv[3], "ocpp2.0.1", None, None, 8192, 10)
                await w.send("x")
                await w.recv()
                out["ws_connection"] = _used() - a0
                await w.close()
            r0, a0 = _rss_kb(), _used()
            w = await ws.WebSocket.connect(argv[1], "ocpp2.0.1", None, certstore.tls_context(cs2.roots()),
                                           8192, 10)
            await w.send("x")
            await w.recv()
            out["tls_connection"] = _used() - a0
            out["rss_kb"] = _rss_kb() - r0
            await w.close()
        asyncio.run(conn())
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
