"""One open account: its index connection, the lock that serialises its disk work, events.

Every synchronous operation runs through ``AccountCore.call``: under the account's
``DeferredLock`` (one SQLite connection per account, used by one thread at a time) in the
storage thread pool (``mailstore.blocking.run_blocking``); only message reads skip the
lock, through a read-only connection (``ReadIndex``). OS and SQLite failures are
mapped to ``StoreError`` kinds there; the detail goes to the log only. The last snapshot
of each mailbox is remembered briefly, until the next locked call (``fresh_snapshot``).
"""

from __future__ import annotations

import dataclasses
import errno
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Concatenate, ParamSpec, TypeVar

from twisted.internet.defer import DeferredLock
from twisted.logger import Logger

from mailstore import blocking
from mailstore.api import UserDirectory
from mailstore.changes import ChangeHub
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir.boxes import Ctx
from mailstore.maildir.index import INDEX_FILE
from mailstore.maildir.readindex import ReadIndex
from mailstore.maildir.spool import Spool
from mailstore.maildir.sync import SyncChanges
from mailstore.types import ChangeEvent, ChangeKind, MailboxSnapshot, QuotaLimits

P = ParamSpec("P")
T = TypeVar("T")
log = Logger()

_TEMPORARY_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EBUSY})


def map_errors(fn: Callable[[], T]) -> T:
    """Call ``fn()``; OS and SQLite errors become ``StoreError`` (detail for the log)."""
    try:
        return fn()
    except StoreError:
        raise
    except sqlite3.OperationalError as exc:
        raise StoreError(StoreErrorKind.TEMPORARY, f"index: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(StoreErrorKind.INTERNAL, f"index: {exc}") from exc
    except OSError as exc:
        if exc.errno in _TEMPORARY_ERRNOS:
            raise StoreError(StoreErrorKind.TEMPORARY, f"disk: {exc}") from exc
        if exc.errno == errno.ENOENT:
            raise StoreError(StoreErrorKind.NOT_FOUND, f"vanished: {exc}") from exc
        raise StoreError(StoreErrorKind.INTERNAL, f"disk: {exc}") from exc


FRESH_SECONDS = 1.0
"""How long a remembered snapshot may answer for its mailbox (``fresh_snapshot``)."""
_now = time.monotonic
"""The clock of ``fresh_snapshot`` (a module attribute, so tests can move it)."""


@dataclass(frozen=True, slots=True)
class _Fresh:
    snapshot: MailboxSnapshot
    at: float
    claimed: bool


class AccountCore:
    """Shared state of one user's open store; held by the store, used by its objects."""

    def __init__(
        self, user: str, ctx: Ctx, users: UserDirectory, hub: ChangeHub, spool: Spool
    ) -> None:
        self.user = user
        self.ctx = ctx
        self.users = users
        self.hub = hub
        self.spool = spool
        self.lock = DeferredLock()
        self.reader = ReadIndex(ctx.root / INDEX_FILE)
        """Lock-free lookups for ``Mailbox.read`` (see ``mailstore.maildir.readindex``)."""
        self.closed = False
        self._fresh: dict[str, _Fresh] = {}

    async def call(
        self, fn: Callable[Concatenate[Ctx, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(ctx, ...)`` in the thread pool under the account lock."""
        work = partial(fn, self.ctx, *args, **kwargs)
        return await self.locked(lambda: blocking.run_blocking(map_errors, work))

    async def locked(self, start: Callable[[], Awaitable[T]]) -> T:
        """Await ``start()`` under the account lock: work on this account's index in some
        other thread (``call``, the group commit of appends)."""
        async with self.lock:
            if self.closed:
                raise StoreError(StoreErrorKind.TEMPORARY, "store closed")
            try:
                return await start()
            finally:
                self._fresh.clear()  # whatever it did, remembered snapshots may be stale

    def fresh_snapshot(self, mailbox: str, *, claim_recent: bool) -> MailboxSnapshot | None:
        """The snapshot ``remember_snapshot`` kept for ``mailbox`` if nothing has been done to
        the account in this process since and it is less than ``FRESH_SECONDS`` old; None
        otherwise (and for a claim of ``\\Recent`` unless that snapshot claimed them all).

        Every change made in this process goes through ``call``, which forgets them; what
        another program does to the Maildir shows at most ``FRESH_SECONDS`` later (no
        different from it happening that much later). A second SELECT of an unchanged
        mailbox then needs no trip to the thread pool.
        """
        entry = self._fresh.get(mailbox)
        if entry is None or self.closed or _now() - entry.at >= FRESH_SECONDS:
            return None
        if claim_recent and not entry.claimed:
            return None
        first_recent = entry.snapshot.uidnext if claim_recent else 0  # nothing left to claim
        return dataclasses.replace(entry.snapshot, first_recent_uid=first_recent)

    def remember_snapshot(self, snapshot: MailboxSnapshot, *, claimed: bool) -> None:
        """Keep ``snapshot``, just taken by ``call`` (``claimed``: it claimed ``\\Recent``)."""
        self._fresh[snapshot.name] = _Fresh(snapshot, _now(), claimed)

    async def unlocked(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in the thread pool without the lock (file work that needs no index)."""
        return await blocking.run_blocking(map_errors, partial(fn, *args, **kwargs))

    async def limits(self) -> QuotaLimits:
        return await blocking.run_blocking(self.users.quota_limits, self.user)

    def publish(
        self, mailbox: str, kind: ChangeKind, uids: Iterable[int], origin: object | None = None
    ) -> None:
        """Publish one event if ``uids`` is not empty (always for ``DELETED``)."""
        ordered = tuple(sorted(uids))
        if ordered or kind is ChangeKind.DELETED:
            self.hub.publish(ChangeEvent(self.user, mailbox, kind, ordered, origin))

    def publish_sync(self, mailbox: str, changes: SyncChanges) -> None:
        """Publish what a sync found (changes by other programs: no origin)."""
        self.publish(mailbox, ChangeKind.EXPUNGED, changes.expunged)
        self.publish(mailbox, ChangeKind.APPENDED, changes.appended)
        self.publish(mailbox, ChangeKind.FLAGS, changes.flags)

    def close_sync(self) -> None:
        self.reader.close()
        self.ctx.conn.close()

    async def close(self) -> None:
        async with self.lock:
            if not self.closed:
                self.closed = True
                await blocking.run_blocking(self.close_sync)
