"""A real delivery environment for LMTP tests: accounts, Maildir store, LocalDelivery, and
an LMTP server listening on loopback TCP and a unix socket inside the test reactor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import endpoints

from mailstore.accounts import AccountDirectory
from mailstore.delivery import LocalDelivery
from mailstore.maildir.store import MaildirStore
from mailstore.passwords import Password
from mailstore.types import QuotaLimits
from protocols.lmtp import LmtpSettings, build_factory

DOMAIN = "lmtp.test"


@dataclass
class MailEnv:
    root: Path
    accounts: AccountDirectory
    store: MaildirStore
    delivery: LocalDelivery


def make_env(root: Path, users: dict[str, QuotaLimits] | None = None,
             aliases: str = "", **options: Any) -> MailEnv:
    root.mkdir(parents=True, exist_ok=True)
    (root / "passwd").touch()
    (root / "aliases").write_text(aliases)
    accounts = AccountDirectory(root / "passwd", root / "aliases", mail_root=root / "mail")
    for user, quota in (users or {u: QuotaLimits() for u in ("alice", "bob", "carol")}).items():
        accounts.add_user(user, Password(b"pw"), quota, rounds=4)
    store = MaildirStore(accounts, root / "spool")
    delivery = LocalDelivery(accounts, store, hostname="mx.test", **options)
    return MailEnv(root, accounts, store, delivery)


async def read_mailbox(env: MailEnv, user: str, mailbox: str = "INBOX") -> list[bytes]:
    """Every message of a mailbox, in UID order."""
    account = await env.store.account(user)
    box = await account.open_mailbox(mailbox)
    snapshot = await box.snapshot()
    return [await box.read(info.uid) for info in snapshot.messages]


@dataclass
class Listening:
    tcp_port: int
    unix_path: Path
    ports: list[Any]

    async def stop(self) -> None:
        for port in self.ports:
            await port.stopListening()


async def listen(env: MailEnv, unix_path: Path, settings: LmtpSettings | None = None) -> Listening:
    """Start the LMTP server on 127.0.0.1:<free port> and on ``unix_path`` (mode 0666)."""
    from twisted.internet import reactor

    factory = build_factory(env.delivery, settings or LmtpSettings(hostname="mx.test"))
    tcp = await endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
    unix = await endpoints.UNIXServerEndpoint(reactor, str(unix_path), mode=0o666).listen(factory)
    return Listening(tcp.getHost().port, unix_path, [tcp, unix])
