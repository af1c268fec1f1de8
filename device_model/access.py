"""B05 SetVariables and B06 GetVariables: the result list of a request, item by item.

Loaded on first use (``DeviceModel.get_variables`` / ``set_variables``, or a board with
``DEFAULTS``), so a station the CSMS never queries does not hold this code. The contracts
(result shapes, statuses and their requirement ids) are documented on those two methods; this
module holds the steps: resolve ComponentType/VariableType to a variable id (``find``), then per
item attributeType -> mutability -> value (``device_model.values``) -> the station's
``validate`` hook. Bad input never raises: every item gets its status (B05.FR.01, B06.FR.01).
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

from device_model.table import COUNT, COMPONENTS, C_EVSE, C_CONNECTOR, field, comp_index
from device_model.values import parse_value, check
from device_model import SLOT

_F_VAR = const(1)
_F_INST = const(2)
_F_MUT = const(3)
_F_TYPE = const(4)
_F_FLAGS = const(10)


def _eq(name, want):
    # OCPP names are CiString (case-insensitive, Part 2 ComponentType/VariableType).
    return name == want or (isinstance(want, str) and name.lower() == want.lower())


def find(dm, comp, var, any_evse=False):
    """(status, vid, evse id) for a ComponentType/VariableType dict pair of a request to
    DeviceModel ``dm``. status None when known, else "UnknownComponent" (no such name, an
    instance, a missing or out-of-range evse.id for EVSE/Connector, connectorId other than 1 for
    Connector or given for EVSE, an evse for a station-wide component: B05.FR.04, B06.FR.06) or
    "UnknownVariable" (B05.FR.05, B06.FR.07; also a missing or wrong variable instance,
    B06.FR.14/15); vid -1 and evse 0 then. Names compare case-insensitively (CiString).
    ``any_evse``: an EVSE/Connector component without evse resolves to EVSE 1 (board DEFAULTS
    keys)."""
    if not isinstance(comp, dict) or not isinstance(var, dict):
        return "UnknownComponent", -1, 0
    cname = comp.get("name")
    ci = -1
    for i in range(len(COMPONENTS)):
        if _eq(COMPONENTS[i], cname):
            ci = i
            break
    if ci < 0 or comp.get("instance"):
        return "UnknownComponent", -1, 0
    ev = comp.get("evse")
    e = 0
    if ci == C_EVSE or ci == C_CONNECTOR:
        if any_evse and ev is None:
            e = 1
        else:
            if not isinstance(ev, dict):
                return "UnknownComponent", -1, 0
            e = ev.get("id")
            c = ev.get("connectorId")
            if type(e) is not int or not 1 <= e <= dm.evses or \
                    (c is not None if ci == C_EVSE else c != 1):
                return "UnknownComponent", -1, 0
    elif ev is not None:
        return "UnknownComponent", -1, 0
    vname = var.get("name")
    vinst = var.get("instance") or ""
    for vid in range(COUNT):
        if comp_index(vid) == ci and _eq(field(vid, _F_VAR), vname) \
                and _eq(field(vid, _F_INST), vinst):
            return None, vid, e
    return "UnknownVariable", -1, 0


def get_variables(dm, items):
    """getVariableResult list for GetVariablesRequest.getVariableData ``items`` (see
    ``DeviceModel.get_variables``)."""
    out = []
    for it in items:
        at = it.get("attributeType") or "Actual"
        comp = it.get("component")
        var = it.get("variable")
        st, vid, e = find(dm, comp, var)
        reason = "NotFound"
        r = {"attributeType": at, "component": comp, "variable": var}
        if st is None:
            if at != "Actual":
                st, reason = "NotSupportedAttributeType", "UnsupportedParam"
            elif field(vid, _F_MUT) == "O":
                st, reason = "Rejected", "WriteOnly"
            else:
                st = "Accepted"
                r["attributeValue"] = dm.text(vid, e)
        r["attributeStatus"] = st
        if st != "Accepted":
            r["attributeStatusInfo"] = {"reasonCode": reason}
        out.append(r)
    return out


def _set_one(dm, it):
    # -> (status, reasonCode or None, vid, typed value)
    st, vid, _ = find(dm, it.get("component"), it.get("variable"))
    if st:
        return st, "NotFound", -1, None
    if (it.get("attributeType") or "Actual") != "Actual":
        return "NotSupportedAttributeType", "UnsupportedParam", vid, None
    if field(vid, _F_MUT) not in "WO":
        return "Rejected", "ReadOnly", vid, None
    try:
        v = parse_value(field(vid, _F_TYPE), it.get("attributeValue"))
    except ValueError as ex:
        return "Rejected", ex.args[0] if ex.args else "InvalidValue", vid, None
    r = check(dm, vid, v)
    if r:
        return "Rejected", r, vid, None
    hook = dm.validate
    if hook:
        try:
            ok = hook(vid, v)
        except ValueError:
            ok = False
        if not ok:
            return "Rejected", "InvalidValue", vid, None
    return ("RebootRequired" if "B" in field(vid, _F_FLAGS) else "Accepted"), None, vid, v


def set_variables(dm, items):
    """setVariableResult list for SetVariablesRequest.setVariableData ``items``; persists, rolls
    back on a store failure, then calls ``dm.on_change`` (see ``DeviceModel.set_variables``)."""
    out = []
    changes = []
    vals = dm._v
    for it in items:
        st, reason, vid, v = _set_one(dm, it)
        r = {"attributeType": it.get("attributeType") or "Actual", "attributeStatus": st,
             "component": it.get("component"), "variable": it.get("variable")}
        if reason:
            r["attributeStatusInfo"] = {"reasonCode": reason}
        elif st == "Accepted" or st == "RebootRequired":
            s = SLOT[vid]
            old = vals[s]
            if old != v or type(old) is not type(v):
                vals[s] = v
                changes.append((r, vid, old, v))
        out.append(r)
    if changes:
        try:
            dm._save()
        except OSError:
            for i in range(len(changes) - 1, -1, -1):
                r, vid, old, _ = changes[i]
                vals[SLOT[vid]] = old
                r["attributeStatus"] = "Rejected"
                r["attributeStatusInfo"] = {"reasonCode": "InternalError"}
            return out
        hook = dm.on_change
        if hook:
            for c in changes:
                try:
                    hook(c[1], c[3])
                except Exception as ex:  # the response must still go out
                    print("device_model: on_change(%d) failed: %r" % (c[1], ex))
    return out
