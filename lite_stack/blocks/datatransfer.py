"""P DataTransfer (Part 2 P01), an on-demand block: this stack has no vendor extensions, so every
DataTransferRequest is answered UnknownVendorId (Part 6 TC_P_01: P01.FR.05, P01.FR.06). Its ``customData`` is accepted and ignored like that of every request."""


def handle(ctx, action, p, done):
    done()
    return {"status": "UnknownVendorId"}
