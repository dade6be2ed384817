"""``MaildirStore``: the ``mailstore.api.Store`` over per-user Maildir++ directories.

A user's mail is ``users.home(user) / "Maildir"`` with its index
``Maildir/mailstack-index.sqlite``. Accounts are opened once per process and kept: one
SQLite connection and one lock each. Messages arriving over LMTP or IMAP are spooled
first (``Store.spool``) and then appended to as many mailboxes as needed.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from twisted.internet.defer import DeferredLock
from twisted.logger import Logger

from mailstore import blocking
from mailstore.api import SpoolWriter, UserDirectory
from mailstore.changes import ChangeHub
from mailstore.maildir import index, manage
from mailstore.maildir.account import MaildirAccount
from mailstore.maildir.boxes import Ctx
from mailstore.maildir.core import AccountCore, map_errors
from mailstore.maildir.spool import Spool
from mailstore.types import StagedMessage

log = Logger()


def _open_ctx(user: str, home: Path) -> Ctx:
    root = manage.maildir_root(home)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = index.connect(root / index.INDEX_FILE)
    ctx = Ctx(conn, root, user)
    try:
        manage.open_account(ctx)
    except BaseException:
        conn.close()
        raise
    return ctx


class MaildirStore:
    """The Maildir++ store (implements ``mailstore.api.Store``)."""

    def __init__(self, users: UserDirectory, spool_dir: Path, hub: ChangeHub | None = None) -> None:
        self.users = users
        self.hub = hub if hub is not None else ChangeHub()
        self._spool = Spool(spool_dir)
        self._accounts: dict[str, AccountCore] = {}
        self._open_lock = DeferredLock()

    async def account(self, user: str) -> MaildirAccount:
        """The store of ``user`` (opened, and on first use created, once per process)."""
        core = self._accounts.get(user)
        if core is None:
            async with self._open_lock:
                core = self._accounts.get(user)
                if core is None:
                    home = await blocking.run_blocking(self.users.home, user)
                    ctx = await blocking.run_blocking(map_errors, partial(_open_ctx, user, home))
                    core = AccountCore(user, ctx, self.users, self.hub, self._spool)
                    self._accounts[user] = core
                    log.info("opened mail store of {user}", user=user)
        return MaildirAccount(core)

    def spool(self) -> SpoolWriter:
        """A writer for a message that will be appended to one or more mailboxes."""
        return self._spool.writer()

    def discard(self, staged: StagedMessage) -> None:
        """Remove a staged message once every append of it is done."""
        try:
            self._spool.discard(staged)
        except (OSError, ValueError) as exc:
            log.warn("could not discard staged message: {error}", error=str(exc))

    async def close(self) -> None:
        """Close every account's index (waits for operations in progress)."""
        accounts, self._accounts = list(self._accounts.values()), {}
        for core in accounts:
            await core.close()
