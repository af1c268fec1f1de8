"""Firmware staging in a file system behind an atomic pointer (the desktop board and the Pico W
application bundle; L01 ``install_firmware`` / ``firmware_booted``, see lite_stack/blocks/firmware.py).

Layout in ``state_dir``: two slots ``fw_a.bin`` / ``fw_b.bin`` and the pointer ``fw_boot`` whose
text is ``"<slot> <state>"``: slot ``a`` or ``b``, state ``trial`` (installed, not yet booted) or
``good`` (booted and confirmed). No pointer = the factory image. The pointer is written as
``fw_boot.new`` then renamed over ``fw_boot`` (littlefs and POSIX: atomic; a reader on FAT
recovers ``fw_boot.new`` when ``fw_boot`` is missing), so a power cut leaves the old or the new
pointer. (Not ``.tmp``: the state store, device_model.store, sweeps ``*.tmp`` in the state dir as
its own cut record writes.)

- ``stage(path, state_dir, fs=os)``: copy the image ``path`` into the slot not in use (1 kB
  chunks, via ``.new`` + rename), then point ``fw_boot`` at it as ``trial``. ``OSError`` on I/O
  failure (the pointer is then unchanged: nothing half-installed), ``ValueError`` for an empty image.
- ``confirm(state_dir, fs=os)`` -> True when the pointer is ``trial``: this start runs the image
  staged last (the loader of the board picks the slot from ``fw_boot``); it is marked ``good``.
  False with no pointer or a ``good`` one (an older update: the last install never activated).
- ``current(state_dir, fs=os)`` -> (slot or None, state or None).
"""
import os

CHUNK = 1024


def _p(d, name):
    return d + "/" + name


def current(state_dir, fs=os):
    for name in ("fw_boot", "fw_boot.new"):
        try:
            with open(_p(state_dir, name)) as f:
                t = f.read().split()
        except OSError:
            continue
        if len(t) == 2 and t[0] in ("a", "b") and t[1] in ("trial", "good"):
            return t[0], t[1]
    return None, None


def _write_ptr(state_dir, slot, state, fs):
    tmp = _p(state_dir, "fw_boot.new")
    with open(tmp, "w") as f:
        f.write(slot + " " + state)
    try:
        fs.remove(_p(state_dir, "fw_boot"))   # MicroPython's rename does not replace
    except OSError:
        pass
    fs.rename(tmp, _p(state_dir, "fw_boot"))


def stage(path, state_dir, fs=os):
    slot, _ = current(state_dir, fs)
    target = "b" if slot == "a" else "a"
    dst = _p(state_dir, "fw_%s.bin" % target)
    buf = bytearray(CHUNK)
    n = 0
    with open(path, "rb") as src, open(dst + ".new", "wb") as out:
        while True:
            k = src.readinto(buf)
            if not k:
                break
            out.write(memoryview(buf)[:k])
            n += k
    if not n:
        fs.remove(dst + ".new")
        raise ValueError("empty image")
    try:
        fs.remove(dst)
    except OSError:
        pass
    fs.rename(dst + ".new", dst)
    _write_ptr(state_dir, target, "trial", fs)


def confirm(state_dir, fs=os):
    slot, state = current(state_dir, fs)
    if state != "trial":
        return False
    _write_ptr(state_dir, slot, "good", fs)
    return True
