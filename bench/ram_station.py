"""RAM bench station: the simulated Charging Station (lite_stack.sim, unchanged) with heap probes.

MicroPython side of bench/ram.py (desktop code never imports it). Run from the repository root:

    micropython -X heapsize=512k bench/ram_station.py [--rom IMAGE] [--ca CA.der] [--quiet]
                [--mprobe] [--imports-only] [--log-frames]

Settings and hardware events are those of ``lite_stack.sim`` (OCPP_* environment, JSON lines on
stdin) plus one bench event, ``{"cmd":"mark","label":"<step>"}``, which takes a sample labelled
``step:<step>``. Nothing in the stack is edited: the probes are wrappers installed on
``lite_stack.core.rpc.Rpc`` (send, receive, inbound CALL, inbound answer) and ``lite_stack.sim.apply_event``.

Phases, each ending in one sample:
  start   heap in use when this script starts (interpreter + this script's own bytecode)
  image   --rom: the ROMFS image read into one heap block and mounted at /rom (vfs.VfsRom), so the
          stack's .mpy files execute in place (bytecode and constants are not copied to the heap)
  sys     asyncio, json, ... (and ssl with --ca): frozen into the unix port and every firmware
  stack   every stack module the scenario uses, imported from .py (compiled into the heap) or from
          the ROMFS image: what the imported stack costs
  probes  after the probes are installed: the working set is counted from this sample
  ...     then one sample before and after every frame and at every step mark
A sample is ``gc.collect(); gc.mem_alloc()``: the live heap. Output on stdout, one line each:

    @P <pool bytes>               GC pool size (gc.mem_free() + gc.mem_alloc() at start)
    @R <label> <bytes>            one sample (--imports-only: also "mod:<module>" after each import)
    @F <module> <file>            where a stack module was loaded from (checks --rom)
    @L <module>                   a module imported after the "stack" sample (counted in the
                                  working set; the list below should be completed if one shows)
    @Q <label> + "qstr pool: ..." micropython.qstr_info() after "sys" and "stack": the interned
                                  names the imports added (in flash, not RAM, when frozen)

--quiet installs no probes and takes no samples after "stack" (the -X heapsize bisection runs the
stack as a board would). --mprobe also calls ``os.mkdir("/__mprobe__/<n>")`` at sample n:
bench/ram.py preloads a malloc counter that logs, at that call, the bytes malloc'd outside the GC
heap by the MicroPython runtime (mbedTLS): the unix port keeps TLS buffers out of the GC heap.
The sim's frame log on stderr (every frame copied into a log line) is switched off as on a device
(firmware/main.py gives the station no log), unless --log-frames. --ca CA.der: a wss:// run;
the stack itself verifies the CSMS against the CSMSRootCertificate installed from OCPP_CSMS_ROOT_CERT (bench/ram.py sets it to the PEM beside
CA.der) and builds its own ``ssl.SSLContext`` per connection, so its cost is in the samples.
"""
import gc
import os
import sys

gc.collect()
_start = gc.mem_alloc()
_pool = gc.mem_free() + _start

PACKAGES = ("lite_stack", "device_model")
EXTRA = ("hal", "hal.sim", "boards", "boards.desktop")
# Import order for --imports-only (one sample per module): dependencies first, so each row is
# mostly the module itself (a package's row includes what its __init__ imports).
FIRST = ("lite_stack", "device_model", "device_model.rfc3339", "lite_stack.clock",
         "device_model.cbor", "device_model.store", "device_model.access", "device_model.limits",
         "lite_stack.core", "lite_stack.core.schemas", "lite_stack.core.validate",
         "lite_stack.core.rpc", "lite_stack.txqueue", "lite_stack.meter", "lite_stack.evse",
         "lite_stack.context", "lite_stack.core.link", "lite_stack.blocks",
         "lite_stack.blocks.provisioning", "lite_stack.blocks.availability",
         "lite_stack.blocks.security", "lite_stack.blocks.authorization",
         "lite_stack.blocks.transactions", "lite_stack.blocks.metering",
         "lite_stack.core.ws", "lite_stack.station")

_argv = sys.argv[1:]
_quiet = "--quiet" in _argv
_probe = "--mprobe" in _argv
_n = [0]
_cur = [""]


def _opt(name):
    if name in _argv:
        i = _argv.index(name)
        if i + 1 < len(_argv):
            return _argv[i + 1]
    return None


def sample(label):
    """Take one sample: collect, read the live heap, print ``@R label bytes``."""
    gc.collect()
    n = gc.mem_alloc()
    _n[0] += 1
    if _probe:
        try:
            os.mkdir("/__mprobe__/%d" % _n[0])
        except OSError:
            pass
    print("@R", label, n)
    _qstr("=")   # the interned-name pools at this sample (bench/ram.py takes their growth out)


def _qstr(label):
    # "@Q label" then MicroPython's own "qstr pool: ... n_total_bytes=N" line: interned names
    try:
        import micropython
        print("@Q", label)
        micropython.qstr_info()
    except (ImportError, AttributeError):
        pass


def _mount_rom(path):
    import vfs
    size = os.stat(path)[6]
    img = bytearray(size)  # one block; VfsRom uses it in place
    with open(path, "rb") as f:
        f.readinto(img)
    vfs.mount(vfs.VfsRom(img), "/rom")
    sys.path.insert(0, "/rom")


def _modules(root, pkgs=PACKAGES):
    """The resident stack modules, packages and subpackages (lite_stack.core, lite_stack.blocks)
    included; the on-demand blocks (lite_stack.blocks.ON_DEMAND) and device_model.report are left
    to the scenario, which imports and releases them as a device does."""
    out = []
    for pkg in pkgs:
        out.append(pkg)
        d = (root + "/" + pkg.replace(".", "/")) if root else pkg.replace(".", "/")
        subs = []
        for f in sorted(os.listdir(d)):
            if f.endswith(".py") or f.endswith(".mpy"):
                m = f[:f.rfind(".")]
                if m != "__init__":
                    out.append(pkg + "." + m)
            elif "." not in f and f != "__pycache__":
                subs.append(pkg + "." + f)
        if subs:
            out.extend(_modules(root, subs)[:-len(EXTRA)])
    if pkgs is PACKAGES:
        from lite_stack.blocks import ON_DEMAND
        lazy = ["lite_stack.blocks." + ON_DEMAND[i] for i in range(1, len(ON_DEMAND), 2)] + ["device_model.report"]
        out = [m for m in out if m not in lazy]
    return out + list(EXTRA)


def _out_label(text):
    k = text[1:2]
    if k == "2":
        return "tx:" + text[:120].split('"')[3]
    if k == "3":
        return "tx:" + _cur[0] + ".conf"
    return "tx:CALLERROR"


def install_probes(rpc_mod, sim_mod, known):
    """Wrap Rpc._send / on_frame / _on_call / _on_answer and sim.apply_event with samples."""
    Rpc = rpc_mod.Rpc
    send0, frame0, call0, answer0 = Rpc._send, Rpc.on_frame, Rpc._on_call, Rpc._on_answer
    apply0 = sim_mod.apply_event

    async def _send(self, text):
        sample(_out_label(text))
        await send0(self, text)
        sample("tx:done")

    async def on_frame(self, text):
        sample("rx:frame")
        await frame0(self, text)

    async def _on_call(self, mid, action, payload):
        _cur[0] = action
        sample("rx:" + action)
        await call0(self, mid, action, payload)

    def _on_answer(self, kind, mid, msg):
        p = self._pending
        sample("rx:%s%s" % (p[1] if p else "?", ".conf" if kind == 3 else ".error"))
        answer0(self, kind, mid, msg)

    def apply_event(line, evse_hal, rfid):
        if line.startswith('{"cmd":"mark"'):
            import json
            sample("step:" + json.loads(line).get("label", "?"))
            for m in sys.modules:
                if m not in known:
                    known[m] = 1
                    print("@L", m)
            return None
        return apply0(line, evse_hal, rfid)

    Rpc._send = _send
    Rpc.on_frame = on_frame
    Rpc._on_call = _on_call
    Rpc._on_answer = _on_answer
    sim_mod.apply_event = apply_event


def _no_frame_log(self, direction, text):
    # A device logs no frames (firmware/main.py passes no log); the sim's stderr log would copy
    # every frame twice ("> " + text, then + "\n"). Errors caught by the Rpc ("!") still go out.
    if direction == "!" and self._log:
        self._log("! " + text)


def main():
    print("@P", _pool)
    sample("start")
    rom = _opt("--rom")
    if rom:
        _mount_rom(rom)
        sample("image")
    if "" not in sys.path:
        sys.path.insert(1 if rom else 0, "")  # the repository root (cwd), after /rom
    import asyncio
    import json  # noqa: F401
    for name in ("Event", "Lock", "open_connection", "wait_for"):  # asyncio loads these lazily
        getattr(asyncio, name)
    ca = _opt("--ca")
    if ca:
        import ssl  # noqa: F401
    sample("sys")
    _qstr("sys")
    each = "--imports-only" in _argv
    mods = _modules("/rom" if rom else "")
    if each:
        mods = [m for m in FIRST if m in mods] + [m for m in mods if m not in FIRST]
    for m in mods:
        __import__(m)
        if each:
            sample("mod:" + m)
    del mods
    sample("stack")
    _qstr("stack")
    for m in ("lite_stack.core.rpc", "device_model.table", "lite_stack.sim"):
        print("@F", m, sys.modules[m].__file__)
    if each:
        return 0
    sim = sys.modules["lite_stack.sim"]
    if "--log-frames" not in _argv:
        sys.modules["lite_stack.station"].Station._rpc_log = _no_frame_log
    if not _quiet:
        known = {}
        for m in sys.modules:
            known[m] = 1
        install_probes(sys.modules["lite_stack.core.rpc"], sim, known)
        sample("probes")  # the working set is counted from here: the bench's own objects are left out
    if ca and not _quiet:
        sample("tls:context")
    return sim.main()


if __name__ == "__main__":
    sys.exit(main() or 0)
