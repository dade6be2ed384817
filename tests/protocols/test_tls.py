"""protocols.tls: server context from files, the self-signed pair, errors, real TLS on loopback."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import stat
from pathlib import Path
from typing import Any, cast

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL import SSL
from twisted.internet.interfaces import IProtocolFactory, ISSLTransport
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from zope.interface import directlyProvides  # type: ignore[import-untyped]

from protocols.tls import TLSConfigError, ensure_self_signed, is_secure, server_context, wrap_tls


class Greeter(Protocol):
    """Says whether it sees a secure transport, then echoes lines."""

    def connectionMade(self) -> None:
        transport: Any = self.transport
        transport.write(b"hello secure=%d\r\n" % is_secure(transport))

    def dataReceived(self, data: bytes) -> None:
        cast(Any, self.transport).write(data)


def tls_exchange(port: int, ctx: ssl.SSLContext, server_hostname: str) -> tuple[bytes, str | None]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname) as sock,
    ):
        greeting = b""
        while not greeting.endswith(b"\r\n"):
            chunk = sock.recv(100)
            assert chunk
            greeting += chunk
        sock.sendall(b"ping\r\n")
        echoed = b""
        while len(echoed) < 6:
            echoed += sock.recv(100)
        assert echoed == b"ping\r\n"
        return greeting, sock.version()


def names_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), [
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    ]


def greeter_factory() -> IProtocolFactory:
    return cast(IProtocolFactory, Factory.forProtocol(Greeter))


# --- the self-signed pair ---------------------------------------------------------------------


def test_self_signed_created_with_right_names(tmp_path: Path) -> None:
    cert_path, key_path = ensure_self_signed(tmp_path, "mail.example.org")
    assert cert_path == tmp_path / "tls" / "selfsigned.crt"
    assert key_path == tmp_path / "tls" / "selfsigned.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    dns, ips = names_of(cert)
    assert dns == ["mail.example.org", "localhost"]
    assert ips == ["127.0.0.1", "::1"]
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["mail.example.org"]
    assert cert.issuer == cert.subject
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime >= datetime.timedelta(days=3650)
    assert cert.not_valid_before_utc <= datetime.datetime.now(datetime.UTC)

    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert key.public_key() == cert.public_key()


def test_self_signed_reused(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path, "mail.example.org")
    before = [p.read_bytes() for p in first]
    second = ensure_self_signed(tmp_path, "other.example.org")
    assert second == first
    assert [p.read_bytes() for p in second] == before
    server_context(None, None, data_dir=tmp_path, hostname="third.example.org")
    assert [p.read_bytes() for p in first] == before
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == [
        "selfsigned.crt",
        "selfsigned.key",
    ]


def test_self_signed_for_ip_hostname(tmp_path: Path) -> None:
    cert_path, _ = ensure_self_signed(tmp_path, "192.0.2.7")
    dns, ips = names_of(x509.load_pem_x509_certificate(cert_path.read_bytes()))
    assert dns == ["localhost"]
    assert [ipaddress.ip_address(ip) for ip in ips] == [
        ipaddress.ip_address("192.0.2.7"),
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]


# --- contexts from files and their errors -----------------------------------------------------


def test_context_from_files(tls_cert_files: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = tls_cert_files
    options = server_context(cert, key, data_dir=tmp_path, hostname="ignored")
    assert options.getContext() is not None
    assert not (tmp_path / "tls").exists()  # no self-signed pair when files are given


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def other_key(tmp_path: Path, tls_ca: trustme.CA) -> Path:
    return write(tmp_path / "other.key", tls_ca.issue_cert("other").private_key_pem.bytes())


@pytest.mark.parametrize(
    ("case", "bad"),
    [
        ("cert-only", "cert"),
        ("key-only", "key"),
        ("missing-cert", "cert"),
        ("missing-key", "key"),
        ("garbage-cert", "cert"),
        ("garbage-key", "key"),
        ("empty-cert", "cert"),
        ("key-as-cert", "cert"),
        ("cert-as-key", "key"),
        ("mismatched-key", "key"),
        ("encrypted-key", "key"),
        ("directory-cert", "cert"),
    ],
)
def test_config_errors(
    case: str,
    bad: str,
    tls_cert_files: tuple[Path, Path],
    other_key: Path,
    tls_server_cert: trustme.LeafCert,
    tmp_path: Path,
) -> None:
    cert, key = tls_cert_files
    given: tuple[Path | None, Path | None]
    if case == "cert-only":
        given = (cert, None)
    elif case == "key-only":
        given = (None, key)
    elif case == "missing-cert":
        given = (tmp_path / "nope.crt", key)
    elif case == "missing-key":
        given = (cert, tmp_path / "nope.key")
    elif case == "garbage-cert":
        given = (write(tmp_path / "g.crt", b"-----BEGIN CERTIFICATE-----\nxx\n"), key)
    elif case == "garbage-key":
        given = (cert, write(tmp_path / "g.key", b"\x00\x01 not a key"))
    elif case == "empty-cert":
        given = (write(tmp_path / "e.crt", b""), key)
    elif case == "key-as-cert":
        given = (key, key)
    elif case == "cert-as-key":
        given = (cert, cert)
    elif case == "mismatched-key":
        given = (cert, other_key)
    elif case == "encrypted-key":
        loaded = serialization.load_pem_private_key(
            tls_server_cert.private_key_pem.bytes(), password=None
        )
        encrypted = loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
        given = (cert, write(tmp_path / "enc.key", encrypted))
    else:
        (tmp_path / "dir.crt").mkdir()
        given = (tmp_path / "dir.crt", key)
    with pytest.raises(TLSConfigError) as info:
        server_context(*given, data_dir=tmp_path, hostname="localhost")
    message = str(info.value)
    assert "\n" not in message
    offending = given[0] if bad == "cert" else given[1]
    if offending is None:
        offending = given[1] if bad == "cert" else given[0]
    assert str(offending) in message
    assert not (tmp_path / "tls").exists()


# --- real TLS over loopback -------------------------------------------------------------------


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_self_signed_loopback(listen, tmp_path: Path, server_hostname: str) -> None:
    context = server_context(None, None, data_dir=tmp_path, hostname="mail.example.org")
    port = listen(wrap_tls(greeter_factory(), context))
    client = ssl.create_default_context(cafile=str(tmp_path / "tls" / "selfsigned.crt"))
    greeting, version = tls_exchange(port, client, server_hostname)
    assert greeting == b"hello secure=1\r\n"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_self_signed_wrong_hostname_refused(listen, tmp_path: Path) -> None:
    context = server_context(None, None, data_dir=tmp_path, hostname="mail.example.org")
    port = listen(wrap_tls(greeter_factory(), context))
    client = ssl.create_default_context(cafile=str(tmp_path / "tls" / "selfsigned.crt"))
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_exchange(port, client, "imap.example.net")


def test_trustme_loopback(listen, tls_server_context, tls_client_context) -> None:
    port = listen(wrap_tls(greeter_factory(), tls_server_context))
    greeting, _ = tls_exchange(port, tls_client_context, "localhost")
    assert greeting == b"hello secure=1\r\n"


def test_intermediates_are_sent(listen, tmp_path: Path, tls_ca: trustme.CA) -> None:
    intermediate = tls_ca.create_child_ca()
    leaf = intermediate.issue_cert("localhost")
    assert len(leaf.cert_chain_pems) == 2
    cert = write(tmp_path / "chain.crt", b"".join(p.bytes() for p in leaf.cert_chain_pems))
    key = write(tmp_path / "chain.key", leaf.private_key_pem.bytes())
    context = server_context(cert, key, data_dir=tmp_path, hostname="localhost")
    port = listen(wrap_tls(greeter_factory(), context))
    client = ssl.create_default_context()
    tls_ca.configure_trust(client)  # the root only: the server must send the intermediate
    greeting, _ = tls_exchange(port, client, "localhost")
    assert greeting == b"hello secure=1\r\n"


def test_modern_defaults(tls_server_context) -> None:
    options = tls_server_context.getContext().set_options(0)  # returns the current bitmask
    for flag in (SSL.OP_NO_SSLv3, SSL.OP_NO_TLSv1, SSL.OP_NO_TLSv1_1):
        assert options & flag
    assert options & SSL.OP_NO_COMPRESSION
    assert not options & SSL.OP_NO_TLSv1_2


# --- is_secure --------------------------------------------------------------------------------


class Wrapper:
    def __init__(self, transport: object) -> None:
        self.transport = transport


def test_is_secure() -> None:
    plain = StringTransport()
    assert not is_secure(plain)
    assert not is_secure(Wrapper(plain))
    secure = StringTransport()
    directlyProvides(secure, ISSLTransport)
    assert is_secure(secure)
    assert is_secure(Wrapper(Wrapper(secure)))
    assert not is_secure(None)
