"""Generate lite_stack/core/schemas.py: compact validation tables from the OCPP 2.0.1 JSON schemas.

Desktop-only (CPython). Usage, from the repository root::

    python -m ocpp2lite.gen_schemas            # rewrite lite_stack/core/schemas.py
    python -m ocpp2lite.gen_schemas --check    # exit 1 if the committed file is stale

Input: the OCPP 2.0.1 JSON schemas shipped in the ``ocpp`` package (``ocpp/v201/schemas/*.json``,
draft-06 files, validated by ``ocpp`` with jsonschema's ``Draft4Validator``). Only the schemas named
in ``SCHEMAS`` are compiled. To support another message, add its schema name there and re-run.

Output format (read by lite_stack/core/validate.py, documented again in the generated file):

- ``STRS``: tuple of every string the tables need: action names, property names and enumeration
  values. The values of one enumeration are contiguous, so an enumeration is (first index, count).
  Identical enumerations are stored once.
- ``NUMS``: tuple of the numeric bounds (``minimum`` / ``maximum``) referenced by index.
- ``BLOB``: bytes. All integers are unsigned big-endian; ``u16`` = 2 bytes.
  Header: ``u16 n``, then ``n`` entries ``(u16 action STRS index, u16 Request node, u16 Response
  node)``, ``0xFFFF`` = no schema for that direction. Then the nodes; a node is referenced by its
  byte offset in ``BLOB``. Identical nodes (same bytes, children included) are stored once, so a
  definition shared by many schemas (CustomDataType, EVSEType, IdTokenType, ...) costs once.
  Node = kind byte (low nibble kind, high nibble flags) + operands:

  ===========  ====  =====================================================================
  kind         code  operands
  ===========  ====  =====================================================================
  any            0   none (no "type": e.g. DataTransfer ``data``; also unknown properties)
  object         1   flag 0x10 = additionalProperties false; u8 n; n x (u16 name STRS index,
                     bit 15 set = required; u16 child node)
  array          2   u16 minItems; u16 maxItems (0 = unbounded); u16 items node
  string         3   u16 maxLength (0 = unbounded)
  enum           4   u8 count; u16 first STRS index (``type: string`` + ``enum``)
  date-time      5   none (``type: string`` + ``format: date-time``, RFC 3339)
  integer        6   flags 0x10 = has minimum, 0x20 = has maximum; u8 NUMS index of minimum;
                     u8 NUMS index of maximum
  number         7   as integer
  boolean        8   none
  ===========  ====  =====================================================================

Keywords that do not change validity are dropped: description, javaType, comment, $schema, $id,
default, ``additionalProperties`` on non-objects and ``additionalItems`` next to a single ``items``
schema (both ignored by draft-04/06). Any other keyword or combination makes the generator fail
loudly instead of emitting a silently weaker check.
"""
import json
import os
import sys

# One tuple, one name per schema file: "<Action>Request" for CALLs the Charging Station receives
# (CSMS -> CS), "<Action>Response" for CALLRESULTs to the station's own CALLs (CS -> CSMS).
SCHEMAS = (
    # CSMS -> Charging Station requests
    "GetVariablesRequest",
    "SetVariablesRequest",
    "GetBaseReportRequest",
    "GetReportRequest",
    "ResetRequest",
    "RequestStartTransactionRequest",
    "RequestStopTransactionRequest",
    "GetTransactionStatusRequest",
    "UnlockConnectorRequest",
    "TriggerMessageRequest",
    "ChangeAvailabilityRequest",
    "ClearCacheRequest",
    "DataTransferRequest",
    "SetNetworkProfileRequest",
    "InstallCertificateRequest",
    "GetInstalledCertificateIdsRequest",
    "DeleteCertificateRequest",
    "UpdateFirmwareRequest",
    "GetLogRequest",
    "CustomerInformationRequest",
    # responses to the Charging Station's CALLs (CS -> CSMS)
    "BootNotificationResponse",
    "HeartbeatResponse",
    "StatusNotificationResponse",
    "AuthorizeResponse",
    "TransactionEventResponse",
    "MeterValuesResponse",
    "NotifyReportResponse",
    "SecurityEventNotificationResponse",
    "FirmwareStatusNotificationResponse",
    "LogStatusNotificationResponse",
    "DataTransferResponse",
    "NotifyCustomerInformationResponse",
    "SignCertificateResponse",
)

K_ANY, K_OBJ, K_ARR, K_STR, K_ENUM, K_DT, K_INT, K_NUM, K_BOOL = range(9)
F_CLOSED = 0x10
F_MIN = 0x10
F_MAX = 0x20
REQUIRED = 0x8000
NONE = 0xFFFF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "lite_stack", "core", "schemas.py")

_IGNORED = {"description", "javaType", "comment", "$schema", "$id", "default", "definitions"}


def schema_dir():
    import ocpp
    return os.path.join(os.path.dirname(ocpp.__file__), "v201", "schemas")


def load_schema(name):
    """The parsed JSON schema ``name`` (e.g. "ResetRequest"); the files start with a UTF-8 BOM."""
    with open(os.path.join(schema_dir(), name + ".json"), encoding="utf-8-sig") as f:
        return json.load(f)


def split_name(name):
    """"ResetRequest" -> ("Reset", False); "ResetResponse" -> ("Reset", True)."""
    if name.endswith("Request"):
        return name[:-7], False
    if name.endswith("Response"):
        return name[:-8], True
    raise ValueError("schema name must end in Request or Response: %r" % name)


class _Compiler:
    def __init__(self):
        self.blob = bytearray()
        self.nodes = {}        # node bytes -> offset (dedupe)
        self.enums = []        # distinct enumerations, first-use order
        self.names = set()     # property and action names
        self.nums = []         # numeric bounds
        self.pending = []      # (blob offset of a u16 string ref, kind, key) patched in finish()
        self.max_depth = 0

    # --- strings are laid out after all schemas are compiled; refs are patched then ---
    def _emit(self, body, refs):
        """Store a node (dedupe by content incl. unresolved string refs)."""
        key = (bytes(body), tuple(refs))
        off = self.nodes.get(key)
        if off is None:
            off = len(self.blob)
            for pos, kind, val in refs:
                self.pending.append((off + pos, kind, val))
            self.blob += body
            self.nodes[key] = off
        return off

    def _num(self, x):
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise ValueError("numeric bound expected, got %r" % (x,))
        for i, y in enumerate(self.nums):
            if type(y) is type(x) and y == x:
                return i
        self.nums.append(x)
        if len(self.nums) > 255:
            raise ValueError("too many numeric bounds")
        return len(self.nums) - 1

    def node(self, n, defs, where, depth):
        while "$ref" in n:
            extra = set(n) - _IGNORED - {"$ref"}
            if extra:
                raise ValueError("%s: $ref with siblings %s is not supported" % (where, extra))
            ref = n["$ref"]
            if not ref.startswith("#/definitions/"):
                raise ValueError("%s: unsupported $ref %s" % (where, ref))
            n = defs[ref[len("#/definitions/"):]]
        keys = set(n) - _IGNORED
        t = n.get("type")
        if t is None:
            if keys:
                raise ValueError("%s: constraints without type: %s" % (where, keys))
            return self._emit(bytes((K_ANY,)), ())
        keys.discard("type")
        if t == "object":
            self.max_depth = max(self.max_depth, depth)
            props = n.get("properties", {})
            req = n.get("required", [])
            for r in req:
                if r not in props:
                    raise ValueError("%s: required %r not in properties" % (where, r))
            ap = n.get("additionalProperties", True)
            if ap not in (True, False):
                raise ValueError("%s: additionalProperties must be a boolean" % where)
            self._only(keys, {"properties", "required", "additionalProperties"}, where)
            if len(props) > 255:
                raise ValueError("%s: too many properties" % where)
            body = bytearray((K_OBJ | (0 if ap else F_CLOSED), len(props)))
            refs = []
            for name, sub in props.items():  # schema order: the order errors are looked for
                child = self.node(sub, defs, where + "." + name, depth + 1)
                self.names.add(name)
                refs.append((len(body), "name", (name, name in req)))
                body += b"\0\0" + _u16(child)
            return self._emit(body, refs)
        if t == "array":
            self.max_depth = max(self.max_depth, depth)
            self._only(keys, {"items", "minItems", "maxItems", "additionalItems"}, where)
            items = n.get("items", {})
            if not isinstance(items, dict):
                raise ValueError("%s: tuple-form items not supported" % where)
            child = self.node(items, defs, where + "[]", depth + 1)
            lo, hi = n.get("minItems", 0), n.get("maxItems", 0)
            if not 0 <= lo <= 0xFFFF or ("maxItems" in n and not (0 < hi <= 0xFFFF and lo <= hi)):
                raise ValueError("%s: minItems/maxItems out of range" % where)
            return self._emit(bytes((K_ARR,)) + _u16(lo) + _u16(hi) + _u16(child), ())
        if t == "string":
            keys.discard("additionalProperties")  # meaningless on strings, ignored by jsonschema
            if "enum" in n:
                self._only(keys, {"enum"}, where)
                vals = tuple(n["enum"])
                if not vals or not all(isinstance(v, str) for v in vals) or len(vals) > 255:
                    raise ValueError("%s: enum must be 1..255 strings" % where)
                if vals not in self.enums:
                    self.enums.append(vals)
                return self._emit(bytearray((K_ENUM, len(vals), 0, 0)), [(2, "enum", vals)])
            if "format" in n:
                self._only(keys, {"format"}, where)
                if n["format"] != "date-time":
                    raise ValueError("%s: format %s not supported" % (where, n["format"]))
                return self._emit(bytes((K_DT,)), ())
            self._only(keys, {"maxLength"}, where)
            ml = n.get("maxLength", 0)
            if not 0 < ml <= 0xFFFF and "maxLength" in n:
                raise ValueError("%s: maxLength out of range" % where)
            return self._emit(bytes((K_STR,)) + _u16(ml), ())
        if t in ("integer", "number"):
            self._only(keys, {"minimum", "maximum"}, where)
            flags, lo, hi = 0, 0, 0
            if "minimum" in n:
                flags, lo = flags | F_MIN, self._num(n["minimum"])
            if "maximum" in n:
                flags, hi = flags | F_MAX, self._num(n["maximum"])
            kind = K_INT if t == "integer" else K_NUM
            return self._emit(bytes((kind | flags, lo, hi)), ())
        if t == "boolean":
            self._only(keys, set(), where)
            return self._emit(bytes((K_BOOL,)), ())
        raise ValueError("%s: type %r not supported" % (where, t))

    @staticmethod
    def _only(keys, allowed, where):
        bad = keys - allowed
        if bad:
            raise ValueError("%s: unsupported keywords %s" % (where, sorted(bad)))

    def strings(self):
        """Lay out STRS: enumerations contiguous (in first-use order), then the other names sorted."""
        strs, enum_at = [], {}
        for vals in self.enums:
            enum_at[vals] = len(strs)
            strs.extend(vals)
        index = {}
        for i, s in enumerate(strs):
            index.setdefault(s, i)
        for s in sorted(self.names - set(index)):
            index[s] = len(strs)
            strs.append(s)
        if len(strs) > 0x7FFF:
            raise ValueError("too many strings")
        return strs, index, enum_at


def _u16(x):
    if not 0 <= x <= 0xFFFF:
        raise ValueError("u16 out of range: %r" % x)
    return bytes((x >> 8, x & 0xFF))


def compile_schemas(names=SCHEMAS):
    """Compile the named schemas. Returns (STRS list, NUMS list, BLOB bytes, schema depth)."""
    actions = {}
    order = []
    for name in names:
        action, response = split_name(name)
        if action not in actions:
            actions[action] = [None, None]
            order.append(action)
        if actions[action][response] is not None:
            raise ValueError("schema listed twice: " + name)
        actions[action][response] = name
    if len(order) > 0xFFFF:
        raise ValueError("too many actions")
    c = _Compiler()
    header = 2 + 6 * len(order)
    c.blob += bytes(header)  # placeholder, filled below
    roots = []
    for action in order:
        c.names.add(action)
        pair = []
        for name in actions[action]:
            if name is None:
                pair.append(NONE)
                continue
            s = load_schema(name)
            pair.append(c.node(s, s.get("definitions", {}), name, 1))
        roots.append(pair)
    strs, index, enum_at = c.strings()
    blob = c.blob
    blob[0:2] = _u16(len(order))
    for i, action in enumerate(order):
        p = 2 + 6 * i
        blob[p:p + 6] = _u16(index[action]) + _u16(roots[i][0]) + _u16(roots[i][1])
    for pos, kind, val in c.pending:
        if kind == "name":
            ref = index[val[0]] | (REQUIRED if val[1] else 0)
        else:
            ref = enum_at[val]
        blob[pos:pos + 2] = _u16(ref)
    if len(blob) > 0xFFFF:
        raise ValueError("BLOB larger than 64 KiB: node offsets are u16")
    return strs, list(c.nums), bytes(blob), c.max_depth


def _bytes_lines(b, width=76):
    out, line = [], ""
    for x in b:
        piece = "\\x%02x" % x
        if len(line) + len(piece) > width:
            out.append('    b"%s"' % line)
            line = ""
        line += piece
    if line:
        out.append('    b"%s"' % line)
    return "\n".join(out)


def _tuple_lines(items, width=96):
    out, line = [], "    "
    for s in items:
        piece = repr(s) + ", "
        if len(line) + len(piece) > width:
            out.append(line.rstrip())
            line = "    "
        line += piece
    out.append(line.rstrip())
    return "\n".join(out)


HEADER = '''"""OCPP 2.0.1 payload validation tables. GENERATED by ocpp2lite/gen_schemas.py: do not edit.

Regenerate with ``python -m ocpp2lite.gen_schemas``. Source: the OCPP 2.0.1 JSON schemas of the
``ocpp`` package (ocpp/v201/schemas), these %(n)d files:
%(names)s

Format (read by lite_stack/core/validate.py):
- STRS: action names, property names and enumeration values; one enumeration's values are
  contiguous, so an enumeration is (first index, count).
- NUMS: numeric bounds (minimum / maximum) referenced by index.
- BLOB: u16 = 2 bytes big-endian. Header: u16 n; n x (u16 action STRS index, u16 Request node,
  u16 Response node; 0xFFFF = none). Nodes are referenced by byte offset; identical nodes are
  stored once. Node = kind byte (low nibble kind, high nibble flags) + operands:
    0 any;  1 object: flag 0x10 closed (additionalProperties false), u8 n, n x (u16 STRS index,
    bit 15 = required; u16 node);  2 array: u16 minItems, u16 maxItems (0 = unbounded), u16 node;
    3 string: u16 maxLength (0 = unbounded);  4 enum: u8 count, u16 first STRS index;
    5 date-time (RFC 3339);  6 integer / 7 number: flags 0x10 has minimum, 0x20 has maximum,
    u8 NUMS index of minimum, u8 NUMS index of maximum;  8 boolean.
- SCHEMA_DEPTH: deepest object/array nesting of any schema (root object = 1).
"""
'''


def generate(names=SCHEMAS):
    """The text of lite_stack/core/schemas.py for the schemas ``names``."""
    strs, nums, blob, depth = compile_schemas(names)
    listing = "\n".join("    " + line for line in _wrap(", ".join(names), 92))
    parts = [HEADER % {"n": len(names), "names": listing}]
    parts.append("SCHEMA_DEPTH = %d\n" % depth)
    parts.append("\nSTRS = (\n%s\n)\n" % _tuple_lines(strs))
    parts.append("\nNUMS = (%s)\n" % "".join(repr(x) + ", " for x in nums).rstrip())
    parts.append("\nBLOB = (\n%s\n)\n" % _bytes_lines(blob))
    return "".join(parts)


def _wrap(text, width):
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = (line + " " + word) if line else word
    if line:
        lines.append(line)
    return lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = generate()
    if "--check" in argv:
        with open(OUT) as f:
            same = f.read() == text
        print("up to date" if same else "STALE: run python -m ocpp2lite.gen_schemas")
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    strs, nums, blob, depth = compile_schemas()
    print("wrote %s: %d schemas, %d strings, %d bounds, %d bytes of nodes, depth %d"
          % (OUT, len(SCHEMAS), len(strs), len(nums), len(blob), depth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
