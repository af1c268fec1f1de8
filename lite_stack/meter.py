"""Meter values (Part 2 J01 clock-aligned, J02 sampled) built from the meter HAL.

A MeterValueType is ``{"timestamp": RFC 3339, "sampledValue": [SampledValueType, ...]}``.
Energy is sent as an integer in Wh (``Energy.Active.Import.Register`` is the default measurand and
Wh the default unit, so both are omitted to save bytes: Part 2 SampledValueType defaults); other
measurands carry ``measurand`` and ``unitOfMeasure.unit`` (W, A, V). Measurands the meter HAL does
not offer are skipped (the device model's valuesList only lists what the meter offers).
"""
from device_model import ids

ENERGY = "Energy.Active.Import.Register"
_UNITS = {"Power.Active.Import": "W", "Current.Import": "A", "Voltage": "V",
          "Energy.Active.Import.Interval": "Wh", "Power.Offered": "W", "SoC": "Percent"}


def sampled_values(meter, measurands, context):
    """List of SampledValueType for a comma-separated ``measurands`` string."""
    out = []
    if not measurands:
        return out
    for m in measurands.split(","):
        m = m.strip()
        if not m or m not in meter.measurands:
            continue
        v = meter.energy_wh() if m == ENERGY else meter.read(m)
        if v is None:
            continue
        sv = {"value": v, "context": context}
        if m != ENERGY:
            sv["measurand"] = m
            u = _UNITS.get(m)
            if u:
                sv["unitOfMeasure"] = {"unit": u}
        out.append(sv)
    return out


def sample(station, evse, vid, context):
    """MeterValueType for the measurands in device-model variable ``vid``, or None if empty."""
    svs = sampled_values(evse.hal.meter, station.dm.get(vid), context)
    if not svs:
        return None
    return {"timestamp": station.iso_now(), "sampledValue": svs}


def next_aligned(now_s, interval_s):
    """The next wall-clock multiple of ``interval_s`` after ``now_s`` (J01.FR.? : aligned to
    midnight UTC multiples of AlignedDataCtrlr.Interval)."""
    return (now_s // interval_s + 1) * interval_s


async def aligned_task(station):
    """J01: every AlignedDataCtrlr.Interval seconds, on the wall-clock multiple, send the aligned
    measurands: as MeterValuesRequest for an EVSE without a transaction, and as TransactionEvent
    Updated (triggerReason MeterValueClock) for one with a transaction (TC_J_01, TC_J_02)."""
    clock = station.clock
    while True:
        interval = station.dm.get(ids.ALIGNED_INTERVAL)
        if interval <= 0:
            await clock.sleep(10)
            continue
        now = clock.now()
        due = next_aligned(now, interval)
        await clock.sleep(due - now)
        if station.dm.get(ids.ALIGNED_INTERVAL) != interval or clock.now() < due:
            continue  # the interval changed (or the clock was set back) while sleeping
        for evse in station.evses:
            svs = sampled_values(evse.hal.meter, station.dm.get(ids.ALIGNED_MEASURANDS), "Sample.Clock")
            if not svs:
                continue
            mv = {"timestamp": station.iso_now(), "sampledValue": svs}
            if evse.tx:
                evse.event("Updated", "MeterValueClock", meter_values=[mv], droppable=True)
            elif station.accepted:
                await station.send("MeterValues", {"evseId": evse.id, "meterValue": [mv]})
