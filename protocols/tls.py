"""The one TLS server context, used by STARTTLS and by implicit-TLS listeners.

``server_context`` is called once at start-up: it reads and checks the certificate chain and
key (or creates a self-signed pair on first start), builds a ``CertificateOptions`` and builds
an OpenSSL context from it right away, so that a bad file stops the server with a one-line
``TLSConfigError`` naming that file instead of failing at the first handshake. The disk work
here happens before the reactor serves anyone, so it is not pushed to the thread pool.

Defaults are Twisted's: TLS 1.2 as the minimum, no compression, Twisted's cipher list.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.interfaces import (
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    ISSLTransport,
)
from twisted.protocols.tls import TLSMemoryBIOFactory

__all__ = [
    "TLSConfigError",
    "ensure_self_signed",
    "is_secure",
    "server_context",
    "wrap_tls",
]

SELF_SIGNED_CERT = "selfsigned.crt"
SELF_SIGNED_KEY = "selfsigned.key"
_VALIDITY = datetime.timedelta(days=3650)
_MAX_PEM = 1024 * 1024

_ServerKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)
_SERVER_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    dsa.DSAPrivateKey,
)


class TLSConfigError(Exception):
    """The configured certificate or key cannot be used; the message names the file."""


def ensure_self_signed(data_dir: Path, hostname: str) -> tuple[Path, Path]:
    """Return ``(certificate, key)`` under ``data_dir/tls``, creating them on first use.

    An EC P-256 key (mode 0600) and a self-signed X.509 v3 certificate (RFC 5280) valid for
    ten years, CN ``hostname``, subjectAltName ``hostname``, ``localhost``, ``127.0.0.1`` and
    ``::1``. Existing files are reused as they are.
    """
    tls_dir = data_dir / "tls"
    cert_path = tls_dir / SELF_SIGNED_CERT
    key_path = tls_dir / SELF_SIGNED_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed_certificate(key, hostname)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(key_path, key_pem, 0o600)
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def _self_signed_certificate(key: ec.EllipticCurvePrivateKey, hostname: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hostname)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _alt_names(hostname: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(hostname)))
    except ValueError:
        names.append(x509.DNSName(hostname))
    for extra in (
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ):
        if extra not in names:
            names.append(extra)
    return names


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=False) as out:
            out.write(data)
            out.flush()
            os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def server_context(
    certificate: Path | None,
    private_key: Path | None,
    *,
    data_dir: Path,
    hostname: str,
) -> ssl.CertificateOptions:
    """Build the server's TLS context (RFC 8446 / RFC 5246 via OpenSSL, RFC 7525 defaults).

    ``certificate`` is a PEM file with the leaf first and any intermediates after it (they are
    sent to clients); ``private_key`` is its unencrypted PEM key. Both ``None``: the
    self-signed pair from ``ensure_self_signed``. Raises ``TLSConfigError`` when only one is
    given, or a file is unreadable, not PEM, or the key does not belong to the certificate.
    """
    if certificate is None and private_key is None:
        certificate, private_key = ensure_self_signed(data_dir, hostname)
    elif certificate is None or private_key is None:
        given = certificate if certificate is not None else private_key
        raise TLSConfigError(f"{given}: a TLS certificate and its private key must both be set")
    chain = _load_chain(certificate)
    key = _load_key(private_key)
    if _public_der(key) != chain[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise TLSConfigError(f"{private_key}: private key does not match {certificate}")
    try:
        # Twisted hands these straight to pyOpenSSL, which takes cryptography objects (and
        # deprecates its own X509/PKey wrappers); the casts only satisfy Twisted's hints.
        options = ssl.CertificateOptions(
            privateKey=cast(crypto.PKey, key),
            certificate=cast(crypto.X509, chain[0]),
            extraCertChain=cast(list[crypto.X509], chain[1:]),
            raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        )
        options.getContext()
    except (SSL.Error, ValueError, TypeError) as exc:
        raise TLSConfigError(f"{certificate}: unusable certificate or key ({exc})") from exc
    return options


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_PEM + 1)
    except OSError as exc:
        raise TLSConfigError(f"{path}: cannot read TLS {what}: {exc.strerror}") from exc
    if len(data) > _MAX_PEM:
        raise TLSConfigError(f"{path}: TLS {what} file is larger than {_MAX_PEM} bytes")
    return data


def _load_chain(path: Path) -> list[x509.Certificate]:
    data = _read(path, "certificate")
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TLSConfigError(f"{path}: not a PEM certificate") from exc
    if not chain:
        raise TLSConfigError(f"{path}: not a PEM certificate")
    return chain


def _load_key(path: Path) -> _ServerKey:
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise TLSConfigError(f"{path}: encrypted private keys are not supported") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TLSConfigError(f"{path}: not a PEM private key") from exc
    if not isinstance(key, _SERVER_KEY_TYPES):
        raise TLSConfigError(f"{path}: unsupported private key type")
    return key


def _public_der(key: _ServerKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def wrap_tls(factory: IProtocolFactory, context: ssl.CertificateOptions) -> IProtocolFactory:
    """Wrap ``factory`` so connections speak TLS from the first byte (implicit TLS, RFC 8314)."""
    creator = cast(IOpenSSLServerConnectionCreator, context)
    return cast(IProtocolFactory, TLSMemoryBIOFactory(creator, False, factory))


def is_secure(transport: object) -> bool:
    """Whether ``transport`` is TLS-protected: implicit TLS or after a completed ``startTLS``.

    Looks through protocol wrappers (``.transport`` chains) for an ``ISSLTransport``.
    """
    seen = 0
    current: object | None = transport
    while current is not None and seen < 8:
        if ISSLTransport.providedBy(current):
            return True
        current = getattr(current, "transport", None)
        seen += 1
    return False
