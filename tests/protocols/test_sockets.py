"""``send_promptly``: TCP_NODELAY on accepted connections, plain and TLS; others untouched."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Any

from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOFactory

from protocols.sockets import send_promptly


class Probe(Protocol):
    """Applies ``send_promptly`` and records what the socket says afterwards."""

    def __init__(self, seen: list[bool], done: threading.Event) -> None:
        self.seen = seen
        self.done = done

    def connectionMade(self) -> None:
        send_promptly(self.transport)
        getter = getattr(self.transport, "getTcpNoDelay", None)
        self.seen.append(bool(getter()) if getter is not None else False)
        self.transport.write(b"hello\r\n")  # type: ignore[union-attr]
        self.done.set()


class ProbeFactory(Factory):
    def __init__(self) -> None:
        self.seen: list[bool] = []
        self.done = threading.Event()

    def buildProtocol(self, addr: Any) -> Probe:
        return Probe(self.seen, self.done)


def test_plain_tcp_connection_gets_nodelay(listen: Any) -> None:
    factory = ProbeFactory()
    port = listen(factory)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert sock.recv(7) == b"hello\r\n"
    assert factory.done.wait(10)
    assert factory.seen == [True]


def test_tls_connection_forwards_to_tcp(
    listen: Any, tls_server_context: Any, tls_client_context: ssl.SSLContext
) -> None:
    factory = ProbeFactory()
    wrapped = TLSMemoryBIOFactory(tls_server_context, False, factory)  # type: ignore[no-untyped-call]
    port = listen(wrapped)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        tls_client_context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.recv(7) == b"hello\r\n"
    assert factory.seen == [True]


def test_unix_socket_and_test_doubles_are_left_alone(reactor_thread: Any, tmp_path: Path) -> None:
    factory = ProbeFactory()
    path = str(tmp_path / "probe.sock")
    port = reactor_thread.call(reactor_thread.reactor.listenUNIX, path, factory)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            assert sock.recv(7) == b"hello\r\n"
    finally:
        reactor_thread.call(port.stopListening)
    assert factory.done.wait(10)
    send_promptly(object())  # no setTcpNoDelay: nothing happens
