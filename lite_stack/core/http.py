"""A small HTTP/1.1 (and FTP, through ``core.ftp``) file client on asyncio streams: downloads
firmware images (OCPP 2.0.1 Part 2 L01 UpdateFirmware ``location``) to a file and uploads log files
(N01 GetLog ``remoteLocation``). One code path on MicroPython and CPython 3.10+.

``await download(url, path, clock, timeout_s=60, max_bytes=None, on_chunk=None, tls=None,
auth=None)`` -> int bytes written to the file ``path``;
``await upload(url, path, clock, timeout_s=60, tls=None, auth=None)`` -> int bytes sent.

- URLs: ``http://``, ``https://``, ``ftp://[user[:password]@]host[:port]/path`` (``core.net.
  split_url``; user/password percent-decoded). Another scheme: ``ValueError``.
- HTTP (RFC 9112 / RFC 7230): one request per connection (``Connection: close``). GET streams the
  body in ``CHUNK``-byte reads straight to the file (constant memory whatever the size): a
  ``Content-Length`` body, a ``Transfer-Encoding: chunked`` body (RFC 9112 §7.1: chunk extensions
  and trailers skipped) or, with neither, the body up to EOF. ``on_chunk(bytes)`` is called for
  every piece written (streaming SHA-256 of a firmware image, L01.FR.03). Redirects 301/302/303/
  307/308 with ``Location`` (absolute or path-only) are followed at most ``MAX_REDIRECTS`` times.
  PUT (RFC 9110 §9.3.4) sends the file with ``Content-Length`` in ``CHUNK``-byte writes; a 2xx
  answer is success; a PUT is not redirected.
- Basic auth (RFC 7617): ``auth=(user, password)``, else the URL's user-info when present.
- TLS: ``tls`` is an ``ssl.SSLContext`` (e.g. ``core.certstore.tls_context(roots)``), or None:
  ``core.net.tls_default()``, a *verifying* context (CPython: system roots; MicroPython: no roots,
  every https:// handshake then fails - never an unverified connection). The host name is checked
  (``server_hostname`` = URL host).
- Timeouts: every network step (connect + TLS, the request, each read of the head and of each
  chunk, each write) is bounded by ``timeout_s`` seconds on ``clock.wait`` (the one clock; a
  ``VirtualClock`` needs ``real_io`` > 0), ``asyncio.wait_for`` when ``clock`` is None.
- Errors: ``HttpError`` (an ``OSError``; ``.status`` the HTTP status or FTP reply code, 0 for none;
  ``.message`` str) for a non-2xx answer, a malformed answer, too many redirects, a body larger
  than ``max_bytes`` (``"too large"``; checked against ``Content-Length`` before writing and while
  streaming), a body cut short (``"truncated"``) and a timeout (``"timeout"``); other ``OSError``
  for network failures (refused, reset, DNS, a TLS handshake refused: untrusted or wrong host
  name; MicroPython's ValueError from mbedTLS becomes ``OSError("TLS: ...")``). On any failure
  of ``download`` the partial file is removed: nothing half-written stays behind.
- Memory: one response head of at most ``MAX_HEAD`` bytes, one chunk of ``CHUNK`` bytes at a time.

Why not micropython-lib ``requests`` / ``aiohttp``: ``requests`` is blocking (it would stall the
OCPP link and every timer for the whole transfer) and has no timeout on the one clock; ``aiohttp``
(micropython-lib) is asyncio but reads whole bodies into RAM, has no FTP, and both cannot be
installed on CPython under the same names (the stack keeps one code path). Neither streams a body
to a file in fixed chunks; this module is about 2 kB of .mpy and reuses ``core.net`` with ws.py.
"""
import asyncio
import os

from lite_stack.core.net import basic, split_url, tls_default, within

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

CHUNK = const(512)  # bytes per read / write of a body
MAX_HEAD = const(4096)  # bytes of response head accepted
MAX_REDIRECTS = const(3)
_REDIRECTS = (301, 302, 303, 307, 308)


class HttpError(OSError):
    """A transfer that failed at the protocol level. ``.status``: HTTP status (e.g. 404) or FTP
    reply code, 0 when there is none (timeout, malformed answer, too large, truncated);
    ``.message``: str."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.message = message
        self.status = status


def _rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


class _Conn:
    # One stream pair with every step bounded on the clock.
    def __init__(self, clock, timeout_s):
        self.clock = clock
        self.t = timeout_s
        self.r = self.w = None

    async def step(self, aw):
        try:
            return await within(self.clock, aw, self.t)
        except asyncio.TimeoutError:
            raise HttpError("timeout")
        except EOFError:  # CPython IncompleteReadError is one too
            raise HttpError("truncated")
        except ValueError as e:  # MicroPython: mbedTLS handshake failure (first write or read)
            raise OSError("TLS: %s" % e)

    async def open(self, host, port, ssl=None):
        self.r, self.w = await self.step(asyncio.open_connection(host, port, ssl=ssl))

    async def send(self, data):
        try:
            self.w.write(data)  # MicroPython writes at once: the TLS handshake may fail here
        except ValueError as e:
            raise OSError("TLS: %s" % e)
        await self.step(self.w.drain())

    async def read(self, n):
        return await self.step(self.r.read(n))

    async def exactly(self, n):
        return await self.step(self.r.readexactly(n))

    async def line(self, limit=MAX_HEAD):
        # one CRLF- (or LF-) terminated line, bounded, without the line end; b"" at EOF
        b = bytearray()
        while not b.endswith(b"\n"):
            if len(b) >= limit:
                raise HttpError("line too long")
            c = await self.read(1)
            if not c:
                if b:
                    raise HttpError("truncated")
                return b""
            b += c
        return bytes(b).rstrip(b"\r\n")

    async def close(self):
        if self.w is not None:
            w, self.w = self.w, None
            try:
                w.close()
                await within(self.clock, w.wait_closed(), 1)
            except Exception:
                pass


def _join(u, loc):
    # a Location (absolute URL, absolute path or relative path; RFC 9110 §10.2.2) -> URL
    if "://" in loc:
        return loc
    path = u[5].split("?")[0]
    if not loc.startswith("/"):
        loc = path[:path.rfind("/") + 1] + loc
    return "%s://%s:%d%s" % (u[0], u[3], u[4], loc)


async def _head(c):
    # -> (status int, headers dict with lower-case names) of the final (non-1xx) answer; each
    # head is at most MAX_HEAD bytes
    while True:
        status, h = await _head1(c)
        if not 100 <= status < 200:   # 1xx interim answers are skipped (RFC 9110 §15.2)
            return status, h


async def _head1(c):
    n = 0
    st = await c.line()
    parts = st.split(b" ")
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise HttpError("bad status line")
    try:
        status = int(parts[1])
    except ValueError:
        raise HttpError("bad status line")
    h = {}
    while True:
        ln = await c.line()
        n += len(ln) + 2
        if n > MAX_HEAD:
            raise HttpError("head too long")
        if not ln:
            return status, h
        i = ln.find(b":")
        if i > 0:
            h[str(ln[:i].strip(), "utf-8").lower()] = str(ln[i + 1:].strip(), "utf-8")


async def _request(c, method, u, tls, auth, extra=""):
    scheme, user, pw, host, port, path = u
    await c.open(host, port, (tls or tls_default()) if scheme == "https" else None)
    req = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\nUser-Agent: OCPP2.Lite\r\n%s" % (
        method, path, host, port, extra)
    if auth is None and user is not None:
        auth = (user, pw or "")
    if auth:
        req += "Authorization: %s\r\n" % basic(auth)
    await c.send((req + "\r\n").encode())


def _http_url(url):
    u = split_url(url)
    if u[0] not in ("http", "https"):
        raise ValueError("scheme: " + url)
    return u


class _Sink:
    # The target file; counts bytes, enforces max_bytes, feeds on_chunk.
    def __init__(self, path, max_bytes, on_chunk):
        self.path = path
        self.max = max_bytes
        self.cb = on_chunk
        self.n = 0
        self.f = open(path, "wb")

    def put(self, b):
        self.n += len(b)
        if self.max is not None and self.n > self.max:
            raise HttpError("too large")
        self.f.write(b)
        if self.cb:
            self.cb(b)

    async def take(self, c, n=None):
        # copy n bytes (None: up to EOF) from the _Conn c in CHUNK reads; EOF before n: truncated
        while n is None or n > 0:
            b = await c.read(CHUNK if n is None else min(n, CHUNK))
            if not b:
                if n is None:
                    return
                raise HttpError("truncated")
            if n is not None:
                n -= len(b)
            self.put(b)

    def drop(self):
        # a failed transfer: close and remove the partial file
        self.f.close()
        _rm(self.path)


async def _body(c, h, sink):
    if "chunked" in h.get("transfer-encoding", "").lower():  # RFC 9112 §7.1
        while True:
            ln = await c.line(80)
            try:
                size = int(ln.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpError("bad chunk size")
            if size == 0:
                while await c.line():  # trailer fields, up to the empty line (or EOF)
                    pass
                return
            await sink.take(c, size)
            if await c.line(2) != b"":
                raise HttpError("bad chunk end")
    cl = h.get("content-length")
    if cl is not None:
        try:
            left = int(cl)
        except ValueError:
            raise HttpError("bad content-length")
        if sink.max is not None and left > sink.max:
            raise HttpError("too large")
        await sink.take(c, left)
        return
    await sink.take(c)   # no framing: the body ends with the connection (RFC 9112 §6.3 item 8)


async def download(url, path, clock, timeout_s=60, max_bytes=None, on_chunk=None, tls=None,
                   auth=None):
    """Fetch ``url`` (http://, https://, ftp://) into the file ``path``; return the bytes written
    (int). See the module docstring for redirects, chunking, timeouts and errors (``HttpError``,
    ``OSError``, ``ValueError`` for an unknown scheme). Used by L01 (UpdateFirmware location)."""
    u = split_url(url)
    if u[0] == "ftp":
        from lite_stack.core.ftp import retr
        return await retr(u, path, clock, timeout_s, max_bytes, on_chunk, auth)
    sink = None
    try:
        for _ in range(MAX_REDIRECTS + 1):
            u = _http_url(url)
            c = _Conn(clock, timeout_s)
            try:
                await _request(c, "GET", u, tls, auth)
                status, h = await _head(c)
                if status in _REDIRECTS and "location" in h:
                    url = _join(u, h["location"])
                    continue
                if not 200 <= status < 300:
                    raise HttpError("HTTP %d" % status, status)
                sink = _Sink(path, max_bytes, on_chunk)
                await _body(c, h, sink)
                sink.f.close()
                return sink.n
            finally:
                await c.close()
        raise HttpError("too many redirects")
    except BaseException:  # noqa: B036 - also when cancelled: no partial file stays behind
        if sink is not None:
            sink.drop()
        raise


def _size(path):
    return os.stat(path)[6]


def trust(src, url):
    """The TLS context for an https:// file transfer (L01 location, N01 remoteLocation): one
    trusting the installed CSMSRootCertificates when there are some, else None (``tls_default()``,
    still verifying); None for other schemes. ``src``: None or a block's ``Context``
    (``Context.csms_tls``: the installed roots, read for https:// only)."""
    if src is None or not url.startswith("https:"):
        return None
    return src.csms_tls()


async def upload(url, path, clock, timeout_s=60, tls=None, auth=None):
    """Send the file ``path`` to ``url``: HTTP(S) PUT or FTP STOR (passive); return the bytes sent
    (int). Errors as ``download``; a missing file raises ``OSError``. Used by N01 (GetLog
    remoteLocation)."""
    u = split_url(url)
    if u[0] == "ftp":
        from lite_stack.core.ftp import stor
        return await stor(u, path, clock, timeout_s, auth)
    u = _http_url(url)
    n = _size(path)
    c = _Conn(clock, timeout_s)
    try:
        await _request(c, "PUT", u, tls, auth,
                       "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % n)
        sent = await send_file(c, path)
        status, _ = await _head(c)
        if not 200 <= status < 300:
            raise HttpError("HTTP %d" % status, status)
        return sent
    finally:
        await c.close()


async def send_file(c, path):
    """Write the file ``path`` to the ``_Conn`` ``c`` in ``CHUNK``-byte pieces; return the count."""
    sent = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                return sent
            await c.send(b)
            sent += len(b)
