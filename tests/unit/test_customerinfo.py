"""N09 Get / N10 Clear Customer Information (lite_stack/blocks/customerinfo.py, an on-demand block)
on simulated time, both interpreters: what the station holds for an IdToken is reported in
NotifyCustomerInformation parts of at most 512 characters, ``clear`` drops a held authorization and
keeps transaction data, and the block is released after its last message (also when sending
fails)."""
from lite_stack import blocks
from tests.unit.test_station import scenario

BLOCK = "lite_stack.blocks.customerinfo"
CARD = {"idToken": "AB12CD34", "type": "ISO14443"}


def _loaded(name):
    import sys
    parent, _, leaf = name.rpartition(".")
    p = sys.modules.get(parent)
    return name in sys.modules or (p is not None and hasattr(p, leaf))


def _notifies(rig, rid):
    return [p for p in rig.csms.of("NotifyCustomerInformation") if p["requestId"] == rid]


async def _ask(rig, rid, report, clear, **ref):
    p = {"requestId": rid, "report": report, "clear": clear}
    p.update(ref)
    r = await rig.csms.call("CustomerInformation", p)
    return r


async def _parts(rig, rid):
    """The NotifyCustomerInformation parts of request ``rid`` once the last (no tbc) has come."""
    await rig.csms.wait_for(lambda: [p for p in _notifies(rig, rid) if not p.get("tbc")])
    await rig.settle(1)
    return _notifies(rig, rid)


def test_N10_FR_06_clear_without_report_one_notify_data_cleared_TC_N_32_CS():
    async def s(rig):
        blocks.release(BLOCK)
        await rig.boot()
        rig.hal[1].swipe(CARD["idToken"])               # authorized, no cable yet: held on EVSE 1
        await rig.settle(2)
        assert rig.station.evses[0].auth
        r = await _ask(rig, 7, False, True, idToken=CARD)
        assert r[2] == {"status": "Accepted"}           # N10.FR.01
        parts = await _parts(rig, 7)
        assert len(parts) == 1                          # N10.FR.06: one message, data cleared
        p = parts[0]
        assert p["data"] == "Customer data cleared" and p["seqNo"] == 0 and not p.get("tbc")
        assert p["generatedAt"].endswith("Z")
        assert rig.station.evses[0].auth is None        # the held authorization is gone
        assert not _loaded(BLOCK), "customerinfo block still loaded after its message"
        # TC_N_32 prerequisite: the station holds nothing for the IdToken: still one notify
        r = await _ask(rig, 8, False, True, idToken=CARD)
        assert r[2] == {"status": "Accepted"}
        assert [p["data"] for p in await _parts(rig, 8)] == ["Customer data cleared"]
        rig.evse().pilot.plug_in()                      # nothing starts: the card must be shown again
        await rig.settle(3)
        assert rig.te() == []
    scenario(s)


def test_N09_FR_06_N10_FR_04_no_data_found_one_message_TC_N_28_CS_TC_N_31_CS():
    async def s(rig):
        blocks.release(BLOCK)
        await rig.boot()
        for rid, clear in ((1, False), (2, True)):
            r = await _ask(rig, rid, True, clear, idToken=CARD)
            assert r[2] == {"status": "Accepted"}       # N09.FR.02 / N10.FR.01
            parts = await _parts(rig, rid)
            assert [(p["data"], p["seqNo"], p.get("tbc")) for p in parts] == [("No data found", 0, None)]
        assert not _loaded(BLOCK)
    scenario(s)


def test_N09_FR_05_N10_FR_03_report_clear_held_authorization_keep_transaction_data():
    async def s(rig):
        blocks.release(BLOCK)
        await rig.boot()
        rig.evse(1).pilot.plug_in()
        rig.hal[1].swipe(CARD["idToken"])               # transaction on EVSE 1
        await rig.settle(3)
        tx_id = rig.te()[0]["transactionInfo"]["transactionId"]
        assert rig.station.evses[0].tx
        r = await _ask(rig, 3, True, False, idToken=CARD)
        assert r[2]["status"] == "Accepted"
        data = "".join(p["data"] for p in await _parts(rig, 3))
        assert "EVSE 1: transaction %s ongoing" % tx_id in data   # N09.FR.05
        assert CARD["idToken"] not in data              # the report never echoes the IdToken
        # presented again at the reader the card would stop its transaction (E07): hold it on
        # EVSE 2 by a remote start instead
        other = rig.station.evses[1]
        r = await rig.csms.call("RequestStartTransaction", {"idToken": CARD, "remoteStartId": 4, "evseId": 2})
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        assert other.auth and other.auth[0]["idToken"] == CARD["idToken"]
        r = await _ask(rig, 4, True, True, idToken=CARD)   # N10.FR.03: clear and report
        assert r[2]["status"] == "Accepted"
        data = "".join(p["data"] for p in await _parts(rig, 4))
        assert "EVSE 2: authorization held for the next charge (cleared)" in data, data
        assert "EVSE 1: transaction %s ongoing (kept)" % tx_id in data
        assert other.auth is None and rig.station.evses[0].tx   # the transaction goes on
        r = await _ask(rig, 5, True, False, idToken=CARD)   # TC_N_30 steps 5-8: report again
        parts = await _parts(rig, 5)
        data = "".join(p["data"] for p in parts)
        assert "authorization held" not in data and tx_id in data and not parts[-1].get("tbc")
        assert not _loaded(BLOCK)
    scenario(s, evses=2)


def _queued(tx, card):
    return {"eventType": "Started", "timestamp": "2026-01-01T00:00:00Z", "triggerReason": "Authorized",
            "seqNo": 0, "transactionInfo": {"transactionId": tx}, "idToken": card,
            "evse": {"id": 1, "connectorId": 1}}


def test_N09_FR_05_parts_of_512_characters_seqNo_from_0_tbc_on_all_but_the_last():
    async def s(rig):
        blocks.release(BLOCK)
        await rig.boot()
        rig.csms.responses["TransactionEvent"] = "silent"   # the queue keeps its messages
        q = rig.station.ctx.queue
        ids = ["%036d" % i for i in range(14)]
        for tx in ids:
            assert q.push(_queued(tx, CARD))
        q.push(_queued("OTHER-CARD-TX", {"idToken": "FFFF0000", "type": "ISO14443"}))
        q.push(_queued("SAME-ID-OTHER-TYPE", {"idToken": CARD["idToken"], "type": "KeyCode"}))
        r = await _ask(rig, 11, True, True, idToken=CARD)
        assert r[2]["status"] == "Accepted"
        parts = await _parts(rig, 11)
        assert [p["seqNo"] for p in parts] == list(range(len(parts))) and len(parts) >= 3
        assert all(p.get("tbc") is True for p in parts[:-1]) and not parts[-1].get("tbc")
        assert all(len(p["data"]) <= 512 for p in parts) and len(parts[0]["data"]) == 512
        assert len(set(p["generatedAt"] for p in parts)) == 1
        data = "".join(p["data"] for p in parts)
        for tx in ids:                                  # kept: they must still reach the CSMS
            assert "transaction %s: TransactionEvents queued for the CSMS (kept)" % tx in data
        assert "OTHER-CARD-TX" not in data and "SAME-ID-OTHER-TYPE" not in data
        assert len(q) == 16 and not _loaded(BLOCK)
    scenario(s)


def test_N09_FR_07_N10_FR_07_nothing_asked_rejected_no_reference_invalid_TC_N_29_CS():
    async def s(rig):
        blocks.release(BLOCK)
        await rig.boot()
        r = await _ask(rig, 1, False, False, idToken=CARD)
        assert r[2] == {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidValue"}}
        r = await _ask(rig, 2, True, True)              # N09.FR.04 / N10.FR.08 not met by the CSMS
        assert r[2] == {"status": "Invalid", "statusInfo": {"reasonCode": "MissingParam"}}
        await rig.settle(2)
        assert rig.csms.of("NotifyCustomerInformation") == [] and not _loaded(BLOCK)
        # no customer certificates, no customer identifiers are stored: Accepted, nothing found
        cert = {"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64,
                "serialNumber": "01"}
        r = await _ask(rig, 3, True, False, customerCertificate=cert)
        assert r[2]["status"] == "Accepted"
        assert [p["data"] for p in await _parts(rig, 3)] == ["No data found"]
        r = await _ask(rig, 4, False, True, customerIdentifier="OpenChargeAlliance")
        assert r[2]["status"] == "Accepted"
        assert [p["data"] for p in await _parts(rig, 4)] == ["Customer data cleared"]
        assert not _loaded(BLOCK)
    scenario(s)


def test_N09_bad_input_is_a_callerror_and_loads_nothing():
    async def s(rig):
        blocks.release(BLOCK)
        await rig.boot()
        r = await rig.csms.call("CustomerInformation", {"report": True, "clear": False, "idToken": CARD})
        assert r[0] == 4 and r[2] == "OccurrenceConstraintViolation", r
        r = await rig.csms.call("CustomerInformation", {"requestId": 1, "report": "yes", "clear": False,
                                                        "idToken": CARD})
        assert r[0] == 4 and r[2] == "TypeConstraintViolation", r
        r = await rig.csms.call("CustomerInformation", {"requestId": 1, "report": True, "clear": False,
                                                        "idToken": {"idToken": "A", "type": "Bogus"}})
        assert r[0] == 4 and r[2] == "PropertyConstraintViolation", r
        assert not _loaded(BLOCK)
    scenario(s)


def test_N09_notify_not_delivered_stops_sending_and_releases_the_block():
    async def s(rig):
        blocks.release(BLOCK)
        await rig.boot()
        rig.csms.responses["TransactionEvent"] = "silent"
        q = rig.station.ctx.queue
        for i in range(14):
            q.push(_queued("%036d" % i, CARD))
        rig.csms.responses["NotifyCustomerInformation"] = ("error", "InternalError")
        r = await _ask(rig, 1, True, False, idToken=CARD)
        assert r[2]["status"] == "Accepted"
        await rig.settle(3)
        assert len(_notifies(rig, 1)) == 1              # the first part failed: no more parts
        assert not _loaded(BLOCK)
        rig.csms.responses["NotifyCustomerInformation"] = "silent"   # no answer: MessageTimeout
        r = await _ask(rig, 2, False, True, idToken=CARD)
        assert r[2]["status"] == "Accepted"
        await rig.settle(2)
        assert _loaded(BLOCK)                           # waiting on its CALL
        await rig.settle(60)
        assert len(_notifies(rig, 2)) == 1 and not _loaded(BLOCK)
        r = await _ask(rig, 3, True, False, idToken=CARD)   # offline while its first part waits
        assert r[2]["status"] == "Accepted"
        await rig.settle(1)
        assert _loaded(BLOCK)
        n = rig.csms.connects
        rig.csms.online = False
        rig.csms.drop()                                 # connection lost: the CALL fails at once
        await rig.settle(2)
        assert len(_notifies(rig, 3)) == 1 and not _loaded(BLOCK)
        del rig.csms.responses["NotifyCustomerInformation"]
        rig.csms.online = True
        await rig.csms.wait_for(lambda: rig.csms.connects > n and rig.station.ctx.online(), 300)
        await rig.settle(1)
        r = await _ask(rig, 4, True, False, idToken=CARD)   # a new request works as before
        assert r[2]["status"] == "Accepted"
        assert len(await _parts(rig, 4)) >= 3 and not _loaded(BLOCK)
        assert len(_notifies(rig, 3)) == 1              # nothing of request 3 replayed
    scenario(s)


def test_N09_job_refused_by_a_full_task_set_still_releases_the_block_and_report_state():
    # the job after the response never starts (bounded TaskSet full): the block must still end
    # (Router done) and the report block must not stay "running" (every later GetBaseReport Rejected)
    async def s(rig):
        blocks.release(BLOCK, "lite_stack.blocks.report", "device_model.report")
        await rig.boot()
        tasks = rig.station.ctx.tasks
        limit = tasks.limit
        tasks.limit = len(tasks)                        # full: the next spawn is refused
        r = await _ask(rig, 1, True, True, idToken=CARD)
        assert r[2]["status"] == "Accepted"
        r = await rig.csms.call("GetBaseReport", {"requestId": 2, "reportBase": "ConfigurationInventory"})
        assert r[2]["status"] == "Accepted"
        await rig.settle(2)
        assert tasks.refused >= 2 and rig.csms.of("NotifyCustomerInformation") == []
        assert not _loaded(BLOCK) and not _loaded("lite_stack.blocks.report")
        assert rig.station.rpc.handlers.busy == {}
        tasks.limit = limit
        r = await rig.csms.call("GetBaseReport", {"requestId": 3, "reportBase": "ConfigurationInventory"})
        assert r[2]["status"] == "Accepted"
        r = await _ask(rig, 4, True, False, idToken=CARD)
        assert [p["data"] for p in await _parts(rig, 4)] == ["No data found"]
        await rig.csms.wait_for(lambda: [p for p in rig.csms.of("NotifyReport") if not p.get("tbc")])
        await rig.settle(1)
        assert not _loaded(BLOCK) and not _loaded("lite_stack.blocks.report")
    scenario(s)
