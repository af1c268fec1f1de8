"""B09 SetNetworkProfile (Part 2 B09, A05), an on-demand block over ``ctx.net``
(``lite_stack.core.netconf.NetConf``, read for the request and released with the block).

Accepted and persisted into ``configurationSlot`` (B09.FR.01) unless Rejected: a slot outside
the valuesList of OCPPCommCtrlr.NetworkConfigurationPriority (B09.FR.02), a securityProfile
below the one in use (SecurityCtrlr.SecurityProfile, A05.FR.07, TC_A_22) or above what the
station supports (SecurityProfile maxLimit: no client certificates, so no profile 3), a
profile that cannot work (OCPP version other than OCPP20, SOAP, profile 2 without wss://, or
profile 0/1 with wss://). Failed when the store cannot write. The profile is used after
NetworkConfigurationPriority names it and the station restarted (B10), see ``core.link``.
"""
from device_model import ids

RELEASE = ("lite_stack.core.netconf",)


def handle(ctx, action, p, done):
    try:
        return _answer(ctx, p)
    finally:
        done()   # after the work: core.netconf (RELEASE) goes with the block


def _answer(ctx, p):
    net = ctx.net
    d = p["connectionData"]
    slot = p["configurationSlot"]
    sp = d["securityProfile"]
    url = d["ocppCsmsUrl"]
    top = getattr(ctx.board, "MAX_SECURITY_PROFILE", 2)
    why = net.check_put(slot, d, ctx.dm.get(ids.SECURITY_PROFILE))
    if why is None and (sp > top or d["ocppVersion"] != "OCPP20" or d["ocppTransport"] != "JSON"
                        or (sp >= 2) != url.startswith("wss://")
                        or not (url.startswith("ws://") or url.startswith("wss://"))):
        why = "InvalidValue"
    if why:
        return {"status": "Rejected", "statusInfo": {"reasonCode": why}}
    try:
        net.put(slot, d)
    except OSError:
        return {"status": "Failed"}
    ctx.emit("security", None, ("ReconfigurationOfSecurityParameters",
                                "network profile slot %d" % slot))
    return {"status": "Accepted"}

