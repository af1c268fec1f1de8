"""`ocpp2lite pics`: the Protocol Implementation Conformance Statement, generated (desktop only).

The PICS (OCPP Test Procedure §4.2 and Appendix A; the OCPP 2.0.1 layout of the certificates'
"Hardware Feature Set" and "Optional Features" tables) is filled from three sources, never by hand:

- the **board definition** (``boards.<name>``): vendor, model, firmware version, EVSEs, cable,
  phases, power, and the memory bounds (frame size, queues);
- the **device model** (``device_model.DeviceModel(board, ...)``, its B07 FullInventory report):
  values, limits and valuesLists of the variables (ItemsPerMessage, BytesPerMessage, certificate
  slots, security profiles, TxStartPoint/TxStopPoint, time sources, ...), and which optional
  variables exist at all;
- the **running stack**, probed on the wire: a simulated station (``python -m ocpp2lite sim``,
  desktop board: the OCPP code is the same on every board) against the embedded CSMS on loopback.
  Every OCPP 2.0.1 CSMS->Charging Station action is sent with an empty payload: CALLERROR
  ``NotImplemented`` means not implemented (OCPP-J Part 4 §4.3), anything else means a handler
  exists. TriggerMessage is sent for every requestedMessage, GetBaseReport for every reportBase,
  Reset with an evseId; a short session (card, cable, transaction, triggers, report, customer
  information) shows which Charging Station->CSMS messages the station sends.

The performance values (A.4) are ``ocpp2lite.perf.STATED``. Each n/a reason in
docs/conformance.md is checked against the PICS item it depends on (``consistency()``).

    ocpp2lite pics [--board NAME] [--format md|json] [--out FILE]
    python -m ocpp2lite.pics --check        # exit 1 if docs/pics.md is out of date
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "pics.md")
CONFORMANCE = os.path.join(ROOT, "docs", "conformance.md")

COMMUNICATION = {"desktop": "Ethernet (the host's network; the desktop simulator)"}  # boards: WiFi
# Certification profiles (OCPP 2.0.1 Part 5) and the CSMS->CS actions that must all be implemented
# for the profile to be claimed; Core is claimed when its mandatory requests are answered.
PROFILES = (
    ("Core", ("GetVariables", "SetVariables", "GetBaseReport", "Reset", "RequestStartTransaction",
              "RequestStopTransaction", "TriggerMessage", "ChangeAvailability", "UnlockConnector",
              "GetTransactionStatus", "DataTransfer", "SetNetworkProfile", "ClearCache",
              "InstallCertificate", "GetInstalledCertificateIds", "DeleteCertificate", "UpdateFirmware",
              "GetLog")),
    ("Advanced Security", ("CertificateSigned",)),
    ("Local Authorization List Management", ("SendLocalList", "GetLocalListVersion")),
    ("Smart Charging", ("SetChargingProfile", "ClearChargingProfile", "GetChargingProfiles",
                        "GetCompositeSchedule")),
    ("Advanced Device Management", ("GetReport", "SetVariableMonitoring", "SetMonitoringBase",
                                    "ClearVariableMonitoring")),
    ("Reservation", ("ReserveNow", "CancelReservation")),
    ("Advanced User Interface", ("SetDisplayMessage", "GetDisplayMessages", "CostUpdated")),
    ("ISO 15118 Support", ("Get15118EVCertificate",)),   # sent by the station (see sends)
)
# docs/conformance.md n/a reason (regex) -> the PICS items that must say "No" for it to hold
NA_RULES = (
    (r"no authorization cache|needs list/cache|cache/list", ("AUTH-CACHE",)),
    (r"needs list/cache|cache/list", ("LOCAL-LIST",)),
    (r"no Master Pass", ("C-07", "C-08")),
    (r"no per-EVSE reset", ("C-13",)),
    (r"no signed meter values", ("SIGNED-METER",)),
    (r"DataSigned not supported", ("C-09.3",)),
    (r"EVConnected stop not supported", ("C-10.1",)),
    (r"Authorized stop not supported", ("C-10.2",)),
    (r"EVConnected start not supported", ("C-09.1",)),
    (r"Authorized start not supported", ("C-09.2",)),
    (r"Authorized/ParkingBay start point", ("C-09.2", "C-09.6")),
    (r"C-20 not implemented", ("C-20",)),
    (r"C-14 not supported", ("C-14",)),
    (r"needs C-01 offline auth", ("C-01",)),
    (r"AlignedDataSendDuringIdle", ("C-28",)),
    (r"StopTxOnEVSideDisconnect=false", ("STOP-TX-EV-SIDE-RW",)),
    (r"AdditionalRootCertificateCheck=true", ("ADDITIONAL-ROOT-CHECK",)),
)


# ---- sources ---------------------------------------------------------------------------------------
def ocpp_actions():
    """(all OCPP 2.0.1 actions, those sent by a Charging Station) from the `ocpp` library: its schema
    files, and the CS->CSMS actions the embedded CSMS routes (DataTransfer goes both ways)."""
    import ocpp.v201
    from ocpp2lite.csms import StationConnection
    d = os.path.join(os.path.dirname(ocpp.v201.__file__), "schemas")
    every = sorted(f[:-len("Request.json")] for f in os.listdir(d) if f.endswith("Request.json"))
    cs = set()
    for name in dir(StationConnection):
        a = getattr(getattr(StationConnection, name, None), "_on_action", None)
        if a:
            cs.add(a)
    return every, cs


def _schema_enum(file, enum):
    import ocpp.v201
    d = os.path.join(os.path.dirname(ocpp.v201.__file__), "schemas")
    with open(os.path.join(d, file), encoding="utf-8") as f:
        return json.load(f)["definitions"][enum]["enum"]


def response_schemas():
    """Actions whose responses the stack validates (its generated schema tables)."""
    try:
        from lite_stack import validate
    except ImportError:  # the stack's planned layout
        from lite_stack.core import validate
    return set(validate.actions(True))


async def probe(interp="cpython"):
    """Run the desktop station against the embedded CSMS and probe it; returns a dict."""
    from ocpp2lite.csms import Csms, OcppCallError
    from ocpp2lite.demo import StationProcess, station_command, station_env
    every, cs_actions = ocpp_actions()
    csms = Csms(heartbeat_interval=300)
    await csms.start()
    state_dir = tempfile.mkdtemp(prefix="ocpp2lite-pics-")
    st = StationProcess(station_command(interp), env=station_env(csms.url, "PICS-1", state_dir))
    out = {"answered": {}, "trigger": {}, "report": {}}
    try:
        await st.start()
        boot, i = await csms.wait_for("BootNotification", timeout=60)
        await csms.wait_for("StatusNotification", since=i + 1, timeout=30)
        out["boot"] = boot
        for action in every:
            if action in cs_actions and action != "DataTransfer":
                continue
            try:
                await csms.call(action, {}, timeout=30, validate=False)
                out["answered"][action] = "answered"
            except OcppCallError as e:
                out["answered"][action] = e.code
        for what in _schema_enum("TriggerMessageRequest.json", "MessageTriggerEnumType"):
            if what == "BootNotification":
                continue   # asked last: an Accepted would re-register
            out["trigger"][what] = await _status(csms, "TriggerMessage", {"requestedMessage": what})
        for n, base in enumerate(_schema_enum("GetBaseReportRequest.json", "ReportBaseEnumType")):
            out["report"][base] = r = await _status(csms, "GetBaseReport",
                                                     {"requestId": 100 + n, "reportBase": base})
            if r == "Accepted":  # the station serves one report at a time: wait for its last part
                await csms.wait_for("NotifyReport", lambda p, rid=100 + n: p["requestId"] == rid
                                    and not p.get("tbc"), timeout=60)
        # a short session: which Charging Station -> CSMS messages the station sends
        await st.send({"cmd": "plug_in", "evse": 1, "connector": 1})
        await st.send({"cmd": "token", "id": "AB12CD34", "type": "ISO14443"})
        te, k = await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=30)
        await st.send({"cmd": "plug_out", "evse": 1, "connector": 1})
        await csms.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", since=k + 1, timeout=30)
        await csms.wait_for("NotifyReport", timeout=30)
        await _status(csms, "CustomerInformation", {"requestId": 1, "report": True, "clear": True,
                                                    "idToken": {"idToken": "AB12CD34", "type": "ISO14443"}})
        await csms.wait_for("NotifyCustomerInformation", lambda p: not p.get("tbc"), timeout=30)
        await asyncio.sleep(0.5)
        out["trigger"]["BootNotification"] = await _status(csms, "TriggerMessage", {"requestedMessage": "BootNotification"})
        out["reset_evse"] = await _status(csms, "Reset", {"type": "OnIdle", "evseId": 1})
        out["sent"] = sorted({f.action for f in csms.frames(0) if f.sender == "CS" and f.kind == 2})
        out["ms"] = any(re.search(r"T\d\d:\d\d:\d\d\.\d", f.text) for f in csms.frames(0)
                        if f.sender == "CS" and isinstance(f.text, str))
        out["violations"] = list(csms.violations)
        return out
    except Exception as e:
        tail = "\n".join(st.stderr_text().splitlines()[-30:])
        raise RuntimeError("PICS probe failed: %s\n--- station stderr:\n%s" % (e, tail)) from e
    finally:
        await st.stop()
        await csms.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


async def _status(csms, action, payload):
    from ocpp2lite.csms import OcppCallError
    try:
        r = await csms.call(action, payload, timeout=30, validate=False)
        return r.get("status", "answered")
    except OcppCallError as e:
        return e.code


def device_model_report(board):
    """{(component, variable, instance): ReportDataType item} of the board's FullInventory (EVSE 1)."""
    from device_model import DeviceModel
    from device_model.store import Store
    d = tempfile.mkdtemp(prefix="ocpp2lite-pics-dm-")
    try:
        dm = DeviceModel(board, Store(d), getattr(board, "EVSES", 1))
        out = {}
        for part, _ in dm.report_parts("FullInventory"):
            for it in part:
                key = (it["component"]["name"], it["variable"]["name"], it["variable"].get("instance"))
                if it["component"].get("evse", {}).get("id", 1) == 1:
                    out.setdefault(key, it)
        return out
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- the statement ----------------------------------------------------------------------------------
def _customer_refs():
    """The customer references the CustomerInformation block holds data under (N09/N10)."""
    from lite_stack.blocks import customerinfo
    return customerinfo.REFERENCES


def _yn(b):
    return "Yes" if b else "No"


def build(board_name="desktop", probed=None):
    """The PICS as a dict of sections; probed: a probe() result (run when None)."""
    import boards
    from ocpp2lite import perf
    board = boards.load(board_name)
    if probed is None:
        probed = asyncio.run(probe())
    dm = device_model_report(board)

    def var(comp, name, inst=None):
        return dm.get((comp, name, inst))

    def value(comp, name, inst=None):
        it = var(comp, name, inst)
        return it["variableAttribute"][0].get("value") if it else None

    def chars(comp, name, inst=None):
        it = var(comp, name, inst)
        return it["variableCharacteristics"] if it else {}

    def mut(comp, name, inst=None):
        it = var(comp, name, inst)
        return it["variableAttribute"][0]["mutability"] if it else None

    ans = probed["answered"]
    implemented = sorted(a for a, r in ans.items() if r != "NotImplemented")
    missing = sorted(a for a, r in ans.items() if r == "NotImplemented")
    sent = set(probed["sent"])
    resp = response_schemas()
    evses = getattr(board, "EVSES", 1)
    fixed = bool(getattr(board, "FIXED_CABLE", False))
    phases = getattr(board, "PHASES", 1)
    sp = chars("SecurityCtrlr", "SecurityProfile")
    sp_lo, sp_hi = sp.get("minLimit", 1), sp.get("maxLimit", 1)
    comm = COMMUNICATION.get(board_name, "WiFi (network.WLAN)")
    src_board = "board `%s`" % board_name

    general = [
        ("Vendor name", board.VENDOR, src_board),
        ("DUT", "Charging Station Software Stack (OCPP2.Lite, OCPP 2.0.1) on board `%s`" % board_name, src_board),
        ("Product subtype", "N.A. (Mode 3 AC)" if phases else "N.A. (DC)", src_board),
        ("Communication", "JSON (OCPP-J over WebSocket, subprotocol ocpp2.0.1)", "stack"),
        ("Type / model", board.MODEL, src_board),
        ("EVSEs / connectors", "%s: %d EVSE(s), one connector each" % ("Single" if evses == 1 else "Multiple", evses),
         src_board),
        ("Fixed cable", "%s (connector type %s)" % (_yn(fixed), getattr(board, "CONNECTOR_TYPE", "?")), src_board),
        ("OCPP Software version (BootNotification firmwareVersion)", board.FIRMWARE_VERSION,
         src_board + (", as sent by the probed station" if board_name == "desktop" else
                      "; on the device `+<sha256 prefix>` of the image is appended (boards/_common.py)")),
        ("Support for milliseconds in OCPP messages",
         "Sends whole seconds%s; accepts fractional seconds (the CSMS's currentTime with milliseconds is "
         "used to set the clock)" % (" (milliseconds seen!)" if probed["ms"] else ""), "probe"),
        ("Communication technology", comm, src_board),
        ("RFID readers", "single (one reader for all EVSEs)", "stack: one reader per station"),
        ("Security profiles", ", ".join(str(p) for p in range(sp_lo, sp_hi + 1)) +
         " (delivered with %s, the lowest)" % value("SecurityCtrlr", "SecurityProfile"),
         "SecurityCtrlr.SecurityProfile limits and value"),
    ]
    hfs = [
        ("HFS-1", "Has a detachable cable", _yn(not fixed), src_board),
        ("HFS-2", "Has a fixed cable", _yn(fixed), src_board),
        ("HFS-3", "Has AC support", _yn(phases > 0), src_board),
        ("HFS-4", "Has DC support", _yn(phases == 0), src_board),
        ("HFS-5", "Has 1 phase support", _yn(phases == 1), src_board),
        ("HFS-6", "Has 2 phase support", _yn(phases == 2), src_board),
        ("HFS-7", "Has 3 phase support", _yn(phases == 3), src_board),
        ("HFS-8", "No. EVSEs", str(evses), src_board),
        ("HFS-9", "Communication technology", comm, src_board),
        ("HFS-10", "RFID readers", "Single", "stack"),
        ("EVSE", "current / voltage / max power", "%d A / %d V / %d W per EVSE" % (
            getattr(board, "MAX_CURRENT_A", 0), getattr(board, "VOLTAGE_V", 0), getattr(board, "MAX_POWER_W", 0)),
         src_board),
    ]
    profiles = []
    for name, acts in PROFILES:
        if name == "ISO 15118 Support":
            ok = all(a in sent or a in resp for a in acts)
        else:
            ok = all(a in implemented for a in acts)
        verdict = _yn(ok)
        if name == "Core" and not ok:   # the profile this stack is built for: say what is missing
            verdict = "Targeted, not complete: missing " + ", ".join(a for a in acts if a not in implemented)
        profiles.append((name, verdict, ", ".join(acts)))

    start_points = (chars("TxCtrlr", "TxStartPoint").get("valuesList") or "").split(",")
    stop_points = (chars("TxCtrlr", "TxStopPoint").get("valuesList") or "").split(",")
    stop_ev = value("TxCtrlr", "StopTxOnEVSideDisconnect") == "true"
    unlock_ev = value("OCPPCommCtrlr", "UnlockOnEVSideDisconnect") == "true"
    trig = probed["trigger"]
    c = [
        ("AUTH-CACHE", "Authorization Cache", _yn(var("AuthCacheCtrlr", "Enabled") is not None), "device model: AuthCacheCtrlr"),
        ("LOCAL-LIST", "Local Authorization List", _yn("SendLocalList" in implemented), "probe: SendLocalList"),
        ("C-01", "Support for offline authorization of transactions",
         _yn(value("AuthCtrlr", "LocalAuthorizeOffline") == "true" or var("AuthCacheCtrlr", "Enabled") is not None),
         "AuthCtrlr.LocalAuthorizeOffline, no cache / local list"),
        ("C-02", "Support for allowing Offline Authorization for Unknown Ids",
         _yn(var("AuthCtrlr", "OfflineTxForUnknownIdEnabled") is not None), "device model: AuthCtrlr.OfflineTxForUnknownIdEnabled"),
        ("C-03", "Support for maximizing energy for invalid ids",
         _yn(var("TxCtrlr", "MaxEnergyOnInvalidId") is not None), "device model: TxCtrlr.MaxEnergyOnInvalidId"),
        ("C-04", "Support to limit StatusNotifications",
         _yn(var("OCPPCommCtrlr", "MinimumStatusDuration") is not None), "device model: MinimumStatusDuration"),
        ("C-06.1", "Support for maintaining authorization when cable disconnected on EV side", _yn(not stop_ev),
         "TxCtrlr.StopTxOnEVSideDisconnect = %s (%s)" % (value("TxCtrlr", "StopTxOnEVSideDisconnect"),
                                                         mut("TxCtrlr", "StopTxOnEVSideDisconnect"))),
        ("C-06.2", "Support for not maintaining authorization when cable disconnected on EV side", _yn(stop_ev),
         "TxCtrlr.StopTxOnEVSideDisconnect"),
        ("C-07", "Support for using a Master Pass for charging stations with UI",
         _yn(var("AuthCtrlr", "MasterPassGroupId") is not None), "device model: AuthCtrlr.MasterPassGroupId"),
        ("C-08", "Support for using a Master Pass for charging stations without UI",
         _yn(var("AuthCtrlr", "MasterPassGroupId") is not None), "device model: AuthCtrlr.MasterPassGroupId"),
    ]
    for n, (cid, p) in enumerate((("C-09.1", "EVConnected"), ("C-09.2", "Authorized"), ("C-09.3", "DataSigned"),
                                  ("C-09.4", "PowerPathClosed"), ("C-09.5", "EnergyTransfer"),
                                  ("C-09.6", "ParkingBayOccupancy"))):
        c.append((cid, "Start transaction options - " + p, _yn(p in start_points), "TxCtrlr.TxStartPoint valuesList"))
    for cid, p in (("C-10.1", "EVConnected"), ("C-10.2", "Authorized"), ("C-10.3", "PowerPathClosed"),
                   ("C-10.4", "EnergyTransfer"), ("C-10.5", "ParkingBayOccupancy")):
        c.append((cid, "Stop transaction options - " + p, _yn(p in stop_points), "TxCtrlr.TxStopPoint valuesList"))
    c += [
        ("C-11", "Unlocking connector for Charging Station with detachable cable (UnlockConnector)",
         _yn(not fixed and "UnlockConnector" in implemented), "board FIXED_CABLE, probe: UnlockConnector"),
        ("C-12.1", "Support for unlocking connector when cable disconnected on EV side", _yn(unlock_ev),
         "OCPPCommCtrlr.UnlockOnEVSideDisconnect = %s" % value("OCPPCommCtrlr", "UnlockOnEVSideDisconnect")),
        ("C-12.2", "Support for not unlocking when cable disconnected on EV side", _yn(not unlock_ev),
         "OCPPCommCtrlr.UnlockOnEVSideDisconnect"),
        ("C-13", "Support for Reset per EVSE", _yn(probed["reset_evse"] in ("Accepted", "Scheduled")),
         "probe: Reset with evseId -> %s" % probed["reset_evse"]),
        ("C-14", "Support for retrieving / deleting CustomerInformation - CustomerIdentifier",
         _yn("CustomerInformation" in implemented and "customerIdentifier" in _customer_refs()),
         "probe: CustomerInformation; lite_stack/blocks/customerinfo.py REFERENCES = %s" % (
             ", ".join(_customer_refs()))),
        ("C-20", "Allowing New Sessions Pending a FirmwareUpdate",
         _yn(value("ChargingStation", "AllowNewSessionsPendingFirmwareUpdate") == "true"),
         "ChargingStation.AllowNewSessionsPendingFirmwareUpdate = %s: the install waits until the "
         "transactions end, no new one starts, idle connectors Unavailable (TC_L_15_CS)"
         % value("ChargingStation", "AllowNewSessionsPendingFirmwareUpdate")),
        ("C-21", "Support for queuing all or only Transaction related messages until they are delivered to the CSMS",
         _yn(var("OCPPCommCtrlr", "QueueAllMessages") is not None),
         "device model: OCPPCommCtrlr.QueueAllMessages (only TransactionEvents are queued)"),
        ("C-23", "Supported time sources", (chars("ClockCtrlr", "TimeSource").get("valuesList") or "").replace(",", ", "),
         "ClockCtrlr.TimeSource valuesList"),
        ("C-25", "Support for setting a TimeOffset", _yn(var("ClockCtrlr", "TimeOffset") is not None),
         "device model: ClockCtrlr.TimeOffset"),
        ("C-26", "Support for setting the TimeZone", _yn(var("ClockCtrlr", "TimeZone") is not None),
         "device model: ClockCtrlr.TimeZone"),
        ("C-28", "Toggle sending clock aligned meter values when a transaction is ongoing / Idle",
         _yn(var("AlignedDataCtrlr", "SendDuringIdle") is not None), "device model: AlignedDataCtrlr.SendDuringIdle"),
    ]
    for n, what in enumerate(("MeterValues", "TransactionEvent", "LogStatusNotification",
                              "FirmwareStatusNotification", "StatusNotification", "BootNotification")):
        r = trig.get(what, "?")
        c.append(("C-29.%d" % (n + 1), "Trigger message - " + what, _yn(r not in ("NotImplemented", "?")),
                  "probe: TriggerMessage -> %s" % r))
    c += [
        ("SIGNED-METER", "Signed meter values", _yn(var("SampledDataCtrlr", "SignReadings") is not None),
         "device model: SampledDataCtrlr.SignReadings"),
        ("STOP-TX-EV-SIDE-RW", "TxCtrlr.StopTxOnEVSideDisconnect writable",
         _yn(mut("TxCtrlr", "StopTxOnEVSideDisconnect") == "ReadWrite"), "device model mutability"),
        ("ADDITIONAL-ROOT-CHECK", "SecurityCtrlr.AdditionalRootCertificateCheck",
         _yn(value("SecurityCtrlr", "AdditionalRootCertificateCheck") == "true"), "device model value"),
        ("SUMMARY-INVENTORY", "GetBaseReport SummaryInventory", _yn(probed["report"].get("SummaryInventory") == "Accepted"),
         "probe: GetBaseReport -> %s" % probed["report"].get("SummaryInventory")),
    ]

    def lim(comp, name, inst=None):
        ch = chars(comp, name, inst)
        lo, hi = ch.get("minLimit"), ch.get("maxLimit")
        return "%s .. %s" % ("-" if lo is None else lo, "no limit" if hi is None else hi)

    limits = [
        ("DeviceDataCtrlr.ItemsPerMessage[GetVariables]", value("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables")),
        ("DeviceDataCtrlr.ItemsPerMessage[SetVariables]", value("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables")),
        ("DeviceDataCtrlr.ItemsPerMessage[GetReport]", value("DeviceDataCtrlr", "ItemsPerMessage", "GetReport")),
        ("DeviceDataCtrlr.BytesPerMessage[GetVariables]", value("DeviceDataCtrlr", "BytesPerMessage", "GetVariables")),
        ("DeviceDataCtrlr.BytesPerMessage[SetVariables]", value("DeviceDataCtrlr", "BytesPerMessage", "SetVariables")),
        ("DeviceDataCtrlr.BytesPerMessage[GetReport]", value("DeviceDataCtrlr", "BytesPerMessage", "GetReport")),
        ("Largest OCPP-J frame in or out (bytes, board MAX_FRAME)", getattr(board, "MAX_FRAME", None)),
        ("Queued non-transaction messages (board SEND_QUEUE)", getattr(board, "SEND_QUEUE", None)),
        ("Queued TransactionEvents, persisted (board TX_QUEUE)", getattr(board, "TX_QUEUE", None)),
        ("Meter values buffered per transaction for its Ended event (board TX_ENDED_SAMPLES)",
         getattr(board, "TX_ENDED_SAMPLES", None)),
        ("Certificate slots (SecurityCtrlr.CertificateEntries maxLimit)", chars("SecurityCtrlr", "CertificateEntries").get("maxLimit")),
        ("Network connection profile slots (OCPPCommCtrlr.NetworkConfigurationPriority valuesList)",
         chars("OCPPCommCtrlr", "NetworkConfigurationPriority").get("valuesList")),
        ("OCPPCommCtrlr.HeartbeatInterval (s), supported range", lim("OCPPCommCtrlr", "HeartbeatInterval")),
        ("SampledDataCtrlr.TxUpdatedInterval (s), supported range", lim("SampledDataCtrlr", "TxUpdatedInterval")),
        ("AlignedDataCtrlr.Interval (s), supported range", lim("AlignedDataCtrlr", "Interval")),
        ("Measurands (SampledDataCtrlr.TxUpdatedMeasurands valuesList)", chars("SampledDataCtrlr", "TxUpdatedMeasurands").get("valuesList")),
        ("OCPPCommCtrlr.MessageTimeout[Default] (s)", value("OCPPCommCtrlr", "MessageTimeout", "Default")),
        ("OCPPCommCtrlr.WebSocketPingInterval (s, default)", value("OCPPCommCtrlr", "WebSocketPingInterval")),
        ("OCPPCommCtrlr.FileTransferProtocols (value; UpdateFirmware/GetLog use them)",
         value("OCPPCommCtrlr", "FileTransferProtocols")),
        ("Device model variables (FullInventory, EVSE 1)", len(dm)),
    ]
    perf_rows = [(name, "%g s" % perf.STATED[key]) for key, name in perf.PARAMETERS]
    messages_in = [(a, ans[a]) for a in sorted(ans)]
    _, cs_actions = ocpp_actions()
    messages_out = [(a, _yn(a in sent), _yn(a in resp)) for a in sorted(cs_actions | sent)]
    return {"board": board_name, "general": general, "hardware": hfs, "profiles": profiles,
            "optional": c, "limits": limits, "performance": perf_rows,
            "messages_in": messages_in, "implemented": implemented, "not_implemented": missing,
            "messages_out": messages_out, "probe_violations": probed.get("violations", [])}


def consistency(pics, conformance_path=CONFORMANCE):
    """[(test case, reason, PICS ids, problem or None)] for every n/a row of docs/conformance.md that a
    NA_RULES pattern covers; problem is set when the PICS does not say "No" for an item."""
    items = {row[0]: row[2] for row in pics["optional"]}
    out = []
    if not os.path.exists(conformance_path):
        return out
    with open(conformance_path, encoding="utf-8") as f:
        for line in f:
            cells = [x.strip() for x in line.strip().strip("|").split("|")]
            if len(cells) < 5 or cells[3] != "n/a":
                continue
            reason = cells[-1]
            keys = []
            for pat, ks in NA_RULES:
                if re.search(pat, reason):
                    keys += [k for k in ks if k not in keys]
            if re.search(r"\(1 EVSE\)", reason):
                ok = pics["hardware"][7][2] == "1"
                out.append((cells[0], reason, ["HFS-8"], None if ok else "HFS-8 is not 1"))
                continue
            if not keys:
                continue
            bad = [k for k in keys if items.get(k) != "No"]
            out.append((cells[0], reason, keys, ("PICS says %s" % ", ".join("%s=%s" % (k, items.get(k)) for k in bad))
                        if bad else None))
    return out


def render_md(p):
    L = ["# PICS: Protocol Implementation Conformance Statement (Charging Station)", "",
         "Generated by `ocpp2lite pics --board %s --out docs/pics.md` (see `ocpp2lite/pics.py`): from the board" % p["board"],
         "definition, the device model (its FullInventory) and the running stack, probed on the wire",
         "(every CSMS->Charging Station action sent to a simulated station; CALLERROR NotImplemented",
         "means not implemented). Do not edit by hand; `tests/test_pics.py` checks it is up to date.",
         "Layout: OCPP Test Procedure Appendix A, with the OCPP 2.0.1 certificates' Hardware Feature",
         "Set and Optional Features (C-xx) tables.", "",
         "## General information about the DUT", "", "| Item | Value | Source |", "|---|---|---|"]
    L += ["| %s | %s | %s |" % r for r in p["general"]]
    L += ["", "## Hardware feature set", "", "| ID | Feature | Supported / present | Source |", "|---|---|---|---|"]
    L += ["| %s | %s | %s | %s |" % r for r in p["hardware"]]
    L += ["", "## Certification profiles", "",
          "A profile is claimed when every listed action is implemented (ISO 15118: sent).", "",
          "| Profile | Supported | Decided by |", "|---|---|---|"]
    L += ["| %s | %s | %s |" % r for r in p["profiles"]]
    L += ["", "## Optional features", "", "| ID | Feature | Supported / present | Source |", "|---|---|---|---|"]
    L += ["| %s | %s | %s | %s |" % r for r in p["optional"]]
    L += ["", "## Other relevant settings and limits", "", "| Limit / setting | Value |", "|---|---|"]
    L += ["| %s | %s |" % (k, v) for k, v in p["limits"]]
    L += ["", "## IP configuration", "",
          "The test laboratory provides the network configuration. The desktop simulator takes it from",
          "its environment: `OCPP_CSMS_URL` (`ws://` or `wss://` URL of the OCTT; the station appends",
          "`/<station id>`), `OCPP_STATION_ID`, `OCPP_BASIC_AUTH_PASSWORD` (security profile 1); or",
          "`ocpp2lite sim --panel --csms-url ... --station-id ... --password ...` for the web control panel.",
          "A board is configured before delivery with `ocpp2lite deploy --port PORT --board NAME`",
          "(WiFi credentials, CSMS URL, station id, password: docs/boards.md). The station is delivered",
          "with the lowest supported security profile and upgraded during the tests.", "",
          "## Performance (A.4)", "",
          "Values the stack commits to (`ocpp2lite.perf.STATED`); measured: docs/perf.md (`ocpp2lite perf`).", "",
          "| Name | Value |", "|---|---|"]
    L += ["| %s | %s |" % r for r in p["performance"]]
    L += ["", "Communication technology for the measurements: Ethernet (loopback on the desktop simulator).",
          "", "## CSMS -> Charging Station requests (probed)", "",
          "Implemented (%d): %s." % (len(p["implemented"]), ", ".join(p["implemented"])), "",
          "Not implemented, answered with CALLERROR NotImplemented (%d): %s." % (
              len(p["not_implemented"]), ", ".join(p["not_implemented"])), "",
          "## Charging Station -> CSMS messages", "",
          "| Message | sent in the probe session | answer validated by the stack's schema tables |", "|---|---|---|"]
    L += ["| %s | %s | %s |" % r for r in p["messages_out"]]
    cons = consistency(p)
    L += ["", "## Consistency with docs/conformance.md", "",
          "Every n/a test case whose reason names a feature, and the PICS item that makes it n/a:", "",
          "| Test case | n/a reason | PICS item | consistent |", "|---|---|---|---|"]
    L += ["| %s | %s | %s | %s |" % (tc, reason, ", ".join(keys), "yes" if prob is None else "NO: " + prob)
          for tc, reason, keys, prob in cons]
    if p["probe_violations"]:
        L += ["", "Schema violations seen during the probe: %d" % len(p["probe_violations"])]
    return "\n".join(L) + "\n"


def render_json(p):
    rows = lambda cols, data: [dict(zip(cols, r)) for r in data]  # noqa: E731
    return json.dumps({
        "board": p["board"],
        "general": rows(("item", "value", "source"), p["general"]),
        "hardware": rows(("id", "feature", "value", "source"), p["hardware"]),
        "profiles": rows(("profile", "supported", "decided_by"), p["profiles"]),
        "optional": rows(("id", "feature", "value", "source"), p["optional"]),
        "limits": rows(("limit", "value"), p["limits"]),
        "performance": rows(("name", "value"), p["performance"]),
        "csms_to_cs": {"implemented": p["implemented"], "not_implemented": p["not_implemented"]},
        "cs_to_csms": rows(("message", "sent", "response_schema"), p["messages_out"]),
        "conformance_consistency": [{"test_case": t, "reason": r, "pics": k, "problem": x}
                                    for t, r, k, x in consistency(p)],
    }, indent=1) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="ocpp2lite pics",
        description="Generate the PICS (Protocol Implementation Conformance Statement, OCPP Test Procedure "
                    "Appendix A) from the board definition, the device model and the implemented actions "
                    "(probed on a running simulated station against the embedded CSMS).")
    ap.add_argument("--board", default="desktop", help="board definition from boards/ (default desktop)")
    ap.add_argument("--format", choices=("md", "json"), default="md", help="output format (default md)")
    ap.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout (docs/pics.md is the desktop md)")
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/pics.md differs from a fresh desktop md")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        p = build(a.board if not a.check else "desktop")
    except ImportError as e:
        print("ocpp2lite pics: unknown board %r (%s)" % (a.board, e), file=sys.stderr)
        return 2
    except RuntimeError as e:
        print("ocpp2lite pics: %s" % e, file=sys.stderr)
        return 1
    text = render_json(p) if a.format == "json" and not a.check else render_md(p)
    if a.check:
        cur = open(OUT, encoding="utf-8").read() if os.path.exists(OUT) else ""
        if cur != text:
            print("docs/pics.md is out of date: run ocpp2lite pics --out docs/pics.md")
            return 1
        return 0
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
