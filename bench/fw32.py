"""A 32-bit MicroPython firmware with the stack frozen in, built and run under QEMU (desktop side).

    python -m bench.fw32 build          # build (or reuse) the firmware; prints its path
    python -m bench.fw32 run FILE.py    # run a script on it (raw REPL over qemu's serial) and print
                                        # its output

Why: on a board the imported stack is RAM too (module dicts, function and class objects are created
in the GC heap even when the bytecode is frozen in flash), and the unix port is 64-bit (object
headers and pointers twice their size). This module builds MicroPython's ``ports/qemu`` firmware
for the board ``MPS2_AN385`` (Arm Cortex-M3, 32-bit: ``sys.maxsize == 2**31-1``) with
``extmod/asyncio`` and the device image of the stack frozen in with ``opt=3``, and runs it in
``qemu-system-arm -machine mps2-an385`` with the REPL on qemu's stdio.

Source: ``$MICROPY_DIR`` (a MicroPython checkout; its ``git archive HEAD`` is used, no submodule is
needed) or the vendored ``<repo>/../shared/vendor/micropython-1.28.0.tar.gz`` (v1.28.0, see
``../shared/vendor/README.md``). Toolchain (Debian): ``gcc-arm-none-eabi``,
``libnewlib-arm-none-eabi``, ``qemu-system-arm``; ``.ci/run`` installs them.

Build cache: ``$OCPP2LITE_CACHE/fw32`` (default ``~/.cache/ocpp2lite/fw32``), outside the
repository. ``tree-<key>/`` is the extracted and patched source tree, keyed by (source id, patch
set); it keeps its ``mpy-cross`` and ``ports/qemu/build-MPS2_AN385`` so ``make`` is incremental.
``fw-<key>.elf`` is a finished firmware, keyed by (tree key, make variables, every frozen source's
path and bytes): a second run with the same stack reuses it without calling ``make``; a changed stack
rewrites only the changed files of the staged frozen sources (``tree/ocpp2lite-frozen/``) and the
incremental ``make`` re-freezes them. A file lock serialises builds.

Patches, applied to the build copy only (never to the stack; ``PATCHES`` below, each checked to match
exactly once):
1. ``ports/qemu/mpconfigport.h``: ``MICROPY_PY_ASYNCIO (1)`` (the port hard-codes 0); plus
   ``MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)``, ``MICROPY_PY_TIME_TIME_TIME_NS (1)`` and
   ``MICROPY_PY_TIME_INCLUDEFILE "ports/qemu/modtime.c"`` (the port has no ``time.gmtime`` /
   ``time.time``), ``MICROPY_PY_OS_URANDOM (1)``, ``MICROPY_PY_HASHLIB_SHA1 (1)`` with
   ``MICROPY_OCPP2LITE_SHA1 (1)`` (see 5).
2. ``ports/qemu/modtime.c`` (new, as ``ports/*/modtime.c`` do it): the board has no RTC, so the
   wall clock is the uptime, ``mp_hal_ticks_ms() / 1000`` s after the port's epoch (2000-01-01);
   the stack sets its own offset from the CSMS's time.
3. ``ports/qemu/mphalport.c``: ``mp_hal_time_ns()`` (= ticks_ms * 10^6: littlefs file mtimes and
   ``time.time_ns``). ``os.urandom`` uses the port's existing ``mp_hal_get_random()``, a linear
   congruential generator: NOT cryptographic (fine for WebSocket masks and back-off jitter in a
   bench, not for a product).
4. ``ports/qemu/Makefile``: ``shared/timeutils/timeutils.c`` added to ``SRC_C`` (gmtime, mktime).
5. ``extmod/modhashlib.c``: ``hashlib.sha1`` needs axTLS or mbedTLS, neither is in the source tree
   without submodules (and the port has no SSL); with ``MICROPY_OCPP2LITE_SHA1`` it uses the
   axTLS-style functions of the new ``ports/qemu/ocpp2lite_sha1.h`` (a plain FIPS 180-4 SHA-1,
   public-domain style; the stack needs sha1 for the WebSocket Sec-WebSocket-Accept check,
   lite_stack/ws.py).
Make variables: ``BOARD=MPS2_AN385 MICROPY_PY_BTREE=0 MICROPY_VFS_LFS2=1``
``FROZEN_MANIFEST=<generated manifest> MPY_LIB_DIR=<a dir holding a README.md>`` (the manifest
needs nothing from micropython-lib), ``-j2``.

Frozen: ``include("$(MPY_DIR)/extmod/asyncio")`` and every module of the device image
(``ocpp2lite.deploy.image_sources``: the stack packages found by listing ``lite_stack``,
``device_model``, ``hal``, ``boards`` without the desktop-only modules, the chosen board and
``firmware/main.py`` as ``main.py``, which the qemu port never runs) plus the generated
``fw_image.py``, each with ``opt=3`` as firmware/manifest.py does.

Running: :class:`Qemu` starts ``qemu-system-arm -machine mps2-an385 -nographic -monitor null
-semihosting -serial stdio -kernel fw.elf`` and :class:`PipeSerial` gives bench/port.py's
:class:`~bench.port.RawRepl` a pyserial-like object on its pipes, so the same raw REPL (raw-paste)
code path as for a real board is used. Every qemu process is killed after a hard limit.
"""
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENDOR_TARBALL = os.path.join(os.path.dirname(ROOT), "shared", "vendor", "micropython-1.28.0.tar.gz")
BOARD = "MPS2_AN385"
QEMU_MACHINE = "mps2-an385"
DEFAULT_FW_BOARD = "pico_w"        # the stack's board module frozen in (constants only are used)
MAKE_VARS = ("BOARD=" + BOARD, "MICROPY_PY_BTREE=0", "MICROPY_VFS_LFS2=1")
BUILD_TIMEOUT = 1800               # s for the whole build (cold: about 2 min on 2 cores)
QEMU_TIMEOUT = 300                 # s: a qemu run is killed after this, whatever happens
TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm", "make")
APT_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm")
KEEP_FIRMWARES = 4                 # fw-*.elf kept in the cache (newest)


class ToolchainMissing(RuntimeError):
    """A tool the firmware build or run needs is not installed (message says which and how)."""


class BuildError(RuntimeError):
    """The firmware build failed (message holds the tail of make's output)."""


# ---- patches to the build copy ----------------------------------------------------------------

MODTIME_C = r"""// OCPP2.Lite bench patch: time.gmtime/localtime/mktime/time/time_ns for the qemu port.
// The emulated board has no RTC: the wall clock is the uptime, counted from the port's epoch.
#include "py/obj.h"
#include "py/mphal.h"
#include "shared/timeutils/timeutils.h"

static void mp_time_localtime_get(timeutils_struct_time_t *tm) {
    timeutils_seconds_since_epoch_to_struct_time(mp_hal_ticks_ms() / 1000, tm);
}

static mp_obj_t mp_time_time_get(void) {
    return mp_obj_new_int_from_uint(mp_hal_ticks_ms() / 1000);
}
"""

SHA1_H = r"""// OCPP2.Lite bench patch: SHA-1 (FIPS 180-4) with axTLS-style names for extmod/modhashlib.c,
// for a port without axTLS or mbedTLS. Plain reference implementation, not constant-time.
#ifndef OCPP2LITE_SHA1_H
#define OCPP2LITE_SHA1_H
#include <stdint.h>
#include <string.h>

#define SHA1_SIZE 20

typedef struct {
    uint32_t h[5];
    uint64_t len;
    uint8_t buf[64];
    uint32_t n;
} SHA1_CTX;

#define OCPP2LITE_ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void ocpp2lite_sha1_block(SHA1_CTX *c, const uint8_t *p) {
    uint32_t w[80], a, b, d, e, f, k, t, cc;
    for (int i = 0; i < 16; i++) {
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
    }
    for (int i = 16; i < 80; i++) {
        w[i] = OCPP2LITE_ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3]; e = c->h[4];
    for (int i = 0; i < 80; i++) {
        if (i < 20) { f = (b & cc) | (~b & d); k = 0x5A827999; }
        else if (i < 40) { f = b ^ cc ^ d; k = 0x6ED9EBA1; }
        else if (i < 60) { f = (b & cc) | (b & d) | (cc & d); k = 0x8F1BBCDC; }
        else { f = b ^ cc ^ d; k = 0xCA62C1D6; }
        t = OCPP2LITE_ROL(a, 5) + f + e + k + w[i];
        e = d; d = cc; cc = OCPP2LITE_ROL(b, 30); b = a; a = t;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e;
}

static inline void SHA1_Init(SHA1_CTX *c) {
    c->h[0] = 0x67452301; c->h[1] = 0xEFCDAB89; c->h[2] = 0x98BADCFE; c->h[3] = 0x10325476; c->h[4] = 0xC3D2E1F0;
    c->len = 0; c->n = 0;
}

static inline void SHA1_Update(SHA1_CTX *c, const uint8_t *p, size_t len) {
    c->len += len;
    while (len--) {
        c->buf[c->n++] = *p++;
        if (c->n == 64) { ocpp2lite_sha1_block(c, c->buf); c->n = 0; }
    }
}

static inline void SHA1_Final(uint8_t *out, SHA1_CTX *c) {
    uint64_t bits = c->len * 8;
    uint8_t pad = 0x80;
    SHA1_Update(c, &pad, 1);
    pad = 0;
    while (c->n != 56) { SHA1_Update(c, &pad, 1); }
    for (int i = 7; i >= 0; i--) { uint8_t b = (uint8_t)(bits >> (8 * i)); SHA1_Update(c, &b, 1); }
    for (int i = 0; i < 5; i++) {
        out[4 * i] = c->h[i] >> 24; out[4 * i + 1] = c->h[i] >> 16; out[4 * i + 2] = c->h[i] >> 8; out[4 * i + 3] = c->h[i];
    }
}
#endif
"""

MPCONFIG_EXTRA = """#define MICROPY_VFS_ROM_IOCTL       (0)
// OCPP2.Lite bench patch (bench/fw32.py): what the stack needs from a port
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)
#define MICROPY_PY_TIME_INCLUDEFILE "ports/qemu/modtime.c"
#define MICROPY_PY_OS_URANDOM       (1)
#define MICROPY_PY_HASHLIB_SHA1     (1)
#define MICROPY_OCPP2LITE_SHA1      (1)
"""

# (file, old text, new text, why): old must occur exactly once; new files have old None.
PATCHES = (
    ("ports/qemu/mpconfigport.h", "#define MICROPY_PY_ASYNCIO          (0)",
     "#define MICROPY_PY_ASYNCIO          (1)", "asyncio (the port hard-codes 0)"),
    ("ports/qemu/mpconfigport.h", "#define MICROPY_VFS_ROM_IOCTL       (0)\n", MPCONFIG_EXTRA,
     "time.gmtime/time.time, os.urandom, hashlib.sha1"),
    ("ports/qemu/mphalport.c", "// Provide a dummy version of mp_hal_get_random() using a LCG",
     "// OCPP2.Lite bench patch: littlefs mtimes and time.time_ns (no RTC: uptime)\n"
     "uint64_t mp_hal_time_ns(void) {\n    return (uint64_t)mp_hal_ticks_ms() * 1000000ULL;\n}\n\n"
     "// Provide a dummy version of mp_hal_get_random() using a LCG",
     "mp_hal_time_ns for littlefs (MICROPY_VFS_LFS2=1)"),
    ("ports/qemu/Makefile", "\tshared/runtime/stdout_helpers.c \\\n",
     "\tshared/runtime/stdout_helpers.c \\\n\tshared/timeutils/timeutils.c \\\n",
     "timeutils for time.gmtime/mktime"),
    ("extmod/modhashlib.c", "#if MICROPY_SSL_AXTLS\n#include \"lib/axtls/crypto/crypto.h\"\n#endif\n",
     "#if MICROPY_SSL_AXTLS\n#include \"lib/axtls/crypto/crypto.h\"\n#elif MICROPY_OCPP2LITE_SHA1\n"
     "#include \"ports/qemu/ocpp2lite_sha1.h\"\n#endif\n", "hashlib.sha1 without an SSL library"),
    ("extmod/modhashlib.c", "static mp_obj_t hashlib_sha1_update(mp_obj_t self_in, mp_obj_t arg);\n\n#if MICROPY_SSL_AXTLS\n",
     "static mp_obj_t hashlib_sha1_update(mp_obj_t self_in, mp_obj_t arg);\n\n"
     "#if MICROPY_SSL_AXTLS || MICROPY_OCPP2LITE_SHA1\n", "hashlib.sha1 without an SSL library"),
    ("ports/qemu/modtime.c", None, MODTIME_C, "time module include file (as ports/*/modtime.c)"),
    ("ports/qemu/ocpp2lite_sha1.h", None, SHA1_H, "SHA-1 for hashlib.sha1"),
)


def patch_set_id():
    """sha256 hex of the patch set and the make variables (part of every cache key)."""
    return hashlib.sha256(repr((PATCHES, MAKE_VARS)).encode()).hexdigest()


def apply_patches(tree):
    """Apply ``PATCHES`` to the source tree ``tree`` (the build copy). Raises BuildError when an
    old text does not occur exactly once (the source is not the version the patches were made for)."""
    for rel, old, new, why in PATCHES:
        path = os.path.join(tree, rel)
        if old is None:
            with open(path, "w") as f:
                f.write(new)
            continue
        with open(path) as f:
            text = f.read()
        if text.count(old) != 1:
            raise BuildError("patch %r (%s): expected text found %d times" % (rel, why, text.count(old)))
        with open(path, "w") as f:
            f.write(text.replace(old, new))


# ---- source, cache, keys ----------------------------------------------------------------------

def cache_root():
    """$OCPP2LITE_CACHE/fw32 or ~/.cache/ocpp2lite/fw32 (created)."""
    base = os.environ.get("OCPP2LITE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ocpp2lite")
    d = os.path.join(base, "fw32")
    os.makedirs(d, exist_ok=True)
    return d


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source():
    """{"kind": "dir"|"tarball", "path", "id"}: $MICROPY_DIR (id = its git commit, plus a hash of
    ``git status`` when the checkout has local changes) or the vendored tarball (id = its sha256).
    Raises ToolchainMissing when neither exists."""
    d = os.environ.get("MICROPY_DIR")
    if d:
        p = subprocess.run(["git", "-C", d, "rev-parse", "HEAD"], capture_output=True, text=True)
        if p.returncode != 0:
            raise ToolchainMissing("MICROPY_DIR=%s is not a git checkout" % d)
        ident = "git:" + p.stdout.strip()
        st = subprocess.run(["git", "-C", d, "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True).stdout
        if st.strip():
            ident += "+dirty:" + hashlib.sha256(st.encode()).hexdigest()[:16]
        return {"kind": "dir", "path": os.path.abspath(d), "id": ident}
    if not os.path.exists(VENDOR_TARBALL):
        raise ToolchainMissing("no MicroPython source: neither $MICROPY_DIR nor %s" % VENDOR_TARBALL)
    return {"kind": "tarball", "path": VENDOR_TARBALL, "id": "sha256:" + _sha256_file(VENDOR_TARBALL)}


def tree_key(source_id, patches_id=None):
    """Key of the extracted, patched tree: sha256 of (source id, patch set id), hex."""
    return hashlib.sha256(("tree\n%s\n%s" % (source_id, patches_id or patch_set_id())).encode()).hexdigest()


def firmware_key(tree_k, frozen):
    """Key of a firmware: sha256 of the tree key and every frozen (module path, bytes), in path order."""
    h = hashlib.sha256(("fw\n%s\n" % tree_k).encode())
    for rel, data in sorted(frozen.items()):
        h.update(("%s\n%d\n" % (rel, len(data))).encode())
        h.update(data)
    return h.hexdigest()


def frozen_sources(board=DEFAULT_FW_BOARD, root=ROOT):
    """{module path: bytes} of the device image frozen into the firmware: ocpp2lite.deploy's
    image_sources (directories listed, not named) + the generated fw_image.py."""
    from ocpp2lite import deploy
    out = {}
    for base, rel in deploy.image_sources(board, root):
        with open(os.path.join(base, rel), "rb") as f:
            out[rel] = f.read()
    # the bench's simulated time (not in a device image; imported by bench/ram_board.py after the
    # stack sample, so it counts with the bench's probes, not as the stack)
    with open(os.path.join(root, "lite_stack", "vclock.py"), "rb") as f:
        out["lite_stack/vclock.py"] = f.read()
    gen = tempfile.mkdtemp(prefix="ocpp2lite-fwimage-")
    try:
        deploy.write_frozen_image(board, gen, root)
        with open(os.path.join(gen, deploy.FW_IMAGE + ".py"), "rb") as f:
            out[deploy.FW_IMAGE + ".py"] = f.read()
    finally:
        shutil.rmtree(gen, ignore_errors=True)
    return out


def missing_tools():
    """Names of the build/run tools not on PATH."""
    return [t for t in TOOLS if shutil.which(t) is None]


def check_tools():
    miss = missing_tools()
    if miss:
        raise ToolchainMissing("missing %s: apt-get install %s (see .ci/run)" % (
            ", ".join(miss), " ".join(APT_PACKAGES)))


@contextlib.contextmanager
def _lock(path):
    import fcntl
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _extract(src, dest):
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    if src["kind"] == "tarball":
        with tarfile.open(src["path"]) as t:
            t.extractall(tmp)
    else:
        arch = subprocess.run(["git", "-C", src["path"], "archive", "--prefix=micropython/", "HEAD"],
                              capture_output=True, check=True).stdout
        import io
        with tarfile.open(fileobj=io.BytesIO(arch)) as t:
            t.extractall(tmp)
    subdirs = [d for d in os.listdir(tmp) if os.path.isdir(os.path.join(tmp, d))]
    if len(subdirs) != 1:
        raise BuildError("unexpected source layout in %s: %s" % (src["path"], subdirs))
    inner = os.path.join(tmp, subdirs[0])
    if src["kind"] == "dir":
        # a working tree with local changes: the build copy takes the changed tracked files too
        st = subprocess.run(["git", "-C", src["path"], "diff", "--name-only", "HEAD"], capture_output=True,
                            text=True).stdout.split()
        for rel in st:
            s = os.path.join(src["path"], rel)
            if os.path.isfile(s):
                shutil.copy2(s, os.path.join(inner, rel))
    apply_patches(inner)
    os.rename(inner, dest)
    shutil.rmtree(tmp, ignore_errors=True)


def _sync_stage(stage, frozen):
    """Make ``stage`` hold exactly ``frozen`` ({rel: bytes}); unchanged files keep their mtime (so
    the incremental build re-freezes only what changed). Returns the number of files written."""
    n = 0
    want = set(frozen)
    for dirpath, dirnames, filenames in os.walk(stage):
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), stage).replace(os.sep, "/")
            if rel != "manifest.py" and rel not in want:
                os.remove(os.path.join(dirpath, f))
    for rel, data in frozen.items():
        p = os.path.join(stage, rel)
        try:
            with open(p, "rb") as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        n += 1
    return n


def manifest_text(stage, frozen):
    """The generated FROZEN_MANIFEST: asyncio + every frozen module with opt=3."""
    lines = ["# generated by bench/fw32.py: asyncio + the OCPP2.Lite device image, opt=3 as firmware/manifest.py",
             'include("$(MPY_DIR)/extmod/asyncio")']
    for rel in sorted(frozen):
        lines.append("module(%r, base_path=%r, opt=3)" % (rel, stage))
    return "\n".join(lines) + "\n"


def _run_make(args, cwd, log, timeout):
    with open(log, "ab") as f:
        f.write(("\n$ make %s\n" % " ".join(args)).encode())
        f.flush()
        p = subprocess.run(["make"] + list(args), cwd=cwd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    if p.returncode != 0:
        with open(log, "rb") as f:
            tail = f.read()[-3000:].decode("utf-8", "replace")
        raise BuildError("make %s failed (log %s):\n%s" % (" ".join(args), log, tail))


def build(board=DEFAULT_FW_BOARD, root=ROOT, jobs=2, progress=None, timeout=BUILD_TIMEOUT):
    """Build (or reuse) the firmware. Returns {"elf", "key", "tree_key", "cached" (bool: no make
    run), "seconds", "source", "board", "frozen_modules", "frozen_bytes" (source bytes),
    "restaged" (frozen files rewritten), "patches": [why, ...]}. Raises ToolchainMissing, BuildError."""
    t0 = time.time()
    check_tools()
    src = source()
    frozen = frozen_sources(board, root)
    tk = tree_key(src["id"])
    fk = firmware_key(tk + "\n" + " ".join(MAKE_VARS), frozen)
    cache = cache_root()
    elf = os.path.join(cache, "fw-%s.elf" % fk[:20])
    info = {"elf": elf, "key": fk, "tree_key": tk, "source": src["id"], "board": board,
            "frozen_modules": len(frozen), "frozen_bytes": sum(len(v) for v in frozen.values()),
            "patches": [p[3] for p in PATCHES], "restaged": 0, "make_vars": list(MAKE_VARS)}
    with _lock(os.path.join(cache, ".lock")):
        if os.path.exists(elf):
            info.update(cached=True, seconds=round(time.time() - t0, 1))
            return info
        tree = os.path.join(cache, "tree-%s" % tk[:20])
        if not os.path.isdir(tree):
            if progress:
                progress("extracting and patching the MicroPython source")
            _extract(src, tree)
        log = os.path.join(cache, "build-%s.log" % tk[:20])
        if not os.path.exists(os.path.join(tree, "mpy-cross", "build", "mpy-cross")):
            if progress:
                progress("building mpy-cross")
            _run_make(["-C", "mpy-cross", "-j%d" % jobs], tree, log, timeout)
        stage = os.path.join(tree, "ocpp2lite-frozen")
        os.makedirs(stage, exist_ok=True)
        info["restaged"] = _sync_stage(stage, frozen)
        man = os.path.join(stage, "manifest.py")
        text = manifest_text(stage, frozen)
        old = open(man).read() if os.path.exists(man) else None
        if old != text:
            with open(man, "w") as f:
                f.write(text)
        libdir = os.path.join(cache, "mpy-lib-empty")
        os.makedirs(libdir, exist_ok=True)
        with open(os.path.join(libdir, "README.md"), "w") as f:
            f.write("empty stand-in for micropython-lib: the OCPP2.Lite manifest needs nothing from it\n")
        if progress:
            progress("make ports/qemu (frozen: %d modules)" % len(frozen))
        _run_make(["-C", "ports/qemu", "-j%d" % jobs] + list(MAKE_VARS) +
                  ["FROZEN_MANIFEST=" + man, "MPY_LIB_DIR=" + libdir], tree, log,
                  max(60, timeout - (time.time() - t0)))
        out = os.path.join(tree, "ports", "qemu", "build-" + BOARD, "firmware.elf")
        shutil.copy2(out, elf + ".tmp")
        os.replace(elf + ".tmp", elf)
        with open(elf[:-4] + ".json", "w") as f:
            json.dump(info, f, indent=1)
        _prune(cache)
    info.update(cached=False, seconds=round(time.time() - t0, 1))
    return info


def _prune(cache):
    elfs = sorted((os.path.getmtime(os.path.join(cache, f)), f) for f in os.listdir(cache)
                  if f.startswith("fw-") and f.endswith(".elf"))
    for _, f in elfs[:-KEEP_FIRMWARES]:
        for p in (f, f[:-4] + ".json"):
            try:
                os.remove(os.path.join(cache, p))
            except OSError:
                pass


def elf_symbol(elf, name):
    """Address of a symbol of the firmware (arm-none-eabi-nm), or None."""
    nm = shutil.which("arm-none-eabi-nm")
    if not nm:
        return None
    p = subprocess.run([nm, elf], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    return None


# ---- running the firmware in qemu ---------------------------------------------------------------

class PipeSerial:
    """What bench.port.RawRepl needs from a pyserial object (read, write, in_waiting, close), on a
    child process's stdin/stdout. A reader thread fills a buffer; read() waits at most ``timeout`` s."""

    def __init__(self, proc, timeout=0.05):
        self.proc = proc
        self.timeout = timeout
        self._buf = bytearray()
        self._cv = threading.Condition()
        self._eof = False
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()

    def _reader(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                b = os.read(fd, 4096)
            except OSError:
                b = b""
            with self._cv:
                if not b:
                    self._eof = True
                    self._cv.notify_all()
                    return
                self._buf += b
                self._cv.notify_all()

    @property
    def in_waiting(self):
        with self._cv:
            return len(self._buf)

    def read(self, n=1):
        end = time.monotonic() + self.timeout
        with self._cv:
            while not self._buf and not self._eof:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out

    def write(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
        return len(data)

    def close(self):
        pass


class Qemu:
    """``with Qemu(elf, limit=300) as q: q.repl.enter(); q.repl.run(code)``: one qemu-system-arm
    process with the firmware; killed (SIGKILL) when ``limit`` s have passed or on exit."""

    def __init__(self, elf, limit=QEMU_TIMEOUT):
        self.elf = elf
        self.limit = limit
        self.proc = None
        self.repl = None
        self._timer = None
        self.killed_by_limit = False

    def cmd(self):
        return ["qemu-system-arm", "-machine", QEMU_MACHINE, "-nographic", "-monitor", "null", "-semihosting",
                "-serial", "stdio", "-kernel", self.elf]

    def __enter__(self):
        from bench.port import RawRepl
        check_tools()
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._timer = threading.Timer(self.limit, self._kill_limit)
        self._timer.daemon = True
        self._timer.start()
        self.repl = RawRepl(None, ser=PipeSerial(self.proc))
        return self

    def _kill_limit(self):
        self.killed_by_limit = True
        self._kill()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def __exit__(self, *exc):
        if self._timer:
            self._timer.cancel()
        self._kill()
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            for s in (self.proc.stdin, self.proc.stdout):
                try:
                    s.close()
                except Exception:
                    pass
        return False


def run_code(elf, code, timeout=120, soft_reset=True):
    """Run ``code`` on a fresh qemu: -> (stdout str, stderr str). Raises bench.port.ReplError."""
    with Qemu(elf, limit=timeout + 30) as q:
        q.repl.enter(soft_reset=soft_reset, timeout=20)
        out, err = q.repl.run(code, timeout=timeout)
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


# ---- the RAM bench on the firmware ----------------------------------------------------------------

BDEV_BYTES = 256 * 1024            # littlefs RAM block device for the state dir (outside the GC heap)
BDEV_BLOCK = 512
STATE_MOUNT = "/ram"

# Mounts littlefs on a RAM block device whose bytes are plain SRAM above the firmware's .bss
# (uctypes.bytearray_at: no GC heap), so the filesystem's data is not counted as heap, while the
# VfsLfs2 object and littlefs's caches are (as on a board, where the flash filesystem is mounted at
# boot). %(addr)d, %(size)d, %(block)d, %(mount)r are filled in by the host.
MOUNT_CODE = """import gc, vfs, uctypes
class _RamBdev:
    def __init__(self, addr, size, block):
        self.buf = uctypes.bytearray_at(addr, size)
        self.block = block
        self.count = size // block
    def readblocks(self, n, buf, off=0):
        a = n * self.block + off
        buf[:] = self.buf[a:a + len(buf)]
    def writeblocks(self, n, buf, off=None):
        a = n * self.block + (off or 0)
        self.buf[a:a + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4:
            return self.count
        if op == 5:
            return self.block
        if op == 6:
            return 0
_bd = _RamBdev(%(addr)d, %(size)d, %(block)d)
vfs.VfsLfs2.mkfs(_bd)
vfs.mount(vfs.VfsLfs2(_bd), %(mount)r)
gc.collect()
print("@B mounted", gc.mem_alloc())
"""

# One module import on a fresh interpreter (after a soft reset): the heap once asyncio and json are
# imported (with the asyncio names the stack loads lazily), then after ``__import__(name)``.
IMPORT_CODE = """import gc, asyncio, json
for _n in ("Event", "Lock", "wait_for"):
    getattr(asyncio, _n)
for _m in %(pre)r:
    __import__(_m)
_r = [0, 0, None]
gc.collect()
_r[0] = gc.mem_alloc()
for _m in %(names)r:
    __import__(_m)
gc.collect()
_r[1] = gc.mem_alloc()
print("@M", %(label)r, _r[0], _r[1])
"""


def bdev_address(elf):
    """Where the RAM block device lives: the first 64 KiB boundary 64 KiB above the firmware's
    .bss end (``_ebss``); ValueError if it would reach the stack's last 256 KiB."""
    ebss = elf_symbol(elf, "_ebss")
    top = elf_symbol(elf, "_estack")
    if ebss is None or top is None:
        raise ValueError("no _ebss/_estack symbol in %s" % elf)
    addr = ((ebss + 0xFFFF) & ~0xFFFF) + 0x10000
    if addr + BDEV_BYTES > top - 256 * 1024:
        raise ValueError("no room for the RAM block device above _ebss=0x%x" % ebss)
    return addr


def parse_imports(text):
    """``@M label before after`` lines -> {label: after - before} (bytes)."""
    out = {}
    for line in text.splitlines():
        p = line.strip().split()
        if len(p) == 4 and p[0] == "@M" and p[2].isdigit() and p[3].isdigit():
            out[p[1]] = int(p[3]) - int(p[2])
    return out


def parse_baseline(text):
    """``@B label bytes`` lines -> {label: bytes}."""
    out = {}
    for line in text.splitlines():
        p = line.strip().split()
        if len(p) >= 3 and p[0] == "@B" and p[2].isdigit():
            out[p[1]] = int(p[2])
    return out


def on_demand_blocks(root=ROOT):
    """Dotted names of the modules loaded on demand (``bench.port.on_demand_modules``: the blocks of
    ``lite_stack.blocks.ON_DEMAND`` and what they release with them); None without that table."""
    from bench.port import on_demand_modules
    return on_demand_modules(root) or None


def import_rows(root=ROOT):
    """Modules whose import cost is reported one by one: those under lite_stack/blocks/ when that
    package exists, else every module the board script imports (bench.port.stack_imports)."""
    from bench.port import stack_imports
    mods = stack_imports(root, on_demand=True)
    blocks = [m for m in mods if m.startswith("lite_stack.blocks.")]
    return blocks or mods


def ram_run(progress=None, root=ROOT, board=DEFAULT_FW_BOARD, per_module=True, timeout=QEMU_TIMEOUT):
    """The RAM bench on the 32-bit firmware: build (or reuse) it, then in one qemu process:
    the interpreter's heap after boot; littlefs mounted on a RAM block device at /ram; the Core day
    (bench/ram_board.py over the raw REPL, state in /ram/state); then, each after a soft reset (a
    fresh heap: the frozen modules are imported anew), ``import`` of every module of
    ``import_rows`` alone, of all stack modules, and of the resident ones (when ON_DEMAND exists).
    Returns a dict (bytes; "board": the bench.port result of the Core day, "build": the build
    info, "baseline": {"boot", "mounted"}, "imports_each", "imports_all", "imports_resident",
    "on_demand", "qemu_seconds")."""
    from bench import port
    info = build(board=board, root=root, progress=progress)
    elf = info["elf"]
    res = {"build": info, "machine": "qemu-system-arm -machine %s (%s, Cortex-M3)" % (QEMU_MACHINE, BOARD)}
    imports = port.stack_imports(root, on_demand=True)   # every module, on-demand ones included
    od = on_demand_blocks(root)
    resident = [m for m in imports if m not in (od or ())]
    res["imports"] = resident    # what the Core day imports up front: on-demand blocks load in it
    t0 = time.time()
    with Qemu(elf, limit=timeout) as q:
        r = q.repl
        r.enter(soft_reset=True, timeout=20)
        out, err = r.run("import gc, sys\nprint('@V %d.%d.%d' % sys.implementation.version[:3], sys.maxsize)\n"
                         "gc.collect()\nprint('@B boot', gc.mem_alloc(), gc.mem_free())\n", timeout=30)
        base = parse_baseline(out.decode())
        ver = [ln.split() for ln in out.decode().splitlines() if ln.startswith("@V ")]
        if ver:
            res["version"], res["maxsize"] = ver[0][1], int(ver[0][2])
        line = [ln for ln in out.decode().splitlines() if ln.startswith("@B boot")]
        res["pool"] = sum(int(x) for x in line[0].split()[2:4]) if line else None
        code = MOUNT_CODE % {"addr": bdev_address(elf), "size": BDEV_BYTES, "block": BDEV_BLOCK,
                             "mount": STATE_MOUNT}
        out, err = r.run(code, timeout=30)
        base.update(parse_baseline(out.decode()))
        if "mounted" not in base:
            raise port.ReplError("littlefs mount failed: %s" % err.decode()[-400:])
        res["baseline"] = base
        if progress:
            progress("Core day on the firmware")
        opts = {"state_dir": STATE_MOUNT + "/state", "board": board, "imports": resident}
        n = [0]

        def on_line(line):
            if progress and line.startswith("@R step:"):
                n[0] += 1
                progress("step %s" % line.split()[1][5:])
        out, err = r.run(port.board_script(opts), on_line, timeout)
        res["board"] = port._result(out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                                    "qemu %s" % BOARD)
        res["day_seconds"] = round(time.time() - t0, 1)
        each = {}
        # a block's own cost: first every module blocks share (core, context, device model, ...
        # but no block and not the station), then the block alone
        shared = [m for m in resident if not m.startswith("lite_stack.blocks.")
                  and m != "lite_stack.station"]
        if per_module:
            for m in import_rows(root):
                r.enter(soft_reset=True, timeout=20)
                out, _ = r.run(IMPORT_CODE % {"names": [m], "label": m, "pre": shared},
                               timeout=60)
                each.update(parse_imports(out.decode()))
        res["imports_each"] = [[m, each.get(m)] for m in import_rows(root)] if per_module else []
        r.enter(soft_reset=True, timeout=20)
        out, _ = r.run(IMPORT_CODE % {"names": imports, "label": "all", "pre": []}, timeout=60)
        res["imports_all"] = parse_imports(out.decode()).get("all")
        res["on_demand"] = od
        if od:
            r.enter(soft_reset=True, timeout=20)
            resident = [m for m in imports if m not in od]
            out, _ = r.run(IMPORT_CODE % {"names": resident, "label": "resident", "pre": []},
                           timeout=60)
            res["imports_resident"] = parse_imports(out.decode()).get("resident")
        r.exit()
    res["qemu_seconds"] = round(time.time() - t0, 1)
    return res


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m bench.fw32", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--board", default=DEFAULT_FW_BOARD)
    r = sub.add_parser("run")
    r.add_argument("file")
    r.add_argument("--timeout", type=int, default=120)
    a = ap.parse_args(argv)
    info = build(board=getattr(a, "board", DEFAULT_FW_BOARD), progress=lambda s: print(s, file=sys.stderr))
    if a.cmd == "build":
        print(json.dumps(info, indent=1))
        return 0
    with open(a.file) as f:
        out, err = run_code(info["elf"], f.read(), timeout=a.timeout)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
