"""TLS fixtures shared by protocol tests: a trustme CA, a localhost server certificate,
the server context built from it by ``protocols.tls.server_context``, a client
``ssl.SSLContext`` that verifies against the CA, and ``listen`` for real loopback listeners
(on the session reactor thread from the top-level conftest).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from twisted.internet.interfaces import IProtocolFactory

from protocols.tls import server_context


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_server_cert(tls_ca: trustme.CA) -> trustme.LeafCert:
    """A server certificate for localhost, 127.0.0.1 and ::1, issued by ``tls_ca``."""
    return tls_ca.issue_cert("localhost", "127.0.0.1", "::1")


@pytest.fixture
def tls_cert_files(tmp_path: Path, tls_server_cert: trustme.LeafCert) -> tuple[Path, Path]:
    """``(certificate chain PEM, private key PEM)`` written under ``tmp_path``."""
    cert = tmp_path / "server.crt"
    key = tmp_path / "server.key"
    cert.write_bytes(b"".join(pem.bytes() for pem in tls_server_cert.cert_chain_pems))
    key.write_bytes(tls_server_cert.private_key_pem.bytes())
    return cert, key


@pytest.fixture
def tls_server_context(tls_cert_files: tuple[Path, Path], tmp_path: Path) -> Any:
    """The server context (``CertificateOptions``) for the trustme certificate."""
    cert, key = tls_cert_files
    return server_context(cert, key, data_dir=tmp_path, hostname="localhost")


@pytest.fixture
def tls_client_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    """A client context that verifies servers against ``tls_ca`` (hostname checks on)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    tls_ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def listen(reactor_thread: Any) -> Iterator[Callable[[IProtocolFactory], int]]:
    """``listen(factory) -> port``: a TCP listener on 127.0.0.1, closed after the test."""
    ports: list[Any] = []

    def start(factory: IProtocolFactory) -> int:
        port = reactor_thread.call(
            reactor_thread.reactor.listenTCP, 0, factory, interface="127.0.0.1"
        )
        ports.append(port)
        return int(port.getHost().port)

    yield start
    for port in ports:
        reactor_thread.call(port.stopListening)
