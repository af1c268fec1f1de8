"""B07 GetBaseReport: the NotifyReport parts of a ConfigurationInventory or FullInventory.

Loaded on first use (``DeviceModel.report_parts``) so a station that is never asked for a report
never pays for this code. Items are built one at a time from the table; only the current part is
held in RAM, by the generator of that report (nothing is stored on the DeviceModel).

Item shape (Part 2 ReportDataType): component {name, evse {id[, connectorId]}}, variable
{name[, instance]}, variableAttribute [{type "Actual", mutability, value (omitted for WriteOnly:
B07.FR.03 as amended by the 2025-01 erratum, TC_B_53), persistent (true unless live), constant
(true for board/table constants)}], variableCharacteristics {dataType, supportsMonitoring false,
unit, minLimit, maxLimit, valuesList (every OptionList/MemberList/SequenceList, TC_B_53)}.
"""
import json

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

from device_model.table import COUNT, COMPONENTS, C_EVSE, C_CONNECTOR, MUT_CODES, MUT_NAMES, \
    TYPE_CODES, TYPE_NAMES, field, comp_index

# Bytes allowed for the CALL envelope and the NotifyReportRequest fields around reportData:
# [2,"<36-char message id>","NotifyReport",{"requestId":2147483647,"generatedAt":
# "2026-01-01T00:00:00.000Z","seqNo":2147483647,"tbc":false,"reportData":[...]}] is about 160.
OVERHEAD = const(200)


def item(dm, vid, evse):
    """The ReportDataType dict of variable ``vid`` (for EVSE ``evse`` if per EVSE/Connector)."""
    ci = comp_index(vid)
    mut = field(vid, 3)
    t = field(vid, 4)
    comp = {"name": COMPONENTS[ci]}
    if ci == C_EVSE:
        comp["evse"] = {"id": evse}
    elif ci == C_CONNECTOR:
        comp["evse"] = {"id": evse, "connectorId": 1}
    var = {"name": field(vid, 1)}
    inst = field(vid, 2)
    if inst:
        var["instance"] = inst
    attr = {"type": "Actual", "mutability": MUT_NAMES[MUT_CODES.index(mut)]}
    if mut != "O":
        attr["value"] = dm.text(vid, evse)
    if mut != "L":
        attr["persistent"] = True
    if mut == "R":
        attr["constant"] = True
    ch = {"dataType": TYPE_NAMES[TYPE_CODES.index(t)], "supportsMonitoring": False}
    unit = field(vid, 5)
    if unit:
        ch["unit"] = unit
    lo = dm._lim(vid, 6)
    if lo is not None:
        ch["minLimit"] = lo
    hi = dm._lim(vid, 7)
    if hi is not None:
        ch["maxLimit"] = hi
    if t in "omq":
        ch["valuesList"] = dm._vl(vid)
    return {"component": comp, "variable": var, "variableAttribute": [attr],
            "variableCharacteristics": ch}


def _compact(obj):
    # JSON without blanks (the size the CSMS receives; MicroPython's json is compact already)
    try:
        return json.dumps(obj, separators=(",", ":"))
    except TypeError:
        return json.dumps(obj)


def parts(dm, configuration_only, max_bytes, max_items):
    """Generator of ``(reportData list, tbc)`` (see ``DeviceModel.report_parts``). All its state
    (the pending list, its size, the position in the table) is local to the generator, so two
    reports can be interleaved. An item's size is that of its compact JSON, as the station sends
    it."""
    budget = max_bytes - OVERHEAD
    batch = []
    used = 2  # "[]"
    for vid in range(COUNT):
        if configuration_only and field(vid, 3) not in "WO":
            continue
        ci = comp_index(vid)
        n_evse = dm.evses if ci == C_EVSE or ci == C_CONNECTOR else 1
        for e in range(1, n_evse + 1):
            if len(batch) >= max_items:   # full: sent before the next item is built (one less
                yield batch, True         # item in RAM at the peak); another item follows: tbc
                batch = []
                used = 2
            it = item(dm, vid, e)
            n = len(_compact(it).encode()) + 1
            if batch and used + n > budget:
                yield batch, True
                batch = []
                used = 2
            batch.append(it)
            used += n
    yield batch, False
