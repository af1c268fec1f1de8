"""N01 GetLog (OCPP 2.0.1 Part 2 N01; Part 6 TC_N_25_CS, TC_N_26_CS, TC_N_35_CS, TC_N_36_CS), an
on-demand block: loaded when a GetLog arrives, released when its upload has ended (with the HTTP/
FTP client ``core.http`` / ``core.ftp`` and ``lite_stack.seclog``, see ``RELEASE``; a block that
imported them itself, e.g.
the firmware update, keeps its own references and goes on working).

Sources: Part 2's text is not in ../shared/spec; the requirement ids below are those the Part 6
test cases list (TC_N_25: N01.FR.01/02/04/07/08/09/13, TC_N_26: .10, TC_N_35: .03, TC_N_36: .12)
and the behaviour is read from the test cases' steps and tool validations (and errata 2025-01
§6.2.22); where a step leaves a choice, the choice is stated here.

Request -> response:
- ``logType`` ``DiagnosticsLog`` (``lite_stack.diaglog``: what the station did) or ``SecurityLog``
  (``lite_stack.seclog``: the security events, A04) -> ``Accepted`` with ``filename``
  ``<logType>-<requestId>.log`` (N01.FR.01/.FR.04, TC_N_25 step 2: filename not empty); there is
  always log information (the file starts with a header line).
- A GetLog while an upload is under way (N01.FR.12, TC_N_36_CS): the new one is answered
  ``AcceptedCanceled``, the ongoing upload is cancelled at once (its temporary file removed) and
  the new job first sends LogStatusNotification ``AcceptedCanceled`` *with the requestId of the
  cancelled request* (it reports that request's end; TC_N_36 step 7 checks only the status), then
  runs as below. Choice: the cancelled request gets no other notification.

The upload (after the response, a task; the one clock for every wait):
1. The entries with ``log.oldestTimestamp <= time <= log.latestTimestamp`` (each optional;
   only entries in that window are uploaded) are written to ``getlog-<requestId>`` in the state
   directory (one line each, RFC 3339 time first; bounded: the rings are bounded), removed at
   the end whatever happens, also when cancelled; one left by a power cut is removed at the next start
   (``DiagLog``). (Not ``*.tmp``: the store would take it for a cut record write.)
2. LogStatusNotification ``Uploading`` (N01.FR.07, TC_N_25 step 3), then the file is sent to
   ``log.remoteLocation`` + "/" + filename (the location names a directory: the Charging Station
   picks the file name, GetLogResponse.filename): ``http(s)://`` PUT, ``ftp://user:pass@host:port/
   path`` STOR (passive, binary), ``core.http.upload``, each network step bounded by
   ``TIMEOUT_S``. https:// trusts the installed CSMSRootCertificates when there are any, else
   the verifying default (``core.net.tls_default``).
3. ``Uploaded`` on success (N01.FR.08). A failed attempt (connection refused, timeout, non-2xx,
   FTP error) sends ``UploadFailure`` and is retried ``retries`` times, ``retryInterval`` s apart
   (Part 6 TC_N_26 and errata 2025-01 §6.2.22: "(3,) 5 four times" for retries 3: a failure
   notification per attempt, the last one 3 * retryInterval after the first Uploading).
   Absent ``retries``: ``DEFAULT_RETRIES``; absent ``retryInterval``: ``DEFAULT_INTERVAL_S``;
   ``retries`` is capped at ``MAX_RETRIES`` (bounded work).
   Final, not retried: ``PermissionDenied`` (HTTP 401/403, FTP 530: credentials refused),
   ``BadMessage`` (``remoteLocation`` is not a URL: no ``scheme://``, empty host, bad port),
   ``NotSupportedOperation`` (a well-formed URL with a scheme other than http/https/ftp, e.g.
   ``sftp://`` or ``ftps://``). These are LogStatusNotifications after an ``Accepted`` response
   (TC_N_26 step 5 allows each of them).

TriggerMessage LogStatusNotification (F06) is answered by the resident ``DiagLog.trigger``:
``Uploading`` + requestId while ``ctx.diag.upload`` holds the requestId (set by this block for
the whole job, retry waits included), else ``Idle``. The upload state is not persisted: after a
reboot there is no upload and the trigger says ``Idle``.
"""
from lite_stack.clock import iso, parse_iso
from lite_stack.core.rpc import CallError
from lite_stack.diaglog import TMP_PREFIX
from lite_stack.seclog import SecLog

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

RELEASE = ("lite_stack.core.ftp", "lite_stack.core.http", "lite_stack.seclog")
TIMEOUT_S = const(30)  # s per network step of an upload
DEFAULT_RETRIES = const(2)
DEFAULT_INTERVAL_S = const(30)
MAX_RETRIES = const(20)
_SCHEMES = ("http", "https", "ftp")
_job = [None]  # the upload under way: [requestId, task or None (not started yet), cancelled]


def _check_url(url):
    # -> None if usable, else the LogStatus (BadMessage / NotSupportedOperation) and why
    from lite_stack.core.net import split_url
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme and scheme.isalpha() and scheme not in _SCHEMES:
        return "NotSupportedOperation", "scheme %s not supported" % scheme
    try:
        split_url(url)
    except ValueError as e:
        return "BadMessage", "remoteLocation unusable: %s" % e
    return None


def _target(loc, name):
    q = loc.find("?")
    base, query = (loc, "") if q < 0 else (loc[:q], loc[q:])
    return base.rstrip("/") + "/" + name + query


def _write(ctx, path, typ, rid, oldest, latest):
    with open(path, "w") as f:
        f.write("# OCPP2.Lite %s requestId %d generated %s window %s .. %s\n" % (
            typ, rid, ctx.iso_now(), iso(oldest) if oldest is not None else "-",
            iso(latest) if latest is not None else "-"))
        if typ == "SecurityLog":
            n = 0
            for e in SecLog(ctx.store).entries():
                if (oldest is None or e[1] >= oldest) and (latest is None or e[1] <= latest):
                    f.write("%s %d %s %s\n" % (iso(e[1]), e[0], e[2], e[3] or ""))
                    n += 1
            return n
        return ctx.diag.copy(f, oldest, latest) if ctx.diag else 0


def _rm(path):
    import os
    try:
        os.remove(path)
    except OSError:
        pass


def handle(ctx, action, p, done):
    """GetLog handler (see the module docstring); -> GetLogResponse payload."""
    log = p["log"]
    rid = p["requestId"]
    typ = p["logType"]
    try:
        oldest = parse_iso(log["oldestTimestamp"]) if "oldestTimestamp" in log else None
        latest = parse_iso(log["latestTimestamp"]) if "latestTimestamp" in log else None
    except (ValueError, TypeError):
        done()
        return CallError("FormatViolation", "log timestamp")
    retries = min(p.get("retries", DEFAULT_RETRIES), MAX_RETRIES)
    interval = p.get("retryInterval", DEFAULT_INTERVAL_S)
    name = "%s-%d.log" % (typ, rid)
    prev = _job[0]
    me = [rid, None, False]
    _job[0] = me
    if prev is not None:   # N01.FR.12: cancel the ongoing upload
        prev[2] = True
        if prev[1] is not None:
            prev[1].cancel()

    if ctx.diag:
        ctx.diag.upload = rid   # TriggerMessage LogStatusNotification: Uploading from now on

    def end():
        if _job[0] is me:
            _job[0] = None
            if ctx.diag:
                ctx.diag.upload = None
        done()

    async def job():
        import asyncio
        me[1] = asyncio.current_task()
        path = "%s/%s%d" % (ctx.store.root, TMP_PREFIX, rid)
        try:
            if me[2]:
                return   # cancelled before it started
            if prev is not None:
                await ctx.send("LogStatusNotification", {"status": "AcceptedCanceled",
                                                         "requestId": prev[0]})
            n = _write(ctx, path, typ, rid, oldest, latest)
            await upload(ctx, rid, path, _target(log["remoteLocation"], name), retries, interval, n)
        finally:
            _rm(path)
            end()
    try:   # with ``ctx.after(fn, dropped)`` (a job that never starts still ends the block)
        ctx.after(job, end)
    except TypeError:   # a Context whose after() takes only fn
        ctx.after(job)
    return {"status": "AcceptedCanceled" if prev is not None else "Accepted", "filename": name}


async def upload(ctx, rid, path, url, retries, interval, n):
    """Send ``path`` to ``url`` with the LogStatusNotifications of N01 (module docstring)."""
    from lite_stack.core.http import HttpError, trust, upload as put
    put = ctx.upload or put   # an injected uploader (tests, fuzzing), else the HTTP/FTP client

    async def status(s):
        await ctx.send("LogStatusNotification", {"status": s, "requestId": rid})
    bad = _check_url(url)
    if bad:
        ctx.log("GetLog %d: %s" % (rid, bad[1]))
        await status(bad[0])
        return
    tls = trust(ctx, url)
    await status("Uploading")
    for attempt in range(retries + 1):
        if attempt:
            await ctx.clock.sleep(interval)
        try:
            sent = await put(url, path, ctx.clock, TIMEOUT_S, tls)
        except (OSError, ValueError) as e:   # HttpError is an OSError
            st = getattr(e, "status", 0) if isinstance(e, HttpError) else 0
            ctx.log("GetLog %d attempt %d failed: %s" % (rid, attempt + 1, e))
            if st in (401, 403, 530):
                await status("PermissionDenied")
                return
            await status("UploadFailure")
            continue
        ctx.log("GetLog %d: %d entries, %d bytes uploaded" % (rid, n, sent))
        await status("Uploaded")
        return
