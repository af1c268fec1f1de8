"""FTP client half of ``core.http`` (RFC 959): ``RETR`` (download) and ``STOR`` (upload) of one
file in passive mode, binary type. Imported by ``core.http`` only for an ``ftp://`` URL.

Sequence (RFC 959 §5.4): greeting 220; ``USER`` (331 -> ``PASS``; 230 logged in; no user in the URL
or ``auth``: ``anonymous`` with password ``anonymous@``, RFC 1635); ``TYPE I`` (200); ``PASV`` (227,
RFC 959 §4.1.2: ``h1,h2,h3,h4,p1,p2``); the data connection goes to the *control connection's
host* and the PASV port (the address in the 227 answer is ignored: it is often a private or
0.0.0.0 address behind NAT, like curl's ``--ftp-skip-pasv-ip``); ``RETR``/``STOR`` <path> (125 or
150), the data streamed in ``core.http.CHUNK``-byte pieces, then 226/250 after the data connection
is closed; ``QUIT``. The URL path is sent without its leading "/" (relative to the login
directory, RFC 1738 §3.2.2), percent-decoded. Multi-line replies (``ddd-`` ... ``ddd ``) are read
up to their last line. Any other reply -> ``HttpError`` with ``.status`` = the reply code.
Every step is bounded by ``timeout_s`` on the one clock, as in ``core.http``.
FTPS, active mode and resuming are not supported.
"""
from lite_stack.core.http import HttpError, _Conn, _Sink, send_file
from lite_stack.core.net import unquote


async def _reply(c):
    # -> (code int, text str) of one (possibly multi-line) reply
    ln = await c.line(512)
    if len(ln) < 3:
        raise HttpError("FTP: no reply")
    try:
        code = int(ln[:3])
    except ValueError:
        raise HttpError("FTP: bad reply")
    if ln[3:4] == b"-":
        end = ln[:3] + b" "
        for _ in range(64):  # bounded multi-line reply
            ln2 = await c.line(512)
            if ln2.startswith(end) or not ln2:
                break
    return code, str(ln, "utf-8")


async def _cmd(c, text, ok):
    # send one command (None: read only) and check the reply code is in `ok`; -> code
    if text is not None:
        await c.send((text + "\r\n").encode())
    code, msg = await _reply(c)
    if code not in ok:
        raise HttpError("FTP: " + msg, code)
    return code


async def _session(u, clock, timeout_s, auth, verb):
    # Log in, open the passive data connection, send RETR/STOR; -> (control, data) _Conn pair
    _, user, pw, host, port, upath = u
    if auth:
        user, pw = auth
    c = _Conn(clock, timeout_s)
    d = _Conn(clock, timeout_s)
    try:
        await c.open(host, port)
        await _cmd(c, None, (220,))
        if await _cmd(c, "USER " + (user or "anonymous"), (230, 331)) == 331:
            await _cmd(c, "PASS " + (pw if pw is not None else "anonymous@"), (230, 202))
        await _cmd(c, "TYPE I", (200,))
        await c.send(b"PASV\r\n")
        code, msg = await _reply(c)
        if code != 227:
            raise HttpError("FTP: " + msg, code)
        i = msg.find("(")
        j = msg.find(")", i)
        try:
            nums = [int(x) for x in (msg[i + 1:j] if i >= 0 else msg[4:]).split(",")]
            dport = nums[4] * 256 + nums[5]
        except (ValueError, IndexError):
            raise HttpError("FTP: bad PASV reply")
        await d.open(host, dport)
        await _cmd(c, "%s %s" % (verb, unquote(upath.lstrip("/"))), (125, 150))
        return c, d
    except BaseException:  # noqa: B036
        await d.close()
        await c.close()
        raise


async def _finish(c):
    try:
        await _cmd(c, None, (226, 250))
        try:
            await c.send(b"QUIT\r\n")
        except OSError:
            pass
    finally:
        await c.close()


async def retr(u, path, clock, timeout_s, max_bytes, on_chunk, auth):
    """Download the file of the split ``ftp://`` URL ``u`` (``core.net.split_url``) into ``path``
    (RETR); -> bytes written. Errors as ``core.http.download`` (partial file removed)."""
    sink = None
    c, d = await _session(u, clock, timeout_s, auth, "RETR")
    try:
        sink = _Sink(path, max_bytes, on_chunk)
        await sink.take(d)
        sink.f.close()
        await d.close()
        await _finish(c)
        return sink.n
    except BaseException:  # noqa: B036
        if sink is not None:
            sink.drop()
        await d.close()
        await c.close()
        raise


async def stor(u, path, clock, timeout_s, auth):
    """Upload the file ``path`` to the split ``ftp://`` URL ``u`` (STOR); -> bytes sent."""
    open(path, "rb").close()  # a missing file fails before connecting (OSError)
    c, d = await _session(u, clock, timeout_s, auth, "STOR")
    try:
        n = await send_file(d, path)
        await d.close()
        await _finish(c)
        return n
    except BaseException:  # noqa: B036
        await d.close()
        await c.close()
        raise
