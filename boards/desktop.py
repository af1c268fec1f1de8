"""The desktop simulator board: simulated pilot, contactor, meter and RFID reader (hal.sim)."""

VENDOR = "OCPP2Lite"
MODEL = "LiteSim"
SERIAL = "SIM-0001"
FIRMWARE_VERSION = "0.1.0"
EVSES = 1
CONNECTOR_TYPE = "cType2"  # fixed cable with a Type 2 connector (Part 2 ConnectorEnumType)
FIXED_CABLE = True
PHASES = 1
MAX_CURRENT_A = 32
VOLTAGE_V = 230
MAX_POWER_W = 7400

# Memory bounds (bytes / entries); visible in the device model as limits.
MAX_FRAME = 8192     # largest OCPP-J frame received or sent
SEND_QUEUE = 8       # waiting non-transaction CALLs; one more is refused (QueueFull, logged)
TX_QUEUE = 64        # persisted TransactionEvents awaiting confirmation
TX_ENDED_SAMPLES = 8  # meter values kept per transaction for its Ended event (J01/J02 TxEnded*)


def make_hal(clock, evses):
    # each EVSE gets a simulated connector lock (hal.sim.SimLock): F05 UnlockConnector answers
    # Unlocked / OngoingAuthorizedTransaction (the "has a connector lock" prerequisite of
    # TC_F_05/F_06); a board whose lock driver reports a failure answers UnlockFailed
    from hal.sim import make_sim_evse, SimRfid
    return [make_sim_evse(clock, FIXED_CABLE, MAX_POWER_W, True)
            for _ in range(evses)], SimRfid()

# What the simulated meter (hal.sim.SimMeter) offers: the valuesList of the measurand variables.
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage")


# L01 firmware update (lite_stack/blocks/firmware.py): the desktop "image" is any bytes; it is
# staged in the state dir (A/B slot + atomic pointer, boards/_fwslot.py); the simulator then
# restarts (in-process, or exits 0 under OCPP_EXIT_ON_RESET=1) and reports Installed.
def install_firmware(path, state_dir):
    from boards import _fwslot
    _fwslot.stage(path, state_dir)


def firmware_booted(state_dir):
    from boards import _fwslot
    return _fwslot.confirm(state_dir)
