"""The run-time test PKI (``ocpp2lite.pki``; needs PyPI ``cryptography``)."""
from ocpp2lite.pki import der, make_ca, make_leaf, make_pki, pem, server_context  # noqa: F401
