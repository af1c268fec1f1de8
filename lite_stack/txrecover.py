"""E11/E12 after a power cut (a helper of the E Transactions block, ``blocks/transactions.py``): end
the transactions that were still open in flash. Runs once at start: ``Transactions.__init__``
imports this module, calls ``recover(block, Tx)`` and releases it (RAM: its functions are not
resident on the board).

Store records read: ``meter`` (list of Wh, one per EVSE, written before each Ended is queued) and
``tx<evse>`` (dict id, seq, token, group, wh[, ended]: ``Transactions.persist``).
"""
from lite_stack.meter import ENERGY
from lite_stack.txqueue import ENDED, NAME


def restore_register(e, wh):
    """A meter whose import register lives in RAM (S0, simulator) restarts at 0 after a
    reboot: set it back to the last persisted value, so energy never runs backwards (J:
    Energy.Active.Import.Register is a register, not an interval)."""
    m = e.hal.meter
    if isinstance(wh, int) and hasattr(m, "set_energy_wh") and m.energy_wh() < wh:
        m.set_energy_wh(wh)


def newest(q, tx_id):
    """The newest entry ``[counter, tx_id, type_code, seqNo]`` of transaction ``tx_id`` in the
    TxQueue ``q`` (its summaries in RAM), or None."""
    r = None
    for k in q._keys:
        if k[1] == tx_id:
            r = k
    return r


def register_in(msg):
    """The highest Energy.Active.Import.Register value (int Wh) in a TransactionEvent payload,
    or None."""
    best = None
    if not isinstance(msg, dict):
        return None
    for mv in msg.get("meterValue") or ():
        for sv in mv.get("sampledValue") or ():
            v = sv.get("value")
            if sv.get("measurand", ENERGY) == ENERGY and isinstance(v, int) \
                    and (best is None or v > best):
                best = v
    return best


def recover(b, Tx):
    """E11/E12 (Part 2, E11.FR.01) for the Transactions block ``b`` (``Tx``: its transaction
    class): first restore the meter
    registers persisted at the last transaction end (``meter`` record), then end each
    transaction open in flash (``tx<evse>``) and remove its record."""
    ctx = b.ctx
    regs = ctx.store.load("meter") or []
    done = []
    for e in ctx.evses:
        if e.id - 1 < len(regs):
            restore_register(e, regs[e.id - 1])
        saved = ctx.store.load("tx%d" % e.id)
        if saved:
            try:
                _recover_one(b, Tx, e, saved)
            except Exception as ex:
                ctx.log("recover EVSE %d failed: %s" % (e.id, ex))
            done.append("tx%d" % e.id)
    if done:
        b.save_registers()  # before the transactions go: a cut in between keeps both
        for name in done:
            ctx.store.remove(name)


def _recover_one(b, Tx, e, saved):
    # End a transaction still open in flash with stoppedReason PowerLoss (ImmediateReset when a
    # Reset was under way), its seqNo continuing after the last queued message — unless its
    # Ended is already queued or its Started never was (then the CSMS is owed nothing).
    ctx = b.ctx
    q = ctx.queue
    restore_register(e, saved.get("wh"))
    last = newest(q, saved["id"])
    seq = saved["seq"]
    if last is not None:
        # the newest queued event may be newer than the persisted state (a cut between
        # queuing it and persisting the transaction): its register reading is the floor
        restore_register(e, register_in(q.store.load(NAME % last[0])))
        if last[2] == ENDED:
            return
        if last[3] + 1 > seq:
            seq = last[3] + 1
    if seq == 0:
        return
    tx = Tx(saved["id"], saved.get("token"), saved.get("group"), None, ctx.clock.ms(),
            b.ended_limit)
    tx.seq = seq
    if saved.get("ended"):
        tx.ended.load(saved["ended"])
    e.tx = tx
    reason = "ImmediateReset" if ctx.boot_reason in ("RemoteReset", "ScheduledReset") \
        else "PowerLoss"
    b.event(e, "Ended", "AbnormalCondition", stopped_reason=reason,
            meter_values=b.ended_values(e), charging_state="Idle")
    e.tx = None
