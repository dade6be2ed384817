"""A real POP3 environment for interop tests and the benchmark: accounts (passwd-file),
``MaildirStore``, ``Authenticator`` and the POP3 server listening on loopback twice — plain
with STLS and implicit TLS (POP3S) — inside the reactor of ``tests.conftest.reactor_thread``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from twisted.internet import endpoints

from mailstore.accounts import AccountDirectory
from mailstore.maildir.store import MaildirStore
from mailstore.types import INBOX
from protocols.auth import Authenticator
from protocols.pop3 import Pop3Settings, build_factory
from protocols.tls import server_context
from tests.interop.stack import build_stack

PASSWORD = "pop secret"


@dataclass
class Pop3Env:
    root: Path
    accounts: AccountDirectory
    store: MaildirStore
    authenticator: Authenticator
    plain_port: int = 0
    tls_port: int = 0
    ports: list[Any] = field(default_factory=list)

    async def deliver(self, user: str, messages: list[bytes]) -> list[int]:
        account = await self.store.account(user)
        box = await account.open_mailbox(INBOX)
        return [(await box.append(message)).uid for message in messages]

    async def inbox(self, user: str) -> list[tuple[int, frozenset[str], bytes]]:
        account = await self.store.account(user)
        box = await account.open_mailbox(INBOX)
        snapshot = await box.snapshot()
        return [(m.uid, m.flags, await box.read(m.uid)) for m in snapshot.messages]

    async def stop(self) -> None:
        for port in self.ports:
            await port.stopListening()
        await self.store.close()


def server_context_for(ca: trustme.CA, directory: Path, common_name: str | None = None) -> Any:
    """A server context for a localhost certificate issued by ``ca`` (via ``server_context``).

    ``common_name``: fetchmail's ``sslcertck`` wants a subject CN, not only subjectAltName.
    """
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", common_name=common_name)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    cert.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return server_context(cert, key, data_dir=directory, hostname="localhost")


def ca_file(ca: trustme.CA, path: Path) -> Path:
    """The CA certificate as a PEM file (for fetchmail's sslcertfile, getmail's ca_certs)."""
    ca.cert_pem.write_to_path(str(path))
    return path


def make_env(root: Path, users: tuple[str, ...] = ("alice", "bob")) -> Pop3Env:
    accounts, store, authenticator = build_stack(root, users, PASSWORD)
    return Pop3Env(root, accounts, store, authenticator)


async def listen(env: Pop3Env, tls_context: Any, settings: Pop3Settings | None = None) -> None:
    """Listen on 127.0.0.1 twice: plain with STLS, and POP3S."""
    from twisted.internet import reactor

    settings = settings or Pop3Settings(hostname="localhost")
    for implicit in (False, True):
        factory = build_factory(
            env.store, env.authenticator, tls_context, settings, implicit_tls=implicit
        )
        port = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        env.ports.append(port)
        if implicit:
            env.tls_port = port.getHost().port
        else:
            env.plain_port = port.getHost().port


def sample(n: int, body_lines: int = 3) -> bytes:
    body = b"".join(b"line %d of message %d\r\n" % (i, n) for i in range(body_lines))
    return (
        b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\n"
        b"Subject: message %d\r\nMessage-ID: <%d@example.org>\r\n\r\n.dot line\r\n" % (n, n) + body
    )
