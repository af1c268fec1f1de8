"""A minimal X.509 reader (RFC 5280) for exactly what OCPP 2.0.1 certificate management needs
(Part 2 M03-M05, A00 trust anchors): PEM -> DER, and from the DER of a certificate the serial
number, issuer and subject Names, subject public key (and its algorithm), validity,
basicConstraints cA, and the signed part with its signature (L01 firmware signing certificates).

MicroPython has no X.509 parser; this is the one pure-Python path on both interpreters. It does
not verify signatures itself (mbedTLS / OpenSSL do that during the TLS handshake; the firmware
signing chain is checked by ``lite_stack.core.sigverify``); it decodes definite-length DER only and checks every length against the bytes left, so
malformed input raises ``ValueError`` and never reads past its buffer.

- ``pem_ders(text)`` -> list of DER bytes, one per ``CERTIFICATE`` block, at most ``MAX_CHAIN``.
- ``parse(der)`` -> ``Cert``; ``hash_data(cert, issuer_key)`` -> CertificateHashDataType dict
  (SHA256: issuerNameHash = SHA-256 of the DER issuer Name, issuerKeyHash = SHA-256 of the
  issuer's subjectPublicKey BIT STRING value without its unused-bits octet, as an OCSP CertID,
  RFC 6960 §4.1.1; serialNumber = lower-case hex without leading zeros).
"""
from binascii import a2b_base64, hexlify
from hashlib import sha256

from device_model.rfc3339 import _days_from_civil

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

MAX_CHAIN = const(4)     # certificates read from one PEM text
MAX_DER = const(4096)    # bytes of one DER certificate (InstallCertificate: 5500 PEM characters)
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"
_BASIC_CONSTRAINTS = b"\x55\x1d\x13"   # OID 2.5.29.19


def pem_ders(text):
    """The DER bytes of each ``CERTIFICATE`` block of a PEM text (str or bytes). Raises
    ``ValueError`` for none, more than ``MAX_CHAIN``, bad base64 or a DER over ``MAX_DER``."""
    if isinstance(text, (bytes, bytearray)):
        text = str(text, "utf-8")
    out = []
    i = 0
    while True:
        b = text.find(_BEGIN, i)
        if b < 0:
            break
        e = text.find(_END, b)
        if e < 0 or len(out) >= MAX_CHAIN:
            raise ValueError("pem")
        body = "".join(text[b + len(_BEGIN):e].split())
        if len(body) > MAX_DER * 4 // 3 + 4:
            raise ValueError("pem size")
        try:
            der = a2b_base64(body)
        except Exception:
            raise ValueError("pem base64")
        if not der:
            raise ValueError("pem empty")
        out.append(bytes(der))
        i = e + len(_END)
    if not out:
        raise ValueError("no certificate")
    return out


def _tlv(b, i, end):
    # -> (tag, value start, value end) of the element at b[i]; checks it fits before `end`
    if i + 2 > end:
        raise ValueError("der")
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 3 or i + k > end:
            raise ValueError("der length")
        n = int.from_bytes(bytes(b[i:i + k]), "big")
        i += k
    if i + n > end:
        raise ValueError("der overrun")
    return tag, i, i + n


def _time(b, s, e, tag):
    # UTCTime (0x17, YYMMDDHHMMSSZ) or GeneralizedTime (0x18, YYYYMMDDHHMMSSZ) -> epoch s
    t = str(bytes(b[s:e]), "ascii")
    if tag == 0x17 and len(t) == 13:
        y = int(t[:2])
        y += 1900 if y >= 50 else 2000   # RFC 5280 §4.1.2.5.1
        t = t[2:]
    elif tag == 0x18 and len(t) == 15:
        y = int(t[:4])
        t = t[4:]
    else:
        raise ValueError("der time")
    if t[-1] != "Z":
        raise ValueError("der time zone")
    mo, d, h, mi, sec = int(t[0:2]), int(t[2:4]), int(t[4:6]), int(t[6:8]), int(t[8:10])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 61):
        raise ValueError("der time")
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec


class Cert:
    """Fields read from one certificate. ``serial`` (bytes, INTEGER content), ``issuer`` /
    ``subject`` (bytes, whole DER Name element), ``key`` (bytes, subjectPublicKey BIT STRING
    value without the unused-bits octet), ``key_alg`` / ``key_param`` (bytes, the SPKI algorithm
    OID content and its named-curve OID or None), ``tbs`` (bytes, whole DER tbsCertificate),
    ``sig_alg`` (bytes, signatureAlgorithm OID content), ``sig`` (bytes, signatureValue without
    the unused-bits octet; checked by ``lite_stack.core.sigverify``), ``not_before`` /
    ``not_after`` (int epoch s), ``ca`` (bool, basicConstraints cA)."""
    serial = issuer = subject = key = key_alg = key_param = tbs = sig_alg = sig = None
    not_before = not_after = 0
    ca = False

    def self_signed(self):
        return self.issuer == self.subject


def parse(der):
    """``Cert`` from the DER bytes of a certificate; ``ValueError`` if malformed."""
    b = memoryview(der)
    n = len(der)
    if n > MAX_DER:
        raise ValueError("der size")
    tag, s, e = _tlv(b, 0, n)
    if tag != 0x30 or e != n:
        raise ValueError("der certificate")
    ts = s
    tag, s, e = _tlv(b, s, e)            # tbsCertificate
    if tag != 0x30:
        raise ValueError("der tbs")
    c = Cert()
    c.tbs = bytes(b[ts:e])
    tag, vs, ve = _tlv(b, e, n)           # signatureAlgorithm
    if tag != 0x30:
        raise ValueError("der sigalg")
    tag, os_, oe = _tlv(b, vs, ve)
    c.sig_alg = bytes(b[os_:oe])
    tag, vs, ve = _tlv(b, ve, n)          # signatureValue BIT STRING
    if tag != 0x03 or ve - vs < 2 or ve != n:
        raise ValueError("der signature")
    c.sig = bytes(b[vs + 1:ve])
    tag, vs, i = _tlv(b, s, e)
    if tag == 0xA0:                       # [0] EXPLICIT version
        tag, vs, i = _tlv(b, i, e)
    if tag != 0x02:
        raise ValueError("der serial")
    c.serial = bytes(b[vs:i])
    tag, _, i = _tlv(b, i, e)             # signature AlgorithmIdentifier
    tag, _, j = _tlv(b, i, e)             # issuer Name
    if tag != 0x30:
        raise ValueError("der issuer")
    c.issuer = bytes(b[i:j])
    tag, vs, i = _tlv(b, j, e)            # validity
    if tag != 0x30:
        raise ValueError("der validity")
    t, ts, te = _tlv(b, vs, i)
    c.not_before = _time(b, ts, te, t)
    t, ts, te = _tlv(b, te, i)
    c.not_after = _time(b, ts, te, t)
    tag, _, j = _tlv(b, i, e)             # subject Name
    if tag != 0x30:
        raise ValueError("der subject")
    c.subject = bytes(b[i:j])
    tag, vs, i = _tlv(b, j, e)            # subjectPublicKeyInfo
    if tag != 0x30:
        raise ValueError("der spki")
    tag, as_, ks = _tlv(b, vs, i)         # algorithm
    if tag != 0x30:
        raise ValueError("der key algorithm")
    tag, os_, oe = _tlv(b, as_, ks)
    c.key_alg = bytes(b[os_:oe])
    if oe < ks:
        tag, os_, pe = _tlv(b, oe, ks)
        if tag == 0x06:
            c.key_param = bytes(b[os_:pe])
    tag, ks, ke = _tlv(b, ks, i)          # subjectPublicKey BIT STRING
    if tag != 0x03 or ke - ks < 2:
        raise ValueError("der key")
    c.key = bytes(b[ks + 1:ke])
    while i < e:                          # [1], [2] unique ids, [3] extensions
        tag, vs, j = _tlv(b, i, e)
        if tag == 0xA3:
            c.ca = _basic_ca(b, vs, j)
        i = j
    return c


def _basic_ca(b, s, e):
    tag, s, e = _tlv(b, s, e)             # Extensions SEQUENCE
    while s < e:
        _, xs, xe = _tlv(b, s, e)         # Extension
        s = xe
        tag, os_, oe = _tlv(b, xs, xe)    # extnID
        if tag != 0x06 or bytes(b[os_:oe]) != _BASIC_CONSTRAINTS:
            continue
        tag, vs, ve = _tlv(b, oe, xe)
        if tag == 0x01:                   # critical BOOLEAN
            tag, vs, ve = _tlv(b, ve, xe)
        if tag != 0x04:
            raise ValueError("der extension")
        tag, bs, be = _tlv(b, vs, ve)     # BasicConstraints SEQUENCE
        if bs < be:
            tag, cs, ce = _tlv(b, bs, be)
            return tag == 0x01 and ce > cs and b[cs] != 0
        return False
    return False


def _hex(data):
    return str(hexlify(data), "ascii")


def serial_hex(serial):
    """INTEGER content bytes -> lower-case hex without leading zeros ("0" for zero)."""
    return _hex(serial).lstrip("0") or "0"


def hash_data(c, issuer_key=None):
    """CertificateHashDataType (SHA256) of ``c``; ``issuer_key``: the issuer's ``Cert.key``
    (None: ``c`` is self-signed, its own key)."""
    return {"hashAlgorithm": "SHA256",
            "issuerNameHash": _hex(sha256(c.issuer).digest()),
            "issuerKeyHash": _hex(sha256(issuer_key or c.key).digest()),
            "serialNumber": serial_hex(c.serial)}
