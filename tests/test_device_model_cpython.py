"""CPython-only checks of device_model: interoperability of the CBOR files with PyPI cbor2,
OCPP 2.0.1 JSON schemas (mobilityhouse ocpp) for every GetVariables/SetVariables/NotifyReport
payload, the full inventory against the shared 54-variable table (TC_B_53), and fuzzing."""
import binascii
import json
import os
import re

import cbor2
import jsonschema
import ocpp
import pytest
from hypothesis import given, settings, strategies as hs

from boards import desktop
from device_model import DeviceModel, cbor, ids
from device_model.store import Store, pack, unpack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(os.path.dirname(ocpp.__file__), "v201", "schemas")
REFERENCE = [os.path.join(ROOT, "..", "shared", "reference", "device-model.md"),
             os.path.join(ROOT, "shared", "reference", "device-model.md")]

_validators = {}


def validate(name, payload):
    if name not in _validators:
        with open(os.path.join(SCHEMAS, name + ".json")) as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        _validators[name] = cls(schema)
    _validators[name].validate(payload)


def make(tmp_path, evses=1):
    return DeviceModel(desktop, Store(str(tmp_path / "state")), evses)


# ---- CBOR interoperability -----------------------------------------------------------------

INT64 = hs.integers(min_value=-(2 ** 64), max_value=2 ** 64 - 1)
leaves = hs.none() | hs.booleans() | INT64 | hs.text(max_size=40) | hs.binary(max_size=40)
values = hs.recursive(leaves, lambda kids: hs.lists(kids, max_size=6) |
                      hs.dictionaries(hs.text(max_size=30), kids, max_size=6), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(values)
def test_cbor_matches_cbor2_canonical_both_ways(obj):
    ours = cbor.dumps(obj)
    assert ours == cbor2.dumps(obj, canonical=True)
    assert cbor2.loads(ours) == obj
    assert cbor.loads(cbor2.dumps(obj)) == obj          # cbor2's default (insertion order) too


@settings(max_examples=200, deadline=None)
@given(hs.binary(max_size=64))
def test_cbor_garbage_never_raises_anything_but_value_error(data):
    try:
        cbor.loads(data)
    except ValueError:
        pass


def test_store_file_is_readable_by_cbor2_and_store_reads_cbor2_files(tmp_path):
    st = Store(str(tmp_path))
    obj = {"cs": "Inoperative", "evse": [1, None, True], "raw": b"\x00\xff", "big": 2 ** 40}
    st.save("availability", obj)
    data = (tmp_path / "availability").read_bytes()
    value, crc = cbor2.loads(data)
    assert value == obj
    crc_len = len(cbor2.dumps(crc))
    assert crc == binascii.crc32(data[:-crc_len])
    # a record written by cbor2 alone (non-canonical map order) is accepted
    payload = b"\x82" + cbor2.dumps({"z": 1, "a": [2, 3]})
    record = payload + cbor2.dumps(binascii.crc32(payload))
    (tmp_path / "from_cbor2").write_bytes(record)
    assert Store(str(tmp_path)).load("from_cbor2") == {"z": 1, "a": [2, 3]}
    assert unpack(bytes(pack({"a": 1})[0]))[0] == {"a": 1}


# ---- OCPP 2.0.1 schemas --------------------------------------------------------------------

def _gv(comp, var, inst=None, at=None, evse=None):
    c = {"name": comp}
    if evse:
        c["evse"] = evse
    v = {"name": var}
    if inst:
        v["instance"] = inst
    d = {"component": c, "variable": v}
    if at:
        d["attributeType"] = at
    return d


def test_get_variables_results_match_the_response_schema(tmp_path):
    dm = make(tmp_path)
    req = [_gv("OCPPCommCtrlr", "HeartbeatInterval"), _gv("Nope", "X"),
           _gv("OCPPCommCtrlr", "X"), _gv("OCPPCommCtrlr", "HeartbeatInterval", at="Target"),
           _gv("SecurityCtrlr", "BasicAuthPassword"),
           _gv("Connector", "AvailabilityState", evse={"id": 1, "connectorId": 1}),
           _gv("ClockCtrlr", "DateTime")]
    validate("GetVariablesRequest", {"getVariableData": req})
    res = dm.get_variables(req)
    validate("GetVariablesResponse", {"getVariableResult": res})
    assert {r["attributeStatus"] for r in res} == {"Accepted", "UnknownComponent",
                                                   "UnknownVariable", "Rejected",
                                                   "NotSupportedAttributeType"}


def test_set_variables_results_match_the_response_schema(tmp_path):
    dm = make(tmp_path)
    req = []
    for comp, var, inst, value, at in (
            ("OCPPCommCtrlr", "HeartbeatInterval", None, "60", None),
            ("Nope", "X", None, "1", None),
            ("OCPPCommCtrlr", "X", None, "1", None),
            ("OCPPCommCtrlr", "HeartbeatInterval", None, "60", "MinSet"),
            ("OCPPCommCtrlr", "MessageTimeout", "Default", "10", None),
            ("OCPPCommCtrlr", "NetworkConfigurationPriority", None, "1,0", None),
            ("OCPPCommCtrlr", "OfflineThreshold", None, "-1", None)):
        d = _gv(comp, var, inst, at)
        d["attributeValue"] = value
        req.append(d)
    validate("SetVariablesRequest", {"setVariableData": req})
    res = dm.set_variables(req)
    validate("SetVariablesResponse", {"setVariableResult": res})
    assert [r["attributeStatus"] for r in res] == [
        "Accepted", "UnknownComponent", "UnknownVariable", "NotSupportedAttributeType",
        "Rejected", "RebootRequired", "Rejected"]


@pytest.mark.parametrize("base", ["FullInventory", "ConfigurationInventory"])
@pytest.mark.parametrize("max_bytes", [700, 1500, 8192])
def test_notify_report_parts_match_the_schema_and_byte_limit(tmp_path, base, max_bytes):
    dm = make(tmp_path, evses=2)
    seq = 0
    tbc = None
    for part, tbc in dm.report_parts(base, max_bytes):
        payload = {"requestId": 2147483647, "generatedAt": "2026-01-01T00:00:00.000Z",
                   "seqNo": seq, "tbc": tbc, "reportData": part}
        validate("NotifyReportRequest", payload)
        frame = json.dumps([2, "f" * 36, "NotifyReport", payload], separators=(",", ":"))
        assert len(frame.encode()) <= max_bytes
        seq += 1
    assert seq >= 2 and tbc is False


# ---- TC_B_53 against the shared reference table --------------------------------------------

def _reference_rows():
    for path in REFERENCE:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
            break
    else:
        pytest.skip("shared/reference/device-model.md not found")
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\|\s*(\d+)\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|\s*(\w*)\s*\|\s*(\w+)\s*\|\s*(\w+)",
                     line)
        if m:
            rows.append((m.group(2), m.group(3), m.group(4) or None, m.group(5), m.group(6)))
    assert len(rows) == 54
    return rows


def test_TC_B_53_CS_full_inventory_covers_the_54_required_variables(tmp_path):
    dm = make(tmp_path)
    items = {}
    for part, _ in dm.report_parts("FullInventory"):
        for it in part:
            key = (it["component"]["name"], it["variable"]["name"], it["variable"].get("instance"))
            items[key] = it
    mut = {"RW": "ReadWrite", "RO": "ReadOnly", "WO": "WriteOnly"}
    for comp, var, inst, lite, dtype in _reference_rows():
        it = items.pop((comp, var, inst))
        attr = it["variableAttribute"][0]
        assert attr["mutability"] == mut[lite], (comp, var)
        assert it["variableCharacteristics"]["dataType"] == dtype, (comp, var)
        if lite == "WO":
            assert "value" not in attr
        else:
            assert attr["value"] != "" or dtype == "string"
    assert sorted(items) == [("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None),
                             ("ChargingStation", "AllowNewSessionsPendingFirmwareUpdate", None),
                             ("OCPPCommCtrlr", "HeartbeatInterval", None)]   # the extras


# ---- fuzzing -------------------------------------------------------------------------------

names = hs.sampled_from(["OCPPCommCtrlr", "EVSE", "Connector", "SecurityCtrlr", "ocppcommctrlr",
                         "AuthCtrlr", "SampledDataCtrlr", "X"])
variables = hs.sampled_from(["HeartbeatInterval", "OfflineThreshold", "BasicAuthPassword",
                             "TxUpdatedMeasurands", "NetworkConfigurationPriority", "Power",
                             "MessageTimeout", "LocalPreAuthorize", "Y"])
set_items = hs.fixed_dictionaries(
    {"component": hs.fixed_dictionaries({"name": names},
                                        optional={"evse": hs.fixed_dictionaries(
                                            {"id": hs.integers(-1, 3)},
                                            optional={"connectorId": hs.integers(0, 2)})}),
     "variable": hs.fixed_dictionaries({"name": variables},
                                       optional={"instance": hs.sampled_from(["Default", "x"])}),
     "attributeValue": hs.text(max_size=60) | hs.integers().map(str)},
    optional={"attributeType": hs.sampled_from(["Actual", "Target", "MinSet", "MaxSet"])})


@settings(max_examples=300, deadline=None)
@given(hs.lists(set_items, min_size=1, max_size=8))
def test_fuzzed_set_and_get_variables_never_raise(tmp_path_factory, items):
    dm = DeviceModel(desktop, Store(str(tmp_path_factory.mktemp("fz"))), 1)
    res = dm.set_variables(items)
    assert len(res) == len(items)
    validate("SetVariablesResponse", {"setVariableResult": res})
    res = dm.get_variables([{k: v for k, v in it.items() if k != "attributeValue"}
                            for it in items])
    validate("GetVariablesResponse", {"getVariableResult": res})
    dm2 = DeviceModel(desktop, dm.store, 1)       # whatever was accepted reloads identically
    assert [dm2.get(v) for v in range(ids.COUNT) if v != ids.DATE_TIME] == \
        [dm.get(v) for v in range(ids.COUNT) if v != ids.DATE_TIME]
