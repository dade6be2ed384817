"""start_tls: input pipelined behind STARTTLS is discarded (CVE-2011-0411), over real sockets."""

from __future__ import annotations

import socket
import ssl
from typing import Any, cast

import pytest
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.protocol import Factory
from twisted.internet.testing import StringTransport
from twisted.protocols.basic import LineReceiver
from zope.interface import directlyProvides  # type: ignore[import-untyped]

from protocols.starttls import start_tls
from protocols.tls import is_secure


class ToyServer(LineReceiver):
    """Speaks STARTTLS and NOOP; ``safe`` selects start_tls or a naive transport.startTLS."""

    delimiter = b"\r\n"

    def __init__(self, context: Any, safe: bool, lines: list[bytes]) -> None:
        self.context = context
        self.safe = safe
        self.lines = lines
        self.noops = 0
        self.pending: list[bytes] = []
        self.cleared = 0

    def clear_pending(self) -> None:
        self.cleared += 1
        self.pending.clear()

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        if line == b"STARTTLS":
            self.sendLine(b"OK begin TLS")
            if self.safe:
                start_tls(self, self.context, self.clear_pending)
            else:
                cast(Any, self.transport).startTLS(self.context)
        elif line.startswith(b"NOOP"):
            self.noops += 1
            tag = line[4:]
            self.sendLine(b"OK NOOP %d secure=%d%s" % (self.noops, is_secure(self.transport), tag))
        else:
            self.sendLine(b"BAD")


class ToyFactory(Factory):
    def __init__(self, context: Any, safe: bool) -> None:
        self.context = context
        self.safe = safe
        self.lines: list[bytes] = []

    def buildProtocol(self, addr: Any) -> ToyServer:
        return ToyServer(self.context, self.safe, self.lines)


def read_line(sock: socket.socket) -> bytes:
    """One CRLF line, read a byte at a time so no TLS bytes are consumed after it."""
    line = b""
    while not line.endswith(b"\r\n"):
        byte = sock.recv(1)
        assert byte, f"connection closed after {line!r}"
        line += byte
    return line


def starttls_with_pipelined_noop(
    port: int, client: ssl.SSLContext, server_hostname: str
) -> list[bytes]:
    """Send STARTTLS+NOOP in one packet, handshake, send another NOOP; return two replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.sendall(b"STARTTLS\r\nNOOP injected\r\n")
        replies = [read_line(raw)]
        with client.wrap_socket(raw, server_hostname=server_hostname) as tls:
            tls.sendall(b"NOOP mine\r\n")
            replies.append(read_line(tls))
            return replies


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_pipelined_command_discarded(
    listen, reactor_thread, tls_server_context, tls_client_context, server_hostname: str
) -> None:
    factory = ToyFactory(tls_server_context, safe=True)
    port = listen(factory)
    replies = starttls_with_pipelined_noop(port, tls_client_context, server_hostname)
    # The handshake succeeded, so no plaintext reply followed "OK begin TLS"; the first reply
    # inside TLS is to the NOOP sent after the handshake, so the injected one never ran.
    assert replies == [b"OK begin TLS\r\n", b"OK NOOP 1 secure=1 mine\r\n"]
    assert reactor_thread.call(lambda: list(factory.lines)) == [b"STARTTLS", b"NOOP mine"]


def test_naive_starttls_runs_injected_command(
    listen, tls_server_context, tls_client_context
) -> None:
    """Control: without start_tls the injected NOOP is executed (so the test above bites)."""
    port = listen(ToyFactory(tls_server_context, safe=False))
    replies = starttls_with_pipelined_noop(port, tls_client_context, "localhost")
    assert replies == [b"OK begin TLS\r\n", b"OK NOOP 1 secure=1 injected\r\n"]


# --- without sockets --------------------------------------------------------------------------


class TLSStringTransport(StringTransport):
    def __init__(self) -> None:
        super().__init__()
        self.tls_context: Any = None
        self.written_before_tls = b""

    def startTLS(self, context: Any) -> None:
        self.tls_context = context
        self.written_before_tls = self.value()
        directlyProvides(self, ISSLTransport)


def test_start_tls_clears_all_buffers() -> None:
    proto = ToyServer(context="CTX", safe=True, lines=[])
    transport = TLSStringTransport()
    proto.makeConnection(transport)
    proto.pending.append(b"queued")
    proto.dataReceived(b"STARTTLS\r\nNOOP\r\nNOOP\r\npartial")
    assert transport.tls_context == "CTX"
    assert transport.written_before_tls == b"OK begin TLS\r\n"
    assert proto.lines == [b"STARTTLS"]
    assert proto.pending == [] and proto.cleared == 1
    assert proto.clearLineBuffer() == b""
    proto.dataReceived(b"NOOP\r\n")
    assert transport.value() == b"OK begin TLS\r\nOK NOOP 1 secure=1\r\n"


def test_start_tls_refuses_when_already_secure() -> None:
    proto = ToyServer(context="CTX", safe=True, lines=[])
    transport = TLSStringTransport()
    directlyProvides(transport, ISSLTransport)
    proto.makeConnection(transport)
    with pytest.raises(RuntimeError):
        start_tls(proto, "CTX")
    assert transport.tls_context is None


def test_start_tls_refuses_transport_without_tls() -> None:
    proto = ToyServer(context="CTX", safe=True, lines=[])
    proto.makeConnection(StringTransport())
    with pytest.raises(RuntimeError):
        start_tls(proto, "CTX")
