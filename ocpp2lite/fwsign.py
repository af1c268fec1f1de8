"""Firmware signing for labs and tests (desktop only, PyPI ``cryptography``; never imported by
the station): ``ocpp2lite sign-firmware`` and the ``demo --firmware`` PKI.

- ``sign_file(key_pem, path)`` -> base64 text of the signature over the whole file (Part 2
  FirmwareType.signature): RSASSA-PKCS1-v1_5 / SHA-256 for an RSA key, DER ECDSA / SHA-256 for a
  P-256 key; the file is hashed in 4 kB chunks.
- ``make_signer(kind="ec", root=None, cn=...)`` -> (root cert, root key, signing cert, signing
  key): a ManufacturerRootCertificate (CA) and a firmware signing certificate (not a CA) it
  issues; ``kind`` "ec" (P-256), "rsa" (2048) or "rsa3072"; ``root`` = (cert, key) to reuse one.
- ``matches(cert_pem, key_pem)`` -> bool: the certificate holds the key's public key.
- ``pem(obj)``: PEM bytes of a certificate or (unencrypted PKCS#8) private key.
"""
import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

_H = datetime.timedelta(hours=1)


def _key(kind):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(65537, 3072 if kind == "rsa3072" else 2048)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OCPP2Lite test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(cn, key, issuer, issuer_key, ca, nb, na):
    return (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(nb).not_valid_after(na)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def make_signer(kind="ec", root=None, cn="Firmware signing", nb=None, na=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    nb = nb or now - 24 * _H
    na = na or now + 3650 * 24 * _H
    if root is None:
        rk = _key(kind)
        rc = _cert("Manufacturer root " + kind, rk, _name("Manufacturer root " + kind), rk, True, nb, na)
    else:
        rc, rk = root
    k = _key(kind)
    return rc, rk, _cert(cn, k, rc.subject, rk, False, nb, na), k


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def sign_digest(key, digest):
    pre = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, padding.PKCS1v15(), pre)
    return key.sign(digest, ec.ECDSA(pre))


def matches(cert_pem, key_pem):
    """Does the certificate ``cert_pem`` hold the public key of the private key ``key_pem``?"""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, None)
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def sign_file(key_pem, path):
    key = serialization.load_pem_private_key(key_pem, None)
    h = hashes.Hash(hashes.SHA256())
    with open(path, "rb") as f:
        while True:
            b = f.read(4096)
            if not b:
                break
            h.update(b)
    return base64.b64encode(sign_digest(key, h.finalize())).decode()
