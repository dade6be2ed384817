"""Issue #7 behaviours over real loopback sockets, with the LMTP and IMAP servers assembled over
one store as the service does: IDLE (imapclient, imaplib) woken by a concurrent LMTP delivery
(smtplib.LMTP, one recipient); LOGIN pipelined with a 1 MiB APPEND (``{N+}`` and ``{N}``); a
keyword new to the mailbox announced with ``* FLAGS`` before the FETCH (RFC 3501 7.2.6)."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from mailstore.delivery import LocalDelivery
from mailstore.types import INBOX
from protocols.lmtp import LmtpSettings
from protocols.lmtp import build_factory as lmtp_factory
from tests.interop.imap_env import (
    PASSWORD,
    ImapEnv,
    imapclient_factory,
    listen,
    make_env,
    sample,
)
from tests.protocols.conftest import (  # noqa: F401 - the trustme fixtures
    tls_ca,
    tls_cert_files,
    tls_client_context,
    tls_server_cert,
    tls_server_context,
)

WAIT = 10.0
"""Seconds to wait for a pushed response (generous: never a speed assertion)."""
MIB = 1024 * 1024


@dataclass
class Stack:
    imap: ImapEnv
    lmtp_port: int
    ports: list[Any]

    def deliver(self, subject: str) -> None:
        """One message to alice over LMTP (a real client, the test thread blocks)."""
        body = (
            f"From: bob@example.org\r\nTo: alice@lmtp.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n\r\nHello.\r\n"
        )
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            refused = lmtp.sendmail("bob@example.org", ["alice@lmtp.test"], body.encode())
        assert refused == {}


@pytest.fixture
def stack(tmp_path: Path, reactor_thread: Any, tls_server_context: Any) -> Iterator[Stack]:  # noqa: F811 - pytest fixture
    env = make_env(tmp_path / "imap")
    reactor_thread.run(listen, env, tls_server_context)
    delivery = LocalDelivery(env.accounts, env.store, hostname="mx.test")
    factory = lmtp_factory(delivery, LmtpSettings(hostname="mx.test"))
    port = reactor_thread.call(reactor_thread.reactor.listenTCP, 0, factory, interface="127.0.0.1")
    yield Stack(env, port.getHost().port, [port])
    reactor_thread.call(port.stopListening)
    reactor_thread.run(env.stop)


@pytest.fixture(params=["starttls", "imaps"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def imapclient(
    stack: Stack,
    mode: str,
    tls_client_context: ssl.SSLContext,  # noqa: F811 - pytest fixture
) -> Iterator[Callable[[], IMAPClient]]:
    yield from imapclient_factory(stack.imap, mode, tls_client_context)


def _imaplib(stack: Stack, mode: str, ctx: ssl.SSLContext) -> imaplib.IMAP4:
    if mode == "starttls":
        client = imaplib.IMAP4("localhost", stack.imap.plain_port, timeout=30)
        client.starttls(ssl_context=ctx)
    else:
        client = imaplib.IMAP4_SSL("localhost", stack.imap.tls_port, ssl_context=ctx, timeout=30)
    assert client.login("alice", PASSWORD)[0] == "OK"
    return client


def _idle_until(client: IMAPClient, wanted: Callable[[Any], bool]) -> list[Any]:
    seen: list[Any] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        seen += client.idle_check(timeout=max(0.1, deadline - time.monotonic()))
        if any(wanted(response) for response in seen):
            return seen
    pytest.fail(f"no matching response in IDLE within {WAIT} s: {seen!r}")


# -- 1. IDLE woken by a concurrent LMTP delivery ----------------------------------------------


def test_imapclient_idle_woken_by_lmtp_delivery(stack: Stack, imapclient: Any) -> None:
    stack.deliver("first")
    watcher = imapclient()
    assert watcher.select_folder(INBOX)[b"EXISTS"] == 1
    watcher.idle()
    stack.deliver("over lmtp")
    _idle_until(watcher, lambda r: r == (2, b"EXISTS"))
    watcher.idle_done()
    (uid,) = watcher.search(["SUBJECT", "over lmtp"])
    envelope = watcher.fetch([uid], ["ENVELOPE"])[uid][b"ENVELOPE"]
    assert envelope.subject == b"over lmtp"


def test_imaplib_idle_woken_by_lmtp_delivery(
    stack: Stack,
    mode: str,
    tls_client_context: ssl.SSLContext,  # noqa: F811 - pytest fixture
) -> None:
    client = _imaplib(stack, mode, tls_client_context)
    assert client.select(INBOX) == ("OK", [b"0"])
    client.send(b"I1 IDLE\r\n")  # imaplib (3.11) has no IDLE: speak it, RFC 2177
    assert client.readline().startswith(b"+ ")
    stack.deliver("for imaplib")
    assert client.readline() == b"* 1 EXISTS\r\n"  # the socket's 30 s timeout bounds the wait
    client.send(b"DONE\r\n")
    line = client.readline()
    while line.startswith(b"* "):
        line = client.readline()
    assert line == b"I1 OK IDLE terminated\r\n"
    typ, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: for imaplib" in data[0][1]
    client.logout()


# -- 3. LOGIN and a big APPEND pipelined in one write -----------------------------------------


def _raw(stack: Stack, mode: str, ctx: ssl.SSLContext) -> tuple[ssl.SSLSocket, Any]:
    if mode == "imaps":
        sock = ctx.wrap_socket(
            socket.create_connection(("127.0.0.1", stack.imap.tls_port), timeout=30),
            server_hostname="localhost",
        )
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"* OK ")
        return sock, reader
    plain = socket.create_connection(("127.0.0.1", stack.imap.plain_port), timeout=30)
    plain_reader = plain.makefile("rb")
    assert plain_reader.readline().startswith(b"* OK ")
    plain.sendall(b"t STARTTLS\r\n")
    assert plain_reader.readline().startswith(b"t OK ")
    sock = ctx.wrap_socket(plain, server_hostname="localhost")
    return sock, sock.makefile("rb")


def _tagged(reader: Any, tag: bytes) -> bytes:
    while True:
        line = reader.readline()
        assert line, "connection closed"
        if line.startswith(tag + b" ") or line.startswith(b"+ "):
            return bytes(line)


def _big(size: int) -> bytes:
    line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n"
    return (b"Subject: big\r\n\r\n" + line * (size // len(line) + 1))[:size]


@pytest.mark.parametrize("literal", ["nonsync", "sync"])
def test_login_pipelined_with_a_big_append(
    stack: Stack,
    mode: str,
    literal: str,
    reactor_thread: Any,
    tls_client_context: ssl.SSLContext,  # noqa: F811 - pytest fixture
) -> None:
    message = _big(MIB)
    sock, reader = _raw(stack, mode, tls_client_context)
    login = f'a LOGIN alice "{PASSWORD}"\r\n'.encode()
    with sock, reader:
        if literal == "nonsync":
            sock.sendall(login + b"b APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
            assert _tagged(reader, b"a").startswith(b"a OK ")
        else:
            sock.sendall(login + b"b APPEND INBOX {%d}\r\n" % len(message))
            assert _tagged(reader, b"a").startswith(b"a OK ")
            assert _tagged(reader, b"b").startswith(b"+ ")
            sock.sendall(message + b"\r\n")
        answer = _tagged(reader, b"b")
        assert answer.startswith(b"b OK [APPENDUID "), answer
        sock.sendall(b"c LOGOUT\r\n")
        assert _tagged(reader, b"c").startswith(b"c OK ")
    [(uid, _flags)] = reactor_thread.run(stack.imap.messages, "alice")

    async def read() -> bytes:
        account = await stack.imap.store.account("alice")
        return await (await account.open_mailbox(INBOX)).read(uid)

    assert reactor_thread.run(read) == message


# -- 4. FLAGS when a keyword appears ------------------------------------------------------------


def test_imaplib_store_of_a_new_keyword_sends_flags(
    stack: Stack,
    mode: str,
    reactor_thread: Any,
    tls_client_context: ssl.SSLContext,  # noqa: F811 - pytest fixture
) -> None:
    reactor_thread.run(stack.imap.deliver, "alice", [sample(1)])
    client = _imaplib(stack, mode, tls_client_context)
    client.select(INBOX)
    client.response("FLAGS")  # drop SELECT's
    client.response("PERMANENTFLAGS")
    typ, data = client.store("1", "+FLAGS", "($Todo)")
    assert typ == "OK" and b"$Todo" in data[0]
    _typ, flags = client.response("FLAGS")
    assert flags == [b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo)"]
    _typ, permanent = client.response("PERMANENTFLAGS")
    assert permanent == [b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo \\*)"]
    client.store("1", "+FLAGS", "($TODO)")
    assert client.response("FLAGS") == ("FLAGS", [None])  # already announced
    client.logout()


def test_imapclient_idle_sees_flags_before_fetch(
    stack: Stack, imapclient: Any, reactor_thread: Any
) -> None:
    reactor_thread.run(stack.imap.deliver, "alice", [sample(1)])
    watcher, actor = imapclient(), imapclient()
    watcher.select_folder(INBOX)
    actor.select_folder(INBOX)
    watcher.idle()
    actor.add_flags([1], [b"Project-X"])
    seen = _idle_until(watcher, lambda r: len(r) > 1 and r[1] == b"FETCH")
    kinds = [r[0] if r[0] in (b"FLAGS", b"OK") else r[1] for r in seen]
    assert kinds[:3] == [b"FLAGS", b"OK", b"FETCH"], seen
    assert b"Project-X" in seen[0][1]
    watcher.idle_done()
