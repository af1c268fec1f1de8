"""Signature verification for L01 secure firmware update (Part 2 L01.FR.02-FR.04, Part 2
FirmwareType.signature / signingCertificate), pure Python on both interpreters.

- ``rsa_verify(n, e, digest, sig)``: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2): one
  modular ``pow``; the whole encoded message ``00 01 FF..FF 00 DigestInfo(SHA-256) digest`` is
  rebuilt and compared (no parsing of the decrypted block, so no Bleichenbacher-style leniency).
  ``sig`` must be exactly ``len(n)`` bytes (RSA 2048/3072/4096 accepted).
- ``ecdsa_verify(point, digest, sig)``: ECDSA P-256 with SHA-256 (SEC 1 §4.1.4, FIPS 186-4);
  ``point`` is the 65-byte uncompressed public point, ``sig`` the DER ``SEQUENCE {r, s}``.
  Jacobian coordinates and Shamir's trick: a constant number of big integers alive (about 10),
  whatever the input. MicroPython's ``pow(x, -1, n)`` returns 0: inverses are ``pow(x, p-2, p)``
  (p and n are prime).
- ``verify(cert, digest, sig)``: the signature ``sig`` (bytes) of SHA-256 ``digest`` by the key of
  the parsed certificate ``cert`` (``lite_stack.core.x509.Cert``; RSA or P-256 key) -> bool.
- ``check_chain(der, roots, now)``: the signing certificate ``der`` must be issued (issuer Name ==
  root subject and signature by the root's key: sha256WithRSAEncryption or ecdsa-with-SHA256) by
  one of the DER ``roots`` (ManufacturerRootCertificate), and both must be valid at ``now``
  (epoch s; None skips the period check). Returns the parsed ``Cert`` or raises ``ValueError``.

Every malformed input raises ``ValueError`` (or returns False for a signature that does not
verify); nothing reads past its buffer (``x509._tlv`` checks every length).
"""
from lite_stack.core import x509

_DIGEST_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"
OID_RSA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"          # rsaEncryption
OID_RSA_SHA256 = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"   # sha256WithRSAEncryption
OID_EC = b"\x2a\x86\x48\xce\x3d\x02\x01"                    # id-ecPublicKey
OID_ECDSA_SHA256 = b"\x2a\x86\x48\xce\x3d\x04\x03\x02"     # ecdsa-with-SHA256
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"             # prime256v1

# P-256 domain parameters (FIPS 186-4 D.1.2.3); a = -3
_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff
_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
_GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296
_GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5


def _int(b):
    return int.from_bytes(bytes(b), "big")


def rsa_verify(n, e, digest, sig):
    """RSASSA-PKCS1-v1_5 / SHA-256. ``n``, ``e`` ints; ``digest`` 32 bytes; ``sig`` bytes of the
    modulus length. -> bool (False also for a signature of the wrong length)."""
    k = (len(hex(n)) - 1) // 2      # bytes of the modulus (no int.bit_length on MicroPython)
    if k < 256 or len(sig) != k or len(digest) != 32 or e < 3:
        return False
    s = _int(sig)
    if s >= n:
        return False
    m = pow(s, e, n).to_bytes(k, "big")
    t = _DIGEST_INFO + bytes(digest)
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return m == em


def _on_curve(x, y):
    return 0 <= x < _P and 0 <= y < _P and (y * y - (x * x * x - 3 * x + _B)) % _P == 0


def _dbl(X, Y, Z):
    # Jacobian doubling, a = -3 (dbl-2001-b)
    if Y == 0 or Z == 0:
        return 0, 1, 0
    p = _P
    d = Z * Z % p
    g = Y * Y % p
    b = X * g % p
    a = 3 * (X - d) * (X + d) % p
    X3 = (a * a - 8 * b) % p
    Z3 = ((Y + Z) * (Y + Z) - g - d) % p
    Y3 = (a * (4 * b - X3) - 8 * g * g) % p
    return X3, Y3, Z3


def _add(X1, Y1, Z1, X2, Y2, Z2):
    # Jacobian addition (add-2007-bl); handles the point at infinity (Z = 0) and P == Q
    if Z1 == 0:
        return X2, Y2, Z2
    if Z2 == 0:
        return X1, Y1, Z1
    p = _P
    z1z1 = Z1 * Z1 % p
    z2z2 = Z2 * Z2 % p
    u1 = X1 * z2z2 % p
    u2 = X2 * z1z1 % p
    s1 = Y1 * Z2 * z2z2 % p
    s2 = Y2 * Z1 * z1z1 % p
    if u1 == u2:
        if s1 != s2:
            return 0, 1, 0
        return _dbl(X1, Y1, Z1)
    h = (u2 - u1) % p
    i = 4 * h * h % p
    j = h * i % p
    r = 2 * (s2 - s1) % p
    v = u1 * i % p
    X3 = (r * r - j - 2 * v) % p
    Y3 = (r * (v - X3) - 2 * s1 * j) % p
    Z3 = ((Z1 + Z2) * (Z1 + Z2) - z1z1 - z2z2) * h % p
    return X3, Y3, Z3


def _der_rs(sig):
    # DER SEQUENCE { INTEGER r, INTEGER s } -> (r, s); strict lengths, no trailing bytes
    n = len(sig)
    tag, s, e = x509._tlv(sig, 0, n)
    if tag != 0x30 or e != n:
        raise ValueError("ecdsa der")
    out = []
    for _ in range(2):
        tag, vs, ve = x509._tlv(sig, s, e)
        if tag != 0x02 or ve == vs or sig[vs] & 0x80:
            raise ValueError("ecdsa der int")
        out.append(_int(sig[vs:ve]))
        s = ve
    if s != e:
        raise ValueError("ecdsa der trailing")
    return out[0], out[1]


def ecdsa_verify(point, digest, sig):
    """ECDSA P-256 / SHA-256. ``point`` 65 bytes ``04 || X || Y``; ``digest`` 32 bytes; ``sig``
    DER. -> bool (False for a malformed signature or key)."""
    if len(point) != 65 or point[0] != 4 or len(digest) != 32:
        return False
    qx = _int(point[1:33])
    qy = _int(point[33:65])
    if not _on_curve(qx, qy):
        return False
    try:
        r, s = _der_rs(bytes(sig))
    except (ValueError, IndexError):
        return False
    n = _N
    if not (0 < r < n and 0 < s < n):
        return False
    w = pow(s, n - 2, n)      # never pow(s, -1, n): 0 on MicroPython
    e = _int(digest)           # 256-bit digest, 256-bit order: no truncation
    u1 = e * w % n
    u2 = r * w % n
    gq = _add(_GX, _GY, 1, qx, qy, 1)
    X, Y, Z = 0, 1, 0
    for i in range(255, -1, -1):    # u1, u2 < n < 2**256 (leading zero bits only double O)
        X, Y, Z = _dbl(X, Y, Z)
        b1 = (u1 >> i) & 1
        b2 = (u2 >> i) & 1
        if b1 and b2:
            X, Y, Z = _add(X, Y, Z, gq[0], gq[1], gq[2])
        elif b1:
            X, Y, Z = _add(X, Y, Z, _GX, _GY, 1)
        elif b2:
            X, Y, Z = _add(X, Y, Z, qx, qy, 1)
    if Z == 0:
        return False
    zi = pow(Z, _P - 2, _P)
    x = X * zi * zi % _P
    return x % n == r


def _rsa_key(key):
    # RSAPublicKey DER (the SPKI BIT STRING value) -> (n, e)
    n = len(key)
    tag, s, e = x509._tlv(key, 0, n)
    if tag != 0x30:
        raise ValueError("rsa key")
    tag, ms, me = x509._tlv(key, s, e)
    tag2, es, ee = x509._tlv(key, me, e)
    if tag != 0x02 or tag2 != 0x02:
        raise ValueError("rsa key int")
    return _int(key[ms:me]), _int(key[es:ee])


def verify(cert, digest, sig):
    """Is ``sig`` a signature of SHA-256 ``digest`` by ``cert``'s public key (RSA PKCS#1 v1.5 or
    ECDSA P-256)? -> bool; ``ValueError`` for a key type or curve we do not support."""
    if cert.key_alg == OID_RSA:
        n, e = _rsa_key(cert.key)
        return rsa_verify(n, e, digest, sig)
    if cert.key_alg == OID_EC:
        if cert.key_param != OID_P256:
            raise ValueError("curve")
        return ecdsa_verify(cert.key, digest, sig)
    raise ValueError("key type")


def check_chain(der, roots, now=None):
    """See the module docstring. -> ``Cert`` of ``der``; ``ValueError`` naming the failure."""
    from hashlib import sha256
    c = x509.parse(der)
    if now is not None and not c.not_before <= now <= c.not_after:
        raise ValueError("signing certificate expired or not yet valid")
    if c.sig_alg not in (OID_RSA_SHA256, OID_ECDSA_SHA256):
        raise ValueError("certificate signature algorithm")
    digest = sha256(c.tbs).digest()
    for rd in roots:
        try:
            r = x509.parse(rd)
        except ValueError:
            continue
        if r.subject != c.issuer:
            continue
        if now is not None and not r.not_before <= now <= r.not_after:
            continue
        try:
            if verify(r, digest, c.sig):
                return c
        except ValueError:
            continue
    raise ValueError("not issued by an installed ManufacturerRootCertificate")
