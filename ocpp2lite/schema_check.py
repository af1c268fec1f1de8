"""Validate frames a Charging Station sends against the official OCPP 2.0.1 JSON schemas.

Desktop only (CPython): uses the schemas shipped in the ``ocpp`` package
(``ocpp/v201/schemas/*.json``, "OCPP 2.0.1 FINAL", JSON Schema draft-06) and ``jsonschema``.

What is checked (sources: OCPP 2.0.1 Part 4 "OCPP-J" sections 4.1-4.3; Part 2 section 2.1.4 /
Part 4 section 5 on date-time values; RFC 3339 section 5.6):

- the frame is a text frame holding one JSON array (no NaN/Infinity, which JSON does not have);
- CALL ``[2, messageId, action, payload]``: messageId a string of at most 36 characters, action one
  the Charging Station may send (CS -> CSMS direction), payload valid against ``<action>Request.json``;
- CALLRESULT ``[3, messageId, payload]``: messageId answers a CALL the CSMS has outstanding,
  payload valid against ``<action>Response.json`` of that CALL's action;
- CALLERROR ``[4, messageId, errorCode, errorDescription, errorDetails]``: errorCode from the
  OCPP-J list, errorDescription a string of at most 255 characters, errorDetails an object, the
  messageId answers an outstanding CALL (or is "-1" when the CALL's id could not be read);
- every ``"format": "date-time"`` value is RFC 3339 ``date-time`` with at most 3 decimal digits of
  seconds (Part 2 section 2.1.4: "fractional seconds ... SHALL NOT exceed the maximum of 3"), with a
  real calendar date.

Public interface:
    violations(frame_text, pending_actions=None) -> list of str   (empty list = valid frame)
    payload_violations(action, suffix, payload) -> list of str    (suffix "Request" / "Response")
    is_ocpp_datetime(text) -> bool
"""
import json
import os
import re

from jsonschema import Draft6Validator, FormatChecker

# OCPP-J 2.0.1 (Part 4 section 4.3) CALLERROR codes.
CALL_ERROR_CODES = frozenset((
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
    "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
    "RpcFrameworkError", "SecurityError", "TypeConstraintViolation",
))

# Actions a Charging Station initiates (OCPP 2.0.1 Part 2, message direction CS -> CSMS;
# DataTransfer goes both ways).
CS_ACTIONS = frozenset((
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer", "FirmwareStatusNotification",
    "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
    "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
    "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
    "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
))

MESSAGE_ID_MAX = 36          # Part 4 section 4.1.4: messageId maximum length 36
ERROR_DESCRIPTION_MAX = 255  # Part 4 section 4.2.3: errorDescription maximum 255 characters

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__import__("ocpp").__file__)), "v201",
                          "schemas")

# RFC 3339 section 5.6 date-time; "T"/"Z" may be lower case (RFC 3339 section 5.6 NOTE);
# at most 3 fractional digits (OCPP 2.0.1 Part 2 section 2.1.4).
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?([Zz]|[+-](\d{2}):(\d{2}))$")
_MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_ocpp_datetime(text):
    """True when text is an RFC 3339 date-time with at most 3 decimals and a real calendar date.

    Seconds may be 60 (RFC 3339 leap second); offsets up to 23:59.
    """
    if not isinstance(text, str):
        return False
    m = _DATETIME.match(text)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if not 1 <= mo <= 12:
        return False
    mdays = _MDAYS[mo - 1]
    if mo == 2 and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        mdays = 29
    if not 1 <= d <= mdays or h > 23 or mi > 59 or s > 60:
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _check_datetime(instance):
    # Non-strings are the "type" keyword's business.
    return (not isinstance(instance, str)) or is_ocpp_datetime(instance)


_validators = {}


def _validator(name):
    """Draft-06 validator for schema file <name>.json, or None when the file does not exist."""
    v = _validators.get(name)
    if v is None and name not in _validators:
        path = os.path.join(SCHEMA_DIR, name + ".json")
        if os.path.exists(path):
            with open(path, encoding="utf-8-sig") as f:   # OCPP 2.0 schemas start with a BOM
                schema = json.load(f)
            v = Draft6Validator(schema, format_checker=_FORMATS)
        _validators[name] = v
    return v


def _path(err):
    try:
        return err.json_path
    except AttributeError:  # jsonschema < 4.0
        return "$" + "".join("[%r]" % p for p in err.absolute_path)


def payload_violations(action, suffix, payload):
    """Schema violations of one payload: list of "<Action><Suffix> <json path>: <message>" strings.

    suffix is "Request" (CALL payload) or "Response" (CALLRESULT payload).
    """
    name = action + suffix
    v = _validator(name) if isinstance(action, str) and re.match(r"^[A-Za-z0-9]+$", action) else None
    if v is None:
        return ["%s: no OCPP 2.0.1 schema" % name]
    out = []
    for err in sorted(v.iter_errors(payload), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        msg = err.message
        if len(msg) > 300:
            msg = msg[:300] + "..."
        out.append("%s %s: %s" % (name, _path(err), msg))
    return out


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def violations(frame_text, pending_actions=None):
    """Check one frame sent by the Charging Station; return a list of violations (empty = valid).

    frame_text: the WebSocket message as received (str for a text frame; bytes = binary frame).
    pending_actions: {messageId: action} of the CALLs the CSMS sent and still awaits an answer
    for; used to pick the Response schema of a CALLRESULT. Not modified.
    """
    pending = pending_actions or {}
    if not isinstance(frame_text, str):
        return ["binary WebSocket frame (OCPP-J uses text frames only, Part 4 section 3)"]
    try:
        msg = json.loads(frame_text, parse_constant=_reject_constant)
    except ValueError as e:
        return ["not valid JSON: %s" % e]
    if not isinstance(msg, list) or not msg:
        return ["not an OCPP-J array [MessageTypeId, ...] (Part 4 section 4.1)"]
    kind = msg[0]
    if not isinstance(kind, int) or isinstance(kind, bool) or kind not in (2, 3, 4):
        return ["unknown MessageTypeId %r (Part 4 section 4.1.3)" % (kind,)]
    want = {2: 4, 3: 3, 4: 5}[kind]
    if len(msg) != want:
        return ["%s frame has %d elements, expected %d (Part 4 section 4.2)"
                % ({2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}[kind], len(msg), want)]
    out = []
    uid = msg[1]
    if not isinstance(uid, str):
        out.append("messageId %r is not a string (Part 4 section 4.1.4)" % (uid,))
        uid = None
    elif len(uid) > MESSAGE_ID_MAX:
        out.append("messageId longer than %d characters (Part 4 section 4.1.4)" % MESSAGE_ID_MAX)
    if kind == 2:
        action, payload = msg[2], msg[3]
        if not isinstance(action, str):
            return out + ["CALL action %r is not a string" % (action,)]
        if action not in CS_ACTIONS:
            return out + ["CALL %s is not a Charging Station to CSMS message" % action]
        if not isinstance(payload, dict):
            return out + ["CALL %s payload is not an object" % action]
        return out + payload_violations(action, "Request", payload)
    action = pending.get(uid) if uid is not None else None
    if kind == 3:
        payload = msg[2]
        if action is None:
            return out + ["CALLRESULT %r answers no outstanding CALL of the CSMS" % (uid,)]
        if not isinstance(payload, dict):
            return out + ["CALLRESULT for %s: payload is not an object" % action]
        return out + payload_violations(action, "Response", payload)
    code, desc, details = msg[2], msg[3], msg[4]
    if action is None and uid != "-1":
        out.append("CALLERROR %r answers no outstanding CALL of the CSMS" % (uid,))
    if code not in CALL_ERROR_CODES:
        out.append("CALLERROR errorCode %r is not an OCPP-J error code (Part 4 section 4.3)" % (code,))
    if not isinstance(desc, str):
        out.append("CALLERROR errorDescription is not a string")
    elif len(desc) > ERROR_DESCRIPTION_MAX:
        out.append("CALLERROR errorDescription longer than %d characters" % ERROR_DESCRIPTION_MAX)
    if not isinstance(details, dict):
        out.append("CALLERROR errorDetails is not an object")
    return out


__all__ = ["violations", "payload_violations", "is_ocpp_datetime", "CALL_ERROR_CODES", "CS_ACTIONS",
           "SCHEMA_DIR"]
