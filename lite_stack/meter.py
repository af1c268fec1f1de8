"""Meter readings as OCPP MeterValueType/SampledValueType (Part 2 J01, J02), from the meter HAL:
the shared helpers of the transactions and metering blocks.

A MeterValueType is ``{"timestamp": RFC 3339, "sampledValue": [SampledValueType, ...]}``.
Energy is sent as an integer in Wh (``Energy.Active.Import.Register`` is the default measurand and
Wh the default unit, so both are omitted to save bytes: Part 2 SampledValueType defaults); other
measurands carry ``measurand`` and ``unitOfMeasure.unit`` (W, A, V). Measurands the meter HAL does
not offer are skipped (the device model's valuesList only lists what the meter offers).

Samples for the Ended event (J02 ``SampledDataCtrlr.TxEndedMeasurands/TxEndedInterval``, context
Sample.Periodic; J01 ``AlignedDataCtrlr.TxEndedMeasurands/TxEndedInterval``, context Sample.Clock)
are kept in a :class:`TxEndedBuffer` of at most ``board.TX_ENDED_SAMPLES`` entries per
transaction (default 8).
"""

ENERGY = "Energy.Active.Import.Register"
# measurand -> unitOfMeasure.unit, pairs in a constant tuple (ROM when frozen; a dict is RAM)
_UNITS = ("Power.Active.Import", "W", "Current.Import", "A", "Voltage", "V",
          "Energy.Active.Import.Interval", "Wh", "Power.Offered", "W", "SoC", "Percent")
CONTEXTS = ("Sample.Periodic", "Sample.Clock", "Transaction.Begin", "Transaction.End", "Trigger")


def read(meter, measurands):
    """The values (int Wh for energy, else the HAL's number) of the comma-separated
    ``measurands`` the meter offers, as a list of ``[measurand, value]`` pairs."""
    out = []
    if not measurands:
        return out
    for m in measurands.split(","):
        m = m.strip()
        if not m or m not in meter.measurands:
            continue
        v = meter.energy_wh() if m == ENERGY else meter.read(m)
        if v is not None:
            out.append([m, v])
    return out


def to_sampled(pairs, context):
    """List of SampledValueType from ``read`` pairs (Part 2 SampledValueType)."""
    out = []
    for m, v in pairs:
        sv = {"value": v, "context": context}
        if m != ENERGY:
            sv["measurand"] = m
            if m in _UNITS:
                sv["unitOfMeasure"] = {"unit": _UNITS[_UNITS.index(m) + 1]}
        out.append(sv)
    return out


def sampled_values(meter, measurands, context):
    """List of SampledValueType for a comma-separated ``measurands`` string."""
    return to_sampled(read(meter, measurands), context)


def sample(ctx, evse, vid, context):
    """MeterValueType of EVSE ``evse``'s meter for the measurands in device-model variable ``vid``
    (``ctx``: anything with ``dm`` and ``iso_now()``, e.g. ``lite_stack.context.Context``), or
    None when there is nothing to send."""
    svs = sampled_values(evse.hal.meter, ctx.dm.get(vid), context)
    if not svs:
        return None
    return {"timestamp": ctx.iso_now(), "sampledValue": svs}


class TxEndedBuffer:
    """Samples collected during a transaction for its Ended event (AlignedDataCtrlr.TxEnded*,
    J01; SampledDataCtrlr.TxEnded*, J02).

    Entries are compact ``[epoch_s, context_index, pairs]`` lists (no dicts until the Ended event
    is built). Bound: ``limit`` entries. When full, every second entry is dropped (oldest kept,
    then every other one) and the sampling stride doubles, so the buffer still spans the whole
    transaction at a coarser interval instead of losing its end or its start. The first and the
    latest samples are therefore always present.
    """
    __slots__ = ("limit", "items", "stride", "ticks")

    def __init__(self, limit=8):
        self.limit = limit if limit > 1 else 2
        self.items = []
        self.stride = 1
        self.ticks = 0

    def add(self, t, context, pairs):
        """Offer one sample (epoch s, context name, ``read`` pairs); it is kept according to the
        current stride. Returns True if it was stored."""
        if not pairs:
            return False
        self.ticks += 1
        if (self.ticks - 1) % self.stride:
            return False
        if len(self.items) >= self.limit:
            self.items = self.items[::2]
            self.stride *= 2
            if (self.ticks - 1) % self.stride:
                return False
        self.items.append([t, CONTEXTS.index(context), pairs])
        return True

    def meter_values(self, iso):
        """The buffered MeterValueType dicts, oldest first; ``iso`` formats epoch seconds."""
        return [{"timestamp": iso(t), "sampledValue": to_sampled(p, CONTEXTS[c])}
                for t, c, p in self.items]

    def dump(self):
        return [self.stride, self.ticks, self.items]

    def load(self, saved):
        try:
            self.stride, self.ticks, items = saved
            self.items = [list(x) for x in items][-self.limit:]
        except (TypeError, ValueError):
            pass
