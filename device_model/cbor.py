"""A small CBOR codec (RFC 8949) for the persisted state of the stack, identical on MicroPython
and CPython.

Why an own codec instead of micropython-lib ``cbor2`` (MIT) / PyPI ``cbor2``: the stack persists
only None, bool, int, float, str, bytes, list/tuple and dict with str keys, so encoder and decoder fit in
about 1.3 kB of .mpy (micropython-lib's ``cbor2`` package is larger and carries tags, floats and
a stream API that this subset never needs), and one codec on both interpreters gives byte-identical
files, which ``device_model.store.Store`` relies on to skip unchanged writes (flash wear).
Interoperability with PyPI ``cbor2`` is tested both ways in tests/test_device_model_cpython.py.

Shapes:
- ``dumps(obj)`` -> bytes. Deterministic encoding: shortest integer/length heads, definite
  lengths only, map keys sorted length-first then bytewise (RFC 7049 §3.9 canonical, which is
  what ``cbor2.dumps(obj, canonical=True)`` produces, except that floats are always written as
  float64). int range -2**64 .. 2**64-1.
  Raises ``TypeError`` for an unsupported type or a non-str map key, ``ValueError`` for an
  int out of range or nesting deeper than ``MAX_DEPTH``.
- ``encode_into(buf, obj)``: appends the encoding to a ``bytearray`` (no intermediate copy).
- ``loads(data)`` -> object; ``decode_at(data, i)`` -> ``(object, end index)``.
  Decodes major types 0-5 and simple values false/true/null/undefined plus 32/64-bit floats;
  arrays -> list, maps -> dict. Raises ``ValueError`` for anything malformed: truncated input,
  trailing bytes (``loads``), indefinite lengths, tags, invalid UTF-8, unhashable map keys,
  nesting deeper than ``MAX_DEPTH``. Never raises IndexError/MemoryError for a lying length
  (lengths are checked against the bytes left before anything is allocated).
"""
import struct

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

MAX_DEPTH = const(16)


def _head(out, major, n):
    mt = major << 5
    if n < 24:
        out.append(mt | n)
    elif n < 0x100:
        out.append(mt | 24)
        out.append(n)
    elif n < 0x10000:
        out.append(mt | 25)
        out.extend(n.to_bytes(2, "big"))
    elif n < 0x100000000:
        out.append(mt | 26)
        out.extend(n.to_bytes(4, "big"))
    elif n < 0x10000000000000000:
        out.append(mt | 27)
        out.extend(n.to_bytes(8, "big"))
    else:
        raise ValueError("cbor: int out of range")


def _enc(out, obj, depth):
    if depth > MAX_DEPTH:
        raise ValueError("cbor: too deep")
    if obj is None:
        out.append(0xF6)
    elif obj is True:
        out.append(0xF5)
    elif obj is False:
        out.append(0xF4)
    elif isinstance(obj, int):
        if obj >= 0:
            _head(out, 0, obj)
        else:
            _head(out, 1, -1 - obj)
    elif isinstance(obj, str):
        b = obj.encode()
        _head(out, 3, len(b))
        out.extend(b)
    elif isinstance(obj, (bytes, bytearray)):
        _head(out, 2, len(obj))
        out.extend(obj)
    elif isinstance(obj, (list, tuple)):
        _head(out, 4, len(obj))
        for x in obj:
            _enc(out, x, depth + 1)
    elif isinstance(obj, float):
        out.append(0xFB)  # always float64 (meter readings such as Current.Import; board floats
        out.extend(struct.pack(">d", obj))  # may be 32-bit, widening is exact)
    elif isinstance(obj, dict):
        keys = []
        for k in obj:
            if not isinstance(k, str):
                raise TypeError("cbor: map keys must be str")
            kb = bytearray()
            _enc(kb, k, depth)
            keys.append((len(kb), bytes(kb), k))
        keys.sort()
        _head(out, 5, len(keys))
        for kl in keys:
            out.extend(kl[1])
            _enc(out, obj[kl[2]], depth + 1)
    else:
        raise TypeError("cbor: unsupported type %s" % type(obj))


def encode_into(buf, obj):
    """Append the CBOR encoding of ``obj`` to the bytearray ``buf``."""
    _enc(buf, obj, 0)


def dumps(obj):
    """Deterministic CBOR encoding of ``obj`` as bytes (see module docstring)."""
    out = bytearray()
    _enc(out, obj, 0)
    return bytes(out)


def _dec(b, i, depth):
    if depth > MAX_DEPTH:
        raise ValueError("cbor: too deep")
    end = len(b)
    if i >= end:
        raise ValueError("cbor: truncated")
    ib = b[i]
    i += 1
    major = ib >> 5
    ai = ib & 31
    if ai < 24:
        n = ai
    elif ai < 28:
        k = 1 << (ai - 24)
        if i + k > end:
            raise ValueError("cbor: truncated")
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    else:
        raise ValueError("cbor: indefinite length or reserved value")
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2 or major == 3:
        if n > end - i:
            raise ValueError("cbor: truncated")
        s = bytes(b[i:i + n])
        i += n
        if major == 2:
            return s, i
        try:
            return str(s, "utf-8"), i
        except UnicodeError:
            raise ValueError("cbor: invalid utf-8")
    if major == 4:
        if n > end - i:  # every item takes at least one byte
            raise ValueError("cbor: truncated")
        lst = []
        for _ in range(n):
            x, i = _dec(b, i, depth + 1)
            lst.append(x)
        return lst, i
    if major == 5:
        if n > (end - i) // 2:
            raise ValueError("cbor: truncated")
        d = {}
        for _ in range(n):
            k, i = _dec(b, i, depth + 1)
            v, i = _dec(b, i, depth + 1)
            try:
                d[k] = v
            except TypeError:
                raise ValueError("cbor: unhashable map key")
        return d, i
    if major == 7:
        if ai == 20:
            return False, i
        if ai == 21:
            return True, i
        if ai == 22 or ai == 23:
            return None, i
        if ai == 26:
            return struct.unpack(">f", b[i - 4:i])[0], i
        if ai == 27:
            return struct.unpack(">d", b[i - 8:i])[0], i
    raise ValueError("cbor: unsupported item 0x%02x" % ib)


def decode_at(data, i=0):
    """Decode one item starting at index ``i``; returns ``(object, index after it)``."""
    return _dec(data, i, 0)


def loads(data):
    """Decode exactly one CBOR item filling ``data`` (bytes/bytearray/memoryview)."""
    obj, i = _dec(data, 0, 0)
    if i != len(data):
        raise ValueError("cbor: trailing bytes")
    return obj
