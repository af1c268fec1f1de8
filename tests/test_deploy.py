"""`ocpp2lite deploy` against a fake mpremote target, the frozen-build manifest, and the image hash
checked on both interpreters (CPython builds it, MicroPython loads and re-hashes the deployed .mpy).

The fake ``mpremote`` is an executable on PATH that keeps a device filesystem in a directory and
implements the subset deploy uses (connect, fs ls/rm -r/cp [-r], reset) with mpremote's semantics
(``fs cp -r DIR :`` copies DIR into the root; ``fs rm`` of a missing path fails). Every invocation
is logged, so the exact command sequence can be asserted.
"""
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from ocpp2lite import deploy as dp
from tests.mp import micropython_cmd, ROOT

PORT = "/dev/ttyFAKE0"

FAKE_MPREMOTE = r'''#!%(python)s
import json, os, shutil, sys
root = os.environ["FAKE_MPREMOTE_ROOT"]
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")

def remote(p):
    assert p.startswith(":"), p
    full = os.path.normpath(os.path.join(root, p[1:].lstrip("/")))
    assert full == root or full.startswith(root + os.sep), p
    return full

def fail(msg):
    print("mpremote: " + msg, file=sys.stderr)
    sys.exit(1)

segs, cur = [], []
for a in sys.argv[1:]:
    if a == "+":
        segs.append(cur); cur = []
    else:
        cur.append(a)
segs.append(cur)
if segs[0][:1] != ["connect"] or len(segs[0]) != 2:
    fail("expected connect PORT first")
if segs[0][1] != os.environ["FAKE_MPREMOTE_PORT"]:
    fail("failed to access %%s (it may be in use by another program)" %% segs[0][1])
for s in segs[1:]:
    if s[:2] == ["fs", "ls"]:
        d = remote(s[2] if len(s) > 2 else ":")
        print("ls :" + (s[2][1:] if len(s) > 2 else ""))
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            dirp = os.path.isdir(p)
            print("{:12} {}{}".format(0 if dirp else os.path.getsize(p), n, "/" if dirp else ""))
    elif s[:3] == ["fs", "rm", "-r"]:
        p = remote(s[3])
        if not os.path.exists(p):
            fail("rm: No such file or directory: " + s[3])
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    elif s[:2] == ["fs", "cp"]:
        args = s[2:]
        rec = args[0] == "-r"
        if rec:
            args = args[1:]
        src, dst = args[0], args[1]
        if src.startswith(":") or not dst.startswith(":"):
            fail("fake supports local -> remote only")
        d = remote(dst.rstrip("/") or ":")
        if rec and os.path.isdir(src):
            target = os.path.join(d, os.path.basename(src.rstrip("/"))) if os.path.isdir(d) else d
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            if os.path.isdir(src):
                fail("cp: -r not specified; omitting directory")
            target = os.path.join(d, os.path.basename(src)) if os.path.isdir(d) else d
            shutil.copyfile(src, target)
    elif s == ["reset"] or s == ["soft-reset"]:
        print("reset")
    else:
        fail("unsupported command %%r" %% s)
'''


def _tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
            with open(os.path.join(dirpath, f), "rb") as fh:
                out[p] = fh.read()
    return out


def _hash(files):
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(("%s\n%d\n" % (p, len(files[p]))).encode())
        h.update(files[p])
    return h.hexdigest()


@pytest.fixture
def mini_root(tmp_path):
    """A copy of the repository parts this issue owns plus the clock: a stable image to test."""
    r = tmp_path / "repo"
    for d in ("hal", "boards", "ocpp2lite"):
        shutil.copytree(os.path.join(ROOT, d), r / d, ignore=shutil.ignore_patterns("__pycache__"))
    (r / "firmware").mkdir()
    shutil.copy(os.path.join(ROOT, "firmware", "main.py"), r / "firmware" / "main.py")
    shutil.copy(os.path.join(ROOT, "firmware", "manifest.py"), r / "firmware" / "manifest.py")
    (r / "lite_stack").mkdir()
    (r / "lite_stack" / "__init__.py").write_text("")
    shutil.copy(os.path.join(ROOT, "lite_stack", "clock.py"), r / "lite_stack" / "clock.py")
    (r / "device_model").mkdir()
    (r / "device_model" / "__init__.py").write_text("")
    for f in ("ids.py", "rfc3339.py"):  # rfc3339: lite_stack.clock imports iso/parse_iso from it
        shutil.copy(os.path.join(ROOT, "device_model", f), r / "device_model" / f)
    return str(r)


@pytest.fixture
def fake_device(tmp_path, monkeypatch):
    dev = tmp_path / "device"
    dev.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "mpremote"
    exe.write_text(FAKE_MPREMOTE % {"python": sys.executable})
    exe.chmod(0o755)
    log = tmp_path / "mpremote.log"
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("FAKE_MPREMOTE_ROOT", str(dev))
    monkeypatch.setenv("FAKE_MPREMOTE_PORT", PORT)
    monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(log))

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]
    return str(dev), calls


def _site(tmp_path):
    p = tmp_path / "site.json"
    p.write_text(json.dumps({"wifi_ssid": "lab", "wifi_password": "pw", "csms_url": "wss://csms/ocpp",
                             "password": "0123456789abcdef"}))
    return str(p)


def _cli(args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "ocpp2lite.deploy"] + args, cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_image_sources_are_the_stack_without_desktop_only_modules(mini_root):
    rels = [r for _, r in dp.image_sources("pico_w", mini_root)]
    assert rels == sorted(rels)
    for want in ("hal/__init__.py", "hal/pilot.py", "hal/mfrc522.py", "boards/__init__.py",
                 "boards/_common.py", "boards/pico_w.py", "lite_stack/clock.py", "main.py"):
        assert want in rels, want
    for gone in ("hal/sim.py", "boards/desktop.py", "boards/esp32_devkit.py"):
        assert gone not in rels, gone
    assert not any(r.startswith(("ocpp2lite/", "bench/", "tests/")) for r in rels)
    assert dp.boards_available(mini_root) == ["esp32_devkit", "pico_w"]
    with pytest.raises(dp.DeployError):
        dp.image_sources("desktop", mini_root)
    with pytest.raises(dp.DeployError):
        dp.image_sources("nope", mini_root)


def test_deploy_exact_mpremote_sequence_files_and_hash(mini_root, fake_device, tmp_path):
    dev, calls = fake_device
    stage = str(tmp_path / "stage")
    p = _cli(["--port", PORT, "--board", "pico_w", "--config", _site(tmp_path), "--stage", stage,
              "--root", mini_root])
    assert p.returncode == 0, p.stderr + p.stdout
    assert calls() == [
        ["connect", PORT, "+", "fs", "ls", ":"],
        ["connect", PORT, "+", "fs", "cp", "-r", stage + "/lib", ":", "+", "fs", "cp",
         stage + "/main.py", ":main.py", "+", "fs", "cp", stage + "/ocpp.json", ":ocpp.json",
         "+", "reset"]]
    files = _tree(dev)
    want = {"lib/" + r[:-3] + ".mpy" for _, r in dp.image_sources("pico_w", mini_root) if r != "main.py"}
    want |= {"lib/ocpp_main.mpy", "lib/fw_image.mpy", "main.py", "ocpp.json"}
    assert set(files) == want
    assert files["main.py"] == b"import ocpp_main\nocpp_main.start()\n"
    assert all(files[f][:1] == b"M" for f in files if f.endswith(".mpy"))   # mpy-cross output
    site = json.loads(files["ocpp.json"])
    assert site["OCPP_BOARD"] == "pico_w" and site["csms_url"] == "wss://csms/ocpp"
    image = {f: d for f, d in files.items() if f not in ("lib/fw_image.mpy", "ocpp.json")}
    digest = _hash(image)
    assert ("firmware 0.1.0+%s (pico_w) sha256 %s" % (digest[:16], digest)) in p.stdout


def test_deployed_image_boots_on_micropython_and_verifies_its_hash(mini_root, fake_device, tmp_path):
    dev, calls = fake_device
    info = dp.deploy(PORT, "esp32_devkit", mini_root, _site(tmp_path), stage=str(tmp_path / "st"))
    script = (
        "import sys\n"
        "sys.path[:] = ['', '.frozen', 'lib', %r]\n"   # the device's path, then the repo (fakes)
        "from tests.fakes import machine as fm\n"
        "fm.install()\n"
        "import fw_image, ocpp_main, boards\n"
        "b = boards.load(fw_image.OCPP_BOARD)\n"
        "print('VERSION', b.FIRMWARE_VERSION, fw_image.KIND)\n"
        "print('VERIFY', ocpp_main.verify_image(''))\n"
        "from lite_stack.clock import Clock\n"
        "evses, rfid = b.make_hal(Clock(), 1)\n"
        "print('FILES', sys.modules['hal.pilot'].__file__, sys.modules['boards'].__file__)\n"
        "print('MODULES', ' '.join(sorted(k for k in sys.modules if not k.startswith('tests'))))\n"
    ) % ROOT
    p = subprocess.run(micropython_cmd() + ["-c", script], cwd=dev, capture_output=True, text=True,
                       timeout=60)
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    sha = info["sha256"]
    assert "VERSION 0.1.0+%s deploy" % sha[:16] in out
    assert "VERIFY (True, '%s')" % sha in out                   # MicroPython re-hash == CPython
    assert "FILES lib/hal/pilot.mpy lib/boards/__init__.mpy" in out
    mods = out.split("MODULES ")[1].split()
    for bad in ("ocpp2lite", "bench", "hal.sim", "boards.desktop"):
        assert bad not in mods, mods
    # tampering is detected on the device
    with open(os.path.join(dev, "lib", "hal", "pilot.mpy"), "ab") as f:
        f.write(b"\0")
    p = subprocess.run(micropython_cmd() + ["-c", script], cwd=dev, capture_output=True, text=True,
                       timeout=60)
    assert "VERIFY (False, " in p.stdout


def test_redeploy_replaces_lib_and_keeps_state_and_site_config(mini_root, fake_device, tmp_path):
    dev, calls = fake_device
    os.makedirs(os.path.join(dev, "lib", "old"))
    with open(os.path.join(dev, "lib", "old", "stale.mpy"), "wb") as f:
        f.write(b"M old")
    os.makedirs(os.path.join(dev, "state"))
    with open(os.path.join(dev, "state", "dm.cbor"), "wb") as f:
        f.write(b"persisted")
    with open(os.path.join(dev, "ocpp.json"), "w") as f:
        f.write('{"wifi_ssid": "keep"}')
    stage = str(tmp_path / "stage")
    info = dp.deploy(PORT, "pico_w", mini_root, None, stage=stage, echo=lambda *a: None)
    assert calls()[1] == ["connect", PORT, "+", "fs", "rm", "-r", ":lib", "+", "fs", "cp", "-r",
                          stage + "/lib", ":", "+", "fs", "cp", stage + "/main.py", ":main.py",
                          "+", "reset"]
    files = _tree(dev)
    assert "lib/old/stale.mpy" not in files
    assert files["state/dm.cbor"] == b"persisted"
    assert files["ocpp.json"] == b'{"wifi_ssid": "keep"}'
    image = {f: d for f, d in files.items()
             if f.startswith("lib/") and f != "lib/fw_image.mpy" or f == "main.py"}
    assert _hash(image) == info["sha256"]


def test_hash_is_reproducible_and_changes_with_the_code(mini_root, tmp_path):
    a = dp.build("pico_w", str(tmp_path / "a"), mini_root)
    b = dp.build("pico_w", str(tmp_path / "b"), mini_root)
    assert a["sha256"] == b["sha256"] and a["files"] == b["files"]
    c = dp.build("esp32_devkit", str(tmp_path / "c"), mini_root)
    assert c["sha256"] != a["sha256"]
    with open(os.path.join(mini_root, "hal", "pilot.py"), "a") as f:
        f.write("\nX = 1\n")
    d = dp.build("pico_w", str(tmp_path / "a"), mini_root)          # rebuild into an old stage
    assert d["sha256"] != a["sha256"]
    assert d["version"] == "0.1.0+" + d["sha256"][:16]


def test_build_refuses_to_empty_a_foreign_directory(mini_root, tmp_path):
    d = tmp_path / "precious"
    d.mkdir()
    (d / "thesis.txt").write_text("do not delete")
    with pytest.raises(dp.DeployError):
        dp.build("pico_w", str(d), mini_root)
    assert (d / "thesis.txt").exists()


def test_unreachable_port_and_bad_config_fail_cleanly(mini_root, fake_device, tmp_path):
    dev, calls = fake_device
    p = _cli(["--port", "/dev/ttyOTHER", "--board", "pico_w", "--root", mini_root,
              "--stage", str(tmp_path / "s")])
    assert p.returncode == 1 and "could not reach /dev/ttyOTHER" in p.stderr
    assert _tree(dev) == {}
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    p = _cli(["--port", PORT, "--board", "pico_w", "--root", mini_root, "--config", str(bad)])
    assert p.returncode == 1 and "not a JSON object" in p.stderr
    p = _cli(["--port", PORT, "--board", "desktop", "--root", mini_root])
    assert p.returncode == 1 and "unknown board" in p.stderr


def test_dry_run_prints_the_commands(mini_root, fake_device, tmp_path):
    dev, calls = fake_device
    p = _cli(["--port", PORT, "--board", "pico_w", "--root", mini_root, "--dry-run",
              "--stage", str(tmp_path / "s")])
    assert p.returncode == 0, p.stderr
    assert "mpremote connect %s + fs ls :" % PORT in p.stdout
    assert calls() == [] and _tree(dev) == {}


class _ManifestApi:
    """Records what a manifest asks tools/manifestfile.py to do."""

    class Options:
        def __init__(self, **kw):
            self._kw = kw
            self._defaults = {}

        def defaults(self, **kw):
            self._defaults = kw

        def __getattr__(self, name):
            return self._kw.get(name, self._defaults.get(name))

    def __init__(self, **kw):
        self.calls = []
        self.g = {"options": self.Options(**kw)}
        for fn in ("include", "require", "freeze", "package", "metadata"):
            self.g[fn] = (lambda fn: lambda *a, **k: self.calls.append((fn, a, k)))(fn)
        self.g["module"] = self.module
        self.modules = {}

    def module(self, path, base_path=".", opt=None):
        full = os.path.join(base_path, path)
        assert os.path.isfile(full), full
        self.modules[path] = full
        assert opt == 3


def _run_manifest(root, env_board=None, **kw):
    api = _ManifestApi(**kw)
    here = os.getcwd()
    old = os.environ.get("OCPP_BOARD")
    try:
        if env_board:
            os.environ["OCPP_BOARD"] = env_board
        else:
            os.environ.pop("OCPP_BOARD", None)
        os.chdir(os.path.join(root, "firmware"))
        with open("manifest.py") as f:
            exec(f.read(), api.g)
    finally:
        os.chdir(here)
        if old is None:
            os.environ.pop("OCPP_BOARD", None)
        else:
            os.environ["OCPP_BOARD"] = old
    return api


def test_manifest_freezes_the_deploy_image_with_its_hash(mini_root):
    api = _run_manifest(mini_root, env_board="esp32_devkit")
    want = {r for _, r in dp.image_sources("esp32_devkit", mini_root)} | {"fw_image.py"}
    assert set(api.modules) == want
    assert api.modules["main.py"] == os.path.join(mini_root, "firmware", "main.py")
    assert ("freeze", ("$(PORT_DIR)/modules",), {}) in api.calls
    assert ("include", ("$(MPY_DIR)/extmod/asyncio",), {}) in api.calls
    assert ("require", ("ntptime",), {}) in api.calls
    gen = open(api.modules["fw_image.py"]).read()
    items = []
    for base, rel in dp.image_sources("esp32_devkit", mini_root):
        with open(os.path.join(base, rel), "rb") as f:
            items.append((rel, f.read()))
    assert "SHA256 = '%s'" % _hash(dict(items)) in gen
    assert "OCPP_BOARD = 'esp32_devkit'" in gen and "KIND = 'frozen'" in gen
    api = _run_manifest(mini_root, board="pico_w", base="board")
    assert ("include", ("$(BOARD_DIR)/manifest.py",), {}) in api.calls
    assert "boards/pico_w.py" in api.modules and "boards/esp32_devkit.py" not in api.modules
    with pytest.raises(Exception):
        _run_manifest(mini_root)                              # no board chosen


def test_freeze_cli_writes_the_same_digest(mini_root, tmp_path):
    out = tmp_path / "gen"
    p = _cli(["--board", "pico_w", "--freeze", str(out), "--root", mini_root])
    assert p.returncode == 0, p.stderr
    digest = dp.write_frozen_image("pico_w", str(tmp_path / "gen2"), mini_root)
    assert "sha256 %s" % digest in p.stdout
    assert (out / "fw_image.py").read_text() == (tmp_path / "gen2" / "fw_image.py").read_text()


FORBIDDEN = {"ocpp2lite", "bench", "tests", "typing", "dataclasses", "enum", "abc", "logging",
             "datetime", "pathlib", "uuid", "subprocess", "threading", "argparse"}


def test_real_tree_image_has_no_desktop_only_imports_and_compiles(tmp_path):
    """The image of the current repository: every module compiles with mpy-cross and no module
    imports desktop-only or CPython-only code (static scan of every import statement)."""
    for board in dp.boards_available(ROOT):
        for base, rel in dp.image_sources(board, ROOT):
            tree = ast.parse(open(os.path.join(base, rel)).read(), rel)
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                for n in names:
                    assert n.split(".")[0] not in FORBIDDEN, (rel, n)
                    assert n not in ("hal.sim", "boards.desktop"), (rel, n)
    info = dp.build("pico_w", str(tmp_path / "real"), ROOT)
    assert info["bytes"] > 0 and "lib/lite_stack/station.mpy" in info["files"]
