"""The server-side pieces every interop test builds: accounts, a real store, the login gate."""

from __future__ import annotations

from pathlib import Path

from mailstore.accounts import AccountDirectory
from mailstore.maildir.store import MaildirStore
from mailstore.passwords import Password
from protocols.auth import Authenticator


def build_stack(
    root: Path, users: tuple[str, ...], password: str
) -> tuple[AccountDirectory, MaildirStore, Authenticator]:
    """Accounts with ``users`` (one password, cheap bcrypt), a store, short login delays."""
    from twisted.internet import reactor

    root.mkdir(parents=True, exist_ok=True)
    (root / "passwd").touch()
    (root / "aliases").touch()
    accounts = AccountDirectory(root / "passwd", root / "aliases", mail_root=root / "mail")
    for user in users:
        accounts.add_user(user, Password(password.encode()), rounds=4)
    store = MaildirStore(accounts, root / "spool")
    authenticator = Authenticator(accounts, clock=reactor, base_delay=0.1, max_delay=0.2)
    return accounts, store, authenticator
