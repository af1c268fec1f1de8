"""J Meter values (Part 2 J01 clock-aligned; J02 sampled values live with the transaction).

Every AlignedDataCtrlr.Interval seconds, on the wall-clock multiple (aligned to midnight UTC),
the AlignedDataCtrlr.Measurands are sampled: for an EVSE without a transaction they go out as
MeterValuesRequest (TC_J_01); for one with a transaction the event ``meter_clock`` hands them to
the transactions block (TransactionEvent Updated, triggerReason MeterValueClock, TC_J_02). On the
multiples of AlignedDataCtrlr.TxEndedInterval the AlignedDataCtrlr.TxEndedMeasurands of running
transactions are collected for their Ended event (event ``meter_clock_ended``, TC_J_03). One task
serves both intervals: it sleeps to the earlier of their next multiples, and a change of either
interval wakes it and takes effect at once. TriggerMessage(MeterValues): the aligned measurands,
context Trigger, of each target EVSE (F06, TC_F_18).
"""
import asyncio

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
        self._kick = Kick()   # wakes the task: an interval changed, or the sampling task ended
        self._dirty = 0       # why: 1 Interval changed, 2 TxEndedInterval changed, 4 sampled
        ctx.triggers["MeterValues"] = self.trigger

    def tasks(self):
        return [self._aligned()]

    def on_event(self, kind, evse, data):
        if kind == "var":
            vid = data[0]
            if vid == ids.ALIGNED_INTERVAL or vid == ids.ALIGNED_TX_ENDED_INTERVAL:
                self._dirty |= 1 if vid == ids.ALIGNED_INTERVAL else 2
                self._kick.set()

    async def _aligned(self):
        # Interval k (0: AlignedDataCtrlr.Interval, 1: TxEndedInterval) behaves as a loop of its
        # own would: read the interval, wait for its next wall-clock multiple (1 h when it is 0,
        # then read it again), and sample if the interval is unchanged and the wall clock has
        # reached the multiple; a change of it ends its wait at once. Its state is
        # st[3k:3k+3] = interval in use, due (epoch s), deadline (clock.ms). The Interval's
        # samples await MeterValues answers: they run as a task of their own while they last
        # (``sub``), so they never hold back a TxEndedInterval sample, and the Interval's next
        # multiple is planned once they have ended (as after the sends of a loop of its own).
        ctx = self.ctx
        clock = ctx.clock
        dm = ctx.dm
        kick = self._kick
        st = [0, 0, 0, 0, 0, 0]
        sub = None
        try:
            while True:
                dirty = self._dirty
                self._dirty = 0
                kick.clear()
                for k in (0, 1):
                    j = 3 * k
                    vid = ids.ALIGNED_TX_ENDED_INTERVAL if k else ids.ALIGNED_INTERVAL
                    if sub is not None and not k:
                        if not dirty & 4:
                            continue   # still sampling and sending
                        sub = None
                    elif dirty & (1 << k) or clock.ms() >= st[j + 2]:
                        if st[j] > 0 and dm.get(vid) == st[j] and clock.now() >= st[j + 1]:
                            if not k:
                                sub = asyncio.create_task(self._clock_values())
                                continue
                            self._tx_ended_values()
                    else:
                        continue   # neither changed nor due
                    st[j] = interval = dm.get(vid)
                    if interval <= 0:
                        st[j + 2] = clock.ms() + 3600000
                        continue
                    now = clock.now()
                    st[j + 1] = next_aligned(now, interval)
                    st[j + 2] = clock.ms() + (st[j + 1] - now) * 1000
                nxt = st[5]
                if sub is None and st[2] < nxt:
                    nxt = st[2]
                await clock.wait(kick, (nxt - clock.ms()) / 1000)
        finally:
            if sub is not None:
                sub.cancel()

    async def _clock_values(self):
        # J01 AlignedDataCtrlr.Interval: the aligned sample of every EVSE, MeterValues (idle EVSE,
        # one after the other) or event meter_clock (transaction)
        ctx = self.ctx
        try:
            for e in ctx.evses:
                mv = meter.sample(ctx, e, ids.ALIGNED_MEASURANDS, "Sample.Clock")
                if mv is None:
                    continue
                if e.tx:
                    ctx.emit("meter_clock", e, mv)
                elif ctx.accepted:
                    await ctx.send("MeterValues", {"evseId": e.id, "meterValue": [mv]})
        except Exception as ex:
            ctx.log("aligned meter values failed: %s %s" % (type(ex).__name__, ex))
        finally:
            self._dirty |= 4
            self._kick.set()

    def _tx_ended_values(self):
        # J01 AlignedDataCtrlr.TxEndedInterval: the TxEndedMeasurands of each running transaction,
        # for its Ended event
        ctx = self.ctx
        try:
            for e in ctx.evses:
                if e.tx:
                    ctx.emit("meter_clock_ended", e, meter.read(
                        e.hal.meter, ctx.dm.get(ids.ALIGNED_TX_ENDED_MEASURANDS)))
        except Exception as ex:
            ctx.log("TxEnded meter values failed: %s %s" % (type(ex).__name__, ex))

    def trigger(self, targets):
        ctx = self.ctx

        async def send():
            for e in targets:
                mv = meter.sample(ctx, e, ids.ALIGNED_MEASURANDS, "Trigger")
                if mv:
                    await ctx.send("MeterValues", {"evseId": e.id, "meterValue": [mv]})
        ctx.after(send)
        return "Accepted"
