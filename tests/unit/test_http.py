"""lite_stack.core.http: HTTP/1.1 GET-to-file and PUT-from-file against a tiny asyncio HTTP server
written here (plain asyncio streams, both interpreters). RFC 9112 framing (Content-Length,
chunked, EOF), redirects, errors, max_bytes and timeouts on the one clock."""
import asyncio
import os
from hashlib import sha256

from lite_stack.clock import Clock
from lite_stack.vclock import VirtualClock
from lite_stack.core.http import HttpError, download, upload
from lite_stack.core.net import basic, split_url
from tests.unit.util import raises, rmtree, run, start_server, tmpdir

BODY = bytes(range(256)) * 12 + b"end"  # 3075 bytes: several CHUNKs


class Server:
    """Tiny HTTP server: routes by path; records the requests (method, path, headers, body)."""

    def __init__(self):
        self.reqs = []
        self.port = 0

    async def __call__(self, r, w):
        try:
            line = (await r.readline()).decode().strip()
            method, path, _ = line.split(" ")
            h = {}
            while True:
                ln = (await r.readline()).decode().strip()
                if not ln:
                    break
                k, v = ln.split(":", 1)
                h[k.strip().lower()] = v.strip()
            body = b""
            if "content-length" in h:
                body = await r.readexactly(int(h["content-length"]))
            self.reqs.append((method, path, h, body))
            await self.route(method, path, w)
        except Exception as e:  # noqa: BLE001 - shown in the test output
            print("server:", repr(e))
        finally:
            try:
                w.close()
                await w.wait_closed()
            except Exception:  # noqa: BLE001
                pass

    async def route(self, method, path, w):
        def out(s):
            w.write(s if isinstance(s, bytes) else s.encode())
        if method == "PUT" and path.startswith("/stall/"):
            await asyncio.sleep(2)   # never answers in time
        elif method == "PUT" and path.startswith("/private/"):
            out("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
        elif method == "PUT" and path.startswith("/missing/"):
            out("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        elif method == "PUT":
            out("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        elif path in ("/cl", "/cl100"):
            out("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY))
            out(BODY)
        elif path == "/big":   # 1 MB in 4 kB writes
            out("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (256 * 4096))
            piece = bytes(range(256)) * 16
            for _ in range(256):
                out(piece)
                await w.drain()
        elif path == "/eof":
            out("HTTP/1.0 200 OK\r\n\r\n")
            out(BODY)
        elif path == "/chunked":
            out("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            i, k = 0, 0
            for n in (1, 700, 1000, 1374):
                part = BODY[i:i + n]
                i += n
                out("%x%s\r\n" % (len(part), ";ext=1" if k == 1 else ""))
                out(part + b"\r\n")
                k += 1
            out("0\r\nX-Trailer: 1\r\n\r\n")
        elif path.startswith("/redir"):
            n = int(path[6:] or "1")
            loc = "/cl" if n <= 1 else "/redir%d" % (n - 1)
            if n == 3:
                loc = "redir2"     # relative to /: /redir2
            if n == 2:
                loc = "http://127.0.0.1:%d%s" % (self.port, loc)
            out("HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % loc)
        elif path == "/loop":
            out("HTTP/1.1 301 Moved\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
        elif path == "/truncated":
            out("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(BODY) + 10))
            out(BODY)
        elif path == "/stall":
            out("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY))
            out(BODY[:1000])
            await w.drain()
            await asyncio.sleep(2)
        else:
            out("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
        await w.drain()


def scenario(client):
    """Run client(base_url, server) against a fresh Server; return (result, server)."""
    box = {}

    async def main():
        s = Server()
        srv, s.port = await start_server(s)
        try:
            box["res"] = await asyncio.wait_for(client("http://127.0.0.1:%d" % s.port, s), 20)
        finally:
            srv.close()
            await srv.wait_closed()
        box["srv"] = s
    run(main())
    return box["res"], box["srv"]


def _file(d, name="f"):
    return d + "/" + name


def _read(p):
    with open(p, "rb") as f:
        return f.read()


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def test_split_url_schemes_userinfo_default_ports():
    assert split_url("http://h/x") == ("http", None, None, "h", 80, "/x")
    assert split_url("HTTPS://h:8443") == ("https", None, None, "h", 8443, "/")
    assert split_url("ftp://u%40x:p%3Aw@10.0.0.1:2121/a/b.log") == (
        "ftp", "u@x", "p:w", "10.0.0.1", 2121, "/a/b.log")
    assert split_url("ftp://anon@h/f")[1:3] == ("anon", None)
    for bad in ("gopher://h/x", "h/x", "http://", "http://h:0/", "http://h:x/"):
        raises(ValueError, split_url, bad)
    assert basic(("CS001", "pw")) == "Basic Q1MwMDE6cHc="


def test_download_content_length_streams_to_file_with_on_chunk():
    d = tmpdir("http")
    seen = []

    async def client(base, s):
        h = sha256()

        def cb(b):
            seen.append(len(b))
            h.update(b)
        n = await download(base + "/cl", _file(d), Clock(), 5, on_chunk=cb)
        return n, h.digest()
    (n, dig), s = scenario(client)
    assert n == len(BODY) and _read(_file(d)) == BODY and dig == sha256(BODY).digest()
    assert max(seen) <= 512 and sum(seen) == n
    m, path, h, _ = s.reqs[0]
    assert m == "GET" and path == "/cl" and h["host"] == "127.0.0.1:%d" % s.port
    assert h["connection"] == "close" and "authorization" not in h
    rmtree(d)


def test_download_chunked_RFC9112_7_1_body_to_eof_and_1xx_skipped():
    d = tmpdir("http")
    for path in ("/chunked", "/eof", "/cl100"):
        async def client(base, s):
            return await download(base + path, _file(d), None, 5)
        n, _ = scenario(client)
        assert n == len(BODY) and _read(_file(d)) == BODY, path
    rmtree(d)


def test_download_follows_redirects_at_most_3():
    d = tmpdir("http")

    async def client(base, s):
        return await download(base + "/redir3", _file(d), Clock(), 5)
    n, s = scenario(client)
    assert n == len(BODY) and [r[1] for r in s.reqs] == ["/redir3", "/redir2", "/redir1", "/cl"]

    async def loop(base, s):
        return raises_async(await _catch(download(base + "/loop", _file(d), Clock(), 5)))
    e, s = scenario(loop)
    assert isinstance(e, HttpError) and "redirects" in e.message and len(s.reqs) == 4
    assert not _exists(_file(d) + "x")
    rmtree(d)


async def _catch(aw):
    try:
        await aw
    except Exception as e:  # noqa: BLE001
        return e
    return None


def raises_async(e):
    assert e is not None, "did not raise"
    return e


def test_download_404_raises_HttpError_status_404_no_file():
    d = tmpdir("http")

    async def client(base, s):
        return await _catch(download(base + "/nothing", _file(d), Clock(), 5))
    e, _ = scenario(client)
    assert isinstance(e, HttpError) and isinstance(e, OSError) and e.status == 404, e
    assert not _exists(_file(d))
    rmtree(d)


def test_download_too_large_by_content_length_and_by_stream_partial_file_removed():
    d = tmpdir("http")
    for path in ("/cl", "/chunked"):
        async def client(base, s):
            return await _catch(download(base + path, _file(d), Clock(), 5, max_bytes=2000))
        e, _ = scenario(client)
        assert isinstance(e, HttpError) and e.message == "too large" and e.status == 0, (path, e)
        assert not _exists(_file(d)), path
    rmtree(d)


def test_download_truncated_body_raises_and_removes_file():
    d = tmpdir("http")

    async def client(base, s):
        return await _catch(download(base + "/truncated", _file(d), Clock(), 5))
    e, _ = scenario(client)
    assert isinstance(e, HttpError) and e.message == "truncated", e
    assert not _exists(_file(d))
    rmtree(d)


def test_download_stalled_server_times_out_on_the_clock():
    d = tmpdir("http")
    for clock in (None, Clock()):
        async def client(base, s):
            return await _catch(download(base + "/stall", _file(d), clock, 0.3))
        e, _ = scenario(client)
        assert isinstance(e, HttpError) and e.message == "timeout", e
        assert not _exists(_file(d))
    rmtree(d)


def test_download_on_virtual_clock_with_real_io():
    d = tmpdir("http")

    async def client(base, s):
        vc = VirtualClock()
        vc.real_io = 2

        async def ticker():   # 10 ms simulated per jump: the 5 s timeout is ~1 s of real I/O
            while True:
                await vc.sleep(0.01)
        t = asyncio.create_task(vc.run())
        k = asyncio.create_task(ticker())
        try:
            return await download(base + "/cl", _file(d), vc, 5)
        finally:
            t.cancel()
            k.cancel()
    n, _ = scenario(client)
    assert n == len(BODY)
    rmtree(d)


def test_connection_refused_raises_OSError_unknown_scheme_ValueError():
    d = tmpdir("http")

    async def main():
        srv, port = await start_server(Server())
        srv.close()
        await srv.wait_closed()
        return await _catch(download("http://127.0.0.1:%d/x" % port, _file(d), Clock(), 5))
    e = run(main())
    assert isinstance(e, OSError), e
    e = run(_catch(download("gopher://h/x", _file(d), Clock(), 5)))
    assert isinstance(e, ValueError), e
    e = run(_catch(upload("ws://h/x", _file(d), Clock(), 5)))
    assert isinstance(e, ValueError), e
    rmtree(d)


def test_upload_put_streams_file_with_content_length_and_basic_auth():
    d = tmpdir("http")
    with open(_file(d), "wb") as f:
        f.write(BODY)

    async def client(base, s):
        return await upload(base.replace("http://", "http://u:p%40@") + "/upload/log.txt",
                            _file(d), Clock(), 5)
    n, s = scenario(client)
    m, path, h, body = s.reqs[0]
    assert n == len(BODY) and m == "PUT" and path == "/upload/log.txt" and body == BODY
    assert h["content-length"] == str(len(BODY)) and h["authorization"] == basic(("u", "p@"))

    async def refused(base, s):
        return (await _catch(upload(base + "/x", _file(d) + "missing", Clock(), 5)),
                await _catch(upload(base + "/missing/x", _file(d), Clock(), 5)))
    (e, e404), _ = scenario(refused)
    assert isinstance(e, OSError) and isinstance(e404, HttpError) and e404.status == 404
    rmtree(d)


def test_upload_to_a_server_that_never_answers_times_out():
    d = tmpdir("http")
    with open(_file(d), "wb") as f:
        f.write(BODY)

    async def client(base, s):
        return await _catch(upload(base + "/stall/x", _file(d), Clock(), 0.3))
    e, s = scenario(client)
    assert isinstance(e, HttpError) and e.message == "timeout", e
    assert s.reqs[0][3] == BODY      # the whole body was sent first
    rmtree(d)


def test_download_1_MB_in_constant_memory():
    from tests.unit.util import heap_used
    d = tmpdir("http")
    seen = []
    n = [0]

    def cb(b):
        n[0] += 1
        if n[0] % 500 == 0:
            seen.append(heap_used())

    async def client(base, s):
        heap_used()   # CPython: starts tracing
        return await download(base + "/big", _file(d), Clock(), 10, on_chunk=cb)
    got, _ = scenario(client)
    assert got == 256 * 4096 and os.stat(_file(d))[6] == got and len(seen) >= 3, (got, seen)
    import gc
    if hasattr(gc, "mem_alloc"):   # MicroPython (CPython's trace also holds the in-test server's
        assert max(seen[1:]) - min(seen[1:]) < 4096, seen   # buffers): flat while 1 MB goes through
    rmtree(d)
