"""Small helpers shared by the network clients of the stack (``core.ws`` WebSocket, ``core.http``
HTTP/FTP): URL splitting, the HTTP Basic-auth header value, a bounded await on the one clock and
the default TLS client context. Runs unchanged on MicroPython and CPython 3.10+. Not resident:
``core.ws`` imports it with the opening handshake (``core.wsopen``) and releases both after.

- ``split_url(url)`` -> ``(scheme, user, password, host, port, path)`` (RFC 3986 §3; default ports
  of RFC 6455 §3, RFC 9110 §4.2, RFC 1738 §3.2).
- ``basic(auth)``: ``(user, password)`` -> ``"Basic <base64>"`` (RFC 7617; OCPP 2.0.1 Part 2 A00).
- ``await within(clock, aw, s)`` (defined in ``core.ws``, resident): ``aw`` bounded by ``s`` seconds on ``clock.wait`` (the one
  clock; a ``VirtualClock`` needs ``real_io`` > 0 for real sockets), ``asyncio.wait_for`` when
  ``clock`` is None; raises ``asyncio.TimeoutError`` on expiry.
- ``tls_default()``: a *verifying* client context (``CERT_REQUIRED``, host name checked through
  ``server_hostname``); on CPython it trusts the system roots, on MicroPython it has no root at all
  (so every handshake fails: pass a context from ``core.certstore.tls_context`` instead).
"""
from binascii import b2a_base64

from lite_stack.core.ws import within  # noqa: F401 (re-exported: resident with the WebSocket)

SCHEMES = ("ws", "wss", "http", "https", "ftp")   # and their default ports (constant tuples: ROM)
_PORTS = (80, 443, 80, 443, 21)


def b64(data):
    """bytes -> base64 str without the trailing newline."""
    return b2a_base64(data)[:-1].decode()


def basic(auth):
    """``(user, password)`` str pair -> the ``Authorization`` value ``"Basic ..."`` (RFC 7617)."""
    return "Basic " + b64(("%s:%s" % tuple(auth)).encode())


def unquote(s):
    """Percent-decoding of a URL part (RFC 3986 §2.1), str -> str (UTF-8)."""
    if "%" not in s:
        return s
    b = s.encode()
    out = bytearray()
    i = 0
    while i < len(b):
        if b[i] == 37 and i + 3 <= len(b):  # "%XX"
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.decode()


def split_url(url):
    """``scheme://[user[:password]@]host[:port][/path]`` -> ``(scheme, user, password, host, port,
    path)``: scheme lower-case str (one of ``SCHEMES``), user/password str (percent-decoded) or None,
    host str, port int (the scheme's default when absent), path str starting with "/" (a query is
    kept, not decoded). Raises ``ValueError`` for an unknown scheme, an empty host or a bad port."""
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme not in SCHEMES:
        raise ValueError("scheme: " + url)
    rest = url[i + 3:]
    i = rest.find("/")
    if i < 0:
        i = len(rest)
    host, path = rest[:i], rest[i:] or "/"
    user = pw = None
    i = host.rfind("@")
    if i >= 0:
        user, host = host[:i], host[i + 1:]
        j = user.find(":")
        if j >= 0:
            pw = unquote(user[j + 1:])
            user = user[:j]
        user = unquote(user)
    port = _PORTS[SCHEMES.index(scheme)]
    if ":" in host:
        host, port = host.rsplit(":", 1)
        port = int(port)
    if not host or not 0 < port < 65536:
        raise ValueError("host/port: " + url)
    return scheme, user, pw, host, port, path


def tls_default():
    """A verifying TLS client context (see the module docstring)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if hasattr(ctx, "load_default_certs"):  # CPython
        ctx.load_default_certs()
    return ctx
