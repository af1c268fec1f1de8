"""File helpers shared by the bench scripts and the dual-interpreter tests; runs unchanged on
CPython and on the MicroPython unix port (which has no shutil).

- ``rmtree(path)``: remove a directory tree; a missing path is fine.
- ``romfs_image(files)``: a ROMFS image in the format of MicroPython's ``vfs.VfsRom`` (as
  ``mpremote romfs`` writes it) holding ``files`` = {"name.mpy" or "pkg/sub/name.mpy": bytes}
  (directories nested as deep as the paths) -> bytes. Mount it with
  ``vfs.mount(vfs.VfsRom(img), "/rom")`` to execute .mpy in place, so bytecode costs (almost) no GC heap, as frozen bytecode on a board.

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


def _romfs_dir(tree):
    out = bytearray()
    for name in sorted(tree):
        v = tree[name]
        if isinstance(v, dict):
            out += _rec(4, _uint(len(name)) + name.encode() + bytes(_romfs_dir(v)))  # directory
        else:
            out += _rec(5, _uint(len(name)) + name.encode() + _rec(2, v))             # file, verbatim
    return out


def romfs_image(files):
    tree = {}
    for path in files:
        parts = path.split("/")
        d = tree
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = files[path]
    top = _romfs_dir(tree)
    hdr = b"\xd2\xcd\x31"
    ln = _uint(len(top))
    if (len(hdr) + len(ln) + len(top)) % 2:
        ln = b"\x80" + ln
    return bytes(hdr + ln + top)
