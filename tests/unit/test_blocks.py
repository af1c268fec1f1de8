"""The functional-block layout at run time, on both interpreters: on-demand blocks are imported
when their request arrives and released when their work is done (lite_stack.blocks.Router), the
report state is per request (B07), TriggerMessage routes to the owning block (F06), and the one
bounded task set (lite_stack.context.TaskSet) refuses work when full instead of growing."""
import asyncio
import sys

from lite_stack import blocks
from lite_stack.context import TaskSet
from tests.unit.test_station import scenario
from tests.unit.util import run

REPORT = "lite_stack.blocks.report"


def _forget_report():
    # another test in this process may have imported the modules directly
    blocks.release(REPORT, "device_model.report", "lite_stack.blocks.datatransfer")


def _loaded(name):
    parent, _, leaf = name.rpartition(".")
    p = sys.modules.get(parent)
    return name in sys.modules or (p is not None and hasattr(p, leaf))


def test_B07_report_block_loads_on_demand_and_is_released_after_the_last_part_TC_B_13_CS():
    async def s(rig):
        _forget_report()
        await rig.boot()
        assert not _loaded(REPORT) and not _loaded("device_model.report")
        r = await rig.csms.call("GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"})
        assert r[2] == {"status": "Accepted"}, r
        parts = await rig.csms.wait_for(
            lambda: [p for p in rig.csms.of("NotifyReport") if not p.get("tbc")]
            and rig.csms.of("NotifyReport"))
        await rig.settle(1)
        assert [p["seqNo"] for p in parts] == list(range(len(parts)))
        assert len(parts) > 1 and all(p.get("tbc") for p in parts[:-1])  # B07: tbc on all but last
        assert len(set(p["generatedAt"] for p in parts)) == 1
        names = [it["variable"]["name"] for p in parts for it in p["reportData"]]
        assert "HeartbeatInterval" in names and "BytesPerMessage" in names
        assert not _loaded(REPORT), "report block still loaded after its last NotifyReport"
        assert not _loaded("device_model.report")
    scenario(s)


def test_B07_second_report_while_one_is_sent_is_rejected_and_both_never_mix():
    async def s(rig):
        _forget_report()
        await rig.boot()
        rig.csms.responses["NotifyReport"] = "silent"   # the first report waits on every part
        r1 = await rig.csms.call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
        await rig.settle(1)
        r2 = await rig.csms.call("GetBaseReport", {"requestId": 2, "reportBase": "ConfigurationInventory"})
        assert r1[2]["status"] == "Accepted" and r2[2]["status"] == "Rejected"
        assert _loaded(REPORT)
        del rig.csms.responses["NotifyReport"]
        await rig.csms.wait_for(lambda: [p for p in rig.csms.of("NotifyReport")
                                         if p["requestId"] == 1 and not p.get("tbc")], 600)
        await rig.settle(1)
        assert not _loaded(REPORT)
        assert all(p["requestId"] == 1 for p in rig.csms.of("NotifyReport"))
        r3 = await rig.csms.call("GetBaseReport", {"requestId": 3, "reportBase": "ConfigurationInventory"})
        assert r3[2]["status"] == "Accepted"
        last = await rig.csms.wait_for(lambda: [p for p in rig.csms.of("NotifyReport")
                                                if p["requestId"] == 3 and not p.get("tbc")])
        assert last[0]["seqNo"] >= 0
    scenario(s)


def test_B07_summary_inventory_not_supported_and_block_released_TC_B_15_CS():
    async def s(rig):
        _forget_report()
        await rig.boot()
        r = await rig.csms.call("GetBaseReport", {"requestId": 9, "reportBase": "SummaryInventory"})
        assert r[2] == {"status": "NotSupported"}
        await rig.settle(2)
        assert rig.csms.of("NotifyReport") == []
        assert not _loaded(REPORT)
    scenario(s)


def test_P01_data_transfer_block_on_demand_unknown_vendor_TC_P_01_CS():
    async def s(rig):
        _forget_report()
        await rig.boot()
        r = await rig.csms.call("DataTransfer", {"vendorId": "org.openchargealliance.octt",
                                                 "messageId": "x", "data": "y",
                                                 "customData": {"vendorId": "v"}})
        assert r[2] == {"status": "UnknownVendorId"}
        assert not _loaded("lite_stack.blocks.datatransfer")
    scenario(s)


def test_F_remote_control_block_is_loaded_per_request_and_released_after_the_response():
    async def s(rig):
        blocks.release("lite_stack.blocks.remote")   # another test may have imported it directly
        await rig.boot()
        assert not _loaded("lite_stack.blocks.remote")
        r = await rig.csms.call("UnlockConnector", {"evseId": 9, "connectorId": 1})
        assert r[2] == {"status": "UnknownConnector"}
        r = await rig.csms.call("RequestStopTransaction", {"transactionId": "none"})
        assert r[2] == {"status": "Rejected"}
        n = len(rig.csms.of("Heartbeat"))
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert r[2] == {"status": "Accepted"}   # the resident availability block's trigger
        await rig.csms.wait_for(lambda: len(rig.csms.of("Heartbeat")) > n)
        assert not _loaded("lite_stack.blocks.remote")
        assert rig.station.rpc.handlers.busy == {}
    scenario(s)


def test_F06_trigger_routes_to_the_owning_block_and_unknown_message_is_not_implemented():
    async def s(rig):
        await rig.boot()
        n = len(rig.csms.of("Heartbeat"))
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        assert r[2] == {"status": "Accepted"}
        await rig.csms.wait_for(lambda: len(rig.csms.of("Heartbeat")) > n)
        r = await rig.csms.call("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
        assert r[2] == {"status": "NotImplemented"}
    scenario(s)


def test_unknown_action_is_not_implemented_without_loading_anything():
    async def s(rig):
        await rig.boot()
        before = len(sys.modules)
        r = await rig.csms.call("GetLocalListVersion", {})   # D: not built (GetLog now is, N01)
        assert r[0] == 4 and r[2] == "NotImplemented", r
        assert len(sys.modules) == before
    scenario(s)


def test_task_set_is_bounded_and_refuses_when_full():
    async def main():
        log = []
        ts = TaskSet(2, log.append)
        gate = asyncio.Event()
        ran = []

        async def job(i):
            await gate.wait()
            ran.append(i)
        for i in range(4):
            ts.spawn(job(i))
        assert len(ts) == 2 and ts.refused == 2 and log
        gate.set()
        for _ in range(5):
            await asyncio.sleep(0)
        assert sorted(ran) == [0, 1] and len(ts) == 0   # finished tasks leave the set

        async def boom():
            raise ValueError("block bug")
        ts.spawn(boom())
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(ts) == 0 and any("block bug" in x for x in log)
    run(main())


def test_B06_FR_16_FR_17_get_variables_above_items_or_bytes_per_message():
    """The variables block answers a GetVariables above ItemsPerMessage with CALLERROR
    OccurrenceConstraintViolation and one above BytesPerMessage (the frame as received, here
    padded with JSON whitespace) with FormatViolation; both leave it released."""
    async def s(rig):
        _forget_report()
        await rig.boot()
        item = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        r = await rig.csms.call("GetVariables", {"getVariableData": [item] * 17})   # limit 16
        assert r[0] == 4 and r[2] == "OccurrenceConstraintViolation", r
        text = '[2,"big-1","GetVariables",{"getVariableData":[%s]%s}]' % (
            '{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}',
            " " * 8200)
        r = await rig.csms.raw(text)
        assert r[0] == 4 and r[1] == "big-1" and r[2] == "FormatViolation", r
        r = await rig.csms.call("GetVariables", {"getVariableData": [item]})
        assert r[2]["getVariableResult"][0]["attributeStatus"] == "Accepted"
        assert not _loaded("lite_stack.blocks.variables") and not _loaded("device_model.access")
    scenario(s)
