"""B07 GetBaseReport (Part 2 B07), an on-demand block: loaded when the request arrives, released
when its last NotifyReport has been sent (see ``lite_stack.blocks``).

ConfigurationInventory and FullInventory are Accepted and followed by NotifyReportRequests of at
most ItemsPerMessage[GetReport] items and BytesPerMessage[GetReport] bytes each (``tbc`` on all
but the last, ``seqNo`` from 0, one ``generatedAt`` for all; Part 6 TC_B_12/TC_B_13, B07.FR.03,
B07.FR.04); SummaryInventory (optional) is NotSupported (B07.FR.02, TC_B_15). Only the part being sent is in RAM: the parts are built
lazily by ``DeviceModel.report_parts`` (module ``device_model.report``, also released after).
A second GetBaseReport while one is still being sent is Rejected (an unsupported reportBase is
NotSupported even then, so the answer does not depend on timing), so two reports never hold RAM
at once (the CSMS may ask again once the first has ended).
"""

RELEASE = ("device_model.report",)
_running = [False]


def handle(ctx, action, p, done):
    parts = ctx.dm.report_parts(p["reportBase"])   # lazy: nothing built yet
    if parts is None:   # checked first: NotSupported whether or not a report is being sent
        done()
        return {"status": "NotSupported"}
    if _running[0]:
        done()
        return {"status": "Rejected"}
    rid = p["requestId"]
    _running[0] = True

    async def send_parts():
        try:
            generated = ctx.iso_now()
            seq = 0
            for part, tbc in parts:
                msg = {"requestId": rid, "generatedAt": generated, "seqNo": seq}
                if part:
                    msg["reportData"] = part
                if tbc:
                    msg["tbc"] = True
                await ctx.send("NotifyReport", msg)
                seq += 1
        finally:
            _running[0] = False
            done()

    def dropped():   # the job never started (task set full): not "running" for ever
        _running[0] = False
        done()
    ctx.after(send_parts, dropped)
    return {"status": "Accepted"}
