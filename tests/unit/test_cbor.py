"""device_model.cbor: RFC 8949 Appendix A vectors, deterministic maps, and every malformed input
ends in ValueError (never IndexError/MemoryError). Runs on CPython and MicroPython."""
from binascii import unhexlify, hexlify

from device_model import cbor
from tests.unit.util import raises

# RFC 8949 Appendix A (the subset the codec supports), value -> hex
VECTORS = (
    (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"), (100, "1864"),
    (1000, "1903e8"), (1000000, "1a000f4240"), (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"), (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
    (False, "f4"), (True, "f5"), (None, "f6"),
    (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"), ("\u00fc", "62c3bc"),
    ("\u6c34", "63e6b0b4"),
    ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"), ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    ({"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"},
     "a56161614161626142616361436164614461656145"),
)


def test_rfc8949_appendix_a_encode_and_decode():
    for value, hx in VECTORS:
        enc = cbor.dumps(value)
        assert hexlify(enc).decode() == hx, (value, hexlify(enc))
        assert cbor.loads(unhexlify(hx)) == value


def test_tuple_encodes_as_array_and_decodes_as_list():
    assert cbor.dumps((1, "x")) == cbor.dumps([1, "x"])
    assert cbor.loads(cbor.dumps((1, (2,)))) == [1, [2]]


def test_map_keys_sorted_length_first_independent_of_insertion_order():
    a = {}
    for k in ("zz", "a", "bb", "b", "ccc"):
        a[k] = len(k)
    b = {}
    for k in ("ccc", "b", "bb", "a", "zz"):
        b[k] = len(k)
    assert cbor.dumps(a) == cbor.dumps(b)
    # a, b, bb, zz, ccc
    assert cbor.dumps(a) == unhexlify("a561610161620162626202627a7a0263636363" + "03")


def test_decodes_floats_and_undefined_from_other_encoders():
    assert cbor.loads(unhexlify("fa47c35000")) == 100000.0
    assert cbor.loads(unhexlify("fb3ff199999999999a")) == 1.1
    assert cbor.loads(unhexlify("f7")) is None


def test_every_truncation_raises_value_error():
    obj = {"txq": [1, -70000, "Energy.Active.Import.Register", b"\x00\xff", None, True],
           "n": 4294967296}
    enc = cbor.dumps(obj)
    assert cbor.loads(enc) == obj
    for n in range(len(enc)):
        raises(ValueError, cbor.loads, enc[:n])


def test_trailing_bytes_rejected():
    raises(ValueError, cbor.loads, b"\x01\x01")
    assert cbor.decode_at(b"\x01\x02", 1) == (2, 2)


def test_lying_lengths_do_not_allocate():
    # array/map/bytes/string claiming 2**32-1 or 2**64-1 elements with nothing behind them
    for hx in ("9bffffffffffffffff", "9affffffff", "bbffffffffffffffff", "5affffffff",
               "7bffffffffffffffff"):
        raises(ValueError, cbor.loads, unhexlify(hx))


def test_unsupported_items_rejected():
    for hx in ("9f01ff",        # indefinite array
               "c11a514b67b0",  # tag 1 (epoch date)
               "f93c00",        # half float
               "1c", "f8ff",    # reserved / simple value 255
               "62c328"):       # invalid UTF-8
        raises(ValueError, cbor.loads, unhexlify(hx))
    raises(ValueError, cbor.loads, unhexlify("a1800102"))  # unhashable key [] -> ValueError


def test_depth_limit_both_ways():
    deep = []
    for _ in range(cbor.MAX_DEPTH + 2):
        deep = [deep]
    raises(ValueError, cbor.dumps, deep)
    raises(ValueError, cbor.loads, b"\x81" * (cbor.MAX_DEPTH + 2) + b"\x80")
    ok = []
    for _ in range(cbor.MAX_DEPTH - 1):
        ok = [ok]
    assert cbor.loads(cbor.dumps(ok)) == ok


def test_floats_round_trip_as_float64_for_meter_readings():
    # Current.Import 32.2 A in a queued TransactionEvent (J02) must persist
    assert cbor.dumps(32.2) == unhexlify("fb40401999999999" + "9a")
    assert cbor.loads(cbor.dumps({"value": 32.2})) == {"value": 32.2}
    assert cbor.loads(cbor.dumps(-0.5)) == -0.5


def test_encoder_rejects_unsupported_types_and_ranges():
    raises(TypeError, cbor.dumps, {1: "int key"})
    raises(TypeError, cbor.dumps, {"s": set([1])})
    raises(ValueError, cbor.dumps, 18446744073709551616)
    raises(ValueError, cbor.dumps, -18446744073709551617)


def test_encode_into_appends():
    buf = bytearray(b"\x82")
    cbor.encode_into(buf, 1)
    cbor.encode_into(buf, "a")
    assert cbor.loads(buf) == [1, "a"]
