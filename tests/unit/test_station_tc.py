"""Certification test cases of blocks C, E, F and G that the other scenario files do not name,
in-process on simulated time (both interpreters). Each test follows the test case's main steps
as a CSMS would drive them and checks what the station must send."""
from device_model import ids
from hal.sim import make_sim_evse, SimRfid
from lite_stack.vclock import VirtualClock
from tests.unit.test_station import scenario
from tests.unit.util import tmpdir


def _ca(rig, op, evse=None, connector=None):
    p = {"operationalStatus": op}
    if evse is not None:
        p["evse"] = {"id": evse}
        if connector is not None:
            p["evse"]["connectorId"] = connector
    return rig.csms.call("ChangeAvailability", p)


def _last_status(rig, evse=1):
    sn = [p for p in rig.csms.of("StatusNotification") if p["evseId"] == evse]
    return sn[-1]["connectorStatus"] if sn else None


async def _start_tx(rig, token="AB12CD34"):
    rig.evse().pilot.plug_in()
    rig.hal[1].swipe(token)
    await rig.settle(3)
    return rig.te()[0]["transactionInfo"]["transactionId"]


# ---- G03 / G04: ChangeAvailability matrix ----------------------------------------------------------

def _availability_matrix(evse, connector):
    """op->inop, inop->inop, inop->op, op->op for one target (station, EVSE or connector)."""
    async def s(rig):
        await rig.boot()
        n = len(rig.csms.of("StatusNotification"))
        r = await _ca(rig, "Operative", evse, connector)          # operative to operative
        assert r[2]["status"] == "Accepted"
        await rig.settle(2)
        assert len(rig.csms.of("StatusNotification")) == n       # nothing changed, nothing sent
        r = await _ca(rig, "Inoperative", evse, connector)        # operative to inoperative
        assert r[2]["status"] == "Accepted"
        await rig.settle(2)
        assert _last_status(rig) == "Unavailable"
        r = await rig.csms.call("RequestStartTransaction", {
            "idToken": {"idToken": "R1", "type": "Central"}, "remoteStartId": 1, "evseId": 1})
        assert r[2]["status"] == "Rejected"
        n = len(rig.csms.of("StatusNotification"))
        r = await _ca(rig, "Inoperative", evse, connector)        # inoperative to inoperative
        assert r[2]["status"] == "Accepted"
        await rig.settle(2)
        assert len(rig.csms.of("StatusNotification")) == n
        r = await _ca(rig, "Operative", evse, connector)          # inoperative to operative
        assert r[2]["status"] == "Accepted"
        await rig.settle(2)
        assert _last_status(rig) == "Available"
    scenario(s)


def test_G04_change_availability_station_TC_G_05_CS_TC_G_12_CS_TC_G_06_CS_TC_G_13_CS():
    _availability_matrix(None, None)


def test_G03_change_availability_evse_TC_G_03_CS_TC_G_09_CS_TC_G_04_CS_TC_G_10_CS():
    _availability_matrix(1, None)


def test_G03_change_availability_connector_TC_G_07_CS_TC_G_15_CS_TC_G_08_CS_TC_G_16_CS():
    _availability_matrix(1, 1)


def _scheduled_during_tx(evse, connector):
    async def s(rig):
        await rig.boot()
        await _start_tx(rig)
        r = await _ca(rig, "Inoperative", evse, connector)
        assert r[2]["status"] == "Scheduled"                     # G03.FR.05 / G04.FR.05
        await rig.settle(5)
        assert _last_status(rig) == "Occupied" and rig.evse().contactor.is_closed()
        rig.evse().pilot.plug_out()
        await rig.settle(3)
        assert rig.te()[-1]["eventType"] == "Ended"
        assert _last_status(rig) == "Unavailable"
    scenario(s)


def test_G04_change_availability_station_with_ongoing_transaction_TC_G_14_CS():
    _scheduled_during_tx(None, None)


def test_G03_change_availability_connector_with_ongoing_transaction_TC_G_17_CS():
    _scheduled_during_tx(1, 1)


def _persists(evse, connector):
    d = tmpdir("gp")

    async def first(rig):
        await rig.boot()
        r = await _ca(rig, "Inoperative", evse, connector)
        assert r[2]["status"] == "Accepted"
        await rig.settle(2)

    async def second(rig):
        await rig.boot()
        assert rig.csms.of("StatusNotification")[0]["connectorStatus"] == "Unavailable"
    scenario(first, state_dir=d)
    scenario(second, state_dir=d)


def test_G04_change_availability_station_persists_across_reboot_TC_G_21_CS():
    _persists(None, None)


def test_G03_change_availability_connector_persists_across_reboot_TC_G_19_CS():
    _persists(1, 1)


# ---- C01: local authorization statuses -------------------------------------------------------------

def test_C01_local_start_rejected_for_blocked_expired_unknown_TC_C_06_CS_TC_C_07_CS_TC_C_56_CS():
    for status in ("Blocked", "Expired", "Unknown", "NoCredit"):
        async def s(rig):
            rig.csms.responses["Authorize"] = {"idTokenInfo": {"status": status}}
            await rig.boot()
            rig.evse().pilot.plug_in()
            rig.hal[1].swipe("BAD00001")
            await rig.settle(5)
            assert rig.csms.of("Authorize"), status
            assert rig.te() == [] and not rig.evse().contactor.is_closed(), status
            assert rig.evse().pilot.duty_permille() in (0, 1000)   # no current offered
        scenario(s)


def test_C09_group_id_token_does_not_stop_when_group_differs_TC_C_42_CS():
    async def s(rig):
        def auth(p):
            g = "G1" if p["idToken"]["idToken"] == "AB12CD34" else "G2"
            return {"idTokenInfo": {"status": "Accepted", "groupIdToken": {"idToken": g, "type": "Central"}}}
        rig.csms.responses["Authorize"] = auth
        await rig.boot()
        await _start_tx(rig)
        rig.hal[1].swipe("OTHER001")
        await rig.settle(5)
        assert [t["eventType"] for t in rig.te()] == ["Started"]
        assert rig.evse().contactor.is_closed()
    scenario(s)


# ---- E: transactions ---------------------------------------------------------------------------------

def test_E03_local_start_ev_not_ready_starts_when_ev_requests_energy_TC_E_38_CS():
    async def s(rig):
        await rig.boot()
        rig.evse().pilot.plug_in()
        rig.evse().pilot.ev_state("B")     # EV connected but not requesting energy
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(10)
        assert rig.te() == [] and not rig.evse().contactor.is_closed()
        assert rig.evse().pilot.duty_permille() not in (0, 1000)   # current offered by PWM
        rig.evse().pilot.ev_state("C")
        await rig.settle(2)
        st = rig.te()[0]
        assert st["eventType"] == "Started" and st["transactionInfo"]["chargingState"] == "Charging"
        assert rig.evse().contactor.is_closed()
    scenario(s)


def test_E08_local_stop_while_offline_TC_E_44_CS():
    async def s(rig):
        await rig.boot()
        await _start_tx(rig)
        rig.csms.online = False
        rig.csms.drop()
        await rig.settle(2)
        rig.hal[1].swipe("AB12CD34")       # same token, no CSMS to ask
        await rig.settle(3)
        assert not rig.evse().contactor.is_closed()
        rig.csms.online = True
        await rig.settle(200)
        end = rig.te()[-1]
        assert end["eventType"] == "Ended" and end["triggerReason"] == "StopAuthorized"
        assert end["transactionInfo"]["stoppedReason"] == "Local" and end["offline"] is True
    scenario(s)


def test_E13_success_before_max_retry_count_TC_E_42_CS_TC_E_51_CS():
    for mode in ("silent", ("error", "InternalError")):
        async def s(rig):
            await rig.boot()
            rig.station.dm.set(ids.MESSAGE_ATTEMPTS_TE, 3)
            rig.station.dm.set(ids.MESSAGE_ATTEMPT_INTERVAL_TE, 10)
            rig.station.dm.set(ids.SAMPLED_TX_UPDATED_INTERVAL, 0)
            rig.csms.responses["TransactionEvent"] = mode
            orig = rig.csms._from_station

            def first_fails(conn, text):   # only the first attempt fails
                orig(conn, text)
                if '"TransactionEvent"' in text:
                    rig.csms.responses.pop("TransactionEvent", None)
            rig.csms._from_station = first_fails
            rig.evse().pilot.plug_in()
            rig.hal[1].swipe("AB12CD34")
            await rig.settle(100)
            started = [p for p in rig.te() if p["eventType"] == "Started"]
            assert len(started) == 2, (mode, len(started))   # second attempt succeeded, no third
            assert started[0] == started[1]                    # the same message again
            assert not rig.station.txq.has()
        scenario(s)


def test_E14_transaction_status_after_end_and_without_id_TC_E_31_CS_TC_E_32_CS_TC_E_33_CS_TC_E_34_CS():
    async def s(rig):
        await rig.boot()
        r = await rig.csms.call("GetTransactionStatus", {})
        assert r[2] == {"messagesInQueue": False}                              # TC_E_34
        tid = await _start_tx(rig)
        rig.csms.responses["TransactionEvent"] = "silent"
        rig.evse().pilot.plug_out()
        await rig.settle(2)
        r = await rig.csms.call("GetTransactionStatus", {"transactionId": tid})
        assert r[2] == {"messagesInQueue": True, "ongoingIndicator": False}    # TC_E_31
        r = await rig.csms.call("GetTransactionStatus", {})
        assert r[2] == {"messagesInQueue": True}                               # TC_E_33
        del rig.csms.responses["TransactionEvent"]
        await rig.settle(200)
        r = await rig.csms.call("GetTransactionStatus", {"transactionId": tid})
        assert r[2] == {"messagesInQueue": False, "ongoingIndicator": False}   # TC_E_32
    scenario(s)


# ---- F: remote control ---------------------------------------------------------------------------------

def test_F03_remote_stop_unknown_transaction_rejected_TC_F_09_CS():
    async def s(rig):
        await rig.boot()
        await _start_tx(rig)
        r = await rig.csms.call("RequestStopTransaction", {"transactionId": "not-a-tx"})
        assert r[2]["status"] == "Rejected"
        await rig.settle(2)
        assert [t["eventType"] for t in rig.te()] == ["Started"]
    scenario(s)


def test_F05_unlock_without_cable_connected_TC_F_07_CS():
    async def s(rig):
        await rig.boot()
        r = await rig.csms.call("UnlockConnector", {"evseId": 1, "connectorId": 1})
        assert r[2]["status"] == "Unlocked"       # a socket without a cable unlocks (F05.FR.04)
        assert rig.evse().lock.unlocks == 1
    clock = VirtualClock()
    scenario(s, clock=clock, hal=([make_sim_evse(clock, fixed_cable=False)], SimRfid()))


def test_F06_trigger_all_evses_TC_F_12_CS_TC_F_14_CS_TC_F_24_CS():
    async def s(rig):
        await rig.boot()
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "MeterValues"})
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        assert sorted(p["evseId"] for p in rig.csms.of("MeterValues")) == [1, 2]
        rig.evse().pilot.plug_in()
        rig.hal[1].swipe("AB12CD34")
        await rig.settle(3)
        n = len(rig.csms.of("StatusNotification"))
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "StatusNotification",
                                                   "evse": {"id": 1, "connectorId": 1}})
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        sn = rig.csms.of("StatusNotification")[n:]
        assert [(p["evseId"], p["connectorStatus"]) for p in sn] == [(1, "Occupied")]
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "TransactionEvent"})
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        trig = [t for t in rig.te() if t["triggerReason"] == "Trigger"]
        assert len(trig) == 1 and trig[0]["transactionInfo"]["chargingState"] == "Charging"
    scenario(s, evses=2)


# ---- issue 13: Part 6 sweep --------------------------------------------------------------------

def test_B03_FR_08_rejected_answers_csms_requests_security_error_TC_B_30_CS():
    async def s(rig):
        import asyncio
        rig.csms.interval = 50
        rig.driver = asyncio.create_task(rig.clock.run())
        rig.start()
        await rig.csms.wait_for(lambda: rig.station.registration == "Rejected")
        for action, p in (("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}),
                          ("GetVariables", {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                                                  "variable": {"name": "OfflineThreshold"}}]}),
                          ("Reset", {"type": "Immediate"}),
                          ("TriggerMessage", {"requestedMessage": "StatusNotification"})):
            r = await rig.csms.call(action, p)
            assert r[0] == 4 and r[2] == "SecurityError", (action, r)
        rig.evse().pilot.plug_in()
        await rig.settle(60)
        assert all(a == "BootNotification" for a, p in rig.csms.calls)
        rig.csms.boot_status = "Accepted"
        await rig.csms.wait_for(lambda: rig.station.accepted, 120)
        r = await rig.csms.call("GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]})
        assert r[0] == 3
    scenario(s, boot_status="Rejected")


def test_G04_station_inoperative_during_transaction_scheduled_then_unavailable_TC_G_14_CS():
    async def s(rig):
        await rig.boot()
        tid = await _start_tx(rig)
        r = await _ca(rig, "Inoperative")
        assert r[2]["status"] == "Scheduled"
        await rig.settle(5)
        assert rig.evse().contactor.is_closed() and _last_status(rig) == "Occupied"
        rig.hal[1].swipe("AB12CD34")          # StopAuthorized: the EV stays plugged in
        await rig.settle(3)
        assert rig.te()[-1]["eventType"] == "Ended"
        assert rig.te()[-1]["transactionInfo"]["transactionId"] == tid
        assert _last_status(rig) == "Unavailable"
        rig.evse().pilot.plug_out()
        await rig.settle(3)
        assert _last_status(rig) == "Unavailable"
        r = await rig.csms.call("RequestStartTransaction", {
            "idToken": {"idToken": "R1", "type": "Central"}, "remoteStartId": 1, "evseId": 1})
        assert r[2]["status"] == "Rejected"
    scenario(s)


def test_G02_time_source_heartbeat_sets_the_clock_real_time_clock_keeps_it():
    """ClockCtrlr.TimeSource acts (issue 13: a writable variable acts or is ReadOnly): Heartbeat
    first -> the clock follows currentTime of Boot/Heartbeat responses; RealTimeClock first ->
    the board's clock is kept."""
    async def s(rig):
        await rig.boot()
        rig.csms.responses["Heartbeat"] = {"currentTime": "2031-01-01T00:00:00Z"}
        r = await rig.csms.call("SetVariables", {"setVariableData": [
            {"component": {"name": "ClockCtrlr"}, "variable": {"name": "TimeSource"},
             "attributeValue": "RealTimeClock,Heartbeat"}]})
        assert r[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        before = rig.clock.now()
        await rig.station.availability.heartbeat()
        assert abs(rig.clock.now() - before) < 5
        rig.station.dm.set(ids.TIME_SOURCE, "Heartbeat")
        await rig.station.availability.heartbeat()
        assert rig.station.ctx.iso_now()[:4] == "2031"
    scenario(s)

