"""Issue 4 scenarios on simulated time (both interpreters): offline authorization (C15, E12),
E05 deauthorization, J01/J02 meter values incl. the TxEnded buffers, B04 offline status, F05
UnlockConnector, F06 TriggerMessage, G01 status ordering and faults."""
from hal.sim import make_sim_evse, SimRfid
from lite_stack import meter
from lite_stack.clock import parse_iso
from lite_stack.vclock import VirtualClock
from tests.unit.test_station import scenario
from tests.unit.util import tmpdir


def _set(rig, comp, var, value):
    return rig.csms.call("SetVariables", {"setVariableData": [
        {"component": {"name": comp}, "variable": {"name": var}, "attributeValue": value}]})


async def _offline(rig):
    rig.csms.online = False
    rig.csms.drop()
    await rig.settle(1)


# ---- C15 / E12: transactions while offline ------------------------------------------------------

def test_C15_E12_offline_unknown_id_transaction_replayed_with_offline_flag_TC_C_26_CS_TC_E_43_CS():
    async def s(rig):
        await rig.boot()
        r = await _set(rig, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        await _offline(rig)
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("OFFLINE1")
        await rig.settle(5)
        assert rig.evse().contactor.is_closed()   # charging without the CSMS
        await rig.settle(300)
        rig.evse().pilot.plug_out()
        await rig.settle(5)
        assert rig.te() == [] and rig.csms.of("Authorize") == []
        rig.csms.online = True
        await rig.settle(200)   # reconnect back-off after ~5 min of failed attempts
        te = rig.te()
        assert [t["eventType"] for t in te][0] == "Started" and te[-1]["eventType"] == "Ended"
        assert [t["seqNo"] for t in te] == list(range(len(te)))
        assert all(t.get("offline") is True for t in te)
        assert te[0]["idToken"] == {"idToken": "OFFLINE1", "type": "ISO14443"}
        assert te[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
        # timestamps are when it happened, not when it was sent
        assert parse_iso(te[-1]["timestamp"]) - parse_iso(te[0]["timestamp"]) >= 300
    scenario(s)


def test_C15_FR_02_offline_without_unknown_id_authorization_no_transaction():
    async def s(rig):
        await rig.boot()
        await _offline(rig)
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("OFFLINE1")
        await rig.settle(5)
        assert not rig.evse().contactor.is_closed() and rig.station.evses[0].tx is None
        rig.csms.online = True
        await rig.settle(60)
        assert rig.te() == []
    scenario(s)


def test_E05_offline_started_transaction_deauthorized_when_csms_says_invalid():
    async def s(rig):
        rig.csms.responses["TransactionEvent"] = lambda p: (
            {"idTokenInfo": {"status": "Invalid"}} if "idToken" in p else {})
        await rig.boot()
        await _set(rig, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
        await _offline(rig)
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("STOLEN01")
        await rig.settle(5)
        rig.csms.online = True
        await rig.settle(60)
        te = rig.te()
        end = te[-1]
        assert end["eventType"] == "Ended" and end["triggerReason"] == "Deauthorized"
        assert end["transactionInfo"]["stoppedReason"] == "DeAuthorized"
        assert not rig.evse().contactor.is_closed()
        assert [t["seqNo"] for t in te] == list(range(len(te)))
    scenario(s)


# ---- E05: invalid idToken in the TransactionEventResponse --------------------------------------

def test_E05_FR_02_stop_tx_on_invalid_id_true_ends_transaction():
    async def s(rig):
        rig.csms.responses["TransactionEvent"] = lambda p: (
            {"idTokenInfo": {"status": "Blocked"}} if "idToken" in p else {})
        await rig.boot()
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        te = rig.te()
        assert [t["eventType"] for t in te] == ["Started", "Ended"]
        assert te[1]["triggerReason"] == "Deauthorized"
        assert te[1]["transactionInfo"]["stoppedReason"] == "DeAuthorized"
        assert not rig.evse().contactor.is_closed()
    scenario(s)


def test_E05_FR_03_stop_tx_on_invalid_id_false_suspends_energy_keeps_transaction():
    async def s(rig):
        rig.csms.responses["TransactionEvent"] = lambda p: (
            {"idTokenInfo": {"status": "Invalid"}} if "idToken" in p else {})
        await rig.boot()
        r = await _set(rig, "TxCtrlr", "StopTxOnInvalidId", "false")
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        te = rig.te()
        assert te[-1]["eventType"] == "Updated"
        assert te[-1]["transactionInfo"]["chargingState"] == "SuspendedEVSE"
        assert te[-1]["triggerReason"] == "Deauthorized"
        assert not rig.evse().contactor.is_closed()
        assert rig.evse().pilot.duty_permille() in (0, 1000)   # no current offered
        await rig.settle(30)
        assert not rig.evse().contactor.is_closed()
        rig.evse().pilot.plug_out()
        await rig.settle(3)
        assert rig.te()[-1]["eventType"] == "Ended"
    scenario(s)


# ---- J01 / J02 meter values ---------------------------------------------------------------------

def test_J01_clock_aligned_meter_values_idle_TC_J_01_CS():
    async def s(rig):
        await rig.boot()
        await _set(rig, "AlignedDataCtrlr", "Measurands", "Energy.Active.Import.Register,Voltage")
        await _set(rig, "AlignedDataCtrlr", "Interval", "60")
        await rig.settle(185)
        mv = rig.csms.of("MeterValues")
        assert len(mv) == 3
        for m in mv:
            assert m["evseId"] == 1
            v = m["meterValue"][0]
            assert parse_iso(v["timestamp"]) % 60 == 0          # on the wall-clock multiple
            ctx = set(sv["context"] for sv in v["sampledValue"])
            assert ctx == {"Sample.Clock"}
            assert set(sv.get("measurand", meter.ENERGY) for sv in v["sampledValue"]) == \
                {meter.ENERGY, "Voltage"}
        assert rig.te() == []
    scenario(s)


def test_J01_clock_aligned_during_transaction_in_transaction_event_TC_J_02_CS():
    async def s(rig):
        await rig.boot()
        await _set(rig, "AlignedDataCtrlr", "Interval", "120")
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "0")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(130)
        n_mv = len(rig.csms.of("MeterValues"))
        await rig.settle(240)
        upd = [t for t in rig.te() if t["triggerReason"] == "MeterValueClock"]
        assert len(upd) == 3   # 00:02, 00:04, 00:06
        for t in upd:
            assert t["eventType"] == "Updated"
            assert t["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
            assert parse_iso(t["meterValue"][0]["timestamp"]) % 120 == 0
        assert len(rig.csms.of("MeterValues")) == n_mv   # no MeterValuesRequest during the tx
    scenario(s)


def test_J02_sampled_started_and_updated_TC_J_07_CS_TC_J_09_CS():
    async def s(rig):
        await rig.boot()
        await _set(rig, "SampledDataCtrlr", "TxStartedMeasurands",
                   "Energy.Active.Import.Register,Power.Active.Import")
        await _set(rig, "SampledDataCtrlr", "TxUpdatedMeasurands", "Current.Import")
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "30")
        await _set(rig, "AlignedDataCtrlr", "Interval", "0")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(95)
        te = rig.te()
        st = te[0]
        assert st["evse"] == {"id": 1, "connectorId": 1}
        svs = st["meterValue"][0]["sampledValue"]
        assert [sv["context"] for sv in svs] == ["Transaction.Begin"] * 2
        assert [sv.get("measurand", meter.ENERGY) for sv in svs] == [meter.ENERGY, "Power.Active.Import"]
        per = [t for t in te if t["triggerReason"] == "MeterValuePeriodic"]
        assert len(per) == 3
        for t in per:
            sv = t["meterValue"][0]["sampledValue"]
            assert sv == [{"value": 32.2, "context": "Sample.Periodic", "measurand": "Current.Import",
                           "unitOfMeasure": {"unit": "A"}}]
    scenario(s)


def test_J02_tx_ended_interval_samples_in_ended_event_TC_J_10_CS():
    async def s(rig):
        await rig.boot()
        await _set(rig, "SampledDataCtrlr", "TxEndedInterval", "60")
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "0")
        await _set(rig, "AlignedDataCtrlr", "Interval", "0")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(185)
        rig.evse().pilot.plug_out()
        await rig.settle(3)
        end = rig.te()[-1]
        assert end["eventType"] == "Ended"
        ctx = [mv["sampledValue"][0]["context"] for mv in end["meterValue"]]
        assert ctx == ["Transaction.Begin"] + ["Sample.Periodic"] * 3 + ["Transaction.End"]
        wh = [mv["sampledValue"][0]["value"] for mv in end["meterValue"]]
        assert wh == sorted(wh) and wh[-1] > wh[0]
    scenario(s)


def test_J01_aligned_tx_ended_samples_in_ended_event_TC_J_03_CS():
    async def s(rig):
        await rig.boot()
        await _set(rig, "AlignedDataCtrlr", "TxEndedInterval", "60")
        await _set(rig, "AlignedDataCtrlr", "TxEndedMeasurands", "Energy.Active.Import.Register")
        await _set(rig, "AlignedDataCtrlr", "Interval", "0")
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "0")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(250)
        rig.evse().pilot.plug_out()
        await rig.settle(3)
        end = rig.te()[-1]
        clock = [mv for mv in end["meterValue"] if mv["sampledValue"][0]["context"] == "Sample.Clock"]
        assert len(clock) == 4
        assert all(parse_iso(mv["timestamp"]) % 60 == 0 for mv in clock)
        assert end["meterValue"][-1]["sampledValue"][0]["context"] == "Transaction.End"
    scenario(s)


def test_J01_interval_and_tx_ended_interval_together_each_on_its_own_multiples():
    # both intervals at once: a MeterValues waiting for its answer (silent CSMS, 30 s
    # MessageTimeout) delays that EVSE's next aligned sample but never a TxEndedInterval sample
    async def s(rig):
        await rig.boot()
        await _set(rig, "AlignedDataCtrlr", "Interval", "60")
        await _set(rig, "AlignedDataCtrlr", "TxEndedInterval", "45")
        await _set(rig, "AlignedDataCtrlr", "TxEndedMeasurands", "Energy.Active.Import.Register")
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "0")
        rig.csms.responses["MeterValues"] = "silent"
        rig.evse(2).pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(190)   # TxEnded 00:45, 01:30, 02:15, 03:00; Interval 01:00, 02:00, 03:00
        del rig.csms.responses["MeterValues"]
        rig.evse(2).pilot.plug_out()
        await rig.settle(40)    # the CALL of 03:00 times out first (one CALL at a time)
        end = rig.te()[-1]
        assert end["eventType"] == "Ended"
        clock = [parse_iso(mv["timestamp"]) % 3600 for mv in end["meterValue"]
                 if mv["sampledValue"][0]["context"] == "Sample.Clock"]
        assert clock == [45, 90, 135, 180], clock
        mv = [parse_iso(m["meterValue"][0]["timestamp"]) % 3600 for m in rig.csms.of("MeterValues")
              if m["evseId"] == 1]
        assert mv == [60, 120, 180], mv
        upd = [t for t in rig.te() if t["triggerReason"] == "MeterValueClock"]
        assert upd and all(parse_iso(t["meterValue"][0]["timestamp"]) % 30 == 0 for t in upd)
    scenario(s, evses=2)


def test_J02_tx_ended_buffer_is_bounded_and_spans_the_whole_transaction():
    b = meter.TxEndedBuffer(4)
    for i in range(100):
        b.add(i, "Sample.Periodic", [[meter.ENERGY, i]])
    assert len(b.items) <= 4
    ts = [it[0] for it in b.items]
    assert ts[0] == 0 and ts == sorted(ts) and ts[-1] >= 64   # first kept, spread over the tx
    assert b.stride >= 16
    saved = b.dump()
    c = meter.TxEndedBuffer(4)
    c.load(saved)
    assert c.items == b.items and c.stride == b.stride
    assert b.add(1000, "Sample.Periodic", []) is False        # nothing to keep
    mvs = c.meter_values(lambda t: "T%d" % t)
    assert mvs[0] == {"timestamp": "T0", "sampledValue": [{"value": 0, "context": "Sample.Periodic"}]}


def test_J02_tx_ended_samples_survive_a_power_cut_in_the_powerloss_ended():
    from tests.unit.util import tmpdir
    d = tmpdir("je")

    async def first(rig):
        await rig.boot()
        await _set(rig, "SampledDataCtrlr", "TxEndedInterval", "60")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(130)

    async def second(rig):
        await rig.boot()
        await rig.settle(10)
        return rig.te()
    scenario(first, state_dir=d)
    te = scenario(second, state_dir=d)
    end = te[-1]
    assert end["transactionInfo"]["stoppedReason"] == "PowerLoss"
    ctx = [mv["sampledValue"][0]["context"] for mv in end["meterValue"]]
    assert ctx[:3] == ["Transaction.Begin", "Sample.Periodic", "Sample.Periodic"]


# ---- G01 / E06: ordering, faults -----------------------------------------------------------------

def test_E06_ended_is_sent_before_the_available_status_TC_E_37_CS_TC_G_02_CS():
    async def s(rig):
        await rig.boot()
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        n = len(rig.csms.calls)
        rig.evse().pilot.plug_out()
        await rig.settle(5)
        after = [(a, p.get("eventType") or p.get("connectorStatus")) for a, p in rig.csms.calls[n:]]
        assert after == [("TransactionEvent", "Ended"), ("StatusNotification", "Available")]
    scenario(s)


def test_G01_fault_makes_connector_faulted_opens_contactor_and_ends_transaction():
    async def s(rig):
        await rig.boot()
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        assert rig.evse().contactor.is_closed()
        rig.evse().fault_input.code = "RCD"
        await rig.settle(3)
        assert not rig.evse().contactor.is_closed()
        assert rig.csms.of("StatusNotification")[-1]["connectorStatus"] == "Faulted"
        end = rig.te()[-1]
        assert end["eventType"] == "Ended" and end["triggerReason"] == "AbnormalCondition"
        assert end["transactionInfo"]["stoppedReason"] == "GroundFault"
        rig.hal[1].swipe("AB12CD34")       # no new transaction on a faulted connector
        await rig.settle(5)
        assert not rig.evse().contactor.is_closed() and rig.te()[-1] is end
        rig.evse().fault_input.code = None
        await rig.settle(3)
        assert rig.csms.of("StatusNotification")[-1]["connectorStatus"] == "Occupied"
    scenario(s)


# ---- B04 offline status --------------------------------------------------------------------------

def test_B04_FR_01_offline_longer_than_threshold_reports_all_statuses_TC_B_51_CS():
    async def s(rig):
        await rig.boot()
        await _set(rig, "OCPPCommCtrlr", "OfflineThreshold", "60")
        await _offline(rig)
        await rig.settle(120)
        n = len(rig.csms.of("StatusNotification"))
        rig.csms.online = True
        await rig.settle(200)   # reconnect back-off
        sn = rig.csms.of("StatusNotification")[n:]
        assert sorted(p["evseId"] for p in sn) == [1, 2]   # unchanged ones too
        assert all(p["connectorStatus"] == "Available" for p in sn)
    scenario(s, evses=2)


def test_B04_FR_02_offline_shorter_than_threshold_reports_only_changes_TC_B_52_CS():
    async def s(rig):
        await rig.boot()
        await _set(rig, "OCPPCommCtrlr", "OfflineThreshold", "600")
        await _offline(rig)
        rig.evse(2).pilot.plug_in()
        await rig.settle(20)
        n = len(rig.csms.of("StatusNotification"))
        rig.csms.online = True
        await rig.settle(200)   # reconnect back-off
        sn = rig.csms.of("StatusNotification")[n:]
        assert [(p["evseId"], p["connectorStatus"]) for p in sn] == [(2, "Occupied")]
    scenario(s, evses=2)


# ---- F05 UnlockConnector, F06 TriggerMessage -------------------------------------------------------

def test_F05_unlock_connector_TC_F_05_CS_TC_F_06_CS_TC_F_10_CS():
    async def s(rig):
        await rig.boot()
        lock = rig.evse().lock
        r = await rig.csms.call("UnlockConnector", {"evseId": 1, "connectorId": 1})
        assert r[2]["status"] == "Unlocked" and lock.unlocks == 1
        r = await rig.csms.call("UnlockConnector", {"evseId": 3, "connectorId": 1})
        assert r[2]["status"] == "UnknownConnector"
        r = await rig.csms.call("UnlockConnector", {"evseId": 1, "connectorId": 2})
        assert r[2]["status"] == "UnknownConnector"
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        r = await rig.csms.call("UnlockConnector", {"evseId": 1, "connectorId": 1})
        assert r[2]["status"] == "OngoingAuthorizedTransaction" and lock.unlocks == 1
        lock.fail = True
        rig.evse().pilot.plug_out()
        await rig.settle(3)
        r = await rig.csms.call("UnlockConnector", {"evseId": 1, "connectorId": 1})
        assert r[2]["status"] == "UnlockFailed"
    clock = VirtualClock()   # a socket (not a fixed cable): the EVSE has a connector lock
    scenario(s, clock=clock, hal=([make_sim_evse(clock, fixed_cable=False)], SimRfid()))


def test_F05_desktop_board_simulates_a_connector_lock_TC_F_06_CS_TC_F_05_CS():
    """The simulated station (desktop board, the lab's sim) has the F05 prerequisite "a connector
    lock": Unlocked without a transaction, OngoingAuthorizedTransaction during one."""
    async def s(rig):
        await rig.boot()
        r = await rig.csms.call("UnlockConnector", {"evseId": 1, "connectorId": 1})
        assert r[2]["status"] == "Unlocked"
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        r = await rig.csms.call("UnlockConnector", {"evseId": 1, "connectorId": 1})
        assert r[2]["status"] == "OngoingAuthorizedTransaction"
    scenario(s)


def test_F06_trigger_status_meter_values_transaction_event_TC_F_23_CS_TC_F_11_CS_TC_F_13_CS():
    async def s(rig):
        await rig.boot()
        n = len(rig.csms.of("StatusNotification"))
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "StatusNotification",
                                                   "evse": {"id": 1, "connectorId": 1}})
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        sn = rig.csms.of("StatusNotification")[n:]
        assert len(sn) == 1 and sn[0]["connectorStatus"] == "Available"   # sent even if unchanged
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "MeterValues",
                                                   "evse": {"id": 1}})
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        mv = rig.csms.of("MeterValues")[-1]
        assert mv["evseId"] == 1
        assert mv["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "TransactionEvent",
                                                   "evse": {"id": 1}})
        assert r[2]["status"] == "Rejected"   # no transaction on that EVSE
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "StatusNotification",
                                                   "evse": {"id": 5}})
        assert r[2]["status"] == "Rejected"
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        n = len(rig.te())
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "TransactionEvent",
                                                   "evse": {"id": 1}})   # TC_F_13: this EVSE
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        assert len(rig.te()) == n + 1
        t = rig.te()[-1]
        assert t["eventType"] == "Updated" and t["triggerReason"] == "Trigger"
        assert t["transactionInfo"]["chargingState"] == "Charging"
        assert t["transactionInfo"]["transactionId"] == rig.te()[0]["transactionInfo"]["transactionId"]
        assert t["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "TransactionEvent"})
        assert r[2]["status"] == "Accepted"                               # every EVSE
        await rig.settle(1)
        assert len(rig.te()) == n + 2 and rig.te()[-1]["triggerReason"] == "Trigger"
    scenario(s)


# ---- Part 4 §5.2: WebSocket PING without PONG ---------------------------------------------------

def test_websocket_ping_without_pong_closes_and_reconnects():
    async def s(rig):
        await rig.boot()
        await _set(rig, "OCPPCommCtrlr", "WebSocketPingInterval", "30")
        conn = rig.csms.conn
        conn.last_pong_ms = None

        async def ping_answered():
            conn.last_pong_ms = rig.clock.ms()
        conn.ping = ping_answered
        await rig.settle(200)
        assert rig.csms.connects == 1          # PONGs come back: the connection stays

        async def ping_lost():                 # the NAT mapping is gone: no PONG any more
            pass
        conn.ping = ping_lost
        await rig.settle(65)
        assert rig.csms.connects == 2 and conn.closed
        assert any("no PONG" in line for line in rig.logs)
    scenario(s)


def test_J_energy_register_never_runs_backwards_across_power_cuts():
    """A RAM-held register (S0 counter, simulator) restarts at 0 on boot; the station restores
    the value it persisted, so the PowerLoss Ended and the next transaction continue from it."""
    from tests.unit.util import tmpdir
    d = tmpdir("wh")

    async def first(rig):
        await rig.boot()
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "60")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(600)          # 7.4 kW x 10 min = ~1233 Wh, then the power goes

    async def second(rig):
        await rig.boot()
        await rig.settle(10)
        assert rig.evse().meter.energy_wh() >= 1100   # the last persisted reading (9 min), restored
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)
        rig.evse().pilot.plug_out()
        await rig.settle(5)
        return rig.te()

    async def third(rig):                # after a normal end, the register is persisted too
        await rig.boot()
        await rig.settle(2)
        return rig.evse().meter.energy_wh()
    scenario(first, state_dir=d)
    te = scenario(second, state_dir=d)
    wh = [sv["value"] for t in te for mv in t.get("meterValue", ()) for sv in mv["sampledValue"]
          if "measurand" not in sv]
    assert wh == sorted(wh) and wh[0] >= 0 and wh[-1] >= 1100, wh
    assert scenario(third, state_dir=d) >= wh[-1]


def _energy(te):
    return [(t["seqNo"], t["eventType"], sv["value"]) for t in te for mv in t.get("meterValue", ())
            for sv in mv["sampledValue"] if "measurand" not in sv]


def test_E12_powerloss_ended_energy_not_below_a_queued_updated_not_yet_in_the_tx_state():
    """A power cut between queuing an Updated event and persisting the transaction (found by the
    SIGKILL campaign): the recovered Ended takes the queued event's register as its floor."""
    d = tmpdir("pcwh")

    async def first(rig):
        await rig.boot()
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "60")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(5)            # Started delivered, transaction persisted with wh ~ 0
        await _offline(rig)            # so the Updated stays queued, as it does when the power goes

        def cut(evse):                 # the power goes right after the next txq.push: nothing the
            pass                       # station does after that reaches the flash
        rig.station.transactions.persist = cut
        await rig.settle(60)           # Updated MeterValuePeriodic (~125 Wh) queued, not persisted
        return rig.te()

    async def second(rig):             # reboot: recover() ends the transaction with PowerLoss
        await rig.boot()
        await rig.settle(5)
        return rig.te()
    te = scenario(first, state_dir=d) + scenario(second, state_dir=d)
    wh = _energy(te)
    assert te[-1]["transactionInfo"].get("stoppedReason") == "PowerLoss", te[-1]
    vals = [v for _, _, v in wh]
    assert vals == sorted(vals), "energy register runs backwards: %s" % (wh,)


def test_E02_started_trigger_charging_state_changed_when_the_ev_is_ready_last_TC_E_01_CS():
    """Plugged in, authorized, current offered, the EV in state B: no transaction (the power path
    is open). When the EV requests energy (C) the contactor closes and the Started event says
    ChargingStateChanged: the EV's readiness was the condition that came last (E01-E03)."""
    async def s(rig):
        await rig.boot()
        rig.evse().pilot.plug_in()
        rig.evse().pilot.ev_state("B")
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(10)
        assert rig.te() == [] and not rig.evse().contactor.is_closed()
        rig.evse().pilot.ev_state("C")
        await rig.settle(2)
        st = rig.te()[0]
        assert st["eventType"] == "Started" and st["triggerReason"] == "ChargingStateChanged"
        assert st["transactionInfo"]["chargingState"] == "Charging"
        assert st["idToken"]["idToken"] == "AB12CD34"
    scenario(s)


def test_A04_memory_exhaustion_told_once_when_the_transaction_queue_is_full():
    """A full TransactionEvent queue refuses Updated events (txqueue bound); the station records
    the critical security event MemoryExhaustion once (Part 2 Appendix security events) and it
    reaches the CSMS after the reconnect, after the queued transaction messages went out."""
    async def s(rig):
        await rig.boot()
        rig.station.txq.limit = 6          # 2 slots reserved for Started/Ended: 4 Updated fit
        await _set(rig, "SampledDataCtrlr", "TxUpdatedInterval", "1")
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(3)
        await _offline(rig)
        await rig.settle(20)               # ~20 Updated events due, at most 4 queued
        assert rig.station.txq.dropped > 1
        rig.csms.online = True
        await rig.csms.wait_for(lambda: [p for p in rig.csms.of("SecurityEventNotification")
                                         if p["type"] == "MemoryExhaustion"], 120)
        await rig.settle(5)
        ev = [p for p in rig.csms.of("SecurityEventNotification") if p["type"] == "MemoryExhaustion"]
        assert len(ev) == 1, ev
    scenario(s)


def test_G02_FR_02_aligned_meter_values_stand_in_for_heartbeats():
    # G02.FR.02: a Heartbeat is only needed after HeartbeatInterval without any other CALL; an
    # aligned MeterValues falling due at the same time as a Heartbeat replaces it (3 h, HB 300 s,
    # Interval 900 s: 12 MeterValues and 24 Heartbeats, not 36; a one-task metering rewrite sent
    # the Heartbeat first and cost 0.8 MB a month in the typical data profile)
    out = {}

    async def s(rig):
        await rig.boot()
        await _set(rig, "OCPPCommCtrlr", "HeartbeatInterval", "300")
        await _set(rig, "AlignedDataCtrlr", "Interval", "900")
        n0 = len(rig.csms.of("Heartbeat"))
        await rig.settle(3 * 3600)
        out["hb"] = len(rig.csms.of("Heartbeat")) - n0
        out["mv"] = len(rig.csms.of("MeterValues"))
    scenario(s)
    assert out["mv"] == 12
    assert out["hb"] <= 25, out
