"""Power-cut test of device_model.store on littlefs (MicroPython unix port only).

Usage (from the repository root): micropython tests/mp_powercut.py [-v]

A RAM block device (extended block interface: readblocks/writeblocks with offset, ioctl erase)
holds a littlefs2 image (``vfs.VfsLfs2``). For each scenario the store first holds known values;
then one operation runs with the device cut off before its k-th block operation (program or
erase), for k = 0, 1, 2, ... until the operation completes without reaching the cut. Each cut
is tried twice: a clean cut (the k-th operation never happens) and a torn one (the k-th program
writes only the first half of its bytes, the k-th erase erases only the first half of its block).
After every cut the image is "rebooted": mounted afresh, a new Store opened (its sweep recovers
temporaries), and every name must hold wholly its old or wholly its new value (the untouched
names exactly their old value), nothing may be reported corrupt, and a further save must work.
For the clean cuts of the overwrite scenario the recovery itself is cut at every point too.

Prints one line per scenario and a final ``N passed, N failed`` line (N = cut points, i.e. runs
in which power was lost; the completing run of each series is not counted); exits 1 on any
failure.
"""
import sys

if "" not in sys.path:
    sys.path.insert(0, "")
import vfs

from device_model.store import Store

BLOCK_SIZE = 512
BLOCKS = 64
MOUNT = "/lfs_powercut"
ROOT = MOUNT + "/state"
VERBOSE = "-v" in sys.argv

OLD_DM = [54, 60, 2, "0", 28, "Energy.Active.Import.Register"]
NEW_DM = [54, 30, 2, "1,0", 28, "Energy.Active.Import.Register,Power.Active.Import", 52,
          "0123456789abcdefghij0123456789"]
AVAIL = {"0": "Operative", "1": "Inoperative"}
TXQ = {"seq": 0, "msg": ["TransactionEvent", {"eventType": "Started", "seqNo": 0,
                                              "meterValue": [{"sampledValue": [{"value": 1234}]}]}]}


class RamBdev:
    """littlefs block device in RAM that can lose power before its ``limit``-th operation."""

    def __init__(self, data):
        self.data = bytearray(data)
        self.ops = 0
        self.limit = -1
        self.torn = False
        self.dead = False  # power is gone: nothing reaches the flash any more

    def _cut(self):
        if 0 <= self.limit <= self.ops:
            self.dead = True
            return True
        self.ops += 1
        return False

    # At the cut the flash content freezes: the cut operation is dropped (or torn) and so is
    # everything after it, without raising (an exception would unwind littlefs mid-operation,
    # which a real power cut does not do) and without allocating (abandoned file objects may be
    # finalized later by the GC, with the heap locked). The image is taken from ``data``.
    def readblocks(self, block, buf, off=0):
        if self.dead:
            return
        a = block * BLOCK_SIZE + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, block, buf, off=0):
        if self.dead:
            return
        a = block * BLOCK_SIZE + off
        if self._cut():
            if self.torn:
                h = len(buf) // 2
                self.data[a:a + h] = buf[:h]
            return
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return BLOCKS
        if op == 5:
            return BLOCK_SIZE
        if op == 6:
            if self.dead:
                return 0
            a = arg * BLOCK_SIZE
            if self._cut():
                if self.torn:
                    self.data[a:a + BLOCK_SIZE // 2] = b"\xff" * (BLOCK_SIZE // 2)
                return 0
            self.data[a:a + BLOCK_SIZE] = b"\xff" * BLOCK_SIZE
            return 0
        return 0


def mount(bd):
    vfs.mount(vfs.VfsLfs2(bd), MOUNT)


def umount():
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass


def image(setup):
    bd = RamBdev(b"\xff" * (BLOCKS * BLOCK_SIZE))
    vfs.VfsLfs2.mkfs(bd)
    mount(bd)
    try:
        setup(Store(ROOT))
    finally:
        umount()
    return bytes(bd.data)


def run_cut(img, op, k, torn):
    """Run ``op(store)`` on a copy of ``img`` with power lost before block operation ``k``.
    Returns (completed, image after)."""
    bd = RamBdev(img)
    mount(bd)
    bd.limit = k
    bd.torn = torn
    done = False
    try:
        try:
            st = Store(ROOT)
            op(st)
            done = not bd.dead
        except Exception:  # whatever the code saw after the power was gone does not matter
            pass
    finally:
        umount()
    return done, bytes(bd.data)


def reboot_check(img, expect, done, new_values, cut_recovery_at=-1):
    """Mount ``img``, open a Store and check every name. ``expect``: {name: (old, new)}.
    Returns an error string or None. With ``cut_recovery_at`` >= 0 the recovery (Store open and
    loads) loses power at that operation first, and the check runs on the image after that."""
    if cut_recovery_at >= 0:
        bd = RamBdev(img)
        mount(bd)
        bd.limit = cut_recovery_at
        try:
            try:
                st = Store(ROOT)
                for name in expect:
                    st.load(name)
            except Exception:
                pass
        finally:
            umount()
        img = bytes(bd.data)
    bd = RamBdev(img)
    try:
        mount(bd)
    except OSError as e:
        return "mount failed: %r" % e
    try:
        st = Store(ROOT)
        for name in expect:
            old, new = expect[name]
            got = st.load(name)
            if done and got != new:
                return "%s: completed but got %r" % (name, got)
            if got != old and got != new:
                return "%s: neither old nor new: %r" % (name, got)
        if st.corrupt:
            return "corrupt reported: %r" % st.corrupt
        for name in new_values:   # the file system and the store still work
            st.save(name, {"after": name})
            if Store(ROOT).load(name) != {"after": name}:
                return "save after recovery lost"
    finally:
        umount()
    return None


def recovery_ops(img, expect):
    """Block operations the recovery (Store open + loads) performs on ``img``."""
    bd = RamBdev(img)
    mount(bd)
    try:
        st = Store(ROOT)
        for name in expect:
            st.load(name)
    finally:
        umount()
    return bd.ops


def scenario(title, setup, op, expect, nested=False):
    img = image(setup)
    points = 0
    fails = 0
    for torn in (False, True):
        k = 0
        while True:
            done, after = run_cut(img, op, k, torn)
            points += 0 if done else 1
            err = reboot_check(after, expect, done, list(expect))
            if err:
                fails += 1
                print("FAIL %s cut=%d torn=%s: %s" % (title, k, torn, err))
            elif VERBOSE:
                print("ok %s cut=%d torn=%s done=%s" % (title, k, torn, done))
            if nested and not torn and not done:
                for j in range(recovery_ops(after, expect)):
                    err = reboot_check(after, expect, False, list(expect), j)
                    points += 1
                    if err:
                        fails += 1
                        print("FAIL %s cut=%d recovery-cut=%d: %s" % (title, k, j, err))
            if done:
                break
            k += 1
    print("%s: %d cut points, %d failures" % (title, points, fails))
    return points, fails


def main():
    total = 0
    bad = 0

    def setup(st):
        st.save("dm", OLD_DM)
        st.save("availability", AVAIL)
        st.save("txq.00000000", TXQ)

    same = {"availability": (AVAIL, AVAIL)}

    exp = {"dm": (OLD_DM, NEW_DM), "txq.00000000": (TXQ, TXQ)}
    exp.update(same)
    p, f = scenario("overwrite dm", setup, lambda st: st.save("dm", NEW_DM), exp, nested=True)
    total += p
    bad += f

    exp = {"dm": (OLD_DM, OLD_DM), "txq.00000001": (None, TXQ)}
    exp.update(same)
    p, f = scenario("first write txq.00000001", setup, lambda st: st.save("txq.00000001", TXQ),
                    exp)
    total += p
    bad += f

    exp = {"dm": (OLD_DM, OLD_DM), "txq.00000000": (TXQ, None)}
    exp.update(same)
    p, f = scenario("remove txq.00000000", setup, lambda st: st.remove("txq.00000000"), exp)
    total += p
    bad += f

    def two(st):
        st.save("dm", NEW_DM)
        st.save("availability", {"0": "Inoperative"})
    exp = {"dm": (OLD_DM, NEW_DM), "availability": (AVAIL, {"0": "Inoperative"}),
           "txq.00000000": (TXQ, TXQ)}
    p, f = scenario("two saves in a row", setup, two, exp)
    total += p
    bad += f

    big_old = {"log": "A" * 3000}
    big_new = {"log": "B" * 2500, "n": list(range(100))}

    def setup_big(st):
        setup(st)
        st.save("big", big_old)
    exp = {"big": (big_old, big_new), "dm": (OLD_DM, OLD_DM), "txq.00000000": (TXQ, TXQ)}
    exp.update(same)
    p, f = scenario("overwrite 3 kB value", setup_big, lambda st: st.save("big", big_new), exp,
                    nested=True)
    total += p
    bad += f

    print("%d passed, %d failed" % (total - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
