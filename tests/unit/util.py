"""Helpers for tests that run unchanged on CPython (pytest) and on the MicroPython unix port
(tests/mprun.py). No pytest imports here or in tests/unit/*."""
import asyncio
import os

from bench.mpfs import rmtree  # noqa: F401  (tests use util.rmtree)

_n = [0]


def run(coro):
    """Run a coroutine to completion on either interpreter."""
    return asyncio.run(coro)


def raises(exc, fn, *args, **kw):
    """Assert that fn(*args, **kw) raises exc; return the exception."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("did not raise %s" % exc)


def tmpdir(tag="t"):
    """A fresh empty directory under /tmp, unique per process and call."""
    _n[0] += 1
    pid = os.getpid() if hasattr(os, "getpid") else int.from_bytes(os.urandom(3), "big")
    path = "/tmp/ocpp2lite-%s-%d-%d" % (tag, pid, _n[0])
    rmtree(path)
    os.mkdir(path)
    return path


class MemStore:
    """In-memory stand-in for device_model.store.Store (same interface), for unit tests."""

    def __init__(self):
        self.d = {}
        self.corrupt = []
        self.writes = 0

    def load(self, name, default=None):
        return self.d.get(name, default)

    def save(self, name, obj):
        if self.d.get(name) != obj:
            self.writes += 1
            self.d[name] = obj

    def remove(self, name):
        self.d.pop(name, None)

    def names(self, prefix=""):
        return sorted(n for n in self.d if n.startswith(prefix))


class FakeConn:
    """A connection stand-in: records sent frames; recv() returns queued frames."""

    def __init__(self):
        self.sent = []
        self.closed = False

    async def send(self, text):
        if self.closed:
            raise OSError("closed")
        self.sent.append(text)

    async def close(self):
        self.closed = True


def heap_used():
    """Bytes of live heap after a full collection: ``gc.mem_alloc()`` on MicroPython,
    ``tracemalloc``'s traced total on CPython (tracing starts at the first call, so compare two
    later calls)."""
    import gc
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc()
    import tracemalloc
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    return tracemalloc.get_traced_memory()[0]


_free = [int.from_bytes(os.urandom(2), "big")]


async def start_server(cb, lo=20000, span=30000):
    """``asyncio.start_server(cb)`` on 127.0.0.1 at the next free port in ``[lo, lo + span)``
    (a random start per process, so parallel runs rarely collide) -> ``(server, port)``; raises
    ``OSError`` after 200 ports in use."""
    for _ in range(200):
        _free[0] += 1
        port = lo + _free[0] % span
        try:
            return await asyncio.start_server(cb, "127.0.0.1", port), port
        except OSError:
            pass
    raise OSError("no free port")
