"""L01 Secure firmware update (Part 2 L01), an on-demand block: loaded for UpdateFirmware, and at
boot by the resident ``fwstatus`` block when a persisted update is still pending; released when
the update has ended (see ``lite_stack.blocks``).

UpdateFirmware(requestId, retries, retryInterval, firmware{location, retrieveDateTime,
installDateTime, signingCertificate, signature}) -> UpdateFirmwareResponse status:
- ``Rejected`` (reasonCode ``MissingSignature``) when ``signingCertificate`` or ``signature`` is
  missing: this is a secure-update-only station (L01 is the secure use case; L02 non-secure
  update is not offered), and TC_L_18 allows Rejected or InvalidCertificate for that request;
  no certificate was presented, so no InvalidFirmwareSigningCertificate event is sent.
- ``InvalidCertificate`` + SecurityEventNotification ``InvalidFirmwareSigningCertificate`` when
  the signing certificate is malformed, expired / not yet valid, or not issued by an installed
  ManufacturerRootCertificate (L01.FR.02, TC_L_05; ``lite_stack.core.sigverify.check_chain``).
- ``AcceptedCanceled`` when an update was running (not yet Installing): it is stopped, its image
  deleted, and the new one starts (L01.FR.24); ``Rejected`` (reasonCode ``InstallInProgress``)
  while the running one is Installing / InstallRebooting.
- else ``Accepted`` (L01.FR.01) and the job below runs after the response.

FirmwareStatusNotification(status, requestId), each status persisted before it is sent:
``DownloadScheduled`` (retrieveDateTime in the future, L01.FR.13) -> ``Downloading`` ->
``Downloaded`` or ``DownloadFailed`` (after the first attempt and ``retries`` retries,
``retryInterval`` s apart; default 0 retries / 60 s) -> ``SignatureVerified`` or
``InvalidSignature`` + SecurityEventNotification ``InvalidFirmwareSignature`` (L01.FR.03/04) ->
``InstallScheduled`` (installDateTime in the future, L01.FR.15; or transactions still running) ->
``Installing`` -> ``InstallRebooting`` -> reboot (``ctx.reboot``) -> BootNotification reason
``FirmwareUpdate`` -> ``Installed`` + SecurityEventNotification ``FirmwareUpdated`` (TC_L_01 step
20), or ``InstallationFailed`` (the board's install raised ``OSError``, or the new image did not
boot) / ``InstallVerificationFailed`` (the board rejected the image: ``ValueError``).

Download: ``ctx.download`` or ``lite_stack.core.http.download`` (http, https, ftp; an https://
location is checked against the installed CSMSRootCertificates when there are any, else against
the interpreter's default roots) streams the body to the file
``<state dir>/fw.img`` (never in RAM) and every chunk goes through one streaming SHA-256; the
image may be at most the free space of the state file system (``os.statvfs``: f_bavail x
f_frsize, less ``RESERVE`` bytes for state) and the board's ``FW_MAX_BYTES`` if it sets one.
A bad URL (unknown scheme: ``ValueError``) or an image too big ends at once in DownloadFailed;
other errors (HTTP status, refused, stalled, truncated) are retried as above. Every failure is
logged and removes the partial file.

Ongoing transactions (PICS: the behaviour of TC_L_15_CS, AllowNewSessionsPendingFirmwareUpdate
false): downloading and verifying run during a transaction; installing waits until no
transaction runs. While it waits the status is InstallScheduled and ``ctx.fw_pending`` is set: no
new transaction starts (``Context.may_start``) and idle connectors report Unavailable (L01.FR.06/
FR.07); a connector whose transaction ends becomes Unavailable.

Power cut: the store record ``fw`` (owned by this block; read by ``fwstatus``) holds the update:
``{"st": last status, "rid": requestId, "loc": location, "rt": retrieve epoch s, "it": install
epoch s, "cert": PEM, "sig": base64, "ret": retries, "ri": retryInterval s, "n": download
attempts made, "sha": hex SHA-256 of the downloaded image or None}``; it is removed when the
update has ended (so TriggerMessage reports ``Idle``). On resume: DownloadScheduled waits on;
Downloading counts the interrupted attempt and retries (or DownloadFailed); Downloaded ..
InstallScheduled re-hash the image file and go on (or download again); Installing /
InstallRebooting ask the board (``firmware_booted``) -> Installed or InstallationFailed.

Board HAL (``boards.*``): ``install_firmware(path, state_dir)`` -> None, raises ``OSError``
(install failed, nothing activated) or ``ValueError`` (image rejected); ``firmware_booted(
state_dir)`` -> bool (the image installed last is the one running; confirms it).
"""
from binascii import a2b_base64, hexlify
from hashlib import sha256
import os

from lite_stack.clock import parse_iso
from lite_stack.context import status

STORE = "fw"
IMAGE = "fw.img"
RESERVE = 16384       # bytes of free flash kept for state files
CHUNK = 1024          # bytes read per step when re-hashing an image
DL_TIMEOUT_S = 60     # s without progress before a download attempt fails
FINAL = ("Installed", "DownloadFailed", "InvalidSignature", "InstallationFailed",
         "InstallVerificationFailed")
RELEASE = ("lite_stack.core.sigverify", "lite_stack.core.x509", "lite_stack.core.http",
           "lite_stack.core.ftp", "lite_stack.core.certstore")
_job = [None]          # the running update: (task, record, ctx)


def _path(ctx):
    return ctx.store.root + "/" + IMAGE


def _remove(ctx):
    try:
        os.remove(_path(ctx))
    except OSError:
        pass


def _epoch(text, now):
    try:
        return parse_iso(text) if text else now
    except (ValueError, TypeError):
        return now


def _free(ctx):
    # bytes an image may take: free space of the state file system less RESERVE, board cap
    try:
        s = os.statvfs(ctx.store.root)
        free = s[1] * s[4] - RESERVE
    except (OSError, AttributeError):
        free = 1 << 30
    cap = getattr(ctx.board, "FW_MAX_BYTES", None)
    return min(free, cap) if cap else free


def handle(ctx, action, p, done):
    fw = p["firmware"]
    cert = fw.get("signingCertificate")
    sig = fw.get("signature")
    if not cert or not sig:
        done()
        return status("Rejected", "MissingSignature")   # TC_L_18
    from lite_stack.core import sigverify, x509
    try:
        sigverify.check_chain(x509.pem_ders(cert)[0],
                              ctx.certs.roots("ManufacturerRootCertificate"), ctx.clock.now())
    except (ValueError, IndexError, TypeError) as e:
        ctx.log("firmware: signing certificate refused: %s" % e)
        info = str(e)

        async def event():                            # after the response (TC_L_05 step 3)
            ctx.emit("security", None, ("InvalidFirmwareSigningCertificate", info))
        ctx.after(event)
        done()
        return status("InvalidCertificate")           # L01.FR.02
    answer = "Accepted"
    running = _job[0]
    if running is not None and (running[2] is not ctx or running[1]["st"] in FINAL):
        running = None   # ended (final status being sent) or left by a station run that ended
    if running is not None:
        if running[1]["st"] in ("Installing", "InstallRebooting"):
            done()
            return status("Rejected", "InstallInProgress")
        running[0].cancel()
        _job[0] = None
        ctx.fw_pending = False                        # it may have been waiting to install
        ctx.wake()
        answer = "AcceptedCanceled"                   # L01.FR.24
    now = ctx.clock.now()
    rec = {"st": "Accepted", "rid": p["requestId"], "loc": fw["location"],
           "rt": _epoch(fw.get("retrieveDateTime"), now),
           "it": _epoch(fw.get("installDateTime"), now) if fw.get("installDateTime") else None,
           "cert": cert, "sig": sig, "ret": p.get("retries", 0) or 0,
           "ri": p.get("retryInterval", 60), "n": 0, "sha": None}
    ctx.store.save(STORE, rec)
    _remove(ctx)

    async def start():
        _start(ctx, rec, done)
    ctx.after(start)
    return status(answer)


def resume(ctx, done):
    """Continue the persisted update after a reboot (called by ``fwstatus`` once registered)."""
    rec = ctx.store.load(STORE)
    if not isinstance(rec, dict) or "st" not in rec:
        done()
        return
    _job[0] = None                # any job is from a station run that has ended
    _start(ctx, rec, done)


def _start(ctx, rec, done):
    async def run():
        try:
            await _run(ctx, rec)
        finally:
            if _job[0] is not None and _job[0][1] is rec:
                _job[0] = None
            done()
    t = ctx.spawn(run())
    if t is None:
        done()
        return
    _job[0] = (t, rec, ctx)


async def _notify(ctx, rec, st):
    rec["st"] = st
    ctx.store.save(STORE, rec)
    ctx.log("firmware: %s (request %d)" % (st, rec["rid"]))
    await ctx.send("FirmwareStatusNotification", {"status": st, "requestId": rec["rid"]})


async def _finish(ctx, rec, st, event=None):
    ctx.fw_pending = False
    ctx.wake()
    _remove(ctx)
    try:
        ctx.store.remove(STORE)
    except OSError as e:
        ctx.log("firmware: %s" % e)
    rec["st"] = st
    ctx.log("firmware: %s (request %d)" % (st, rec["rid"]))
    await ctx.send("FirmwareStatusNotification", {"status": st, "requestId": rec["rid"]})
    if event:
        ctx.emit("security", None, event)


async def _until(ctx, t):
    while True:
        left = t - ctx.clock.now()
        if left <= 0:
            return
        await ctx.clock.sleep(min(left, 60))


def _hash_file(path):
    h = sha256()
    buf = bytearray(CHUNK)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(memoryview(buf)[:n])
    return h.digest()


async def _run(ctx, rec):
    st = rec["st"]
    if st in ("Installing", "InstallRebooting"):
        ok = False
        try:
            ok = ctx.board.firmware_booted(ctx.store.root)
        except Exception as e:
            ctx.log("firmware: boot check failed: %s %s" % (type(e).__name__, e))
        if ok:
            await _finish(ctx, rec, "Installed", ("FirmwareUpdated", None))
        else:
            await _finish(ctx, rec, "InstallationFailed")
        return
    digest = None
    if rec.get("sha") and st in ("Downloaded", "SignatureVerified", "InstallScheduled"):
        try:
            digest = _hash_file(_path(ctx))
        except OSError:
            digest = None
        if digest is None or str(hexlify(digest), "ascii") != rec["sha"]:
            ctx.log("firmware: image lost or changed after a reboot: downloading again")
            digest = None
            rec["n"] = 0
    # st Downloading: the attempt cut by the reboot is already counted in "n" (saved with it)
    if digest is None:
        digest = await _download(ctx, rec)
        if digest is None:
            return
    if rec["st"] != "SignatureVerified" and rec["st"] != "InstallScheduled":
        from lite_stack.core import sigverify, x509
        try:
            c = x509.parse(x509.pem_ders(rec["cert"])[0])
            ok = sigverify.verify(c, digest, a2b_base64(rec["sig"]))
        except (ValueError, IndexError, TypeError) as e:
            ctx.log("firmware: signature unreadable: %s" % e)
            ok = False
        if not ok:
            await _finish(ctx, rec, "InvalidSignature", ("InvalidFirmwareSignature", None))
            return
        await _notify(ctx, rec, "SignatureVerified")
    await _install(ctx, rec)


async def _download(ctx, rec):
    # -> SHA-256 digest of the downloaded image, or None (DownloadFailed sent)
    if rec["rt"] > ctx.clock.now():
        if rec["st"] != "DownloadScheduled":
            await _notify(ctx, rec, "DownloadScheduled")   # L01.FR.13
        await _until(ctx, rec["rt"])
    dl = ctx.download
    tls = None
    if dl is None:
        from lite_stack.core import http
        dl = http.download
        tls = http.trust(ctx, rec["loc"])
    path = _path(ctx)
    while rec["n"] <= rec["ret"]:
        if rec["n"]:
            await ctx.clock.sleep(rec["ri"])
        rec["n"] += 1
        await _notify(ctx, rec, "Downloading")
        h = sha256()
        limit = _free(ctx)
        try:
            if limit <= 0:
                raise ValueError("no free flash")
            size = await dl(rec["loc"], path, ctx.clock, DL_TIMEOUT_S, limit, h.update, tls)
            if size > limit:
                raise ValueError("image of %d bytes over %d" % (size, limit))
            dg = h.digest()           # once: MicroPython's hash is final after digest()
            rec["sha"] = str(hexlify(dg), "ascii")
            await _notify(ctx, rec, "Downloaded")
            return dg
        except ValueError as e:       # unknown scheme, too big: retrying cannot help
            ctx.log("firmware: download refused: %s" % e)
            rec["n"] = rec["ret"] + 1
        except Exception as e:        # HttpError, OSError, timeout, truncated body
            if getattr(e, "message", None) == "too large":
                rec["n"] = rec["ret"] + 1     # larger than the free flash: no retry
            ctx.log("firmware: download attempt %d failed: %s %s" % (rec["n"], type(e).__name__, e))
        _remove(ctx)
    await _finish(ctx, rec, "DownloadFailed")
    return None


async def _install(ctx, rec):
    it = rec.get("it")
    busy = any(e.tx for e in ctx.evses)
    if (it and it > ctx.clock.now()) or busy:
        if rec["st"] != "InstallScheduled":
            await _notify(ctx, rec, "InstallScheduled")    # L01.FR.15, TC_L_15 step 9
        if it:
            await _until(ctx, it)
    ctx.fw_pending = True             # L01.FR.06/07: no new session, idle connectors Unavailable
    ctx.wake()
    while any(e.tx for e in ctx.evses):
        await ctx.clock.sleep(1)
    await _notify(ctx, rec, "Installing")
    try:
        ctx.board.install_firmware(_path(ctx), ctx.store.root)
    except ValueError as e:
        ctx.log("firmware: image rejected by the board: %s" % e)
        await _finish(ctx, rec, "InstallVerificationFailed")
        return
    except Exception as e:
        ctx.log("firmware: install failed: %s %s" % (type(e).__name__, e))
        await _finish(ctx, rec, "InstallationFailed")
        return
    _remove(ctx)
    await _notify(ctx, rec, "InstallRebooting")
    await ctx.clock.sleep(1)          # let the notification reach the CSMS
    ctx.log("firmware: rebooting into the new image")
    ctx.reboot()
