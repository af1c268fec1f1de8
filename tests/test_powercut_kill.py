"""Issue 4: power cut by SIGKILL during offline transactions (OCPP 2.0.1 Part 2 E11 offline
transactions, E12 power loss / PowerLoss Ended, E13 queued TransactionEvents; C15 offline start with
OfflineTxForUnknownIdEnabled).

The simulated station (CPython and MicroPython) is SIGKILLed at seeded random moments in at least 50
trials sharing one OCPP_STATE_DIR; after a final start against a reachable CSMS, every transaction
must have arrived with exactly one Started and one Ended, a gap-free seqNo, no message duplicated with
different content, and offline=true where it was created offline (tests/powercut_kill.py has the
design). POWERCUT_TRIALS / POWERCUT_SEED override the trial count and seed (reproduce a failure).

The checker itself is tested on hand-made sequences below: each rule must bite.
"""
import copy
import os

from tests.powercut_kill import check_energy_register, check_owed, check_persisted_delivered, \
    check_transaction_events, run_campaign

TRIALS = int(os.environ.get("POWERCUT_TRIALS") or "80")
SEED = int(os.environ.get("POWERCUT_SEED") or "4")
_RUNS = {}   # interp -> CampaignResult: one campaign per interpreter, shared by the tests below


def _campaign(interp):
    if interp not in _RUNS:
        _RUNS[interp] = run_campaign(interp, TRIALS, SEED)
        print("\n" + _RUNS[interp].summary)
    return _RUNS[interp]


def test_E11_E12_sigkill_during_offline_transactions_every_transaction_complete(interp):
    r = _campaign(interp)
    detail = r.summary + "\n" + "\n".join(r.errors[:40])
    assert r.trials >= 50, detail
    assert not r.errors, detail
    s = r.stats
    # the campaign did what it claims (otherwise "no errors" proves nothing)
    assert s["transactions"] >= 15, detail
    assert s["offline_started"] >= 5, detail           # C15 offline starts
    assert s["power_loss"] >= 3 and len(r.owed) >= 3, detail  # E12 recovery after a kill mid-transaction
    assert s["updated"] >= 3, detail
    assert r.kinds.get("offline", 0) >= 20 and r.kinds.get("online", 0) >= 10, detail
    assert r.phases["start-up"] + r.phases["recovery"] >= 3, detail
    assert r.phases["delivery"] >= 2 and s["resends"] >= 1, detail


def test_J_E12_energy_register_never_runs_backwards_across_sigkills(interp):
    """The energy register (RAM-held in the simulator, like an S0 counter) never runs backwards
    across kills: a kill between ``txq.push`` and ``Transactions.persist`` (Transactions.event) is covered by
    recover() taking the queued event's register as floor (unit test
    test_E12_powerloss_ended_energy_not_below_a_queued_updated_not_yet_in_the_tx_state); a kill
    around an Ended by writing the ``meter`` record before the Ended is queued."""
    r = _campaign(interp)
    assert not r.energy_errors, r.summary + "\n" + "\n".join(r.energy_errors[:20])


# ---- the checker bites ---------------------------------------------------------------------------
def _te(tid, seq, et, offline=None, reason=None, **extra):
    p = {"eventType": et, "timestamp": "2026-01-01T00:00:00.000Z", "seqNo": seq,
         "triggerReason": "Authorized", "transactionInfo": {"transactionId": tid}}
    if reason:
        p["transactionInfo"]["stoppedReason"] = reason
    if offline is not None:
        p["offline"] = offline
    p.update(extra)
    return p


def _good():
    return [_te("aaaa0001-1", 0, "Started", True), _te("aaaa0001-1", 1, "Updated", True),
            _te("bbbb0002-1", 0, "Started"),
            _te("aaaa0001-1", 1, "Updated", True),    # identical re-send after a reboot: allowed
            _te("aaaa0001-1", 2, "Ended", True, "PowerLoss", triggerReason="AbnormalCondition"),
            _te("bbbb0002-1", 1, "Ended", None, "EVDisconnected")]


def _errors(events, prefixes=("bbbb0002",)):
    return check_transaction_events(events, set(prefixes))[0]


def test_checker_accepts_complete_transactions_and_identical_resends():
    errors, stats = check_transaction_events(_good(), {"bbbb0002"})
    assert errors == []
    assert stats["transactions"] == 2 and stats["messages"] == 5 and stats["resends"] == 1
    assert stats["power_loss"] == 1 and stats["offline_started"] == 1


def test_checker_finds_a_seqno_gap():
    ev = [e for e in _good() if not (e["seqNo"] == 1 and e["eventType"] == "Updated")]
    assert any("gap-free" in e for e in _errors(ev))


def test_checker_finds_a_duplicate_with_different_content():
    ev = _good()
    ev[3] = _te("aaaa0001-1", 1, "Updated", True, triggerReason="MeterValuePeriodic")
    assert any("different contents" in e for e in _errors(ev))


def test_checker_finds_two_started_and_a_missing_ended():
    ev = _good()[:-1] + [_te("bbbb0002-1", 1, "Started")]
    errs = _errors(ev)
    assert any("bbbb0002-1: Started at seqNo [0, 1]" in e for e in errs)
    assert any("bbbb0002-1: Ended at seqNo []" in e for e in errs)


def test_checker_finds_ended_before_the_last_seqno():
    ev = _good() + [_te("bbbb0002-1", 2, "Updated")]
    assert any("Ended at seqNo [1]" in e for e in _errors(ev))


def test_checker_finds_missing_offline_flags():
    ev = copy.deepcopy(_good())
    del ev[4]["offline"]                       # PowerLoss Ended without offline
    assert any("PowerLoss" in e for e in _errors(ev))
    ev = copy.deepcopy(_good())
    del ev[1]["offline"], ev[3]["offline"]     # boot aaaa0001 never reached the CSMS
    assert any("never reached the CSMS" in e for e in _errors(ev))
    # the same messages are fine when that boot was online
    assert _errors(ev, ("aaaa0001", "bbbb0002")) == []


def test_checker_finds_out_of_order_first_arrival():
    ev = _good()
    ev[0], ev[1] = ev[1], ev[0]
    assert any("first arrived after" in e for e in _errors(ev))


def test_persisted_queue_entries_must_arrive_with_the_same_content():
    from tests.powercut_kill import _canon
    ev = _good()
    persisted = {("aaaa0001-1", 1): _canon(ev[1])}
    assert check_persisted_delivered(persisted, ev) == []
    persisted[("cccc0003-1", 0)] = _canon(_te("cccc0003-1", 0, "Started", True))
    assert any("never reached the CSMS" in e for e in check_persisted_delivered(persisted, ev))
    persisted = {("aaaa0001-1", 1): _canon(_te("aaaa0001-1", 1, "Updated", False))}
    assert any("differs" in e for e in check_persisted_delivered(persisted, ev))


def test_transactions_open_at_a_kill_must_end_with_power_loss():
    ev = _good()
    assert check_owed({"aaaa0001-1": False, "bbbb0002-1": True}, ev) == []
    assert any("not AbnormalCondition/PowerLoss" in e for e in check_owed({"bbbb0002-1": False}, ev))
    assert any("no Ended arrived" in e for e in check_owed({"cccc0003-1": False}, ev))


def test_checker_finds_an_energy_register_running_backwards():
    ev = copy.deepcopy(_good())
    for i, wh in ((0, 100), (1, 120), (2, 121), (4, 125), (5, 140)):
        ev[i]["meterValue"] = [{"timestamp": "2026-01-01T00:00:01.000Z", "sampledValue": [
            {"value": 7400, "measurand": "Power.Active.Import"}, {"value": wh}]}]
    ev[3]["meterValue"] = ev[1]["meterValue"]      # the identical re-send
    assert check_energy_register(ev) == []
    ev[4]["meterValue"][0]["sampledValue"][1]["value"] = 0   # reboot: register restarted at 0
    errs = check_energy_register(ev)
    assert len(errs) == 1 and "aaaa0001-1 seqNo 2" in errs[0] and "0 Wh after 121 Wh" in errs[0], errs
