"""M Certificate management, an on-demand block (loaded when its request arrives, released after
the answer, see ``lite_stack.blocks``): InstallCertificate (M05), GetInstalledCertificateIds
(M03), DeleteCertificate (M04) over ``ctx.certs`` (``lite_stack.core.certstore.CertStore``:
persisted, bounded by SecurityCtrlr.CertificateEntries' maxLimit).

- InstallCertificate CSMSRootCertificate / ManufacturerRootCertificate (PEM): Accepted;
  Rejected for malformed PEM/DER, a certificate that is not a CA, expired or not yet valid
  (M05.FR.07, TC_M_07) and for V2GRootCertificate / MORootCertificate (no ISO 15118 here);
  Failed when the slots are full (nothing of the PEM is stored then). An unknown
  certificateType or a certificate above 5500 characters is a CALLERROR FormationViolation from
  the schema check before this block runs.
- GetInstalledCertificateIds: SHA256 hash data of every installed certificate of the asked
  types (all without a filter, M03.FR.01); NotFound when none (M03.FR.02, TC_M_19).
- DeleteCertificate: Accepted (M04.FR.01), NotFound (M04.FR.04, TC_M_22), Failed for the last
  CSMSRootCertificate while the profile in use is security profile 2 (it would cut the
  station off its CSMS).
Each change sets SecurityCtrlr.CertificateEntries and records ReconfigurationOfSecurityParameters.
"""
from device_model import ids

RELEASE = ("lite_stack.core.x509", "lite_stack.core.certstore")   # go with the block (ctx.certs)


def _changed(ctx, certs, what):
    try:
        ctx.dm.set(ids.CERTIFICATE_ENTRIES, certs.count())
    except (ValueError, OSError):
        pass
    ctx.emit("security", None, ("ReconfigurationOfSecurityParameters", what))


def handle(ctx, action, p, done):
    try:
        return _answer(ctx, action, p)
    finally:
        done()   # after the work: the modules it imported (RELEASE) go with the block


def _answer(ctx, action, p):
    certs = ctx.certs
    if action == "InstallCertificate":
        try:
            st = certs.install(p["certificateType"], p["certificate"], ctx.clock.now())
        except OSError:
            st = "Failed"   # the store could not write: nothing persisted
        if st == "Accepted":
            _changed(ctx, certs, "installed " + p["certificateType"])
        return {"status": st}
    if action == "GetInstalledCertificateIds":
        chain = certs.ids(p.get("certificateType"))
        if not chain:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": chain}
    try:
        st = certs.delete(p["certificateHashData"])
    except OSError:
        st = "Failed"
    if st == "Accepted":
        _changed(ctx, certs, "deleted certificate " + p["certificateHashData"]["serialNumber"])
    return {"status": st}
