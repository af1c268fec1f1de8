"""Test PKI made at run time with PyPI ``cryptography`` (desktop only: tests and ``ocpp2lite demo
--tls``; never imported by the station): a CSMS root CA,
a server certificate it signs for 127.0.0.1/localhost, a second unrelated root, a server
certificate for another host name, and expired / not-yet-valid roots (M03, TC_M_07).

``make_pki(dirpath)`` writes PEM/DER files and returns a dict of paths and DER bytes."""
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_NOW = datetime.datetime.now(datetime.timezone.utc)
_H = datetime.timedelta(hours=1)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OCPP2Lite test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn, nb=None, na=None, serial=None):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
            .not_valid_before(nb or _NOW - _H).not_valid_after(na or _NOW + 3650 * 24 * _H)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_leaf(ca, ca_key, hosts=("127.0.0.1", "localhost"), cn="csms"):
    key = ec.generate_private_key(ec.SECP256R1())
    san = []
    for h in hosts:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            san.append(x509.DNSName(h))
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_NOW - _H).not_valid_after(_NOW + 24 * _H)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def _write(d, name, data):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def make_pki(d, tag=""):
    """``tag``: appended to the root's name, so two PKIs have distinct issuer names (OpenSSL
    picks a trust anchor by subject name)."""
    root, root_key = make_ca("CSMS root" + tag)
    other, other_key = make_ca("Other root")
    srv, srv_key = make_leaf(root, root_key)
    wrong, wrong_key = make_leaf(root, root_key, hosts=("csms.example.org",))
    expired, _ = make_ca("Expired root", _NOW - 48 * _H, _NOW - 24 * _H)
    future, _ = make_ca("Future root", _NOW + 24 * _H, _NOW + 48 * _H)
    out = {"root": root, "root_key": root_key, "other": other, "srv": srv}
    kp = serialization.PrivateFormat.PKCS8
    for n, c, k in (("srv", srv, srv_key), ("wrong", wrong, wrong_key)):
        out[n + "_pem"] = _write(d, n + ".pem", pem(c) + pem(root))
        out[n + "_key"] = _write(d, n + ".key", k.private_bytes(serialization.Encoding.PEM, kp,
                                                               serialization.NoEncryption()))
    for n, c in (("root", root), ("other", other), ("expired", expired), ("future", future)):
        out[n + "_cert_pem"] = _write(d, n + "_ca.pem", pem(c))
        out[n + "_der"] = _write(d, n + "_ca.der", der(c))
    return out


def server_context(certfile, keyfile, max_version=None, min_version=None):
    """CPython TLS server context; ``max_version`` e.g. ``ssl.TLSVersion.TLSv1_1`` for the
    InvalidTLSVersion refusal (OpenSSL's security level lowered so it will offer TLS 1.1)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    if max_version is not None:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = min_version or ssl.TLSVersion.TLSv1
        ctx.maximum_version = max_version
    return ctx
