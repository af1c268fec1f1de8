"""File helpers shared by the bench scripts and the dual-interpreter tests; runs unchanged on
CPython and on the MicroPython unix port (which has no shutil).

- ``rmtree(path)``: remove a directory tree; a missing path is fine.
- ``romfs_image(files)``: a ROMFS image in the format of MicroPython's ``vfs.VfsRom`` (as
  ``mpremote romfs`` writes it) holding ``files`` = {"name.mpy" or "pkg/name.mpy": bytes} (one
  directory level) -> bytes. Mount it with ``vfs.mount(vfs.VfsRom(img), "/rom")`` to execute .mpy
  in place, so bytecode costs (almost) no GC heap, as frozen bytecode on a board.

bench/ram_board.py keeps its own ``rmtree``: it is sent alone to a board over the raw REPL.
"""
import os


def rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.listdir(p)
            rmtree(p)
        except OSError:
            os.remove(p)
    os.rmdir(path)


def _uint(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.insert(0, 0x80 | (v & 0x7F))
        v >>= 7
    return bytes(out)


def _rec(kind, payload):
    return _uint(kind) + _uint(len(payload)) + payload


def romfs_image(files):
    dirs = {}
    top = bytearray()
    for path in sorted(files):
        i = path.rfind("/")
        d, name = (path[:i], path[i + 1:]) if i >= 0 else ("", path)
        rec = _rec(5, _uint(len(name)) + name.encode() + _rec(2, files[path]))  # file, verbatim
        if d:
            if d not in dirs:
                dirs[d] = bytearray()
            dirs[d].extend(rec)
        else:
            top += rec
    for d in sorted(dirs):
        top += _rec(4, _uint(len(d)) + d.encode() + bytes(dirs[d]))            # directory
    hdr = b"\xd2\xcd\x31"
    ln = _uint(len(top))
    if (len(hdr) + len(ln) + len(top)) % 2:
        ln = b"\x80" + ln
    return bytes(hdr + ln + top)
