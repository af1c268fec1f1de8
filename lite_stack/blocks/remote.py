"""F Remote control (Part 2 F01-F06), an on-demand block: loaded when one of its requests arrives
and released right after the response (see ``lite_stack.blocks``); it keeps no state of its own.

- F01/F02 RequestStartTransaction: Rejected before registration, for an unknown EVSE, one with a
  transaction, one that holds an authorization (a card presented there and not yet used: the
  remote start never overwrites it; TC_F_01..F_04 start from an idle EVSE), or one that may not
  start (Inoperative, faulted, Reset pending); else Accepted and the IdToken goes to the authorization block (event
  ``remote_start``). Without ``evseId`` the first free EVSE is chosen. ``chargingProfile`` is
  ignored: no Smart Charging (TC_K_38 n/a).
- F03 RequestStopTransaction: Accepted for a running transaction (event ``stop``: RemoteStop /
  Remote), else Rejected (F03.FR.08, TC_F_09).
- F05 UnlockConnector: UnknownConnector, OngoingAuthorizedTransaction (F05.FR.02), Unlocked, or
  UnlockFailed when the board has no lock or its driver reports a failure.
- F06 TriggerMessage: routed to the block that owns the requested message (``ctx.triggers``, filled
  by the resident blocks); NotImplemented for a message no block offers; Rejected for an unknown
  EVSE/connector.
"""
from lite_stack.context import status


def handle(ctx, action, p, done):
    """``action``: RequestStartTransaction / RequestStopTransaction / UnlockConnector /
    TriggerMessage, ``p`` its request payload -> the response payload ``{"status": ...}``
    (Part 2 F01-F06, see the module docstring). Nothing runs after the response from this module
    (a triggered message is the owning block's job), so ``done()`` is called before returning."""
    try:
        if action == "RequestStartTransaction":
            return _start(ctx, p)
        if action == "RequestStopTransaction":
            return _stop(ctx, p)
        if action == "UnlockConnector":
            return _unlock(ctx, p)
        return _trigger(ctx, p)
    finally:
        done()


def _start(ctx, p):   # F01/F02
    eid = p.get("evseId")
    e = None
    if eid is not None:
        e = ctx.evse(eid)
    else:
        for x in ctx.evses:
            if not x.tx and not x.auth and ctx.may_start(x):
                e = x
                break
    if e is None or e.tx or e.auth or not ctx.may_start(e) or not ctx.accepted:
        return status("Rejected")
    ctx.emit("remote_start", e, (p["idToken"], p.get("groupIdToken"), p["remoteStartId"]))
    return status("Accepted")


def _stop(ctx, p):   # F03
    for e in ctx.evses:
        if e.tx and e.tx.id == p["transactionId"]:
            ctx.emit("stop", e, ("RemoteStop", "Remote", None))
            ctx.wake()
            return status("Accepted")
    return status("Rejected")


def _unlock(ctx, p):   # F05
    e = ctx.evse(p["evseId"])
    if e is None or p["connectorId"] != 1:
        return status("UnknownConnector")
    if e.tx:
        return status("OngoingAuthorizedTransaction")
    lock = e.hal.lock
    if lock is None or not lock.unlock():
        return status("UnlockFailed")
    return status("Unlocked")


def _trigger(ctx, p):   # F06
    targets = ctx.evses
    ev = p.get("evse")
    if ev is not None:
        e = ctx.evse(ev.get("id"))
        if e is None or ev.get("connectorId", 1) != 1:
            return status("Rejected")
        targets = [e]
    fn = ctx.triggers.get(p["requestedMessage"])
    if fn is None:
        return status("NotImplemented")
    return status(fn(targets))
