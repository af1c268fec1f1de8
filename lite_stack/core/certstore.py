"""Installed CA certificates (Part 2 M03-M05) and the TLS client context built from them (A00,
Part 4 §5: security profile 2 authenticates the CSMS).

Persistence: one ``device_model.store`` record ``certs`` = list of ``[certificateType, DER
bytes]``, rewritten whole on each change (power-cut safe: wholly the old or the new list; an
install either persists every certificate of its PEM or none). Bound: at most ``slots`` entries
(SecurityCtrlr.CertificateEntries maxLimit, board ``CERT_SLOTS``, default 4); when full,
``install`` answers Failed and stores nothing (M05).

``CertStore(store, slots)``:
- ``install(type, pem, now)`` -> "Accepted" / "Rejected" (malformed PEM/DER, not a CA, expired or
  not yet valid at ``now`` epoch s, M05.FR.07; ``now`` None skips the validity check) / "Failed" (full).
- ``ids(types)`` -> list of CertificateHashDataChainType (M03; empty list = NotFound).
- ``delete(hash)`` -> "Accepted" / "NotFound" / "Failed" (the last CSMSRootCertificate while
  the profile in use, ``keep_csms_root``, needs one: M04; TC_M_12 deletes a root it can spare).
- ``roots(type)`` -> list of DER bytes; ``count()``.

RAM: the DER reader ``core.x509`` is imported only by ``install`` / ``ids`` / ``delete`` (the
certificates block releases it after its request); the TLS path needs only the stored DER bytes.

``tls_context(ders)``: TLS 1.2+ client context, server certificate required, chained to one of
``ders`` and matching the host name (mbedTLS 3.6 on MicroPython checks the DNS / IP SAN;
CPython ``check_hostname``). MicroPython's default client context verifies nothing.
"""
STORE = "certs"
TYPES = ("CSMSRootCertificate", "ManufacturerRootCertificate")  # InstallCertificateUseEnumType we store


def tls_context(ders):
    """An ``ssl.SSLContext`` for a wss:// connection trusting exactly the DER roots ``ders``."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if hasattr(ctx, "minimum_version"):   # CPython; mbedTLS 3.6 on MicroPython has no TLS < 1.2
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = True
    for d in ders:
        ctx.load_verify_locations(cadata=d)
    return ctx


def tls_failure(text):
    """The SecurityEventEnumType of a failed handshake's error text, or None (not a TLS trust
    problem): InvalidCsmsCertificate (chain, host name, validity) or InvalidTLSVersion."""
    t = text.upper()
    if "PROTOCOL_VERSION" in t or "UNSUPPORTED_PROTOCOL" in t or "WRONG_VERSION" in t:
        return "InvalidTLSVersion"
    if "CERTIFICATE" in t or "CERT_VERIFY" in t or "CN)" in t or "-9984" in t:
        return "InvalidCsmsCertificate"
    return None


class CertStore:
    keep_csms_root = False   # set by the link while the profile in use is security profile >= 2

    def __init__(self, store, slots=4):
        self.store = store
        self.slots = slots
        v = store.load(STORE)
        self.items = v if isinstance(v, list) else []

    def count(self):
        return len(self.items)

    def roots(self, typ="CSMSRootCertificate"):
        return [it[1] for it in self.items if it[0] == typ]

    def install(self, typ, pem, now=None):
        if typ not in TYPES:
            return "Rejected"
        from lite_stack.core import x509
        try:
            ders = x509.pem_ders(pem)
            certs = [x509.parse(d) for d in ders]
        except (ValueError, IndexError, TypeError):
            return "Rejected"
        new = []
        for i in range(len(ders)):
            c = certs[i]
            if not c.ca:
                return "Rejected"
            if now is not None and not c.not_before <= now <= c.not_after:
                return "Rejected"   # M05.FR.07: expired / not yet valid (TC_M_07)
            if [typ, ders[i]] not in self.items and [typ, ders[i]] not in new:
                new.append([typ, ders[i]])
        if len(self.items) + len(new) > self.slots:
            return "Failed"
        if new:
            items = self.items + new
            self.store.save(STORE, items)
            self.items = items
        return "Accepted"

    def _entries(self):
        # -> list of (type, Cert, hash data); the issuer key is taken from an installed
        # certificate whose subject is this one's issuer, else the certificate's own key
        from lite_stack.core import x509
        cs = []
        for typ, d in self.items:
            try:
                cs.append((typ, x509.parse(d)))
            except ValueError:
                continue
        out = []
        for typ, c in cs:
            ik = None
            if not c.self_signed():
                for _, o in cs:
                    if o.subject == c.issuer:
                        ik = o.key
                        break
            out.append((typ, c, x509.hash_data(c, ik)))
        return out

    def ids(self, types=None):
        out = []
        for typ, _, h in self._entries():
            if not types or typ in types:
                out.append({"certificateType": typ, "certificateHashData": h})
        return out

    def delete(self, want):
        if want.get("hashAlgorithm") != "SHA256":
            return "NotFound"
        entries = self._entries()
        for i in range(len(entries)):
            typ, _, h = entries[i]
            if h["issuerNameHash"] == str(want.get("issuerNameHash", "")).lower() \
                    and h["issuerKeyHash"] == str(want.get("issuerKeyHash", "")).lower() \
                    and h["serialNumber"] == (str(want.get("serialNumber", "")).lower().lstrip("0")
                                              or "0"):
                if typ == "CSMSRootCertificate" and self.keep_csms_root \
                        and len(self.roots()) == 1:
                    return "Failed"
                items = self.items[:i] + self.items[i + 1:]
                self.store.save(STORE, items)
                self.items = items
                return "Accepted"
        return "NotFound"
