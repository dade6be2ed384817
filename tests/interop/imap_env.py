"""A real IMAP environment for interop tests: accounts (passwd-file), ``MaildirStore``,
``Authenticator`` and the IMAP server listening on loopback twice — plain with STARTTLS and
implicit TLS (IMAPS) — inside the reactor of ``tests.conftest.reactor_thread``."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from twisted.internet import endpoints

from mailstore.accounts import AccountDirectory
from mailstore.maildir.store import MaildirStore
from mailstore.types import INBOX
from protocols.auth import Authenticator
from protocols.imap.server import ImapSettings, build_factory
from tests.interop.stack import build_stack

PASSWORD = "imap secret"


@dataclass
class ImapEnv:
    root: Path
    accounts: AccountDirectory
    store: MaildirStore
    authenticator: Authenticator
    plain_port: int = 0
    tls_port: int = 0
    ports: list[Any] = field(default_factory=list)

    async def deliver(self, user: str, messages: list[bytes], mailbox: str = INBOX) -> list[int]:
        account = await self.store.account(user)
        box = await account.open_mailbox(mailbox)
        return [(await box.append(message)).uid for message in messages]

    async def messages(self, user: str, mailbox: str = INBOX) -> list[tuple[int, frozenset[str]]]:
        account = await self.store.account(user)
        box = await account.open_mailbox(mailbox)
        return [(m.uid, m.flags) for m in (await box.snapshot()).messages]

    async def stop(self) -> None:
        for port in self.ports:
            await port.stopListening()
        await self.store.close()


def make_env(root: Path, users: tuple[str, ...] = ("alice", "bob")) -> ImapEnv:
    accounts, store, authenticator = build_stack(root, users, PASSWORD)
    return ImapEnv(root, accounts, store, authenticator)


async def listen(env: ImapEnv, tls_context: Any, settings: ImapSettings | None = None) -> None:
    """Listen on 127.0.0.1 twice: plain with STARTTLS, and IMAPS."""
    from twisted.internet import reactor

    settings = settings or ImapSettings(hostname="localhost")
    for implicit in (False, True):
        factory = build_factory(
            env.store, env.authenticator, tls_context, settings, implicit_tls=implicit
        )
        endpoint = endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        port = await endpoint.listen(factory)
        env.ports.append(port)
        if implicit:
            env.tls_port = port.getHost().port
        else:
            env.plain_port = port.getHost().port


def sample(n: int, body_lines: int = 3) -> bytes:
    body = b"".join(b"line %d of message %d\r\n" % (i, n) for i in range(body_lines))
    return (
        b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\n"
        b"Subject: message %d\r\nMessage-ID: <%d@example.org>\r\n"
        b"Date: Mon, 6 Nov 2023 10:00:00 +0000\r\n\r\n" % (n, n) + body
    )


def imapclient_factory(
    env: ImapEnv, mode: str, ctx: ssl.SSLContext
) -> Iterator[Callable[[], IMAPClient]]:
    """For a fixture: ``make()`` logs alice in with imapclient over STARTTLS or IMAPS
    (``mode``), verifying the certificate with ``ctx``; every client is logged out after."""
    clients: list[IMAPClient] = []

    def make() -> IMAPClient:
        if mode == "starttls":
            client = IMAPClient("localhost", env.plain_port, ssl=False, timeout=30)
            client.starttls(ctx)
        else:
            client = IMAPClient("localhost", env.tls_port, ssl=True, ssl_context=ctx, timeout=30)
        client.login("alice", PASSWORD)
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.logout()
        except Exception:
            client.shutdown()
