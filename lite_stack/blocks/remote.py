"""F Remote control (Part 2 F01-F06), an on-demand block: loaded when one of its requests
arrives and released right after its response (it holds no state).

- F01/F02 RequestStartTransaction: Rejected before registration, for an unknown EVSE, one with a
  transaction, or one that may not start (Inoperative, faulted, Reset
  pending); else Accepted and the IdToken goes to the authorization block (event
  ``remote_start``). Without ``evseId`` the first free EVSE is chosen. ``chargingProfile`` is
  ignored: no Smart Charging (TC_K_38 n/a).
- F03 RequestStopTransaction: Accepted for a running transaction (event ``stop``: RemoteStop /
  Remote), else Rejected (F03.FR.08, TC_F_09).
- F05 UnlockConnector: UnknownConnector, OngoingAuthorizedTransaction (F05.FR.02), Unlocked, or
  UnlockFailed when the board has no lock or its driver reports a failure.
- F06 TriggerMessage: routed to the block that owns the requested message (``ctx.triggers``);
  NotImplemented for a message no block offers; Rejected for an unknown EVSE/connector.
"""
from lite_stack.context import status


def handle(ctx, action, p, done):
    """The on-demand entry (``lite_stack.blocks.Router``): every job this block queues runs after
    the response and belongs to another block, so its work ends here."""
    done()
    if action == "RequestStartTransaction":
        return request_start(ctx, p)
    if action == "RequestStopTransaction":
        return request_stop(ctx, p)
    if action == "UnlockConnector":
        return unlock_connector(ctx, p)
    return trigger_message(ctx, p)


def request_start(ctx, p):
    eid = p.get("evseId")
    e = None
    if eid is not None:
        e = ctx.evse(eid)
    else:
        for x in ctx.evses:
            if not x.tx and not x.auth and ctx.may_start(x):
                e = x
                break
    if e is None or e.tx or not ctx.may_start(e) or not ctx.accepted:
        return status("Rejected")
    ctx.emit("remote_start", e, (p["idToken"], p.get("groupIdToken"), p["remoteStartId"]))
    return status("Accepted")


def request_stop(ctx, p):
    for e in ctx.evses:
        if e.tx and e.tx.id == p["transactionId"]:
            ctx.emit("stop", e, ("RemoteStop", "Remote", None))
            ctx.wake()
            return status("Accepted")
    return status("Rejected")


def unlock_connector(ctx, p):
    e = ctx.evse(p["evseId"])
    if e is None or p["connectorId"] != 1:
        return status("UnknownConnector")
    if e.tx:
        return status("OngoingAuthorizedTransaction")
    lock = e.hal.lock
    if lock is None or not lock.unlock():
        return status("UnlockFailed")
    return status("Unlocked")


def trigger_message(ctx, p):
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
