"""B05 SetVariables and B06 GetVariables (Part 2), an on-demand block: loaded when the request
arrives and released, with the device model's ``access`` and ``limits`` modules, right after the
response (a CSMS configures a station rarely; a Lite station should not hold that code meanwhile).

A request above DeviceDataCtrlr.ItemsPerMessage / BytesPerMessage for its action is answered
CALLERROR OccurrenceConstraintViolation / FormatViolation (B06.FR.16, B06.FR.17; B05.FR.11);
otherwise every item gets its result from the device model (B05.FR.01, B06.FR.01; the statuses
are documented in ``device_model.access``). Accepted changes reach the other blocks as the
event ``var`` (``DeviceModel.on_change``).
"""
from lite_stack.core.rpc import CallError

RELEASE = ("device_model.access", "device_model.limits")


def handle(ctx, action, p, done):
    try:
        dm = ctx.dm
        get = action == "GetVariables"
        items = p["getVariableData" if get else "setVariableData"]
        # the request's size is that of its frame as received (Rpc.in_len): no copy to count it
        code = dm.check_request_size(action, len(items), ctx.rpc.in_len)
        if code:
            raise CallError(code, action + " above ItemsPerMessage/BytesPerMessage")
        if get:
            return {"getVariableResult": dm.get_variables(items)}
        return {"setVariableResult": dm.set_variables(items)}
    finally:
        done()   # after the device model's access/limits were used: they go with this block
