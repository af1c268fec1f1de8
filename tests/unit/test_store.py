"""device_model.store.Store: atomic CBOR files, recovery from temporaries and corruption, no
writes of unchanged values. Runs on CPython and MicroPython (power cuts: tests/mp_powercut.py)."""
import os

from device_model import cbor
from device_model.store import Store, pack, unpack, MAX_CORRUPT
from tests.unit.util import raises, tmpdir


class CountingFs:
    """os wrapper that counts commits (renames) so tests can prove a save did not write."""

    def __init__(self):
        self.renames = 0

    def rename(self, a, b):
        self.renames += 1
        os.rename(a, b)

    def remove(self, p):
        os.remove(p)

    def listdir(self, p):
        return os.listdir(p)

    def mkdir(self, p):
        os.mkdir(p)


def _write(path, data):
    f = open(path, "wb")
    f.write(data)
    f.close()


def _read(path):
    f = open(path, "rb")
    d = f.read()
    f.close()
    return d


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def test_roundtrip_and_persistence_across_restart():
    root = tmpdir("store") + "/a/b"   # parents are created
    st = Store(root)
    obj = {"evse": [1, 2], "op": True, "pw": "x" * 40, "b": b"\x00\x01", "n": None, "neg": -5}
    assert st.save("avail", obj) is True
    assert st.load("avail") == obj
    st2 = Store(root)  # a reboot
    assert st2.load("avail") == obj
    assert st2.load("missing", 7) == 7
    assert st2.corrupt == []


def test_file_is_plain_cbor_value_and_crc():
    root = tmpdir("store")
    st = Store(root)
    st.save("dm", [54, 60])
    data = _read(root + "/dm")
    value, crc = cbor.loads(data)
    assert value == [54, 60]
    assert (value, crc) == tuple(unpack(data))
    assert bytes(pack([54, 60])[0]) == data


def test_unchanged_value_is_not_written_again():
    root = tmpdir("store")
    fs = CountingFs()
    st = Store(root, fs)
    assert st.save("dm", [1, 2]) is True
    assert fs.renames == 1
    assert st.save("dm", [1, 2]) is False   # cached CRC
    assert fs.renames == 1
    st2 = Store(root, fs)                    # no cache: compares the stored bytes
    assert st2.save("dm", [1, 2]) is False
    assert fs.renames == 1
    assert st2.save("dm", [1, 3]) is True
    assert fs.renames == 2
    assert not _exists(root + "/dm.tmp")


def test_recovers_complete_temporary_when_target_missing():
    # FAT renames by deleting the target first: a cut there leaves only name.tmp
    root = tmpdir("store")
    _write(root + "/avail.tmp", bytes(pack({"cs": "Inoperative"})[0]))
    st = Store(root)
    assert st.load("avail") == {"cs": "Inoperative"}
    assert _exists(root + "/avail") and not _exists(root + "/avail.tmp")
    assert st.corrupt == []


def test_open_sweeps_leftover_temporaries():
    root = tmpdir("store")
    Store(root).save("a", 1)
    _write(root + "/a.tmp", bytes(pack(2)[0]))        # cut before rename: old value wins
    _write(root + "/b.tmp", bytes(pack(3)[0])[:-2])   # cut first write, torn: nothing stored
    _write(root + "/c.tmp", bytes(pack(4)[0]))        # target missing: promote
    st = Store(root)
    assert sorted(os.listdir(root)) == ["a", "c"]
    assert (st.load("a"), st.load("b", "none"), st.load("c")) == (1, "none", 4)
    assert st.corrupt == []


def test_corrupt_or_truncated_file_gives_default_and_is_reported():
    root = tmpdir("store")
    st = Store(root)
    st.save("dm", {"k": 12345})
    good = bytes(pack({"k": 12345})[0])
    _write(root + "/dm", good[:-3])                       # truncated write
    assert Store(root).load("dm", "dflt") == "dflt"
    flipped = bytearray(good)
    flipped[5] ^= 0x01                                    # still decodes, CRC catches it
    _write(root + "/dm", flipped)
    st2 = Store(root)
    assert st2.load("dm", "dflt") == "dflt"
    assert st2.corrupt == ["dm"]
    _write(root + "/dm", b"\xff\x00garbage")
    assert st2.load("dm") is None and st2.corrupt == ["dm"]  # listed once
    st2.save("dm", {"k": 1})                              # a new save repairs it
    assert Store(root).load("dm") == {"k": 1}


def test_corrupt_list_is_bounded():
    root = tmpdir("store")
    st = Store(root)
    for i in range(MAX_CORRUPT + 3):
        _write(root + "/f%d" % i, b"\x82\x01")
        st.load("f%d" % i)
    assert len(st.corrupt) == MAX_CORRUPT
    assert st.corrupt[-1] == "f%d" % (MAX_CORRUPT + 2)


def test_names_sorted_with_prefix_and_remove():
    root = tmpdir("store")
    st = Store(root)
    for n in (42, 7, 100000, 3):
        st.save("txq.%08d" % n, {"seq": n})
    st.save("dm", [])
    _write(root + "/txq.99999999.tmp", b"")  # never listed
    assert st.names("txq.") == ["txq.00000003", "txq.00000007", "txq.00000042", "txq.00100000"]
    assert st.names() == ["dm"] + st.names("txq.")
    st.remove("txq.00000007")
    st.remove("txq.00000007")               # missing is fine
    st.remove("nothing")
    assert st.names("txq.") == ["txq.00000003", "txq.00000042", "txq.00100000"]
    assert st.load("txq.00000007") is None
    assert st.save("txq.00000007", {"seq": 7}) is True   # removed, so it is written again


def test_bad_names_raise_value_error():
    st = Store(tmpdir("store"))
    for bad in ("", "a/b", "..", ".", "x.tmp", "a b", "é", "x" * 33, 5):
        raises(ValueError, st.save, bad, 1)
        raises(ValueError, st.load, bad)
    st.save("A-z_0.9", 1)
    assert st.load("A-z_0.9") == 1


def test_cache_stays_bounded_with_many_names():
    st = Store(tmpdir("store"))
    for i in range(40):
        st.save("txq.%08d" % i, i)
    assert len(st._crc) <= 16
    assert st.load("txq.00000000") == 0


def test_unsupported_object_raises_before_touching_flash():
    root = tmpdir("store")
    st = Store(root)
    st.save("x", 1)
    raises(TypeError, st.save, "x", {"f": set([1])})
    assert st.load("x") == 1 and os.listdir(root) == ["x"]
