"""The RAM bench on a real board over its serial REPL (``python -m bench.ram --port DEVICE``).

Desktop side (CPython, pyserial). Nothing is copied to the board: the firmware (OCPP2.Lite frozen
in, see firmware/manifest.py) is assumed to be on it. The host enters the raw REPL (Ctrl-C, Ctrl-A,
optional soft reset so the heap starts clean and main.py does not run), sends bench/ram_board.py
(with one ``OPTS = {...}`` line in front) in raw-paste mode when the board offers it (else plain
raw mode), and reads the board's output line by line until the end-of-output marker; the lines
``@R label bytes`` are heap samples (``bench.ram.parse_output``).

Raw REPL protocol (MicroPython docs, "raw mode and raw-paste mode"): Ctrl-A enters it
(``raw REPL; CTRL-B to exit\\r\\n>``); Ctrl-D on an empty line soft-resets; ``\\x05A\\x01`` asks for
raw-paste (answer ``R\\x01`` + uint16 LE window, then a ``\\x01`` per window consumed, or ``R\\x00``);
code ends with Ctrl-D; the board answers ``OK`` (raw) or ``\\x04`` (raw-paste), runs it, and sends
stdout, ``\\x04``, stderr, ``\\x04``, ``>``.

A firmware whose main.py already runs the station started the hardware watchdog: the soft reset
does not stop it on RP2040, so put the board in safe mode first (the ``nostart`` file, see
docs/boards.md) or pass ``feed_wdt=True``.

``FakeBoard`` is a pseudo-terminal that speaks this protocol and executes what it receives with
the local ``micropython`` unix port: the host side is tested with it (tests/test_bench_ram.py).
"""
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD_SCRIPT = os.path.join(ROOT, "bench", "ram_board.py")
PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


class ReplError(Exception):
    """The board did not answer as the raw REPL protocol says (message holds what it sent)."""


class RawRepl:
    """A raw-REPL session on a serial device (pyserial URL or path).

    RawRepl(device, baud=115200); enter(soft_reset=True); run(code, on_line=None, timeout=300) ->
    (stdout bytes, stderr bytes); exit(); close(). on_line(str) sees every stdout line as it arrives.
    """

    def __init__(self, device, baud=115200, ser=None):
        if ser is None:
            import serial
            ser = serial.serial_for_url(device, baudrate=baud, timeout=0.05)
        self.ser = ser
        self.raw_paste = None  # None: not tried yet

    def close(self):
        try:
            self.ser.close()
        except Exception:
            pass

    def _read(self, n=256):
        return self.ser.read(max(1, min(n, self.ser.in_waiting or 1)))

    def read_until(self, ending, timeout=10.0):
        """Bytes up to and including ``ending``; ReplError after ``timeout`` s without it."""
        data = bytearray()
        end = time.monotonic() + timeout
        while not data.endswith(ending):
            if time.monotonic() > end:
                raise ReplError("waited %.0f s for %r, got %r" % (timeout, ending, bytes(data[-200:])))
            b = self.ser.read(1)
            if b:
                data += b
        return bytes(data)

    def _read_n(self, n, timeout):
        data = b""
        end = time.monotonic() + timeout
        while len(data) < n:
            if time.monotonic() > end:
                raise ReplError("waited %.0f s for %d bytes, got %r" % (timeout, n, data))
            data += self.ser.read(n - len(data))
        return data

    def _drain(self, quiet=0.2):
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            if self.ser.read(256):
                end = time.monotonic() + quiet

    def enter(self, soft_reset=True, timeout=10.0):
        """Interrupt whatever runs (Ctrl-C twice), enter the raw REPL, optionally soft-reset."""
        self.ser.write(b"\r\x03\x03")
        self._drain()
        self.ser.write(b"\r\x01")
        self.read_until(PROMPT, timeout)
        if soft_reset:
            self.ser.write(b"\x04")
            self.read_until(b"soft reboot\r\n", timeout)
            self.read_until(PROMPT, timeout)

    def _send_paste(self, data, window):
        remain = window
        i = 0
        while i < len(data):
            while remain == 0 or self.ser.in_waiting:
                b = self.ser.read(1)
                if b == b"\x01":
                    remain += window
                elif b == b"\x04":  # the board ended the paste (e.g. out of memory)
                    self.ser.write(b"\x04")
                    raise ReplError("board aborted the raw-paste transfer")
                elif b:
                    raise ReplError("unexpected %r during raw paste" % b)
            chunk = data[i:i + remain]
            self.ser.write(chunk)
            remain -= len(chunk)
            i += len(chunk)
        self.ser.write(b"\x04")
        self.read_until(b"\x04", 10.0)

    def send_code(self, code):
        """Send code (str/bytes) for execution: raw-paste when offered, else plain raw mode."""
        data = code.encode() if isinstance(code, str) else code
        if self.raw_paste is not False:
            self.ser.write(b"\x05A\x01")
            r = self._read_n(2, 5.0)
            if r == b"R\x01":
                self.raw_paste = True
                self._send_paste(data, struct.unpack("<H", self._read_n(2, 5.0))[0])
                return
            self.raw_paste = False
            if r != b"R\x00":  # a firmware without raw-paste answers with the prompt again
                self.read_until(b"w REPL; CTRL-B to exit\r\n>", 5.0)
        for i in range(0, len(data), 256):
            self.ser.write(data[i:i + 256])
            time.sleep(0.01)
        self.ser.write(b"\x04")
        ok = self.read_until(b"OK", 10.0)
        if not ok.endswith(b"OK"):
            raise ReplError("board did not accept the code: %r" % ok)

    def follow(self, on_line=None, timeout=300.0, idle=120.0):
        """Read stdout (streamed to on_line line by line) up to Ctrl-D, then stderr up to Ctrl-D.
        ReplError after ``timeout`` s in total or ``idle`` s without a byte."""
        out = bytearray()
        line = bytearray()
        start = last = time.monotonic()
        while True:
            b = self._read()
            now = time.monotonic()
            if not b:
                if now - start > timeout or now - last > idle:
                    raise ReplError("no end of output after %.0f s; last output %r" % (now - start, bytes(out[-300:])))
                continue
            last = now
            k = b.find(b"\x04")
            part = b if k < 0 else b[:k]
            out += part
            if on_line is not None:
                for c in part:
                    if c == 10:
                        on_line(line.decode("utf-8", "replace").rstrip("\r"))
                        line = bytearray()
                    else:
                        line.append(c)
            if k >= 0:
                rest = b[k + 1:]
                break
        err = bytearray(rest)
        while b"\x04" not in err:
            b = self._read()
            if not b:
                if time.monotonic() - last > 30:
                    raise ReplError("no end of error output")
                continue
            last = time.monotonic()
            err += b
        tail = err[err.index(b"\x04") + 1:]
        err = err[:err.index(b"\x04")]
        if b">" not in tail:  # the prompt may have come in the same read as the end marker
            try:
                self.read_until(b">", 2.0)
            except ReplError:
                pass
        return bytes(out), bytes(err)

    def run(self, code, on_line=None, timeout=300.0):
        self.send_code(code)
        return self.follow(on_line, timeout)

    def exit(self):
        self.ser.write(b"\r\x02")


# Packages whose every module the board script imports before its "stack" sample (recursively:
# sub-packages such as lite_stack/blocks/ are found by listing), and packages of which only the
# __init__ is imported (hal drivers and board modules need the hardware; the script simulates it).
IMPORT_ALL = ("lite_stack", "device_model")
IMPORT_INIT = ("hal", "boards")


def on_demand_modules(root=ROOT):
    """Dotted names of the modules the stack loads on demand and releases after use: the blocks of
    ``lite_stack.blocks.ON_DEMAND`` (action, block pairs) and what each releases with it (its
    ``RELEASE``, e.g. device_model.report), and ``lite_stack.core.ON_USE`` (modules resident code
    imports per use and releases). Read from the source, so it works for any checkout."""
    import ast
    path = os.path.join(root, "lite_stack", "blocks", "__init__.py")
    if not os.path.exists(path):
        return []
    names = set()
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ON_DEMAND"
                                                for t in node.targets):
            val = ast.literal_eval(node.value)
            # action -> module dict, or flat (action, module, ...) pairs
            names.update(val.values() if isinstance(val, dict) else val[1::2])
    out = set()
    core = os.path.join(root, "lite_stack", "core", "__init__.py")
    if os.path.exists(core):   # modules resident code loads per use and releases (ON_USE)
        with open(core) as f:
            for node in ast.parse(f.read()).body:
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ON_USE"
                                                        for t in node.targets):
                    out.update(ast.literal_eval(node.value))
    for n in names:
        out.add("lite_stack.blocks." + n)
        src = os.path.join(root, "lite_stack", "blocks", n + ".py")
        if os.path.exists(src):
            with open(src) as f:
                for node in ast.parse(f.read()).body:
                    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "RELEASE"
                                                            for t in node.targets):
                        out.update(ast.literal_eval(node.value))
    return sorted(out)


def stack_imports(root=ROOT, on_demand=False):
    """Dotted names of the stack modules the board script imports up front, sorted, found by listing
    the packages: every module of ``IMPORT_ALL`` except the desktop-only ones
    (ocpp2lite.deploy.DESKTOP_ONLY, e.g. the simulator) and, unless ``on_demand``, the modules the
    stack loads on demand (``on_demand_modules``: a device imports them only while in use), plus
    the ``IMPORT_INIT`` packages."""
    from ocpp2lite.deploy import DESKTOP_ONLY
    lazy = () if on_demand else on_demand_modules(root)
    out = []
    for pkg in IMPORT_ALL:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, pkg)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                                 and os.path.exists(os.path.join(dirpath, d, "__init__.py")))
            for f in sorted(filenames):
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                if rel in DESKTOP_ONLY:
                    continue
                name = rel[:-3].replace("/", ".")
                name = name[:-len(".__init__")] if name.endswith(".__init__") else name
                if name not in lazy:
                    out.append(name)
    return sorted(out + list(IMPORT_INIT))


def board_script(opts):
    """bench/ram_board.py with ``OPTS = {...}`` in front (JSON is valid Python for these values)."""
    with open(BOARD_SCRIPT) as f:
        src = f.read()
    return "OPTS = %s\n%s" % (json.dumps(opts).replace("true", "True").replace("false", "False")
                              .replace("null", "None"), src)


def _result(out_text, err_text, where):
    from bench.ram import parse_output
    r = parse_output(out_text)
    end = [ln.strip()[5:] for ln in out_text.splitlines() if ln.strip().startswith("@END ")]
    r["where"] = where
    r["ok"] = bool(end) and end[-1] == "ok"
    r["error"] = None if r["ok"] else (end[-1] if end else "no @END line") + (
        (" | " + err_text.strip()[-400:]) if err_text.strip() else "")
    r["frames"] = None
    r["violations"] = None
    r["stderr_tail"] = err_text.strip().splitlines()[-20:] if not r["ok"] else []
    return r


def run_board(device, baud=115200, progress=None, board=None, timeout=300, state_dir="/ram_bench_state",
              feed_wdt=False, soft_reset=True, ser=None):
    """Run the board script on ``device``; -> result dict as bench.ram.scenario_run gives
    (ok, error, samples, pool, qstr, ...; "where": device)."""
    opts = {"state_dir": state_dir, "feed_wdt": bool(feed_wdt), "imports": stack_imports()}
    if board:
        opts["board"] = board
    n = [0]
    steps = 17

    def on_line(line):
        if progress and line.startswith("@R step:"):
            n[0] += 1
            progress(n[0], steps, line.split()[1])

    repl = RawRepl(device, baud, ser=ser)
    try:
        repl.enter(soft_reset)
        out, err = repl.run(board_script(opts), on_line, timeout)
        repl.exit()
    finally:
        repl.close()
    return _result(out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), device)


def run_local(heap="512k", timeout=120):
    """The board script on the local unix port (same output, same parser): a cross-check of the
    loopback figures without sockets, on simulated time."""
    from bench.ram import micropython_exe
    state = tempfile.mkdtemp(prefix="ocpp2lite-ram-board-")
    fd, path = tempfile.mkstemp(suffix=".py", prefix="ram_board_")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(board_script({"state_dir": state + "/s", "board": "desktop", "imports": stack_imports()}))
        p = subprocess.run([micropython_exe(), "-X", "heapsize=" + heap, path], cwd=ROOT,
                           capture_output=True, text=True, timeout=timeout)
        return _result(p.stdout, p.stderr, "unix port (in-process)")
    finally:
        os.remove(path)
        import shutil
        shutil.rmtree(state, ignore_errors=True)


# ---- a fake board for tests ---------------------------------------------------------------------

class FakeBoard:
    """A pseudo-terminal speaking MicroPython's raw REPL; received code runs on the local unix port.

    FakeBoard(raw_paste=True, heap="640k", window=128); ``start()`` -> device path (/dev/pts/N) for
    pyserial; ``stop()``. The heap is the 64-bit unix port's with the stack imported from .py
    (bytecode in RAM: about 2.5 times a frozen 32-bit build; the bench measures the Core day's
    smallest heap with .py imports at about 436 kB), a test of the serial protocol, not of the RAM
    budget (that is bench/fw32.py). ``log`` records what the host did: "ctrl-c", "raw", "soft-reset",
    "paste", "raw-exec", "friendly". ``runs`` counts executions.
    """

    def __init__(self, raw_paste=True, heap="640k", window=128):
        self.raw_paste = raw_paste
        self.heap = heap
        self.window = window
        self.log = []
        self.runs = 0
        self._stop = False
        self._t = None

    def start(self):
        import tty
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self.path

    def stop(self):
        self._stop = True
        if self._t:
            self._t.join(2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def _w(self, data):
        while data:
            n = os.write(self.master, data)
            data = data[n:]

    def _bytes(self):
        while True:
            stopping = self._stop  # after stop(): handle what the host already sent, then end
            r, _, _ = select.select([self.master], [], [], 0 if stopping else 0.1)
            if not r and stopping:
                return
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    return
                for c in chunk:
                    yield c

    def _loop(self):
        mode = "friendly"
        buf = bytearray()
        it = self._bytes()
        for c in it:
            if mode == "friendly":
                if c == 3:
                    self.log.append("ctrl-c")
                elif c == 1:
                    mode = "raw"
                    buf = bytearray()
                    self.log.append("raw")
                    self._w(b"\r\n" + PROMPT)
            elif mode == "raw":
                if c == 2:
                    mode = "friendly"
                    self.log.append("friendly")
                    self._w(b"\r\nMicroPython fake board\r\n>>> ")
                elif c == 3:
                    buf = bytearray()
                    self.log.append("ctrl-c")
                elif c == 4 and not buf:
                    self.log.append("soft-reset")
                    self._w(b"OK\r\nMPY: soft reboot\r\n" + PROMPT)
                elif c == 4:
                    self.log.append("raw-exec")
                    self._w(b"OK")
                    self._exec(bytes(buf))
                    buf = bytearray()
                elif c == 5 and not buf:
                    a, b = next(it), next(it)
                    if (a, b) != (ord("A"), 1):
                        continue
                    if not self.raw_paste:
                        self._w(b"R\x00")
                        continue
                    self.log.append("paste")
                    self._w(b"R\x01" + struct.pack("<H", self.window) + b"\x01")
                    got = 0
                    code = bytearray()
                    for d in it:
                        if d == 4:
                            break
                        code.append(d)
                        got += 1
                        if got % self.window == 0:
                            self._w(b"\x01")
                    self._w(b"\x04")
                    self._exec(bytes(code))
                else:
                    buf.append(c)

    def _exec(self, code):
        from bench.ram import micropython_exe
        self.runs += 1
        fd, path = tempfile.mkstemp(suffix=".py", prefix="fakeboard_")
        with os.fdopen(fd, "wb") as f:
            f.write(code)
        try:
            p = subprocess.Popen([micropython_exe(), "-X", "heapsize=" + self.heap, path], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            tb = bytearray()  # the unix port prints tracebacks on stdout; a board sends them as stderr
            for line in p.stdout:
                if tb or line.startswith(b"Traceback (most recent call last)"):
                    tb += line
                else:
                    self._w(line.rstrip(b"\n") + b"\r\n")
            err = bytes(tb) + p.stderr.read()
            p.wait()
            self._w(b"\x04" + err.replace(b"\n", b"\r\n") + b"\x04>")
        finally:
            os.remove(path)


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m bench.port",
                                description="Run the RAM bench script on a board over its serial REPL.")
    p.add_argument("device")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--board", default=None, help="boards.<name> (default: the firmware's)")
    p.add_argument("--feed-wdt", action="store_true")
    a = p.parse_args(argv)
    r = run_board(a.device, a.baud, board=a.board, feed_wdt=a.feed_wdt,
                  progress=lambda d, t, l: sys.stderr.write("\r[%d/%d] %-30s" % (d, t, l)))
    sys.stderr.write("\n")
    print(json.dumps({k: r[k] for k in ("ok", "error", "pool")}))
    from bench.ram import analyse
    print(json.dumps({k: v for k, v in analyse(r).items() if k not in ("steps", "by_message")}, indent=1))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
