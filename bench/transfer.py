"""RAM during a firmware update and a log upload (issue 12 budget), desktop side.

The board side is bench/ram_transfer.py (the "file transfer day") prepended to bench/ram_board.py:
the whole station on a VirtualClock with the in-memory CSMS; the stack's real HTTP client
downloads a generated image (streamed 512 B at a time into the image file, hashed on the way) and
uploads the diagnostics log, over a fake ``asyncio.open_connection`` (no network). Two signed
updates (ECDSA P-256, RSA-2048: the static test PKI of tests/unit/fwcerts.py, signed here over
the generated image with PyPI ``cryptography``) each go Downloading .. SignatureVerified ..
Installing .. Installed (board install a no-op), then GetLog DiagnosticsLog .. Uploaded.

Where: the 32-bit qemu firmware (``fw32_transfer``, bench/fw32.py: state on the 256 kB littlefs
RAM disk, so the image is ``FW32_SIZE`` = 192 kB) and the 64-bit unix port (``unix_transfer``:
state in a temporary directory, image ``UNIX_SIZE`` = 1 MB; the stack imported from a ROMFS image
of ``mpy-cross -O3`` files as on a board, else from .py). The heap during a transfer does not
depend on the image size (fixed 512 B chunks, streaming hash): ``unix_constancy`` measures two
sizes on the unix port and the difference of the peaks is reported.

One run per phase (``isolated``, the default): each phase starts from a freshly booted station,
as on a device, where the update ends in a hard reset (fresh heap); the bench restarts the
station in-process instead. All phases in one run (``isolated=False``, ``--sequence``) measured on
the firmware (192 kB image): ECDSA 46.6 kB, then RSA 52.6-53.3 kB, log 43.2 kB: after the
first update and its in-process restart about 6-8 kB stay live, and they are gone later in the
same run (after another restart and some idle time the heap is back at its level before the
updates), so this is no leak that grows; what holds them (the old station until pending work ends,
or stale words seen by MicroPython's conservative GC) was not pinned down.

Figures (``figures``), bytes, as the Core day's (bench/ram.py ``analyse``): ``stack_import`` the
resident stack's import cost (stack - sys), ``base`` the heap after the imports and the bench's
probes; per phase (``ec``, ``rsa``, ``log``) ``peak`` = highest sample from the phase's start to
its end, ``working_set`` = peak - base (includes the on-demand modules loaded during the phase:
firmware, sigverify, x509, http / diagnostics, http) and ``total`` = stack_import + working_set
(the figure set against ``TARGET_TOTAL_KB`` = 50 kB, like the Core day's headline);
``imports_fw`` / ``imports_diag``: the import cost of the on-demand modules of each job while
loaded (firmware + sigverify + x509 + http + ftp; diagnostics + http + ftp), sampled on the same
heap after the day.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRANSFER_SCRIPT = os.path.join(ROOT, "bench", "ram_transfer.py")
FW32_SIZE = 192 * 1024         # bytes of image on qemu (the littlefs RAM disk is 256 kB)
UNIX_SIZE = 1024 * 1024        # 1 MB on the unix port (issue 12)
UNIX_SMALL = 256 * 1024        # the second size of the constancy check
TARGET_TOTAL_KB = 50
PHASES = (("ec", "firmware update, ECDSA P-256"), ("rsa", "firmware update, RSA-2048"),
          ("log", "log upload (GetLog DiagnosticsLog, HTTP PUT)"))


def image(size):
    """The generated image (bench/ram_transfer.py ``image_piece``): base[o % 512], the first two
    bytes of every 512-byte block its number, little end first."""
    base = bytes(((i * 7) + (i >> 5) + 1) & 255 for i in range(512))
    out = bytearray()
    for k in range(0, (size + 511) // 512):
        b = bytearray(base)
        b[0] = k & 255
        b[1] = (k >> 8) & 255
        out += b
    return bytes(out[:size])


def _sign(key_pem, digest):
    from cryptography.hazmat.primitives import serialization
    from ocpp2lite.fwsign import sign_digest
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    return base64.b64encode(sign_digest(key, digest)).decode()


def opts(size, board, state_dir, imports, rom=None, phases=("ec", "rsa", "log")):
    """OPTS of the board script: the roots, per update of ``phases`` [tag, signing certificate,
    signature over ``image(size)``], ``log``: whether the GetLog phase runs."""
    from tests.unit import fwcerts as F
    digest = hashlib.sha256(image(size)).digest()
    ups = []
    for tag, cert, key in (("ec", F.SIGN_EC, F.KEY_EC), ("rsa", F.SIGN_RSA, F.KEY_RSA)):
        if tag in phases:
            ups.append([tag, cert, _sign(key, digest)])
    o = {"day": "transfer", "size": size, "board": board, "state_dir": state_dir, "imports": imports,
         "roots": [F.ROOT_EC, F.ROOT_RSA], "updates": ups, "log": "log" in phases}
    if rom:
        o["rom"] = rom
    return o


def script(o):
    """OPTS line + bench/ram_transfer.py + bench/ram_board.py."""
    from bench.port import BOARD_SCRIPT
    with open(TRANSFER_SCRIPT) as f:
        head = f.read()
    with open(BOARD_SCRIPT) as f:
        body = f.read()
    text = json.dumps(o).replace("true", "True").replace("false", "False").replace("null", "None")
    return "OPTS = %s\n%s\n%s" % (text, head, body)


def parse_t(text):
    """``@T`` lines -> {key: [values]}."""
    out = {}
    for line in text.splitlines():
        p = line.strip().split()
        if len(p) >= 2 and p[0] == "@T":
            out[p[1]] = p[2:]
    return out


def figures(run):
    """Figures of one transfer-day run (see the module docstring); run = bench.port._result."""
    from bench.ram import analyse
    a = analyse(run)
    s = run.get("samples") or []
    base = a.get("base", a.get("stack"))
    out = {"stack_import": a.get("stack_import"), "sys_import": a.get("sys_import"), "base": base,
           "image": a.get("image"), "phases": {}}
    if base is None:
        return out
    idx = {lab: i for i, (lab, _) in enumerate(s)}
    for tag, _ in PHASES:
        i, j = idx.get("ph:" + tag), idx.get("ph:%s_end" % tag)
        if i is None or j is None:
            continue
        k = max(range(i, j + 1), key=lambda n: s[n][1])
        ws = s[k][1] - base
        out["phases"][tag] = {"peak": s[k][1], "peak_label": s[k][0], "working_set": ws,
                              "stack_import": a.get("stack_import"),
                              "total": (a["stack_import"] + ws) if a.get("stack_import") is not None
                              else None, "samples": j - i + 1,
                              "dl_samples": sum(1 for n in range(i, j) if s[n][0] == "dl")}
    for label in ("fw", "diag"):
        i, j = idx.get("imp:0" + label), idx.get("imp:" + label)
        if i is not None and j is not None:
            out["imports_" + label] = s[j][1] - s[i][1]
    return out


def _finish(run, text, where, size, phases):
    t = parse_t(text)
    r = {"ok": run["ok"], "error": run["error"], "where": where, "size": size, "pool": run.get("pool"),
         "samples": run.get("samples"), "transfers": t, "stderr_tail": run.get("stderr_tail")}
    r["figures"] = figures(run)
    if r["ok"]:
        missing = [tag for tag in phases if tag not in r["figures"]["phases"]]
        if missing:
            r["ok"] = False
            r["error"] = "phases not measured: %s" % missing
    return r


def _merge(runs, where, size):
    # one result of the per-phase runs: each phase's figures from its own run (a fresh boot)
    out = {"ok": all(r["ok"] for r in runs.values()), "where": where, "size": size, "runs": runs,
           "error": "; ".join("%s: %s" % (k, r["error"]) for k, r in runs.items() if r.get("error")) or None,
           "transfers": {}, "figures": {"phases": {}}}
    for tag, r in runs.items():
        f = r["figures"]
        for k in ("stack_import", "sys_import", "base", "image", "imports_fw", "imports_diag"):
            if f.get(k) is not None:
                out["figures"].setdefault(k, f[k])
        out["figures"]["phases"].update(f["phases"])
        out["transfers"].update(r["transfers"])
    return out


def unix_transfer(size=UNIX_SIZE, heap="512k", rom=True, timeout=300, phases=("ec", "rsa", "log"),
                  isolated=True):
    """The transfer day on the local unix port (64-bit): -> result dict (ok, error, figures, ...).
    ``isolated``: one run per phase (each from a fresh boot), merged; else one run of them all."""
    from bench import port
    from bench.ram import build_rom, micropython_exe
    work = tempfile.mkdtemp(prefix="ocpp2lite-ram-transfer-")
    try:
        img = None
        if rom:
            try:
                img = build_rom(work)["path"]
            except (RuntimeError, subprocess.CalledProcessError):
                img = None
        where = "unix port 64-bit, %s imports" % ("ROMFS" if img else ".py")
        runs = {}
        for group in ([(p,) for p in phases] if isolated else [tuple(phases)]):
            o = opts(size, "desktop", work + "/state", port.stack_imports(), img, group)
            path = os.path.join(work, "transfer.py")
            with open(path, "w") as f:
                f.write(script(o))
            p = subprocess.run([micropython_exe(), "-X", "heapsize=" + heap, path], cwd=ROOT,
                               capture_output=True, text=True, timeout=timeout)
            run = port._result(p.stdout, p.stderr, "unix port (in-process)")
            runs["+".join(group)] = _finish(run, p.stdout, where, size, group)
        r = _merge(runs, where, size)
        r["imports_from"] = "rom" if img else "py"
        return r
    finally:
        shutil.rmtree(work, ignore_errors=True)


def unix_constancy(sizes=(UNIX_SMALL, UNIX_SIZE), **kw):
    """The transfer day on the unix port at two image sizes (firmware phases only): {"runs":
    {size: result}, "delta": {phase: working set at the larger size - at the smaller (bytes)}}."""
    kw.setdefault("phases", ("ec", "rsa"))
    runs = {s: unix_transfer(s, **kw) for s in sizes}
    out = {"runs": runs, "delta": {}}
    a, b = (runs[s]["figures"]["phases"] for s in sizes[:2])
    for tag in ("ec", "rsa"):
        if tag in a and tag in b:
            out["delta"][tag] = b[tag]["working_set"] - a[tag]["working_set"]
    return out


def fw32_transfer(size=FW32_SIZE, board=None, progress=None, timeout=240, phases=("ec", "rsa", "log"),
                  isolated=True):
    """The transfer day on the 32-bit qemu firmware (bench/fw32.py builds or reuses it): one qemu,
    a soft reset and littlefs on the RAM block device (state dir) before each run; ``isolated``:
    one run per phase (each from a fresh boot), merged. -> result dict; raises
    fw32.ToolchainMissing / BuildError like ``fw32.build``."""
    from bench import fw32, port
    board = board or fw32.DEFAULT_FW_BOARD
    info = fw32.build(board=board, progress=progress)
    elf = info["elf"]
    od = fw32.on_demand_blocks() or ()
    resident = [m for m in port.stack_imports(on_demand=True) if m not in od]
    where = "32-bit qemu firmware (frozen)"
    runs = {}
    with fw32.Qemu(elf, limit=timeout + 60) as q:
        r = q.repl
        for group in ([(p,) for p in phases] if isolated else [tuple(phases)]):
            o = opts(size, board, fw32.STATE_MOUNT + "/state", resident, None, group)
            r.enter(soft_reset=True, timeout=20)
            out, err = r.run(fw32.MOUNT_CODE % {"addr": fw32.bdev_address(elf), "size": fw32.BDEV_BYTES,
                                                "block": fw32.BDEV_BLOCK, "mount": fw32.STATE_MOUNT},
                             timeout=30)
            if "@B mounted" not in out.decode():
                raise port.ReplError("littlefs mount failed: %s" % err.decode()[-400:])
            if progress:
                progress("file transfer day on the firmware: %s" % "+".join(group))
            out, err = r.run(script(o), None, timeout)
            text = out.decode("utf-8", "replace")
            run = port._result(text, err.decode("utf-8", "replace"), "qemu %s" % fw32.BOARD)
            runs["+".join(group)] = _finish(run, text, where, size, group)
        r.exit()
    res = _merge(runs, where, size)
    res["build_cached"] = info.get("cached")
    return res


def _phase_rows(r, target):
    rows = []
    f = r["figures"]
    for tag, name in PHASES:
        p = f["phases"].get(tag)
        if p is None:
            continue
        ok = None if target is None else p["total"] / 1024.0 <= target
        rows.append((tag, name, p, ok))
    return rows


def _img(tag, r):
    return " (%d kB image)" % (r["size"] // 1024) if tag != "log" else ""


def headline_rows(fw, unix=None):
    """Headline rows: per phase on the 32-bit firmware the total (resident imports + working set
    of the phase, on-demand modules included) against 50 kB; the unix port's as secondary rows.
    An error row (None, not met) when the firmware run failed."""
    rows = []
    if not fw or not fw.get("ok"):
        why = (fw or {}).get("error") or "not run"
        rows.append(("RAM 32-bit during a firmware update / log upload: NOT MEASURED (%s)" % why[:300],
                     None, "kB", TARGET_TOTAL_KB, False))
    else:
        f = fw["figures"]
        for tag, name, p, ok in _phase_rows(fw, TARGET_TOTAL_KB):
            rows.append(("RAM total on a 32-bit MCU, peak during a %s: imports (incl. the loaded "
                         "on-demand modules) + working set%s" % (name, _img(tag, fw)),
                         round(p["total"] / 1024.0, 1), "kB", TARGET_TOTAL_KB, ok))
        for label, what in (("fw", "firmware + sigverify + x509 + http + ftp"),
                            ("diag", "diagnostics + http + ftp")):
            if f.get("imports_" + label) is not None:
                rows.append(("RAM 32-bit: import cost of the on-demand modules while loaded (%s)" % what,
                             round(f["imports_" + label] / 1024.0, 1), "kB", None, None))
    if unix and unix.get("ok"):
        for tag, name, p, ok in _phase_rows(unix, None):
            rows.append(("RAM during a %s (%s): imports + working set%s" % (
                name, unix["where"], _img(tag, unix)), round(p["total"] / 1024.0, 1), "kB", None, None))
        d = unix.get("constancy_delta")
        if d:
            rows.append(("RAM during a firmware update: working set at %d kB minus at %d kB image "
                         "(unix port; 0 = constant in the image size)" % (
                             unix["size"] // 1024, unix.get("constancy_small", 0) // 1024),
                         round(max(abs(v) for v in d.values()) / 1024.0, 1), "kB", None, None))
    elif unix:
        rows.append(("RAM during a firmware update / log upload (unix port): NOT MEASURED (%s)" % (
            (unix.get("error") or "")[:300]), None, "kB", None, None))
    return rows


def unix_run(size=UNIX_SIZE, small=UNIX_SMALL, **kw):
    """What ``bench.ram.run`` records for the unix port: every phase at ``size`` and the firmware
    phases at ``small`` (``constancy_delta``: working set at size - at small, per update).
    Never raises: {"ok": False, "error"} instead."""
    try:
        r = unix_transfer(size, **kw)
        s = unix_transfer(small, phases=("ec", "rsa"), **kw)
    except Exception as e:  # a missing micropython, a timeout: an error row, not a crash
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, str(e)[-600:])}
    r["constancy_small"] = small
    if r["ok"] and s["ok"]:
        r["constancy_delta"] = {t: r["figures"]["phases"][t]["working_set"] -
                                s["figures"]["phases"][t]["working_set"] for t in ("ec", "rsa")}
    else:
        r["constancy_error"] = s.get("error")
    _strip(r)
    return r


def fw32_run(**kw):
    """What ``bench.ram.fw32_run`` records: ``fw32_transfer`` without raising."""
    try:
        r = fw32_transfer(**kw)
    except Exception as e:
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, str(e)[-600:])}
    _strip(r)
    return r


def _strip(r):
    # keep the JSON small: the per-run samples only for the phases' windows are not needed
    for run in (r.get("runs") or {}).values():
        run.pop("samples", None)


def markdown(fw, unix=None):
    """Section of docs/bench: the file transfer day on both interpreters."""
    L = ["### RAM during a firmware update and a log upload (issue 12 budget)", "",
         "**Method.** bench/ram_transfer.py (run by bench/transfer.py, on the 32-bit firmware "
         "after the Core day, and on the unix port): the station of the Core day boots, the "
         "ManufacturerRootCertificates are installed, then in a run of its own (a fresh boot each: "
         "on a device the update ends in a real reboot) each of: UpdateFirmware signed with ECDSA "
         "P-256, UpdateFirmware signed with RSA-2048 (Downloading .. SignatureVerified .. Installing "
         ".. InstallRebooting .. Installed; the board install is a no-op), GetLog DiagnosticsLog "
         "with a full log ring (Uploading .. Uploaded). The stack's own HTTP client does the "
         "transfers over a fake `asyncio.open_connection` (a loopback server in the same heap: no "
         "network on qemu): the image (generated, signed on the host with the test PKI) is streamed "
         "in 512 B reads into the image file and hashed on the way; the log file is PUT in 512 B "
         "pieces. Samples: every OCPP frame, every 8 kB of the download, every piece of the upload, "
         "every 64th point doubling of the ECDSA verify. Working set = peak of the phase minus the "
         "heap after the imports and probes (as the Core day); it includes the on-demand modules "
         "loaded for the job; total = resident imports + working set.", ""]
    for r, title in ((fw, "32-bit firmware (qemu Cortex-M3, frozen)"), (unix, "unix port (64-bit)")):
        if not r:
            continue
        if not r.get("ok"):
            L += ["%s: **not measured**: %s" % (title, r.get("error")), ""]
            continue
        f = r["figures"]
        L += ["%s, image %d kB:" % (title, r["size"] // 1024), "",
              "| phase | imported stack | working set (peak at) | **total** |", "|---|---:|---:|---:|"]
        for tag, name, p, ok in _phase_rows(r, TARGET_TOTAL_KB if r is fw else None):
            L.append("| %s | %.1f | %.1f (`%s`) | **%.1f**%s |" % (
                name, p["stack_import"] / 1024.0, p["working_set"] / 1024.0, p["peak_label"],
                p["total"] / 1024.0, "" if ok is None else (" (met)" if ok else " (NOT met)")))
        if f.get("imports_fw") is not None:
            L += ["", "On-demand modules while loaded (sampled on the same heap): firmware + sigverify "
                  "+ x509 + http + ftp %.1f kB; diagnostics + http + ftp %.1f kB." % (
                      f["imports_fw"] / 1024.0, (f.get("imports_diag") or 0) / 1024.0)]
        if r.get("constancy_delta"):
            L += ["", "Constant in the image size: the working set of each update at %d kB minus at "
                  "%d kB: %s bytes." % (r["size"] // 1024, r["constancy_small"] // 1024,
                                        ", ".join("%s %d" % kv for kv in sorted(r["constancy_delta"].items())))]
        L.append("")
    return L


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m bench.transfer", description=__doc__.split("\n")[0])
    ap.add_argument("--where", choices=("fw32", "unix", "both"), default="both")
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--constancy", action="store_true", help="unix port: two image sizes")
    ap.add_argument("--sequence", action="store_true", help="all phases in one run (not isolated)")
    a = ap.parse_args(argv)
    res = {}
    if a.where in ("fw32", "both"):
        res["fw32"] = fw32_transfer(a.size or FW32_SIZE, isolated=not a.sequence)
    if a.where in ("unix", "both"):
        if a.constancy:
            res["unix_constancy"] = unix_constancy()
            res["unix"] = res["unix_constancy"]["runs"][UNIX_SIZE]
        else:
            res["unix"] = unix_transfer(a.size or UNIX_SIZE, isolated=not a.sequence)
    for k in ("fw32", "unix"):
        if k in res:
            r = res[k]
            print(k, "ok" if r["ok"] else "FAIL %s" % r["error"], json.dumps(
                {kk: v for kk, v in r["figures"].items()}, indent=1), r.get("transfers"))
    if "unix_constancy" in res:
        print("constancy delta (bytes, 1 MB - 256 kB):", res["unix_constancy"]["delta"])
    for row in headline_rows(res.get("fw32"), res.get("unix")):
        print(row)
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
