"""Integer ids of the device-model variables the stack reads and writes (``DeviceModel.get(id)``).

The order is the order of the declaration table in ``device_model.table``; an id is the row index.
Source of the variable list: Part 2 "Referenced Components and Variables" (Required), the 2025-01
erratum, Part 4 §8, plus OCPPCommCtrlr.HeartbeatInterval (see docs / shared device-model.md).
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MESSAGE_TIMEOUT = const(0)            # OCPPCommCtrlr.MessageTimeout[Default], s
FILE_TRANSFER_PROTOCOLS = const(1)    # OCPPCommCtrlr.FileTransferProtocols
NETWORK_CONFIGURATION_PRIORITY = const(2)
NETWORK_PROFILE_CONNECTION_ATTEMPTS = const(3)
OFFLINE_THRESHOLD = const(4)          # s
MESSAGE_ATTEMPTS_TE = const(5)        # OCPPCommCtrlr.MessageAttempts[TransactionEvent]
MESSAGE_ATTEMPT_INTERVAL_TE = const(6)  # OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent], s
UNLOCK_ON_EV_SIDE_DISCONNECT = const(7)
RESET_RETRIES = const(8)
ITEMS_PER_MESSAGE_GET_REPORT = const(9)
ITEMS_PER_MESSAGE_GET_VARIABLES = const(10)
ITEMS_PER_MESSAGE_SET_VARIABLES = const(11)
BYTES_PER_MESSAGE_GET_REPORT = const(12)
BYTES_PER_MESSAGE_GET_VARIABLES = const(13)
BYTES_PER_MESSAGE_SET_VARIABLES = const(14)
DATE_TIME = const(15)                 # ClockCtrlr.DateTime (live)
TIME_SOURCE = const(16)
ORGANIZATION_NAME = const(17)
CERTIFICATE_ENTRIES = const(18)
SECURITY_PROFILE = const(19)
AUTHORIZE_REMOTE_START = const(20)
LOCAL_AUTHORIZE_OFFLINE = const(21)
LOCAL_PRE_AUTHORIZE = const(22)
EV_CONNECTION_TIMEOUT = const(23)     # TxCtrlr.EVConnectionTimeOut, s
STOP_TX_ON_EV_SIDE_DISCONNECT = const(24)
TX_START_POINT = const(25)
TX_STOP_POINT = const(26)
STOP_TX_ON_INVALID_ID = const(27)
SAMPLED_TX_ENDED_MEASURANDS = const(28)
SAMPLED_TX_ENDED_INTERVAL = const(29)
SAMPLED_TX_STARTED_MEASURANDS = const(30)
SAMPLED_TX_UPDATED_MEASURANDS = const(31)
SAMPLED_TX_UPDATED_INTERVAL = const(32)
ALIGNED_MEASURANDS = const(33)
ALIGNED_INTERVAL = const(34)
ALIGNED_TX_ENDED_MEASURANDS = const(35)
ALIGNED_TX_ENDED_INTERVAL = const(36)
CS_AVAILABLE = const(37)              # ChargingStation.Available
CS_AVAILABILITY_STATE = const(38)     # ChargingStation.AvailabilityState (live)
CS_SUPPLY_PHASES = const(39)
EVSE_AVAILABLE = const(40)            # EVSE.Available (per EVSE)
EVSE_AVAILABILITY_STATE = const(41)   # live, per EVSE
EVSE_SUPPLY_PHASES = const(42)
EVSE_POWER = const(43)                # W, maxLimit required
CONNECTOR_AVAILABLE = const(44)       # per connector
CONNECTOR_TYPE = const(45)
CONNECTOR_SUPPLY_PHASES = const(46)
CONNECTOR_AVAILABILITY_STATE = const(47)  # live, per connector (erratum 2025-01)
RETRY_BACKOFF_REPEAT_TIMES = const(48)
RETRY_BACKOFF_RANDOM_RANGE = const(49)   # s
RETRY_BACKOFF_WAIT_MINIMUM = const(50)   # s
WEBSOCKET_PING_INTERVAL = const(51)      # s, 0 = off
BASIC_AUTH_PASSWORD = const(52)          # write-only
ADDITIONAL_ROOT_CERTIFICATE_CHECK = const(53)
HEARTBEAT_INTERVAL = const(54)           # OCPPCommCtrlr.HeartbeatInterval, s (extra, RW)
OFFLINE_TX_FOR_UNKNOWN_ID = const(55)  # AuthCtrlr.OfflineTxForUnknownIdEnabled (optional, C15)
ALLOW_NEW_SESSIONS_PENDING_FW = const(56)  # ChargingStation.AllowNewSessionsPendingFirmwareUpdate (L01, false)
COUNT = const(57)
