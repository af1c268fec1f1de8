"""Attribute values of the device model: text <-> typed value, and the per-variable check.

An OCPP attribute value is text (Part 2 SetVariableData/GetVariableResult.attributeValue,
VariableAttributeType.value); the device model holds it typed: int (integer; decimal when
integral), float (other decimal), bool (boolean), str (string, dateTime, OptionList,
MemberList/SequenceList as CSV).
``format_value`` and ``parse_value`` convert; ``check`` validates a typed value against its
variable's declaration (dataType, minLimit/maxLimit, valuesList: ``device_model.table``).
Failures are reasonCodes of SetVariablesResult.attributeStatusInfo: "InvalidValue" (bad format,
not in valuesList: B05.FR.07) or "ValueOutOfRange" (outside minLimit/maxLimit, or an integer
outside int32: B05.FR.07).
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

from device_model.table import TYPE_CODES, TYPE_NAMES, field

INT_MIN = const(-2147483648)
INT_MAX = const(2147483647)
STR_MAX = const(255)       # longest string value accepted where the table gives no maxLimit

_F_TYPE = const(4)
_F_MIN = const(6)
_F_MAX = const(7)



def format_value(v):
    """Typed value -> attribute text: bool -> "true"/"false", int -> decimal digits,
    integral float -> digits, other float -> repr, list/tuple -> CSV, str unchanged."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        return "%d" % v if v == int(v) else repr(v)
    if isinstance(v, (list, tuple)):
        return ",".join(v)
    return v


def parse_value(dtype, text, values_list=None):
    """Parse attribute text by Part 2 DataEnumType (``"integer"``.. or its table code).

    Returns int (integer: optional sign and 1-10 digits, int32 range), float or int (decimal),
    bool (boolean: "true"/"false", any case), str (string, dateTime validated as RFC 3339,
    OptionList/MemberList/SequenceList: checked against ``values_list`` CSV when given: an
    OptionList value must be one entry, a MemberList a set of entries, a SequenceList a non-empty
    ordered set; no duplicates, no blanks). Raises ValueError("InvalidValue") for bad format
    (B05.FR.07) and ValueError("ValueOutOfRange") for an int outside int32."""
    t = TYPE_CODES[TYPE_NAMES.index(dtype)] if dtype in TYPE_NAMES else dtype
    if not isinstance(text, str):
        raise ValueError("InvalidValue")
    if t == "i":
        s = text[1:] if text[:1] in ("+", "-") else text
        if not 0 < len(s) <= 10:
            raise ValueError("InvalidValue")
        for ch in s:
            if not "0" <= ch <= "9":
                raise ValueError("InvalidValue")
        v = int(text)
        if v < INT_MIN or v > INT_MAX:
            raise ValueError("ValueOutOfRange")
        return v
    if t == "b":
        low = text.lower()
        if low == "true":
            return True
        if low == "false":
            return False
        raise ValueError("InvalidValue")
    if t == "d":
        if not 0 < len(text) <= 24:
            raise ValueError("InvalidValue")
        for ch in text:
            if ch not in "+-.0123456789eE":
                raise ValueError("InvalidValue")
        v = float(text)
        if v - v != 0:  # inf or nan
            raise ValueError("InvalidValue")
        return int(v) if abs(v) <= INT_MAX and v == int(v) else v
    if t == "t":
        from device_model.rfc3339 import parse_iso
        try:
            parse_iso(text)
        except ValueError:
            raise ValueError("InvalidValue")
        return text
    if t in "omq" and values_list is not None:
        r = _list_reason(t, text, values_list)
        if r:
            raise ValueError(r)
    return text


def _list_reason(t, v, values_list):
    # None if v is a valid OptionList/MemberList/SequenceList value for values_list, else reason.
    allowed = values_list.split(",")
    if t == "o":
        return None if v in allowed else "InvalidValue"
    if v == "":
        return "InvalidValue" if t == "q" else None
    seen = []
    for m in v.split(","):
        if m not in allowed or m in seen:
            return "InvalidValue"
        seen.append(m)
    return None


def check(dm, vid, v):
    """None if the typed value ``v`` is valid for variable ``vid`` of DeviceModel ``dm``, else
    the reasonCode: "InvalidValue" (wrong type, control character, not a valuesList member or
    set: B05.FR.07) or "ValueOutOfRange" (integer outside minLimit/maxLimit, else int32; string
    length outside minLimit/maxLimit, else ``STR_MAX``: B05.FR.07). Limits and valuesList are the
    board-resolved ones (``dm._lim``, ``dm._vl``). No writable variable is dateTime or decimal:
    those types give "InvalidValue"."""
    t = field(vid, _F_TYPE)
    lo = dm._lim(vid, _F_MIN)
    hi = dm._lim(vid, _F_MAX)
    if t == "i":
        if type(v) is not int:
            return "InvalidValue"
        if v < (INT_MIN if lo is None else lo) or v > (INT_MAX if hi is None else hi):
            return "ValueOutOfRange"
        return None
    if t == "b":
        return None if type(v) is bool else "InvalidValue"
    if type(v) is not str:
        return "InvalidValue"
    for ch in v:
        if ch < " " or ch == "\x7f":
            return "InvalidValue"
    if t == "s":
        n = len(v)
        if n > (STR_MAX if hi is None else hi) or (lo is not None and n < lo):
            return "ValueOutOfRange"
        return None
    if t in "omq":
        return _list_reason(t, v, dm._vl(vid))
    return "InvalidValue"
