"""The declaration table of the device model: one packed string, in ROM when frozen.

``TABLE`` is a single str constant (not an object per variable): row ``i`` (``i``-th line)
declares the variable with id ``i`` of ``device_model.ids`` (keep the order; add rows only at the
end, together with an id). A row is 11 fields separated by ``|``::

    comp|variable|instance|mut|type|unit|minLimit|maxLimit|valuesList|default|flags

- ``comp``: index into ``COMPONENTS`` as one hex digit (``9`` = EVSE and ``a`` = Connector repeat
  per EVSE / per connector; everything else is station-wide).
- ``mut``: ``W`` ReadWrite (RAM slot, persisted), ``O`` WriteOnly (RAM slot, persisted, never
  reported), ``r`` ReadOnly for the CSMS but set by the stack (RAM slot, persisted, e.g.
  SecurityProfile after SetNetworkProfile), ``R`` ReadOnly constant (table or board), ``L``
  ReadOnly live value (read from the ``live`` object when asked, never stored).
- ``type``: i integer, d decimal, b boolean, s string, t dateTime, o OptionList,
  m MemberList, q SequenceList (Part 2 §2.1 DataEnumType).
- ``minLimit``/``maxLimit``: numbers; for strings the length (Part 2 VariableCharacteristicsType).
- ``valuesList``: literal CSV, ``@M`` = the measurands the board's meter delivers,
  ``@A`` = ``AVAILABILITY_STATES``.
- ``default`` (and limits): literal text, ``@NAME`` = attribute ``NAME`` of the board module
  (``@NAME=x`` with fallback ``x``, ``@!NAME`` = its negation), ``$T`` live date-time,
  ``$S`` live availability state, ``$P`` live power (W).
- ``flags``: ``B`` = a change only applies after a reboot (SetVariables -> RebootRequired,
  B05.FR.09).

RAM: ``OFFSETS`` (2 bytes per row, a bytes constant in ROM) locates the rows; ``field`` allocates only the
slice it returns.

Sources: OCPP 2.0.1 Part 2 "Referenced Components and Variables" (Required variables; dataType,
unit, valuesList), the 2025-01 erratum (Connector.AvailabilityState), Part 4 §8 (RetryBackOff*,
WebSocketPingInterval), cross-checked against EVerest libocpp
config/v201/component_config/standardized/*.json. Each default and why: device_model/README.md.
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

COMPONENTS = ("OCPPCommCtrlr", "DeviceDataCtrlr", "ClockCtrlr", "SecurityCtrlr", "AuthCtrlr",
              "TxCtrlr", "SampledDataCtrlr", "AlignedDataCtrlr", "ChargingStation", "EVSE",
              "Connector")
C_EVSE = const(9)
C_CONNECTOR = const(10)

AVAILABILITY_STATES = "Available,Occupied,Reserved,Unavailable,Faulted"

# Field numbers of a row.
F_VAR = const(1)
F_INST = const(2)
F_MUT = const(3)
F_TYPE = const(4)
F_UNIT = const(5)
F_MIN = const(6)
F_MAX = const(7)
F_VL = const(8)
F_DEF = const(9)
F_FLAGS = const(10)

TABLE = (
    "0|MessageTimeout|Default|R|i|s|1|||30|\n"
    "0|FileTransferProtocols||R|m||||FTP,FTPS,HTTP,HTTPS,SFTP|FTP,HTTP,HTTPS|\n"
    "0|NetworkConfigurationPriority||W|q||||0,1|0|B\n"
    "0|NetworkProfileConnectionAttempts||W|i||1|100||3|\n"
    "0|OfflineThreshold||W|i|s|0|||60|\n"
    "0|MessageAttempts|TransactionEvent|W|i||1|100||3|\n"
    "0|MessageAttemptInterval|TransactionEvent|W|i|s|1|||60|\n"
    "0|UnlockOnEVSideDisconnect||R|b|||||@!FIXED_CABLE|\n"
    "0|ResetRetries||W|i||0|10||2|\n"
    "1|ItemsPerMessage|GetReport|R|i||1|||3|\n"
    "1|ItemsPerMessage|GetVariables|R|i||2|||16|\n"
    "1|ItemsPerMessage|SetVariables|R|i||2|||16|\n"
    "1|BytesPerMessage|GetReport|R|i|||||@MAX_FRAME=8192|\n"
    "1|BytesPerMessage|GetVariables|R|i|||||@MAX_FRAME=8192|\n"
    "1|BytesPerMessage|SetVariables|R|i|||||@MAX_FRAME=8192|\n"
    "2|DateTime||L|t|||||$T|\n"
    "2|TimeSource||W|q||||Heartbeat,RealTimeClock|Heartbeat|\n"
    "3|OrganizationName||W|s|||64||@VENDOR=OCPP2Lite|\n"
    "3|CertificateEntries||r|i||0|@CERT_SLOTS=4||0|\n"
    "3|SecurityProfile||r|i||0|@MAX_SECURITY_PROFILE=2||@SECURITY_PROFILE=1|\n"
    "4|AuthorizeRemoteStart||R|b|||||false|\n"
    "4|LocalAuthorizeOffline||W|b|||||false|\n"
    "4|LocalPreAuthorize||W|b|||||false|\n"
    "5|EVConnectionTimeOut||W|i|s|1|||60|\n"
    "5|StopTxOnEVSideDisconnect||R|b|||||true|\n"
    "5|TxStartPoint||R|m||||PowerPathClosed|PowerPathClosed|\n"
    "5|TxStopPoint||R|m||||PowerPathClosed|PowerPathClosed|\n"
    "5|StopTxOnInvalidId||W|b|||||true|\n"
    "6|TxEndedMeasurands||W|m||||@M|Energy.Active.Import.Register|\n"
    "6|TxEndedInterval||W|i|s|0|||0|\n"
    "6|TxStartedMeasurands||W|m||||@M|Energy.Active.Import.Register|\n"
    "6|TxUpdatedMeasurands||W|m||||@M|Energy.Active.Import.Register,Power.Active.Import|\n"
    "6|TxUpdatedInterval||W|i|s|0|||60|\n"
    "7|Measurands||W|m||||@M|Energy.Active.Import.Register|\n"
    "7|Interval||W|i|s|0|||900|\n"
    "7|TxEndedMeasurands||W|m||||@M|Energy.Active.Import.Register|\n"
    "7|TxEndedInterval||W|i|s|0|||0|\n"
    "8|Available||R|b|||||true|\n"
    "8|AvailabilityState||L|o||||@A|$S|\n"
    "8|SupplyPhases||R|i||0|3||@PHASES=1|\n"
    "9|Available||R|b|||||true|\n"
    "9|AvailabilityState||L|o||||@A|$S|\n"
    "9|SupplyPhases||R|i||0|3||@PHASES=1|\n"
    "9|Power||L|d|W|0|@MAX_POWER_W=7400||$P|\n"
    "a|Available||R|b|||||true|\n"
    "a|ConnectorType||R|s|||||@CONNECTOR_TYPE=cType2|\n"
    "a|SupplyPhases||R|i||0|3||@PHASES=1|\n"
    "a|AvailabilityState||L|o||||@A|$S|\n"
    "0|RetryBackOffRepeatTimes||W|i||0|20||5|\n"
    "0|RetryBackOffRandomRange||W|i|s|0|3600||10|\n"
    "0|RetryBackOffWaitMinimum||W|i|s|0|3600||3|\n"
    "0|WebSocketPingInterval||W|i|s|0|||60|\n"
    "3|BasicAuthPassword||O|s||16|40||@BASIC_AUTH_PASSWORD=|\n"
    "3|AdditionalRootCertificateCheck||R|b|||||false|\n"
    "0|HeartbeatInterval||W|i|s|1|||300|\n"
    "4|OfflineTxForUnknownIdEnabled||W|b|||||false|\n"
    "8|AllowNewSessionsPendingFirmwareUpdate||R|b|||||false|\n"
)

# The ``mut`` and ``type`` codes and their Part 2 names (MutabilityEnumType, DataEnumType): a str
# and a tuple of str constants, in ROM when frozen (dicts would be built in RAM at import).
MUT_CODES = "WOrRL"
MUT_NAMES = ("ReadWrite", "WriteOnly", "ReadOnly", "ReadOnly", "ReadOnly")
TYPE_CODES = "idbstomq"
TYPE_NAMES = ("integer", "decimal", "boolean", "string", "dateTime", "OptionList", "MemberList",
              "SequenceList")




# Where each row starts in TABLE: 2 bytes little-endian per row, plus the end of TABLE. A bytes
# constant (in ROM when frozen; built at import it cost ~150 B of RAM). Generated from TABLE by
# ``offsets(TABLE)`` in tests/unit/test_device_model.py, which checks it: after editing TABLE,
# paste what that test prints. The import check below catches a stale one (row count, length).
OFFSETS = (
    b"\x00\x00\x27\x00\x70\x00\x9f\x00\xd2\x00\xf4\x00\x26\x01\x5e\x01\x91\x01"
    b"\xaf\x01\xd7\x01\x03\x02\x2f\x02\x64\x02\x9c\x02\xd4\x02\xec\x02\x24\x03"
    b"\x55\x03\x84\x03\xcc\x03\xf3\x03\x1b\x04\x3f\x04\x64\x04\x8e\x04\xc6\x04"
    b"\xfd\x04\x20\x05\x5e\x05\x7e\x05\xbe\x05\x12\x06\x35\x06\x6c\x06\x87\x06"
    b"\xc5\x06\xe5\x06\x00\x07\x23\x07\x48\x07\x63\x07\x86\x07\xab\x07\xd3\x07"
    b"\xee\x07\x1f\x08\x44\x08\x67\x08\x90\x08\xbd\x08\xe9\x08\x10\x09\x48\x09"
    b"\x79\x09\x9d\x09\xcc\x09\x04\x0a"
)
COUNT = len(OFFSETS) // 2 - 1   # rows
if TABLE.count("\n") != COUNT or OFFSETS[-2] | OFFSETS[-1] << 8 != len(TABLE):
    raise ImportError("device_model.table: OFFSETS does not match TABLE")


def _start(vid):
    return OFFSETS[2 * vid] | OFFSETS[2 * vid + 1] << 8


def field(vid, k):
    """Field ``k`` (0-based, see module docstring) of row ``vid``, as a str."""
    i = _start(vid)
    while k:
        i = TABLE.find("|", i) + 1
        k -= 1
    j = TABLE.find("|", i)
    end = _start(vid + 1) - 1
    return TABLE[i:end if j < 0 or j > end else j]


def comp_index(vid):
    """Index of the component of row ``vid`` in ``COMPONENTS``."""
    return int(TABLE[_start(vid)], 16)


def row(vid):
    """The whole row ``vid`` without its newline (tests, tools)."""
    return TABLE[_start(vid):_start(vid + 1) - 1]
