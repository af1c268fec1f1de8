"""Inbound payload validation against the OCPP 2.0.1 JSON schemas, from compact generated tables.

``check(action, payload, response=False)`` validates the json-decoded payload of a CALL the CSMS
sent (``response=False``: ``<action>Request`` schema) or of a CALLRESULT answering one of the
Charging Station's CALLs (``response=True``: ``<action>Response`` schema). It returns ``None`` when
the payload is valid, else ``(error_code, description)`` ready for a CALLERROR (OCPP 2.0.1 Part 4
section 4.2.3): ``error_code`` an OCPP-J error code (Part 4 section 4.3), ``description`` at most
255 characters naming the offending field, e.g. ``"getVariableData[0].component.name: required"``.

The tables (lite_stack/core/schemas.py) are generated from the ``ocpp`` package's schemas by
``python -m ocpp2lite.gen_schemas``; which messages are covered is the SCHEMAS tuple there.

Semantics are those of jsonschema's ``Draft4Validator`` (what the ``ocpp`` library uses for
OCPP 2.0.1) with its format checker for ``date-time`` (``rfc3339-validator`` on the upper-cased
string), except where noted below.

Error code mapping. Part 4 section 4.3 defines: FormatViolation "Payload for Action is syntactically
incorrect"; OccurrenceConstraintViolation "... at least one of the fields violates occurrence
constraints"; PropertyConstraintViolation "... at least one field contains an invalid value";
TypeConstraintViolation "... at least one of the fields violates data type constraints (e.g.
'somestring': 12)". The rule used here: a violated *primitive datatype* (Part 2 section 2.1:
string[n], dateTime, integer, decimal, boolean) is a type constraint; a value outside an
*enumeration* or a numeric range is a property constraint; cardinality is an occurrence constraint;
a payload whose structure is not the PDU's is a format violation. Compared with ``ocpp``'s
``ocpp/messages.py`` ``_validate_payload``:

=================================  ===============================  ==============================
violation                          this module                      ``ocpp`` 2.x
=================================  ===============================  ==============================
payload not a JSON object          FormatViolation (brief, Part 4)  TypeConstraintViolation
unknown property (closed object)   FormatViolation                  FormatViolation (same)
required property missing          OccurrenceConstraintViolation    ProtocolError (1.6 meaning)
fewer than minItems / more than    OccurrenceConstraintViolation    FormatViolation
maxItems array elements            (cardinality 1..n in Part 2)
wrong JSON type (incl. 1.0 or      TypeConstraintViolation          TypeConstraintViolation (same)
true for an integer)
string longer than maxLength       TypeConstraintViolation          TypeConstraintViolation (same)
                                   (string[n] is the datatype)
date-time not RFC 3339             TypeConstraintViolation          not checked (no format
                                   (dateTime is the datatype)       checker)
value not in the enumeration       PropertyConstraintViolation      FormatViolation
number below minimum / above max   PropertyConstraintViolation      FormatViolation
nesting deeper than MAX_DEPTH      FormatViolation                  (no limit)
unknown action, request            NotImplemented                   NotImplemented (same)
=================================  ===============================  ==============================

Further choices:
- Integers follow Draft 4 as ``ocpp`` does: ``1.0`` is a number, not an integer (draft-06 would
  accept it). CPython and MicroPython both decode ``1`` to int and ``1.0`` to float, so the result
  is the same on both, and a handler may rely on ``type(x) is int`` after a successful check.
  ``True``/``False`` are never integers or numbers (on CPython bool is an int subclass; excluded).
- ``minimum``/``maximum`` compare with ``<``/``>`` like jsonschema, so a float NaN passes them.
- date-time: exactly rfc3339-validator's grammar on the upper-cased string (``t``/``z`` accepted,
  any number of fraction digits, offsets ``+HH:MM``/``-HH:MM`` up to 23:59, year 0000 rejected, day
  checked against the month incl. leap years, no leap second), with one deliberate difference: the
  reference's regex ends in ``$``, which also matches before a trailing newline, so it accepts
  ``"2024-01-01T00:00:00Z\\n"``; this module rejects it (a station must not store such a time).
- Only one error is reported: properties are examined in schema order, then unknown properties
  (the alphabetically first is named), so the result is the same on both interpreters whatever the
  dict order. Array elements are examined in order.
- Depth: objects and arrays may nest at most MAX_DEPTH deep (the payload object is depth 1). The
  schemas themselves nest at most ``schemas.SCHEMA_DEPTH`` (< MAX_DEPTH); the limit applies to free
  data (DataTransfer ``data``, extra properties of ``customData``), which is walked for depth only.
  Deeper -> FormatViolation; jsonschema has no such limit (deliberate difference). Recursion is
  therefore bounded by MAX_DEPTH Python frames.
- Unknown action: request -> ``("NotImplemented", ...)`` (Part 4: "Requested Action is not known
  by receiver"); response -> ``None`` (a CALLRESULT is matched to its CALL by the RPC layer, which
  only sends actions it knows).
- Never raises: should anything unexpected escape (MemoryError, RuntimeError from a tiny C stack),
  ``("InternalError", "payload validation failed")`` is returned.

Cost: no heap allocation while validating a valid payload without date-time values (verified with
``micropython.heap_lock()`` in tests/unit/test_validate.py); each date-time value costs one
short-lived bytes copy. Errors allocate their description.
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

from lite_stack.core.schemas import BLOB, NUMS, STRS

MAX_DEPTH = const(16)
DESCRIPTION_MAX = const(255)  # CALLERROR errorDescription is string[255] (Part 4 section 4.2.3)

_K_ANY = const(0)
_K_OBJ = const(1)
_K_ARR = const(2)
_K_STR = const(3)
_K_ENUM = const(4)
_K_DT = const(5)
_K_INT = const(6)
_K_NUM = const(7)
_K_BOOL = const(8)
_F_CLOSED = const(0x10)
_F_MIN = const(0x10)
_F_MAX = const(0x20)
_NONE = const(0xFFFF)
_KEY_MAX = const(40)  # characters of a payload-supplied key quoted in a description

FORMAT = "FormatViolation"
OCCURRENCE = "OccurrenceConstraintViolation"
PROPERTY = "PropertyConstraintViolation"
TYPE = "TypeConstraintViolation"
NOT_IMPLEMENTED = "NotImplemented"

_NO = object()  # "property absent" (None is JSON null)
_FAILED = ("InternalError", "payload validation failed")
# days per month (index 1..12)
_MDAYS = b"\x00\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"


def check(action, payload, response=False):
    """Validate `payload` (the already json-decoded object) of `action`. response=False: the Request
    schema; True: the Response schema. Returns None when valid, else (error_code, description) with
    error_code one of the OCPP-J codes below. Unknown action -> ("NotImplemented", ...) for requests;
    for responses of an unknown action return None. Never raises (not even on deeply nested or
    absurd input: bound recursion depth; depth > limit -> FormatViolation).

    Codes (OCPP 2.0.1 Part 4 section 4.3; mapping and its reasons in the module docstring):
    FormatViolation, OccurrenceConstraintViolation, PropertyConstraintViolation,
    TypeConstraintViolation, NotImplemented; InternalError only if validation itself failed.
    """
    try:
        off = root(action, response)
        if off < 0:
            if response:
                return None
            return (NOT_IMPLEMENTED, _clip("unknown action " + _quote(action)))
        if not isinstance(payload, dict):
            return (FORMAT, "payload is not a JSON object")
        e = _node(off, payload, 1)
        if e is None:
            return None
        path = e[1]
        if path:
            return (e[0], _clip((path[1:] if path[0] == "." else path) + ": " + e[2]))
        return (e[0], _clip(e[2]))
    except Exception:  # noqa: BLE001 - the contract is "never raises"
        return _FAILED


def root(action, response=False):
    """Byte offset in schemas.BLOB of the schema for `action` (Request or Response), or -1 if the
    action (in that direction) is not in the generated tables."""
    b = BLOB
    n = (b[0] << 8) | b[1]
    p = 2
    for _ in range(n):
        if STRS[(b[p] << 8) | b[p + 1]] == action:
            q = p + 4 if response else p + 2
            off = (b[q] << 8) | b[q + 1]
            return -1 if off == _NONE else off
        p += 6
    return -1


def actions(response=False):
    """Names of the actions with a Request (or Response) schema in the tables, as a tuple."""
    b = BLOB
    out = []
    p = 2
    for _ in range((b[0] << 8) | b[1]):
        q = p + 4 if response else p + 2
        if ((b[q] << 8) | b[q + 1]) != _NONE:
            out.append(STRS[(b[p] << 8) | b[p + 1]])
        p += 6
    return tuple(out)


def _clip(s):
    return s if len(s) <= DESCRIPTION_MAX else s[:DESCRIPTION_MAX]


def _quote(x):
    s = x if isinstance(x, str) else repr(x)
    return s if len(s) <= _KEY_MAX else s[:_KEY_MAX] + "..."


def _node(off, v, depth):
    # -> None or (code, path, reason); path is built while unwinding (error path only)
    b = BLOB
    k = b[off]
    t = k & 15
    if t == _K_STR:
        if not isinstance(v, str):
            return (TYPE, "", "string expected")
        m = (b[off + 1] << 8) | b[off + 2]
        if m and len(v) > m:
            return (TYPE, "", "longer than %d characters" % m)
        return None
    if t == _K_OBJ:
        if not isinstance(v, dict):
            return (TYPE, "", "object expected")
        if depth > MAX_DEPTH:
            return (FORMAT, "", "nested deeper than %d" % MAX_DEPTH)
        seen = 0
        p = off + 2
        for _ in range(b[off + 1]):
            ni = (b[p] << 8) | b[p + 1]
            name = STRS[ni & 0x7FFF]
            x = v.get(name, _NO)
            if x is _NO:
                if ni & 0x8000:
                    return (OCCURRENCE, "." + name, "required")
            else:
                seen += 1
                e = _node((b[p + 2] << 8) | b[p + 3], x, depth + 1)
                if e is not None:
                    return (e[0], "." + name + e[1], e[2])
            p += 4
        if seen < len(v):
            return _extra(off, v, depth)
        return None
    if t == _K_ENUM:
        if not isinstance(v, str):
            return (TYPE, "", "string expected")
        i = (b[off + 2] << 8) | b[off + 3]
        for j in range(i, i + b[off + 1]):
            if STRS[j] == v:
                return None
        return (PROPERTY, "", "value not in enumeration")
    if t == _K_INT or t == _K_NUM:
        if isinstance(v, bool) or not (isinstance(v, int) or (t == _K_NUM and isinstance(v, float))):
            return (TYPE, "", "integer expected" if t == _K_INT else "number expected")
        if k & _F_MIN and v < NUMS[b[off + 1]]:
            return (PROPERTY, "", "below minimum %s" % NUMS[b[off + 1]])
        if k & _F_MAX and v > NUMS[b[off + 2]]:
            return (PROPERTY, "", "above maximum %s" % NUMS[b[off + 2]])
        return None
    if t == _K_ARR:
        if not isinstance(v, list):
            return (TYPE, "", "array expected")
        if depth > MAX_DEPTH:
            return (FORMAT, "", "nested deeper than %d" % MAX_DEPTH)
        n = len(v)
        lo = (b[off + 1] << 8) | b[off + 2]
        hi = (b[off + 3] << 8) | b[off + 4]
        if n < lo:
            return (OCCURRENCE, "", "fewer than %d items" % lo)
        if hi and n > hi:
            return (OCCURRENCE, "", "more than %d items" % hi)
        item = (b[off + 5] << 8) | b[off + 6]
        for i in range(n):
            e = _node(item, v[i], depth + 1)
            if e is not None:
                return (e[0], "[%d]%s" % (i, e[1]), e[2])
        return None
    if t == _K_DT:
        if not isinstance(v, str):
            return (TYPE, "", "string expected")
        if not is_datetime(v):
            return (TYPE, "", "not an RFC 3339 date-time")
        return None
    if t == _K_BOOL:
        if not isinstance(v, bool):
            return (TYPE, "", "boolean expected")
        return None
    return _free(v, depth)  # _K_ANY


def _has(off, key):
    # is `key` a property name of the object node at `off`?
    b = BLOB
    p = off + 2
    for _ in range(b[off + 1]):
        if STRS[((b[p] << 8) | b[p + 1]) & 0x7FFF] == key:
            return True
        p += 4
    return False


def _extra(off, v, depth):
    # `v` has keys the object node does not name: FormatViolation if the object is closed
    # (additionalProperties false), else walk those values for depth only.
    if BLOB[off] & _F_CLOSED:
        best = _NO
        for key in v:
            if not _has(off, key) and (best is _NO or (isinstance(key, str) and (
                    not isinstance(best, str) or key < best))):
                best = key
        return (FORMAT, "." + _quote(best), "unknown property")
    for key in v:
        if not _has(off, key):
            e = _free(v[key], depth + 1)
            if e is not None:
                return (e[0], "." + _quote(key) + e[1], e[2])
    return None


def _free(v, depth):
    # any JSON value: only its nesting depth is bounded
    if isinstance(v, dict):
        if depth > MAX_DEPTH:
            return (FORMAT, "", "nested deeper than %d" % MAX_DEPTH)
        for key in v:
            e = _free(v[key], depth + 1)
            if e is not None:
                return (e[0], "." + _quote(key) + e[1], e[2])
    elif isinstance(v, list):
        if depth > MAX_DEPTH:
            return (FORMAT, "", "nested deeper than %d" % MAX_DEPTH)
        for i in range(len(v)):
            e = _free(v[i], depth + 1)
            if e is not None:
                return (e[0], "[%d]%s" % (i, e[1]), e[2])
    return None


def _d2(b, i):
    # two ASCII digits at b[i], b[i+1] -> 0..99, or -1
    x, y = b[i] - 48, b[i + 1] - 48
    if 0 <= x <= 9 and 0 <= y <= 9:
        return x * 10 + y
    return -1


def is_datetime(s):
    """True if `s` is an RFC 3339 date-time (RFC 3339 section 5.6 ``date-time``, as checked by
    rfc3339-validator after upper-casing, which is what jsonschema's format checker does):
    ``YYYY-MM-DDTHH:MM:SS[.f+](Z|+HH:MM|-HH:MM)``, ``T``/``Z`` in either case, year >= 1, a day
    that exists in that month (Gregorian leap years), hour <= 23, minute and second <= 59 (no leap
    second), offset hour <= 23. A trailing newline is rejected. OCPP 2.0.1 Part 2 section 2.1.4
    also asks senders for at most 3 fraction digits; receivers here accept more, like jsonschema."""
    if not isinstance(s, str):
        return False
    n = len(s)
    if n < 20:
        return False
    b = s.encode()
    if len(b) != n:  # non-ASCII somewhere
        return False
    y1, y2 = _d2(b, 0), _d2(b, 2)
    mo, d = _d2(b, 5), _d2(b, 8)
    h, mi, se = _d2(b, 11), _d2(b, 14), _d2(b, 17)
    if y1 < 0 or y2 < 0 or b[4] != 45 or b[7] != 45 or b[13] != 58 or b[16] != 58:
        return False
    if b[10] != 84 and b[10] != 116:  # T t
        return False
    y = y1 * 100 + y2
    if y == 0 or not 1 <= mo <= 12 or not 0 <= h <= 23 or not 0 <= mi <= 59 or not 0 <= se <= 59:
        return False
    md = _MDAYS[mo]
    if mo == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        md = 29
    if not 1 <= d <= md:
        return False
    i = 19
    if b[i] == 46:  # .
        i += 1
        j = i
        while i < n and 48 <= b[i] <= 57:
            i += 1
        if i == j or i == n:
            return False
    c = b[i]
    if c == 90 or c == 122:  # Z z
        return i + 1 == n
    if (c == 43 or c == 45) and n - i == 6 and b[i + 3] == 58:  # + - :
        oh, om = _d2(b, i + 1), _d2(b, i + 4)
        return 0 <= oh <= 23 and 0 <= om <= 59
    return False
