"""Writes tests/unit/fwcerts.py: the static firmware-signing PKI and signatures the L01 unit tests
read on both interpreters (MicroPython cannot make them). CPython + ``cryptography``:
``python -m tests.fwpki``. Validity 2025-01-01..2045-01-01 (VirtualClock starts 2026-01-01)."""
import base64
import datetime
import hashlib

from ocpp2lite import fwsign

NB = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
NA = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)


def image(n=20000):
    """The test image: ``n`` deterministic bytes (same function in fwcerts.py)."""
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))


def main():
    img = image()
    d = hashlib.sha256(img).digest()
    out = ['"""Static firmware-signing PKI for the L01 tests, made by tests/fwpki.py (do not edit).',
           'Roots are ManufacturerRootCertificates; SIGN_* are signing certificates they issue;',
           'SIG_* are base64 signatures over ``image()``; OTHER_SIGN is issued by a root never installed."""',
           "", "", "def image(n=20000):",
           "    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))", ""]
    for kind, tag in (("ec", "EC"), ("rsa", "RSA"), ("rsa3072", "RSA3072")):
        rc, rk, sc, sk = fwsign.make_signer(kind, nb=NB, na=NA)
        out.append("ROOT_%s = %r" % (tag, fwsign.pem(rc).decode()))
        out.append("SIGN_%s = %r" % (tag, fwsign.pem(sc).decode()))
        out.append("KEY_%s = %r" % (tag, fwsign.pem(sk).decode()))
        out.append("SIG_%s = %r" % (tag, base64.b64encode(fwsign.sign_digest(sk, d)).decode()))
    rc, rk, sc, sk = fwsign.make_signer("ec", nb=NB, na=NA, cn="Other signing")
    out.append("OTHER_SIGN = %r" % fwsign.pem(sc).decode())
    out.append("OTHER_SIG = %r" % base64.b64encode(fwsign.sign_digest(sk, d)).decode())
    open("tests/unit/fwcerts.py", "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
