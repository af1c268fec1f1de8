"""The diagnostics log (OCPP 2.0.1 Part 2 N01: GetLog ``DiagnosticsLog`` uploads it; its format
is not prescribed) and the resident state of a log upload (F06 TriggerMessage
LogStatusNotification).

What goes in: a line at each start (firmware version), every line the station logs through
``Context.log`` (connection up/down and failures, registration, errors, undelivered messages;
the tap is ``Context.diag``) and the events
``accepted`` (boot reason), ``tx_started`` / ``tx_ended`` (transaction ids), ``fault``,
``security`` (event type) and ``token`` (only a hash: ``token_ref``). No idToken in clear, no
message payloads (frames are not logged here).

Storage: a ring of two text files in the state directory, ``diag.log`` (being written) and
``diag.old`` (the previous one). Each entry is one line ``"<epoch_s> <text>\\n"``, ``text`` cut
to ``LINE_MAX`` characters with line breaks replaced; a line is appended and the file closed at
once (write-through: nothing is buffered in RAM). When ``diag.log`` would exceed ``seg_bytes``
it becomes ``diag.old`` (the previous ``diag.old``, the oldest half, is dropped): at most about
``2 * seg_bytes`` of flash. Power cut: on littlefs an append is atomic; on FAT the last line may
be cut short, so a start ends an unterminated last line and readers skip lines that do not
parse. A failing write (flash full, no directory) is ignored: logging never stops the station.
RAM: the object (path strings, one size int, the upload state). At start it also removes the
upload temporaries (``TMP_PREFIX``) a power cut left behind.

``DiagLog(root, clock, seg_bytes=SEG_BYTES)`` (``root`` None: a store without a directory, the
log keeps nothing); ``add(text)``; ``copy(f, oldest, latest)``
writes the entries with ``oldest <= epoch_s <= latest`` (None: unbounded) to the open text file
``f``, oldest first, as ``"<RFC 3339 time> <text>"`` lines, and returns the count;
``attach(ctx)`` taps ``ctx.log``, subscribes to the events and registers the
LogStatusNotification trigger. ``upload``: None when idle, else the ``requestId`` of the GetLog
upload in progress (written by the on-demand ``blocks.diagnostics``, read by the trigger).
"""
import os
from binascii import hexlify
from hashlib import sha256

from lite_stack.clock import iso

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

SEG_BYTES = const(4096)  # bytes per file of the ring (two files)
LINE_MAX = const(120)  # characters of text kept per entry
CUR = "diag.log"
OLD = "diag.old"
TMP_PREFIX = "getlog-"  # temporary upload files of blocks.diagnostics, swept at start


def token_ref(id_token):
    """A non-reversible reference to an idToken value for logs: ``"#"`` + 8 hex digits of its
    SHA-256 (str -> str). The CSMS can compute the same from its own records."""
    return "#" + hexlify(sha256(str(id_token).encode()).digest()[:4]).decode()


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


class DiagLog:
    def __init__(self, root, clock, seg_bytes=SEG_BYTES):
        self.clock = clock
        self.seg = seg_bytes
        self.upload = None
        self.size = 0
        self.cur = self.old = None
        if root is None:   # a store without a directory (in-memory, tests and fuzzing): no log
            return
        self.cur = root + "/" + CUR
        self.old = root + "/" + OLD
        self.size = _size(self.cur)
        if self.size > 0:
            try:
                with open(self.cur, "rb") as f:
                    f.seek(self.size - 1)
                    if f.read(1) != b"\n":  # cut by a power cut: end it
                        self._append(b"\n")
            except OSError:
                pass
        self.size = max(self.size, 0)
        try:  # upload temporaries left by a power cut during a GetLog (N01)
            for name in os.listdir(root):
                if name.startswith(TMP_PREFIX):
                    os.remove(root + "/" + name)
        except OSError:
            pass

    def _append(self, b):
        with open(self.cur, "ab") as f:
            f.write(b)
        self.size += len(b)

    def add(self, text):
        """Append one entry (see the module docstring); never raises for a flash failure."""
        if self.cur is None:
            return
        t = str(text)[:LINE_MAX].replace("\n", " ").replace("\r", " ")
        b = ("%d %s\n" % (self.clock.now(), t)).encode()
        try:
            if self.size and self.size + len(b) > self.seg:
                try:
                    os.remove(self.old)
                except OSError:
                    pass
                os.rename(self.cur, self.old)
                self.size = 0
            self._append(b)
        except OSError:
            pass

    def copy(self, f, oldest=None, latest=None):
        """Write the entries within [oldest, latest] (epoch s, None: open) to the text file ``f``
        as ``"<RFC 3339> <text>\\n"``, oldest first; -> the number of entries written."""
        n = 0
        for path in (self.old, self.cur):
            if path is None:
                continue
            try:
                src = open(path, "rb")
            except OSError:
                continue
            with src:
                while True:
                    ln = src.readline()
                    if not ln:
                        break
                    i = ln.find(b" ")
                    if i <= 0 or not ln.endswith(b"\n"):
                        continue
                    try:
                        t = int(ln[:i])
                        text = str(ln[i + 1:-1], "utf-8")
                    except (ValueError, UnicodeError):
                        continue
                    if (oldest is None or t >= oldest) and (latest is None or t <= latest):
                        f.write("%s %s\n" % (iso(t), text))
                        n += 1
        return n

    # ---- resident wiring --------------------------------------------------------------------
    def attach(self, ctx):
        """Tap ``ctx.log``, subscribe to the events, own TriggerMessage LogStatusNotification."""
        self.ctx = ctx
        ctx.diag = self
        ctx.subscribe(self)
        ctx.triggers["LogStatusNotification"] = self.trigger
        self.add("station start, firmware %s" % getattr(ctx.board, "FIRMWARE_VERSION", "?"))

    def on_event(self, kind, evse, data):
        if kind == "accepted":
            self.add("boot reason %s: registration Accepted" % data)
        elif kind == "tx_started" or kind == "tx_ended":
            self.add("EVSE %d transaction %s %s" % (evse.id, data, kind[3:]))
        elif kind == "fault":
            self.add("EVSE %d fault %s" % (evse.id, data or "cleared"))
        elif kind == "security":
            self.add("security event %s" % data[0])
        elif kind == "token":
            self.add("idToken %s presented" % token_ref(data[0]))

    def trigger(self, targets):
        """F06 TriggerMessage LogStatusNotification: ``Uploading`` with the ``requestId`` while a
        GetLog upload runs, else ``Idle`` without requestId (F06; LogStatusNotificationRequest
        omits requestId only when triggered with no upload ongoing)."""
        rid = self.upload
        msg = {"status": "Idle"} if rid is None else {"status": "Uploading", "requestId": rid}

        async def send():
            await self.ctx.send("LogStatusNotification", msg)
        self.ctx.after(send)
        return "Accepted"
