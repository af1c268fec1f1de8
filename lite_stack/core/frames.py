"""Text-level pieces of the OCPP-J transport shared by ``ws`` and ``rpc`` (issue 13).

- ``Oversized``: what ``WebSocket.recv`` returns for a text message over ``max_frame`` (its first
  ``HEAD_KEEP`` bytes and its size; the rest was streamed past, never buffered).
- ``head_id``: (MessageTypeId, messageId) read from such a head (Part 4 §4.2), or None.
- ``utf8``: the bytes of a text frame we send, always valid UTF-8 (RFC 6455 §5.6, §8.1).
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

HEAD_KEEP = const(96)  # bytes kept of an oversized message: room for [2,"<36-char id>","<action>"


class Oversized:
    """``recv()`` result for a text message over ``max_frame``: ``head`` its first ``HEAD_KEEP``
    bytes (bytes, may end inside a UTF-8 sequence), ``size`` its total length in bytes."""

    def __init__(self, head, size):
        self.head = head
        self.size = size


def utf8(text):
    """``text`` as UTF-8 bytes with every lone surrogate replaced by U+FFFD. A JSON escape such
    as ``"\\ud83d"`` in a received frame decodes to one; MicroPython keeps it as its 3-byte form
    (ED A0..BF xx), which is not UTF-8, and CPython cannot encode it: echoed in an answer (a
    messageId, a property name in a CALLERROR description) it would make our text frame invalid
    (found by bench/netfuzz.py)."""
    try:
        b = text.encode()
    except UnicodeError:  # CPython: a lone surrogate; encode it as MicroPython does, then replace
        b = text.encode("utf-8", "surrogatepass")
    if len(b) == len(text):
        return b
    i = b.find(b"\xed")
    if i < 0:
        return b
    out = bytearray(b)
    while i >= 0:
        if i + 2 < len(b) and 0xA0 <= b[i + 1] <= 0xBF:
            out[i:i + 3] = b"\xef\xbf\xbd"
        i = b.find(b"\xed", i + 1)
    return bytes(out)



def _skip_ws(b, i):
    while i < len(b) and b[i] in (32, 9, 10, 13):
        i += 1
    return i


def head_id(b):
    """``(MessageTypeId, messageId)`` read from the first bytes ``b`` of a frame (the rest may be
    cut off), or None when they cannot be read: ``[`` type ``,`` ``"`` id ``"`` with JSON
    whitespace, an id of at most 36 characters without escapes (Part 4 §4.2)."""
    i = _skip_ws(b, 0)
    if i >= len(b) or b[i] != 0x5B:  # [
        return None
    i = _skip_ws(b, i + 1)
    j = i
    while j < len(b) and 0x30 <= b[j] <= 0x39 and j - i < 4:
        j += 1
    if j == i or j >= len(b):
        return None
    kind = int(str(b[i:j], "ascii"))
    i = _skip_ws(b, j)
    if i >= len(b) or b[i] != 0x2C:  # ,
        return None
    i = _skip_ws(b, i + 1)
    if i >= len(b) or b[i] != 0x22:  # "
        return None
    j = i + 1
    while j < len(b) and b[j] != 0x22:
        if b[j] == 0x5C or j - i > 36:  # an escape, or longer than 36
            return None
        j += 1
    if j >= len(b):
        return None
    try:
        return kind, str(b[i + 1:j], "utf-8")
    except UnicodeError:
        return None
