"""``mailstore.api.Mailbox`` over one maildir: thin async wrappers over the sync operations.

Each call syncs with the disk as needed, runs under the account lock in the thread
pool (except ``read``: one lock-free lookup and file read, syncing only on a miss; and a
small ``append``: in the group committer's thread, ``groupcommit``), then publishes what
changed (its own changes with the caller's ``origin``, changes by other programs that the
sync found without one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path

from twisted.logger import Logger

from mailstore.api import ChangeListener, ReadRange, Unsubscribe
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import flagops, messages, reads, transfer
from mailstore.maildir.core import AccountCore
from mailstore.maildir.groupcommit import GroupAppend, committer
from mailstore.maildir.layout import mailbox_path
from mailstore.message import MessageMeta
from mailstore.names import normalize_name
from mailstore.types import (
    AppendResult,
    ChangeKind,
    CopyResult,
    FlagMode,
    MailboxSnapshot,
    MailboxStatus,
    StagedMessage,
    StoreFlagsResult,
)

log = Logger()
GROUP_LIMIT = 256 * 1024
"""In-memory appends up to this size go through the group commit (``groupcommit``), which
writes them under the account lock; a bigger or spooled message is written first, without
the lock, and then committed in a trip of its own."""


class MaildirMailbox:
    """An open mailbox of a ``MaildirAccount`` (implements ``mailstore.api.Mailbox``)."""

    def __init__(self, core: AccountCore, name: str) -> None:
        self._core = core
        self._name = name
        self._path = mailbox_path(core.ctx.root, name)
        """Its directory, for the lock-free ``read`` (pure: no disk access)."""

    @property
    def name(self) -> str:
        return self._name

    async def snapshot(self, *, claim_recent: bool = False) -> MailboxSnapshot:
        """Sync and return the state (RFC 3501 6.3.1 SELECT; RFC 7162 HIGHESTMODSEQ).

        Answered without a thread-pool trip when this account has not changed since a
        snapshot of the mailbox taken less than a second ago (``AccountCore.fresh_snapshot``).
        """
        core = self._core
        fresh = core.fresh_snapshot(self._name, claim_recent=claim_recent)
        if fresh is not None:
            return fresh
        snap, changes = await core.call(
            messages.snapshot, self._name, claim_recent, core.reader.snapshots
        )
        core.remember_snapshot(snap, claimed=claim_recent)
        core.publish_sync(self._name, changes)
        return snap

    async def status(self) -> MailboxStatus:
        """Counters for STATUS (RFC 3501 6.3.10)."""
        result, changes = await self._core.call(messages.status, self._name)
        self._core.publish_sync(self._name, changes)
        return result

    async def append(
        self,
        message: bytes | StagedMessage,
        *,
        flags: Iterable[str] = (),
        internal_date: float | None = None,
        prefix: bytes = b"",
        origin: object | None = None,
        crlf: bool = False,
    ) -> AppendResult:
        """Store durably and give the next UID (RFC 3501 6.3.11, RFC 4315 APPENDUID)."""
        core = self._core
        source: bytes | Path
        if isinstance(message, StagedMessage):
            try:
                source = core.spool.path_of(message)
            except ValueError as exc:
                raise StoreError(StoreErrorKind.INTERNAL, "bad staged message") from exc
        else:
            source = message
        system, keywords = flagops.split_flags(flags)
        small = isinstance(source, bytes) and len(source) <= GROUP_LIMIT
        write = partial(
            messages.write_message,
            self._path,
            source,
            prefix=prefix,
            system=system,
            keywords=keywords,
            internal_date=internal_date,
            crlf=crlf,
            sync=not small,
        )
        limits = partial(core.users.quota_limits, core.user)  # looked up in the same hop
        if small:  # synced together with the other appends waiting now
            job = GroupAppend(core.ctx, self._name, write, limits)
            row, uid, changes, size = await core.locked(partial(committer().append, job))
        else:  # written without holding up the account's other calls, then committed
            prepared = await core.unlocked(write)
            size = prepared.size
            row, uid, changes = await core.call(
                messages.commit_append, self._name, prepared, limits
            )
        core.publish_sync(self._name, changes)
        core.publish(self._name, ChangeKind.APPENDED, [uid], origin)
        log.debug(
            "append {user} {mailbox} uid={uid} size={size}",
            user=core.user,
            mailbox=self._name,
            uid=uid,
            size=size,
        )
        return AppendResult(row.uidvalidity, uid)

    async def metadata(self, uids: Sequence[int]) -> dict[int, MessageMeta]:
        """Cached envelope, body structure and header block (RFC 3501 7.4.2)."""
        return await self._core.call(messages.metadata, self._name, list(uids))

    async def read(self, uid: int, start: int = 0, length: int | None = None) -> bytes:
        """The message with CRLF line ends, or ``[start, start+length)`` of it."""
        core = self._core
        if core.closed:
            raise StoreError(StoreErrorKind.TEMPORARY, "store closed")
        data = await core.unlocked(
            reads.read_indexed,
            core.reader,
            self._path,
            self._name,
            uid,
            start=start,
            length=length,
        )
        if data is not None:
            return data
        # not in the index as last committed, or its file was renamed: sync and retry
        for force in (False, True):
            file, row, changes = await core.call(reads.locate, self._name, uid, force=force)
            core.publish_sync(self._name, changes)
            try:
                return await core.unlocked(reads.read_file, file, row.size, start, length)
            except StoreError as exc:
                if exc.kind is not StoreErrorKind.NOT_FOUND:
                    raise
        raise StoreError(StoreErrorKind.NOT_FOUND, "message file vanished")

    async def read_many(self, ranges: Sequence[ReadRange]) -> list[bytes | None]:
        """Many ``read``s with one lock-free index query and one thread hop.

        Misses (a file renamed or removed by another program since the index last saw it)
        are retried together after one sync, then after one forced sync: never a sync per
        message, however many of them vanished.
        """
        core = self._core
        if core.closed:
            raise StoreError(StoreErrorKind.TEMPORARY, "store closed")
        wanted = list(ranges)
        if not wanted:
            return []
        out = await core.unlocked(
            reads.read_indexed_many, core.reader, self._path, self._name, wanted
        )
        missing = [i for i, data in enumerate(out) if data is None]
        for force in (False, True):
            if not missing:
                break
            uids = sorted({wanted[i][0] for i in missing})
            files, changes = await core.call(reads.locate_many, self._name, uids, force=force)
            core.publish_sync(self._name, changes)
            # not in the index after a sync: gone (as ``read``); in it: read again
            missing = [i for i in missing if wanted[i][0] in files]
            retried = await core.unlocked(reads.read_files, files, [wanted[i] for i in missing])
            for i, data in zip(missing, retried, strict=True):
                out[i] = data
            missing = [i for i in missing if out[i] is None]
        return out

    async def store_flags(
        self,
        uids: Sequence[int],
        mode: FlagMode,
        flags: Iterable[str],
        *,
        unchanged_since: int | None = None,
        origin: object | None = None,
    ) -> StoreFlagsResult:
        """STORE (RFC 3501 6.4.6) with the UNCHANGEDSINCE guard (RFC 7162 3.1.3)."""
        result, changes, changed = await self._core.call(
            flagops.store_flags, self._name,
            list(uids),
            mode,
            list(flags),
            unchanged_since=unchanged_since,
        )
        self._core.publish_sync(self._name, changes)
        self._core.publish(self._name, ChangeKind.FLAGS, changed, origin)
        return result

    async def expunge(
        self, uids: Sequence[int] | None = None, *, origin: object | None = None
    ) -> tuple[int, ...]:
        """EXPUNGE / UID EXPUNGE (RFC 3501 6.4.3, RFC 4315 2.1)."""
        removed, changes = await self._core.call(
            flagops.expunge, self._name, None if uids is None else list(uids)
        )
        self._core.publish_sync(self._name, changes)
        self._core.publish(self._name, ChangeKind.EXPUNGED, removed, origin)
        return tuple(removed)

    async def copy(
        self, uids: Sequence[int], dest: str, *, origin: object | None = None
    ) -> CopyResult:
        """COPY (RFC 3501 6.4.7) with COPYUID data (RFC 4315); quota checked first."""
        dest = normalize_name(dest)
        limits = await self._core.limits()
        validity, src_uids, dest_uids, sc, dc = await self._core.call(
            transfer.copy, self._name, dest, list(uids), limits
        )
        self._core.publish_sync(self._name, sc)
        self._core.publish_sync(dest, dc)
        self._core.publish(dest, ChangeKind.APPENDED, dest_uids, origin)
        return CopyResult(validity, tuple(src_uids), tuple(dest_uids))

    async def move(
        self, uids: Sequence[int], dest: str, *, origin: object | None = None
    ) -> CopyResult:
        """MOVE (RFC 6851): sources vanish in the same transaction the copies appear in."""
        dest = normalize_name(dest)
        validity, src_uids, dest_uids, sc, dc = await self._core.call(
            transfer.move, self._name, dest, list(uids)
        )
        self._core.publish_sync(self._name, sc)
        self._core.publish_sync(dest, dc)
        self._core.publish(self._name, ChangeKind.EXPUNGED, src_uids, origin)
        self._core.publish(dest, ChangeKind.APPENDED, dest_uids, origin)
        return CopyResult(validity, tuple(src_uids), tuple(dest_uids))

    def subscribe(self, listener: ChangeListener) -> Unsubscribe:
        """Listen to every change of this mailbox made through this store."""
        return self._core.hub.subscribe(self._core.user, self._name, listener)
