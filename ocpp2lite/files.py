"""The lab's file server beside the embedded CSMS (desktop, CPython only; not in the stack's
import path): it serves firmware images to L01 UpdateFirmware and receives N01 GetLog uploads.

``server = await serve_files(host, port, root)`` -> an ``asyncio.Server`` (plain asyncio streams,
HTTP/1.1, one request per connection) with ``server.port`` (int, the bound port: pass 0 for any)
and ``server.url`` (``"http://host:port"``):

- ``GET /files/<name>`` -> 200 with ``Content-Length`` and the bytes of ``root/<name>``, streamed
  in 64 kB pieces; 404 when missing.
- ``PUT /upload/<name>`` (``Content-Length`` or chunked body) -> the body is written to
  ``root/<name>.part`` and renamed to ``root/<name>`` when complete; 201.
- With ``ssl`` (a server ``ssl.SSLContext``) it serves HTTPS.
- Anything else: 404 / 405; a name with "/", "\\" or starting with "." is refused (400).
  Optional Basic auth: ``auth=(user, password)`` -> 401 without the right header.

``ftp = serve_ftp(host, port, root, user="lab", password="lab")`` starts a pyftpdlib FTP server
(``pip install pyftpdlib``, in the test extras) on a thread with read/write access to ``root``;
``ftp.port``, ``ftp.url`` (``"ftp://user:password@host:port"``), ``ftp.close()``.
"""
import asyncio
import base64
import os

_CHUNK = 65536
_MAX_HEAD = 8192


def _safe(name):
    return name and "/" not in name and "\\" not in name and not name.startswith(".")


async def _head(r):
    line = await r.readline()
    if not line:
        return None, None, None
    parts = line.decode("latin-1").split()
    h = {}
    n = len(line)
    while True:
        ln = await r.readline()
        n += len(ln)
        if n > _MAX_HEAD:
            raise ValueError("head too long")
        ln = ln.decode("latin-1").strip()
        if not ln:
            break
        k, _, v = ln.partition(":")
        h[k.strip().lower()] = v.strip()
    if len(parts) < 2:
        raise ValueError("bad request line")
    return parts[0], parts[1], h


async def _body_to(r, h, f):
    if "chunked" in h.get("transfer-encoding", "").lower():
        while True:
            size = int((await r.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                while (await r.readline()).strip():
                    pass
                return
            f.write(await r.readexactly(size))
            await r.readexactly(2)
    left = int(h.get("content-length", "0"))
    while left > 0:
        b = await r.read(min(left, _CHUNK))
        if not b:
            raise EOFError
        f.write(b)
        left -= len(b)


def _answer(w, status, reason, body=b""):
    w.write(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (status, reason.encode(), len(body)) + body)


async def serve_files(host, port, root, auth=None, ssl=None):
    """Start the file server (see the module docstring); ``root`` is created if missing; ``ssl``:
    an ``ssl.SSLContext`` (server side) -> HTTPS, ``url`` then starts with https://."""
    os.makedirs(root, exist_ok=True)
    want = None
    if auth:
        want = "Basic " + base64.b64encode(("%s:%s" % tuple(auth)).encode()).decode()

    async def handle(r, w):
        try:
            method, path, h = await _head(r)
            if method is None:
                return
            if want and h.get("authorization") != want:
                _answer(w, 401, "Unauthorized")
            elif path.startswith("/files/") and method in ("GET", "HEAD"):
                name = path[7:]
                p = os.path.join(root, name)
                if not _safe(name) or not os.path.isfile(p):
                    _answer(w, 404, "Not Found")
                else:
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % os.path.getsize(p))
                    if method == "GET":
                        with open(p, "rb") as f:
                            for b in iter(lambda: f.read(_CHUNK), b""):
                                w.write(b)
                                await w.drain()
            elif path.startswith("/upload/") and method in ("PUT", "POST"):
                name = path[8:]
                if not _safe(name):
                    _answer(w, 400, "Bad Request")
                else:
                    p = os.path.join(root, name)
                    with open(p + ".part", "wb") as f:
                        await _body_to(r, h, f)
                    os.replace(p + ".part", p)
                    _answer(w, 201, "Created")
            elif path.startswith(("/files/", "/upload/")):
                _answer(w, 405, "Method Not Allowed")
            else:
                _answer(w, 404, "Not Found")
            await w.drain()
        except (OSError, EOFError, ValueError):
            pass
        finally:
            w.close()
            try:
                await w.wait_closed()
            except OSError:
                pass

    srv = await asyncio.start_server(handle, host, port, ssl=ssl)
    srv.port = srv.sockets[0].getsockname()[1]
    srv.url = "%s://%s:%d" % ("https" if ssl else "http", host, srv.port)
    return srv


class _Ftp:
    def __init__(self, server, thread, host, user, password):
        self._srv = server
        self._thread = thread
        self.port = server.socket.getsockname()[1]
        self.url = "ftp://%s:%s@%s:%d" % (user, password, host, self.port)

    def close(self):
        self._srv.close_all()
        self._thread.join(5)


def serve_ftp(host, port, root, user="lab", password="lab"):
    """Start a pyftpdlib FTP server on a daemon thread (see the module docstring)."""
    import threading

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    os.makedirs(root, exist_ok=True)
    a = DummyAuthorizer()
    a.add_user(user, password, root, perm="elradfmw")

    class Handler(FTPHandler):
        authorizer = a
        passive_ports = None
    Handler.banner = "OCPP2.Lite lab FTP"
    srv = FTPServer((host, port), Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"timeout": 0.2, "blocking": True},
                         daemon=True)
    t.start()
    return _Ftp(srv, t, host, user, password)
