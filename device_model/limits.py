"""Request size limits: DeviceDataCtrlr.ItemsPerMessage / BytesPerMessage per action.

Loaded on first use (``DeviceModel.check_request_size``). The limits are read with ``dm.get`` on
every call (ReadOnly constants of the table, BytesPerMessage from ``board.MAX_FRAME``, both
overridable by ``board.DEFAULTS``). An if-chain rather than an action -> ids dict: no table
object on the heap.
"""
from device_model import ids


def check_request_size(dm, action, n_items, n_bytes):
    """None or the OCPP-J CALLERROR code for a request to DeviceModel ``dm`` (see
    ``DeviceModel.check_request_size``)."""
    if action == "GetVariables":
        iv, bv = ids.ITEMS_PER_MESSAGE_GET_VARIABLES, ids.BYTES_PER_MESSAGE_GET_VARIABLES
    elif action == "SetVariables":
        iv, bv = ids.ITEMS_PER_MESSAGE_SET_VARIABLES, ids.BYTES_PER_MESSAGE_SET_VARIABLES
    elif action == "GetReport":
        iv, bv = ids.ITEMS_PER_MESSAGE_GET_REPORT, ids.BYTES_PER_MESSAGE_GET_REPORT
    else:
        return None
    if n_items > dm.get(iv):
        return "OccurrenceConstraintViolation"
    if n_bytes > dm.get(bv):
        return "FormatViolation"
    return None
