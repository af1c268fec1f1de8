"""The WebSocket opening handshake (RFC 6455 §4.1, OCPP 2.0.1 Part 4 §3.1.2), loaded only while a
connection is being opened: ``core.ws.WebSocket.connect`` imports it per attempt and releases it
(and ``core.net``) after, so its code is not resident between reconnects (RAM).

- ``accept_key(key)``: str -> str, RFC 6455 §4.2.2 item 5.4.
- ``parse_url(url)``: ``(secure, host, port, path)``, RFC 6455 §3; ``ValueError`` if malformed.
- ``await connect(cls, url, proto, auth, ssl, max_frame, timeout, clock, headers)``: the
  ``WebSocket.connect`` of ``core.ws`` (same arguments, same errors: see its docstring).

Bounds: the HTTP response head is read byte by byte up to ``MAX_HEAD`` bytes (nothing of the
first frame is consumed), else ``WsError("head")``.
"""
import asyncio
import os
from hashlib import sha1

from lite_stack.core import ws as _ws   # its ``asyncio`` is the one patched by bench/data.py
from lite_stack.core.net import b64, basic, split_url
from lite_stack.core.ws import WsError, within

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
MAX_HEAD = const(4096)  # bytes of HTTP response head accepted in the handshake


def accept_key(key_b64):
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (str -> str): base64(SHA-1(key + GUID)),
    RFC 6455 §4.2.2 item 5.4."""
    return b64(sha1((key_b64 + _GUID).encode()).digest())


def parse_url(url):
    """``ws://host[:port][/path]`` or ``wss://...`` -> ``(secure, host, port, path)`` with
    secure bool, host str, port int (default 80 / 443), path str starting with "/" (a query after
    the path is kept). Raises ``ValueError`` for another scheme, user-info, an empty host or a bad
    port (RFC 6455 §3; ``core.net.split_url``)."""
    scheme, user, _, host, port, path = split_url(url)
    if scheme not in ("ws", "wss") or user is not None:
        raise ValueError(url)
    return scheme == "wss", host, port, path


async def connect(cls, url, proto, auth, ssl, max_frame, timeout, clock, headers):
    """Open a ``cls`` (``core.ws.WebSocket``) connection to ``url`` and do the opening handshake
    within ``timeout`` s; return it. Raises ``ValueError`` for a malformed URL, ``WsError``
    (``.status`` = HTTP status when not 101, else 0) for every other failure (RFC 6455 §4.1,
    Part 4 §3.1.2); the stream is shut on any failure or cancellation."""
    secure, host, port, path = parse_url(url)
    ws = cls(clock, max_frame)
    try:
        await within(clock, _open(ws, secure, host, port, path, proto, auth,
                                  (ssl or True) if secure else None, headers), timeout)
    except BaseException as e:  # noqa: B036 - also shut the stream when cancelled
        await ws._shut()
        if isinstance(e, (WsError, MemoryError)) or not isinstance(e, Exception):
            raise
        raise WsError("timeout" if isinstance(e, asyncio.TimeoutError) else repr(e))
    return ws


async def _open(ws, secure, host, port, path, proto, auth, ssl, headers):
    ws._r, ws._w = await _ws.asyncio.open_connection(host, port, ssl=ssl)
    key = b64(os.urandom(16))
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
           % (path, host, port, key, proto))
    if auth:
        req += "Authorization: %s\r\n" % basic(auth)
    for k in headers or ():
        req += "%s: %s\r\n" % (k, headers[k])
    await ws._put((req + "\r\n").encode())
    head = bytearray()
    while not head.endswith(b"\r\n\r\n"):
        if len(head) >= MAX_HEAD:
            raise WsError("head")
        head += await ws._rx(1)
    lines = str(head, "utf-8").split("\r\n")
    status = int(lines[0].split(" ")[1])
    if status != 101:
        raise WsError("HTTP %d" % status, status)
    h = {}
    for ln in lines:
        i = ln.find(":")
        if i > 0:
            h[ln[:i].strip().lower()] = ln[i + 1:].strip()
    if h.get("upgrade", "").lower() != "websocket" or "upgrade" not in h.get("connection", "").lower():
        raise WsError("upgrade")
    for k, v in (("sec-websocket-accept", accept_key(key)), ("sec-websocket-protocol", proto),
                 ("sec-websocket-extensions", None)):  # RFC 6455 §4.1 items 4-6, Part 4 §3.1.2
        if h.get(k) != v:
            raise WsError(k)
