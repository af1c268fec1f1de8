"""The DER reader (lite_stack.core.x509) against PyPI ``cryptography`` on certificates made at run
time: serial, validity, CA flag and the M03 hash data (issuerNameHash / issuerKeyHash as an OCSP
CertID computes them, RFC 6960) agree. CPython only (``cryptography`` is a test dependency)."""
import datetime

import pytest

pytest.importorskip("cryptography")
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

from lite_stack.core import x509  # noqa: E402
from tests.pki import der, make_ca, make_leaf, pem  # noqa: E402


@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xFF00, 2 ** 150 + 5])
def test_der_reader_matches_cryptography(serial):
    tz = datetime.timezone.utc
    root, key = make_ca("Root %d" % serial, datetime.datetime(1999, 5, 6, 7, 8, 9, tzinfo=tz),
                        datetime.datetime(2061, 1, 2, 3, 4, 5, tzinfo=tz), serial=serial)
    leaf, _ = make_leaf(root, key)
    for cert, issuer in ((root, root), (leaf, root)):
        c = x509.parse(x509.pem_ders(pem(cert))[0])
        assert x509.parse(der(cert)).serial == c.serial
        assert int(x509.serial_hex(c.serial), 16) == cert.serial_number
        assert c.not_before == int(cert.not_valid_before_utc.timestamp())
        assert c.not_after == int(cert.not_valid_after_utc.timestamp())   # UTCTime and GeneralizedTime
        assert c.ca == (cert is root)
        req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
        h = x509.hash_data(c, None if cert is root else x509.parse(der(root)).key)
        assert h["issuerNameHash"] == req.issuer_name_hash.hex()
        assert h["issuerKeyHash"] == req.issuer_key_hash.hex()
        assert h["serialNumber"] == "%x" % cert.serial_number
