"""The compact device model of a Lite Charging Station (OCPP 2.0.1 Part 2, functional block B).

The 54 required variables of Part 2 "Referenced Components and Variables" (+ erratum 2025-01,
Part 4 §8) plus OCPPCommCtrlr.HeartbeatInterval and AuthCtrlr.OfflineTxForUnknownIdEnabled, for
N EVSEs with one connector each, declared in ``device_model.table`` (one packed string per
variable, in ROM when frozen). RAM holds one list slot per writable (or stack-set) value and
nothing per read-only variable: constants are parsed from the table or the board module when
asked, live values (DateTime, AvailabilityState, EVSE Power) are read from the ``live`` object
when asked.

Persistence: the writable values that differ from their defaults are stored as one CBOR list
``[vid, value, vid, value, ...]`` under store name ``"dm"`` (see ``device_model.store``).
Keys are the ids of ``device_model.ids`` (append-only), so a firmware update keeps them; a value
equal to its default is not stored, so a changed default reaches every station that never set it.

Use cases: B05 SetVariables (``set_variables``), B06 GetVariables (``get_variables``), B07
GetBaseReport (``report_parts``), request size limits (``check_request_size``), G03/G04
availability persistence (``persist``/``restore``). Bad input never raises: every item gets its
status (B05.FR.01, B06.FR.01).

This module is the face: ``DeviceModel`` (values, persistence, the public API) and the names
other code imports (``SLOT``, ``NSLOTS``, ``NO_SLOT``, ``STORE_NAME``, ``format_value``,
``parse_value``). The work is in modules taking the DeviceModel as first argument:
``values`` (text <-> typed value, the per-variable check; imported here), ``access``
(Get/SetVariables results), ``limits`` (ItemsPerMessage/BytesPerMessage) and ``report``
(GetBaseReport parts), the last three imported on first use. ``rfc3339`` formats DateTime.
Nothing here imports ``lite_stack``.
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

from device_model.table import COUNT, C_EVSE, C_CONNECTOR, AVAILABILITY_STATES, field, comp_index
from device_model.values import format_value, parse_value, check
from device_model import ids

NO_SLOT = const(255)
STORE_NAME = "dm"

# Row field numbers (see device_model.table).
_F_MUT = const(3)
_F_TYPE = const(4)
_F_VL = const(8)
_F_DEF = const(9)


def _slots():
    # what SLOT must be, from the mutability column of the table (import check)
    slot = bytearray(COUNT)
    n = 0
    for i in range(COUNT):
        if field(i, _F_MUT) in "WOr":
            slot[i] = n
            n += 1
        else:
            slot[i] = NO_SLOT
    return bytes(slot), n


# vid -> index into DeviceModel._v (NO_SLOT: not stored in RAM), NSLOTS the count of the others. A
# bytes constant (in ROM when frozen; built at import it cost ~100 B of RAM), checked against the
# table at every import; after editing the table, paste what tests/unit/test_device_model.py prints.
SLOT = (
    b"\xff\xff\x00\x01\x02\x03\x04\xff\x05\xff\xff\xff\xff\xff\xff\xff\x06\x07"
    b"\x08\x09\xff\x0a\x0b\x0c\xff\xff\xff\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15"
    b"\x16\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x17\x18\x19\x1a\x1b\xff"
    b"\x1c\x1d\xff"
)
NSLOTS = COUNT - SLOT.count(b"\xff")
if _slots() != (SLOT, NSLOTS):
    raise ImportError("device_model.SLOT does not match device_model.table")
del _slots   # its dict entry is reused by the names below


class DeviceModel:
    """The device model of one Charging Station.

    board: a ``boards.*`` module (VENDOR, PHASES, CONNECTOR_TYPE, FIXED_CABLE, MAX_POWER_W,
    MAX_FRAME; optional MEASURANDS tuple, DEFAULTS dict {"Component.Variable[.Instance]": value},
    CERT_SLOTS, SECURITY_PROFILE, MAX_SECURITY_PROFILE, BASIC_AUTH_PASSWORD).
    store: ``device_model.store.Store``. evses: EVSE count (1 connector each).
    live: object giving live values: ``availability_state(evse, connector)`` -> AvailabilityState
    (evse 0 = ChargingStation, connector 0 = the EVSE), ``now()`` -> epoch s (ClockCtrlr.DateTime),
    optional ``power_w(evse)`` -> W (EVSE.Power Actual; 0 without it); None (a device model
    without a station, as in the device-model tests): Available, 1970-01-01T00:00:00Z, 0 W.
    Part 2 defines Available as "component exists", so it is the constant true.
    measurands: override of the meter's measurand names (default board.MEASURANDS, else
    ``hal.EnergyMeter.measurands``): the valuesList of every measurand MemberList.

    Hooks: ``on_change(vid, value)`` after each accepted SetVariables change (already persisted);
    ``validate(vid, value)`` -> False to reject a value the station cannot use (e.g. a
    NetworkConfigurationPriority slot without a profile, B10)."""

    on_change = None
    validate = None

    def __init__(self, board, store, evses=1, live=None, measurands=None):
        self.board = board
        self.store = store
        self.evses = evses
        self.live = live   # None: DateTime 1970-01-01, AvailabilityState Available, Power 0
        if measurands is None:
            measurands = getattr(board, "MEASURANDS", None)
        if measurands is None:
            from hal import EnergyMeter
            measurands = EnergyMeter.measurands
        self._meas = ",".join(measurands)
        self._over = None
        over = getattr(board, "DEFAULTS", None)
        if over:
            self._over = {}
            for key in over:
                self._over[self._vid_by_key(key)] = format_value(over[key])
        self.dropped = 0  # persisted entries ignored on load (unknown id or no longer valid)
        v = [None] * NSLOTS
        for vid in range(COUNT):
            if SLOT[vid] != NO_SLOT:
                v[SLOT[vid]] = self._default(vid)
        self._v = v
        self._load()

    # ---- table access -------------------------------------------------------------------------

    def _vid_by_key(self, key):
        p = key.split(".")
        if len(p) < 2:
            raise ValueError("bad DEFAULTS key " + key)
        from device_model.access import find
        st, vid, _ = find(self, {"name": p[0]}, {"name": p[1], "instance": p[2] if len(p) > 2
                                                 else None}, True)
        if st:
            raise ValueError("unknown DEFAULTS key " + key)
        return vid

    def _resolve(self, text):
        # "@NAME[=fallback]" / "@!NAME": board attribute as text; anything else unchanged.
        if not text or text[0] != "@" or text in ("@M", "@A"):
            return text
        neg = text[1] == "!"
        name = text[2:] if neg else text[1:]
        fb = None
        j = name.find("=")
        if j >= 0:
            fb = name[j + 1:]
            name = name[:j]
        v = getattr(self.board, name, None)
        if v is None:
            return fb
        return format_value(not v if neg else v)

    def _lim(self, vid, k):
        t = self._resolve(field(vid, k))
        return int(t) if t else None

    def _vl(self, vid):
        t = field(vid, _F_VL)
        if t == "@M":
            return self._meas
        if t == "@A":
            return AVAILABILITY_STATES
        return t

    def _default(self, vid):
        t = field(vid, _F_TYPE)
        if self._over and vid in self._over:
            text = self._over[vid]
        else:
            text = self._resolve(field(vid, _F_DEF))
        if text is None or text[:1] == "$":
            return None
        if t in "mq":
            allowed = self._vl(vid).split(",")
            return ",".join([m for m in text.split(",") if m in allowed])
        return parse_value(t, text)

    # ---- values -------------------------------------------------------------------------------

    def _value(self, vid, evse):
        s = SLOT[vid]
        if s != NO_SLOT:
            return self._v[s]
        src = field(vid, _F_DEF)
        live = self.live
        if src == "$T":
            from device_model.rfc3339 import iso
            return iso(live.now() if live else 0)
        if src == "$S":
            if live is None:
                return "Available"
            ci = comp_index(vid)
            return live.availability_state(0 if ci < C_EVSE else evse, 1 if ci == C_CONNECTOR else 0)
        if src == "$P":
            f = getattr(live, "power_w", None)
            return f(evse) if f else 0
        return self._default(vid)

    def get(self, vid, evse=1):
        """Typed current value of variable ``vid`` (``device_model.ids``): int for integer, bool,
        str for string/dateTime (RFC 3339)/OptionList/MemberList/SequenceList (CSV), int/float
        for decimal. EVSE/Connector variables: of EVSE ``evse``. WriteOnly values are returned
        (the stack needs BasicAuthPassword); only the CSMS is refused them (B06.FR.09)."""
        return self._value(vid, evse)

    def text(self, vid, evse=1):
        """The attribute text of ``get(vid, evse)`` (GetVariables/NotifyReport value)."""
        return format_value(self._value(vid, evse))

    def set(self, vid, value):
        """Set and persist a value from the stack itself (e.g. HeartbeatInterval from
        BootNotificationResponse.interval, B01.FR.04; SecurityProfile after a profile switch).
        ``value`` typed as ``get`` returns it (text is parsed; a list/tuple is joined for list
        types). Raises ValueError("ReadOnly") for a constant or live variable,
        ValueError("InvalidValue") / ValueError("ValueOutOfRange") for a value the table does not
        allow (``values.parse_value`` / ``values.check``), OSError if the store cannot write (the
        old value is kept). Does not call ``on_change``; the ``validate`` hook is not asked."""
        s = SLOT[vid]
        if s == NO_SLOT:
            raise ValueError("ReadOnly")
        t = field(vid, _F_TYPE)
        if isinstance(value, str) and t in "ibd":
            value = parse_value(t, value)
        elif isinstance(value, (list, tuple)):
            value = ",".join(value)
        r = check(self, vid, value)
        if r:
            raise ValueError(r)
        old = self._v[s]
        if old != value or type(old) is not type(value):
            self._v[s] = value
            try:
                self._save()
            except OSError:
                self._v[s] = old
                raise

    def _save(self):
        lst = []
        for vid in range(COUNT):
            s = SLOT[vid]
            if s != NO_SLOT:
                v = self._v[s]
                d = self._default(vid)
                if v != d or type(v) is not type(d):
                    lst.append(vid)
                    lst.append(v)
        self.store.save(STORE_NAME, lst)

    def _load(self):
        data = self.store.load(STORE_NAME)
        if data is None:
            return
        if not isinstance(data, list) or len(data) % 2:
            self.store._flag(STORE_NAME)
            return
        for i in range(0, len(data), 2):
            vid = data[i]
            v = data[i + 1]
            if type(vid) is int and 0 <= vid < COUNT and SLOT[vid] != NO_SLOT \
                    and check(self, vid, v) is None:
                self._v[SLOT[vid]] = v
            else:
                self.dropped += 1

    # ---- B06 GetVariables ---------------------------------------------------------------------

    def get_variables(self, items):
        """B06: ``items`` = GetVariablesRequest.getVariableData (schema-validated). Returns the
        getVariableResult list, one result per item in order (B06.FR.01), each echoing
        ``component`` and ``variable`` (B06.FR.02) and ``attributeType`` (the given one, B06.FR.03,
        or "Actual" when omitted, B06.FR.11). attributeStatus: UnknownComponent (B06.FR.06),
        UnknownVariable (B06.FR.07), NotSupportedAttributeType for anything but Actual
        (B06.FR.08), Rejected for WriteOnly (B06.FR.09), else Accepted with ``attributeValue``
        (B06.FR.10). Non-Accepted results carry attributeStatusInfo.reasonCode."""
        from device_model.access import get_variables
        return get_variables(self, items)

    # ---- B05 SetVariables ---------------------------------------------------------------------

    def set_variables(self, items):
        """B05: ``items`` = SetVariablesRequest.setVariableData (schema-validated). Returns the
        setVariableResult list, one per item in order (B05.FR.01), echoing component/variable
        (B05.FR.02) and attributeType (given, B05.FR.03, or "Actual", B05.FR.12).
        attributeStatus: UnknownComponent (B05.FR.04), UnknownVariable (B05.FR.05),
        NotSupportedAttributeType for anything but Actual (B05.FR.06), Rejected for a bad format,
        a value outside minLimit/maxLimit or valuesList (B05.FR.07, TC_B_11) or a ReadOnly
        variable (B05.FR.08, TC_B_39), RebootRequired when the change applies after a reboot
        (B05.FR.09: NetworkConfigurationPriority), else Accepted (B05.FR.10).
        Accepted values are persisted before this returns; if the store fails they are rolled
        back and reported Rejected ("InternalError"). Then ``on_change(vid, value)`` is called
        for each changed value."""
        from device_model.access import set_variables
        return set_variables(self, items)

    # ---- request size limits ------------------------------------------------------------------

    def check_request_size(self, action, n_items, n_bytes):
        """None if a request of ``n_items`` items and ``n_bytes`` bytes is within
        DeviceDataCtrlr.ItemsPerMessage/BytesPerMessage[action], else the OCPP-J CALLERROR code:
        "OccurrenceConstraintViolation" for too many items (B06.FR.16), "FormatViolation" for
        too many bytes (B06.FR.17). For SetVariables 2.0.1 only forbids the CSMS to exceed the
        limits (B05.FR.11); the same codes are used. Actions: GetVariables, SetVariables,
        GetReport; any other -> None. Spelling as Part 4 §4.3 (2.0.1) and ocpp-go's V2 code;
        OCPP-J 1.6 spelled it "OccurenceConstraintViolation"."""
        from device_model.limits import check_request_size
        return check_request_size(self, action, n_items, n_bytes)

    # ---- B07 GetBaseReport --------------------------------------------------------------------

    def report_parts(self, report_base, max_bytes=None):
        """B07 GetBaseReport. None for an unsupported ``report_base`` (SummaryInventory or any
        other: the caller answers GetBaseReportResponse NotSupported, B07.FR.02, TC_B_15), else an
        iterator of ``(report_data, tbc)`` tuples, generated lazily: ``report_data`` a list of
        ReportDataType dicts for NotifyReportRequest.reportData, ``tbc`` True when another part
        follows (NotifyReportRequest.tbc; False on the last). At least one part is yielded.
        ConfigurationInventory: the variables the CSMS can set (ReadWrite, WriteOnly; B07.FR.07,
        TC_B_12); FullInventory: all, EVSE/Connector ones once per EVSE (B07.FR.08, TC_B_13,
        TC_B_53); no value for WriteOnly (B07.FR.03). Each list holds at most
        ItemsPerMessage[GetReport] items and, serialized with ``json.dumps`` inside a
        NotifyReportRequest CALL (``report.OVERHEAD`` bytes allowed for
        [2,id,"NotifyReport",{requestId,generatedAt,seqNo,tbc}]), at most ``max_bytes`` bytes
        (default BytesPerMessage[GetReport]); a single item larger than that is yielded alone.
        seqNo/requestId/generatedAt are the caller's. Each iterator keeps its own state: reports
        may be interleaved. Values are read when their part is built."""
        if report_base == "FullInventory":
            conf = False
        elif report_base == "ConfigurationInventory":
            conf = True
        else:
            return None
        from device_model.report import parts
        if max_bytes is None:
            max_bytes = self.get(ids.BYTES_PER_MESSAGE_GET_REPORT)
        return parts(self, conf, max_bytes, self.get(ids.ITEMS_PER_MESSAGE_GET_REPORT))

    # ---- other persisted state ----------------------------------------------------------------

    def persist(self, name, obj):
        """``store.save`` passthrough for other stack state (e.g. availability, G03/G04):
        ``obj`` any of None/bool/int/str/bytes/list/dict with str keys (``device_model.cbor``).
        Returns True if it wrote, False if the stored encoding was already equal. Raises OSError
        if the store cannot write, ValueError for a bad name (``store._check_name``),
        TypeError/ValueError for an object ``cbor`` cannot encode."""
        return self.store.save(name, obj)

    def restore(self, name, default=None):
        """``store.load`` passthrough: the object saved under ``name``, or ``default`` if none
        is stored or it is corrupt (then ``name`` is in ``store.corrupt``)."""
        return self.store.load(name, default)
