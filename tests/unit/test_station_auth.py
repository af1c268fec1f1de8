"""Issue 13 defect 6: concurrent authorizations (both interpreters). Two swipes while a lookup
awaits never share an EVSE and one IdToken holds at most one EVSE (C01); a RequestStartTransaction
never overwrites an authorization held on its EVSE (F01/F02: Rejected, the card's authorization
stays and starts the transaction)."""
from tests.unit.test_station import scenario


def test_C01_same_card_swiped_twice_quickly_one_authorize_one_evse():
    async def s(rig):
        await rig.boot()
        rig.evse(1).pilot.plug_in()
        await rig.settle(1)
        ctx = rig.station.ctx
        ctx.emit("token", None, ("AB12CD34", "ISO14443"))   # the second swipe arrives while the
        ctx.emit("token", None, ("AB12CD34", "ISO14443"))   # first Authorize is under way
        await rig.settle(3)
        assert len(rig.csms.of("Authorize")) == 1
        held = [e.id for e in rig.station.evses if e.auth or e.tx]
        assert held == [1], held
        assert rig.te()[0]["evse"]["id"] == 1
        ctx.emit("token", None, ("CARD0002", "ISO14443"))   # another card: the other EVSE
        await rig.settle(1)
        assert rig.station.evses[1].auth[0]["idToken"] == "CARD0002"
    scenario(s, evses=2)


def test_C01_two_cards_while_lookups_await_never_share_an_evse():
    async def s(rig):
        await rig.boot()
        ctx = rig.station.ctx
        ctx.emit("token", None, ("CARD0001", "ISO14443"))
        ctx.emit("token", None, ("CARD0002", "ISO14443"))
        ctx.emit("token", None, ("CARD0003", "ISO14443"))   # no EVSE left for this one
        await rig.settle(3)
        got = sorted(e.auth[0]["idToken"] for e in rig.station.evses if e.auth)
        assert got == ["CARD0001", "CARD0002"], got
    scenario(s, evses=2)


def test_F01_request_start_rejected_on_an_evse_holding_an_authorization():
    async def s(rig):
        await rig.boot()
        rig.hal[1].swipe("AB12CD34")          # authorized, cable not yet plugged in
        await rig.settle(2)
        assert rig.station.evses[0].auth
        r = await rig.csms.call("RequestStartTransaction", {
            "idToken": {"idToken": "REMOTE01", "type": "Central"}, "remoteStartId": 7, "evseId": 1})
        assert r[2] == {"status": "Rejected"}
        rig.evse().pilot.plug_in()
        await rig.settle(3)
        st = rig.te()[0]
        assert st["eventType"] == "Started" and st["idToken"]["idToken"] == "AB12CD34"
        assert st["triggerReason"] == "CablePluggedIn" and "remoteStartId" not in st["transactionInfo"]
    scenario(s)
