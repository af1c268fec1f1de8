"""Power-cut-safe key/value persistence: one small CBOR file per name in a directory.

Used for the device model's writable variables (name ``"dm"``), availability (G03/G04: the
ChangeAvailability state persists across reboots, TC_G_18/G_19/G_21), the transaction queue
(one file per queued message, ``"txq.00000042"``) and any other state the stack must keep.

File format (valid CBOR, readable by any CBOR decoder, e.g. PyPI ``cbor2``): a 2-element array
``[value, crc]`` where ``crc`` is the CRC-32 (ISO-HDLC, ``binascii.crc32``) of every byte of the
file before the ``crc`` item. The CRC catches corruption that still decodes (a flipped bit in an
integer); the decoder catches truncation.

Write protocol (power-cut safe on littlefs, FAT and POSIX; see docs/micropython-notes):
write ``name.tmp``, flush (+ ``fsync`` where it exists), rename over ``name``. On littlefs the
rename is atomic; on FAT the rename deletes the target first, so ``load`` (and the sweep when the
store opens) recovers a complete ``name.tmp`` when ``name`` is missing or unreadable. Either way a
reader sees wholly the old or wholly the new value (tests/mp_powercut.py cuts power at every block
write of a littlefs image to prove it).

Flash wear: ``save`` never writes a value whose encoding equals what is stored; it compares
CRCs cached for the last ``CACHE_MAX`` names it wrote or read, and otherwise compares the bytes
of the stored file.

Errors: a corrupt file (decode or CRC failure) is never raised to the caller: ``load`` returns the
default and appends the name to ``Store.corrupt`` (at most ``MAX_CORRUPT`` names), so the
station can log it and send a SecurityEventNotification (A04). ``save``/``remove`` raise
``OSError`` only for real I/O failures (flash full, device gone); names outside
``[A-Za-z0-9_.-]{1,32}`` (or ending in ``.tmp``) raise ``ValueError``.
"""
import os

try:
    from binascii import crc32
except ImportError:  # pragma: no cover
    from zlib import crc32

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

from device_model import cbor

MAX_CORRUPT = const(8)   # names remembered in Store.corrupt
CACHE_MAX = const(16)    # names whose CRC is cached for the unchanged-write check
NAME_MAX = const(32)     # characters in a name
_TMP = ".tmp"


def _check_name(name):
    if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX or name in (".", "..") \
            or name.endswith(_TMP):
        raise ValueError("store: bad name %r" % (name,))
    for ch in name:
        if not ("a" <= ch <= "z" or "A" <= ch <= "Z" or "0" <= ch <= "9" or ch in "_.-"):
            raise ValueError("store: bad name %r" % (name,))


def pack(obj):
    """File bytes for ``obj``: CBOR ``[obj, crc32(preceding bytes)]``. Returns (bytearray, crc)."""
    out = bytearray(b"\x82")
    cbor.encode_into(out, obj)
    crc = crc32(out) & 0xFFFFFFFF
    cbor.encode_into(out, crc)
    return out, crc


def unpack(data):
    """Inverse of ``pack``: returns ``(obj, crc)``; raises ValueError if corrupt or truncated."""
    if len(data) < 3 or data[0] != 0x82:
        raise ValueError("store: not a [value, crc] record")
    obj, i = cbor.decode_at(data, 1)
    crc, j = cbor.decode_at(data, i)
    if j != len(data) or not isinstance(crc, int) or crc != crc32(memoryview(data)[:i]) & 0xFFFFFFFF:
        raise ValueError("store: CRC mismatch")
    return obj, crc


class Store:
    """Power-cut-safe key/value persistence, one small CBOR file per name in ``root``
    (a directory path, created with its parents if missing).

    ``fs``: module with rename/remove/listdir/mkdir (default ``os``; files are opened with the
    builtin ``open``); on a device ``root`` is a path on the mounted littlefs (``/flash/state``).
    Objects: None, bool, int, str, bytes, list/tuple, dict with str keys, nested (tuples come
    back as lists)."""

    def __init__(self, root, fs=None):
        self.fs = fs or os
        self.root = root.rstrip("/") if len(root) > 1 else root
        self.corrupt = []
        self._crc = {}
        self._mkdirs()
        self._sweep()

    def _mkdirs(self):
        path = None
        for part in self.root.split("/"):
            path = part if path is None else path + "/" + part
            if part:
                try:
                    self.fs.mkdir(path)
                except OSError:
                    pass  # exists (if it is a file, the first open fails loudly)

    def _path(self, name):
        return self.root + "/" + name

    def _read(self, path):
        try:
            f = open(path, "rb")
        except OSError:
            return None
        try:
            return f.read()
        finally:
            f.close()

    def _remember(self, name, crc):
        c = self._crc
        if name not in c and len(c) >= CACHE_MAX:
            c.popitem()
        c[name] = crc

    def _flag(self, name):
        if name not in self.corrupt:
            if len(self.corrupt) >= MAX_CORRUPT:
                self.corrupt.pop(0)
            self.corrupt.append(name)

    def _sweep(self):
        # Leftover temporaries from a cut write: keep a valid target, else promote the temporary.
        try:
            entries = self.fs.listdir(self.root)
        except OSError:
            return
        for e in entries:
            if e.endswith(_TMP):
                base = e[:-4]
                data = self._read(self._path(base))
                if data is not None:
                    try:
                        unpack(data)
                        self._unlink(self._path(e))
                        continue
                    except ValueError:
                        pass
                try:
                    _check_name(base)
                except ValueError:
                    continue
                self.load(base)

    def _unlink(self, path):
        try:
            self.fs.remove(path)
        except OSError:
            pass

    def load(self, name, default=None):
        """The stored object for ``name``, or ``default`` if there is none or it is corrupt
        (then ``name`` is appended to ``self.corrupt``). Recovers from ``name.tmp`` when the
        target is missing or corrupt and the temporary is complete."""
        _check_name(name)
        path = self._path(name)
        data = self._read(path)
        if data is not None:
            try:
                obj, crc = unpack(data)
                self._remember(name, crc)
                return obj
            except ValueError:
                pass
        tmp = path + _TMP
        tdata = self._read(tmp)
        if tdata is not None:
            try:
                obj, crc = unpack(tdata)
            except ValueError:
                self._unlink(tmp)  # a cut first write: nothing was ever stored
            else:
                self._rename(tmp, path)
                self._remember(name, crc)
                return obj
        if data is not None:
            self._flag(name)
        self._crc.pop(name, None)
        return default

    def _rename(self, src, dst):
        fs = self.fs
        rep = getattr(fs, "replace", None)  # CPython: atomic replace on every OS
        if rep:
            rep(src, dst)
        else:
            fs.rename(src, dst)  # littlefs: atomic; VfsFat: removes dst first (load recovers)

    def save(self, name, obj):
        """Store ``obj`` under ``name`` atomically (tmp, flush, rename). Returns True if it
        wrote, False if the stored value already had the same encoding (no flash write)."""
        _check_name(name)
        data, crc = pack(obj)
        known = self._crc.get(name)
        if known == crc:
            return False
        path = self._path(name)
        if known is None and self._read(path) == data:
            self._remember(name, crc)
            return False
        tmp = path + _TMP
        f = open(tmp, "wb")
        try:
            f.write(data)
            f.flush()
            sync = getattr(self.fs, "fsync", None)
            if sync and hasattr(f, "fileno"):
                sync(f.fileno())
        finally:
            f.close()
        self._rename(tmp, path)
        self._sync_dir()
        self._remember(name, crc)
        return True

    def _sync_dir(self):
        # POSIX: make the rename itself durable. No-op on MicroPython (no os.open/fsync).
        fs = self.fs
        if hasattr(fs, "fsync") and hasattr(fs, "O_RDONLY"):
            try:
                fd = fs.open(self.root, fs.O_RDONLY)
            except OSError:
                return
            try:
                fs.fsync(fd)
            except OSError:
                pass
            finally:
                fs.close(fd)

    def remove(self, name):
        """Delete ``name`` (and a leftover ``name.tmp``); a missing file is fine."""
        _check_name(name)
        path = self._path(name)
        self._unlink(path)
        self._unlink(path + _TMP)
        self._crc.pop(name, None)

    def names(self, prefix=""):
        """Sorted list of the stored names starting with ``prefix`` (temporaries excluded)."""
        try:
            entries = self.fs.listdir(self.root)
        except OSError:
            return []
        out = [e for e in entries if e.startswith(prefix) and not e.endswith(_TMP)]
        out.sort()
        return out
