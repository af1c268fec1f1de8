"""Memory and flash footprint of the device model (a benchmark, not a test).

Usage (from the repository root):
    micropython bench/dm_bench.py        # the figures that matter (MicroPython unix port)
    python3 bench/dm_bench.py            # CPython (tracemalloc; not comparable, for reference)

Prints: RAM of importing the device model three ways (from .py source; from .mpy files, where
the loader copies bytecode and constants into the heap; from a ROMFS image (``vfs.VfsRom``),
where .mpy code and constants are used in place, as from flash on a device), RAM of
``Store`` and ``DeviceModel`` construction and of a report generator
(``gc.collect(); gc.mem_alloc()`` deltas, each import measured in a fresh interpreter), bytes
per read-only and per writable variable, the .mpy size of each device_model module
(``mpy-cross -O3``), the flash bytes of the persisted store with every writable value set, side
by side with MicroOcpp's published figures (94 B RAM per read-only variable; 142 B RAM + 107 B
flash per writable variable).

The unix port is 64-bit (8-byte words); a 32-bit MCU needs roughly half for pointers and object
headers. Frozen into a firmware (the intended deployment), modules, the declaration table and
their strings are C data in flash (about 1.2-1.3x their .mpy), so only module globals remain
in RAM: less than the ROMFS figure.
"""
import gc
import os
import sys

if "" not in sys.path:
    sys.path.insert(0, "")
from bench.mpfs import rmtree, romfs_image  # noqa: E402  (after the path is set)
MP = sys.implementation.name == "micropython"
MICROOCPP_RO_RAM = 94
MICROOCPP_RW_RAM = 142
MICROOCPP_RW_FLASH = 107
MODULES = ("ids", "table", "cbor", "store", "values", "__init__", "access", "limits", "report",
           "rfc3339")
MPY_DIR = "/tmp/ocpp2lite-dm-bench-mpy"
STATE = "/tmp/ocpp2lite-dm-bench-state"
ROM = "/rom_dm_bench"

if not MP:
    import tracemalloc
    tracemalloc.start()


def mem():
    gc.collect()
    if MP:
        return gc.mem_alloc()
    return tracemalloc.get_traced_memory()[0]


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return None


def _mkdir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def compile_mpy():
    """mpy-cross -O3 every device_model module into MPY_DIR/device_model; {module: bytes}."""
    _mkdir(MPY_DIR)
    _mkdir(MPY_DIR + "/device_model")
    sizes = {}
    for m in MODULES:
        out = "%s/device_model/%s.mpy" % (MPY_DIR, m)
        cmd = "mpy-cross -O3 device_model/%s.py -o %s" % (m, out)
        if MP:
            rc = os.system(cmd + " >/dev/null 2>&1")
        else:
            import subprocess
            rc = subprocess.call(cmd.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sizes[m] = _size(out) if rc == 0 else None
    return sizes


# ---- child: one import in a fresh interpreter -----------------------------------------------

def child():
    """--alone WHAT MODE: print the RAM of importing WHAT (table|ids|cbor|package) loaded from
    MODE (py|mpy|rom)."""
    what, mode = sys.argv[2], sys.argv[3]
    if what == "package":
        from boards import desktop  # noqa: F401  (dependencies, not measured)
        import hal  # noqa: F401
    if mode == "rom":
        import vfs
        if what == "package":
            files = {}
            for m in MODULES:
                files["device_model/" + m + ".mpy"] = _read("%s/device_model/%s.mpy" % (MPY_DIR, m))
            img = romfs_image(files)
        else:
            img = romfs_image({what + ".mpy": _read("%s/device_model/%s.mpy" % (MPY_DIR, what))})
        vfs.mount(vfs.VfsRom(img), ROM)
        path = ROM
    elif mode == "mpy":
        path = MPY_DIR if what == "package" else MPY_DIR + "/device_model"
    else:
        path = "." if what == "package" else "device_model"
    sys.path.insert(0, path)
    a = mem()
    if what == "package":
        for m in MODULES:
            __import__("device_model" if m == "__init__" else "device_model." + m)
    else:
        __import__(what)
    print(mem() - a)


def measure(what, mode):
    out = "/tmp/ocpp2lite-dm-bench-alone.txt"
    args = "bench/dm_bench.py --alone %s %s" % (what, mode)
    if MP:
        rc = os.system("micropython %s > %s" % (args, out))
    else:
        import subprocess
        with open(out, "w") as f:
            rc = subprocess.call([sys.executable] + args.split(), stdout=f)
    if rc != 0:
        return None
    try:
        return int(_read(out).strip())
    except ValueError:
        return None


# ---- main -----------------------------------------------------------------------------------

def rw_items(dm):
    """SetVariableData that changes every CSMS-writable variable to a valid non-default value."""
    from device_model import table, format_value
    items = []
    for vid in range(table.COUNT):
        mut, t = table.field(vid, 3), table.field(vid, 4)
        if mut not in "WO":
            continue
        cur = dm.get(vid)
        lo, hi = dm._lim(vid, 6), dm._lim(vid, 7)
        if t == "i":
            v = cur + 1 if hi is None or cur < hi else cur - 1
        elif t == "b":
            v = not cur
        elif t == "s":
            v = "x" * (20 if hi is None else max(lo or 0, min(hi, 20)))
        elif t == "m":
            v = dm._vl(vid)
        else:  # SequenceList: the whole list, reversed
            v = ",".join(list(reversed(dm._vl(vid).split(","))))
        if format_value(v) == format_value(cur):
            v = dm._vl(vid).split(",")[0]
        c = {"name": table.COMPONENTS[table.comp_index(vid)]}
        var = {"name": table.field(vid, 1)}
        if table.field(vid, 2):
            var["instance"] = table.field(vid, 2)
        items.append({"component": c, "variable": var, "attributeValue": format_value(v)})
    return items


def fmt(n):
    return "%8s" % ("n/a" if n is None else n)


def per(n, d):
    return "    n/a" if n is None else "%7.1f" % (n / d)


def main():
    sizes = compile_mpy()
    have_mpy = all(sizes[m] for m in MODULES)
    modes = ("py", "mpy", "rom") if MP and have_mpy else ("py",)
    imports = {}
    for what in ("table", "ids", "cbor", "package"):
        for mode in modes:
            imports[(what, mode)] = measure(what, mode)
    rmtree(STATE)

    from boards import desktop
    import hal  # noqa: F401
    import device_model
    from device_model import ids, table
    from device_model.store import Store
    import device_model.access  # noqa: F401  (set_variables imports it lazily: not a per-value cost)
    m0 = mem()
    st = Store(STATE)
    m1 = mem()
    dm = device_model.DeviceModel(desktop, st)
    m2 = mem()
    n_rows = table.COUNT
    n_slots = device_model.NSLOTS
    n_ro = n_rows - n_slots
    items = rw_items(dm)
    res = dm.set_variables(items)
    bad = [r for r in res if r["attributeStatus"] not in ("Accepted", "RebootRequired")]
    dm.set(ids.SECURITY_PROFILE, 2)
    dm.set(ids.CERTIFICATE_ENTRIES, 3)
    del res, items
    m3 = mem()
    flash = _size(STATE + "/dm")
    n_stored = len(st.load("dm")) // 2
    parts = dm.report_parts("FullInventory")
    n_items = 0
    biggest = 0
    for p, _ in parts:
        n_items += len(p)
        biggest = max(biggest, mem() - m3)
    del parts, p

    impl = "MicroPython %s" % ".".join([str(x) for x in sys.implementation.version[:3]]) \
        if MP else "CPython %s (tracemalloc; object sizes not comparable)" % sys.version.split()[0]
    print("device model footprint on %s" % impl)
    print("variables: %d ids (+8 per extra EVSE), %d read-only (no RAM slot), %d with a RAM slot"
          % (n_rows, n_ro, n_slots))
    print("")
    head = "".join(["%9s" % m for m in modes])
    print("RAM of importing (bytes, fresh interpreter)        %s" % head)
    for what, label in (("table", "table.py (the %d packed rows)" % n_rows),
                        ("ids", "ids.py (%d const ids)" % n_rows),
                        ("cbor", "cbor.py"),
                        ("package", "device_model, every module")):
        print("  %-47s %s" % (label, "".join([" " + fmt(imports[(what, m)]) for m in modes])))
    print("")
    print("RAM at run time (bytes)")
    print("  Store(root)                                     %s" % fmt(m1 - m0))
    print("  DeviceModel(board, store), defaults             %s" % fmt(m2 - m1))
    print("  ... after every writable value was changed      %s" % fmt(m3 - m1))
    print("  report.py (lazy) + one FullInventory part held  %s" % fmt(biggest))
    print("")
    rom = imports.get(("table", "rom"))
    print("per variable                             OCPP2.Lite      MicroOcpp (published)")
    print("  (read-only: whole table module RAM / %d rows)" % n_rows)
    print("  read-only, RAM, table from .mpy file    %s B          %3d B"
          % (per(imports.get(("table", "mpy")), n_rows), MICROOCPP_RO_RAM))
    print("  read-only, RAM, table from ROMFS        %s B          %3d B"
          % (per(rom, n_rows), MICROOCPP_RO_RAM))
    print("  read-only, RAM, frozen table            ~    0 B          %3d B  (expected, not "
          "measurable here: C data in flash)" % MICROOCPP_RO_RAM)
    print("  writable, RAM (defaults)                %s B          %3d B"
          % (per(m2 - m1, n_slots), MICROOCPP_RW_RAM))
    print("  writable, RAM (all values changed)      %s B          %3d B"
          % (per(m3 - m1, n_slots), MICROOCPP_RW_RAM))
    if flash is not None and n_stored:
        print("  writable, flash (CBOR, all set)         %s B          %3d B"
              % (per(flash, n_stored), MICROOCPP_RW_FLASH))
    print("")
    print("flash: store file 'dm' with %d values set: %s bytes (CBOR [[vid, value, ...], crc])"
          % (n_stored, flash))
    print("SetVariables items not accepted while setting all values: %d" % len(bad))
    print("FullInventory report: %d items" % n_items)
    print("")
    print(".mpy sizes (mpy-cross -O3)")
    total = 0
    for m in MODULES:
        s = sizes[m]
        total += s or 0
        print("  device_model/%-12s %6s B" % (m + ".py", s if s is not None else "n/a"))
    print("  total                     %6d B  (table.mpy: about %d B per variable)"
          % (total, (sizes["table"] or 0) // n_rows))
    rmtree(STATE)


if "--alone" in sys.argv:
    child()
else:
    main()
