"""J Meter values (Part 2 J01 clock-aligned; J02 sampled values live with the transaction).

Every AlignedDataCtrlr.Interval seconds, on the wall-clock multiple (aligned to midnight UTC),
the AlignedDataCtrlr.Measurands are sampled: for an EVSE without a transaction they go out as
MeterValuesRequest (TC_J_01); for one with a transaction the event ``meter_clock`` hands them to
the transactions block (TransactionEvent Updated, triggerReason MeterValueClock, TC_J_02). The
same loop on AlignedDataCtrlr.TxEndedInterval collects AlignedDataCtrlr.TxEndedMeasurands of
running transactions for their Ended event (event ``meter_clock_ended``, TC_J_03). A change of
either interval takes effect at once. TriggerMessage(MeterValues): the aligned measurands, context
Trigger, of each target EVSE (F06, TC_F_18).
"""
from device_model import ids
from lite_stack import meter
from lite_stack.clock import Kick


def next_aligned(now_s, interval_s):
    """The next wall-clock multiple of ``interval_s`` after ``now_s`` (epoch s)."""
    return (now_s // interval_s + 1) * interval_s


class Metering:
    HANDLERS = ()

    def __init__(self, ctx):
        self.ctx = ctx
        self._changed = {ids.ALIGNED_INTERVAL: Kick(),
                         ids.ALIGNED_TX_ENDED_INTERVAL: Kick()}
        ctx.triggers["MeterValues"] = self.trigger

    def tasks(self):
        return [self._aligned(ids.ALIGNED_INTERVAL), self._aligned(ids.ALIGNED_TX_ENDED_INTERVAL)]

    def on_event(self, kind, evse, data):
        if kind == "var":
            ev = self._changed.get(data[0])
            if ev:
                ev.set()

    async def _aligned(self, vid_interval):
        ctx = self.ctx
        clock = ctx.clock
        ended = vid_interval == ids.ALIGNED_TX_ENDED_INTERVAL
        changed = self._changed[vid_interval]
        while True:
            interval = ctx.dm.get(vid_interval)
            changed.clear()
            if interval <= 0:
                await clock.wait(changed, 3600)
                continue
            now = clock.now()
            due = next_aligned(now, interval)
            await clock.wait(changed, due - now)
            if ctx.dm.get(vid_interval) != interval or clock.now() < due:
                continue  # the interval changed (or the clock was set back) while waiting
            for e in ctx.evses:
                if ended:
                    if e.tx:
                        ctx.emit("meter_clock_ended", e, meter.read(
                            e.hal.meter, ctx.dm.get(ids.ALIGNED_TX_ENDED_MEASURANDS)))
                    continue
                mv = meter.sample(ctx, e, ids.ALIGNED_MEASURANDS, "Sample.Clock")
                if mv is None:
                    continue
                if e.tx:
                    ctx.emit("meter_clock", e, mv)
                elif ctx.accepted:
                    await ctx.send("MeterValues", {"evseId": e.id, "meterValue": [mv]})

    def trigger(self, targets):
        ctx = self.ctx

        async def send():
            for e in targets:
                mv = meter.sample(ctx, e, ids.ALIGNED_MEASURANDS, "Trigger")
                if mv:
                    await ctx.send("MeterValues", {"evseId": e.id, "meterValue": [mv]})
        ctx.after(send)
        return "Accepted"
