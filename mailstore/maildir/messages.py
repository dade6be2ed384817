"""Synchronous message operations on one maildir: snapshot, status, append, metadata.

Each function runs in the thread pool with the account's connection (the async layer
serialises calls per account; reads live in ``mailstore.maildir.reads``). Appends are split
so that the slow part (writing and fsyncing the file into ``tmp/``, parsing it) can run
outside the account lock while other calls hold it, and only the rename into
``new/``/``cur/`` plus the UID allocation run inside a write transaction (small appends
of many accounts go through ``mailstore.maildir.groupcommit``, which leaves the syncs of
both steps to the group).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import index, metacodec
from mailstore.maildir.boxes import Ctx, existing_path, file_path, resolve
from mailstore.maildir.durable import fsync_dir, write_staged
from mailstore.maildir.filenames import flags_to_letters, format_name, new_basename
from mailstore.maildir.index import MailboxRow
from mailstore.maildir.keywords import KeywordMap
from mailstore.maildir.messagerows import MessageRow, insert_message, message_rows, store_meta
from mailstore.maildir.reads import read_at
from mailstore.maildir.sync import (
    SyncChanges,
    crlf_size,
    dir_mtimes,
    needs_rescan,
    record_own_change,
)
from mailstore.message import MessageMeta
from mailstore.message_parse import parse_message, parse_stored, to_crlf
from mailstore.types import MailboxSnapshot, MailboxStatus, MessageInfo, QuotaLimits

_FLAGS = index.FlagCache()


SnapshotKey = tuple[int, int, int, int]
SnapshotCache = dict[str, tuple[SnapshotKey, tuple[MessageInfo, ...]]]
"""The last message list built per mailbox of one account (``ReadIndex.snapshots``)."""


def _messages(ctx: Ctx, row: MailboxRow, cache: SnapshotCache | None) -> tuple[MessageInfo, ...]:
    """The message list of ``row``, rebuilt only when the mailbox changed.

    Every change of a message's UID, flags or presence takes a new MODSEQ (RFC 7162 3.1.1),
    and UIDNEXT/UIDVALIDITY cover the rest, so an unchanged (id, UIDVALIDITY, UIDNEXT,
    HIGHESTMODSEQ) means an unchanged list: a warm SELECT of 100,000 messages then costs
    no object per message.
    """
    key = (row.id, row.uidvalidity, row.uidnext, row.highestmodseq)
    if cache is not None:
        cached = cache.get(row.name)
        if cached is not None and cached[0] == key:
            return cached[1]
    flags = _FLAGS
    info = MessageInfo
    cursor = ctx.conn.execute(index.SNAPSHOT_SQL, (row.id,))
    enabled = gc.isenabled()
    gc.disable()  # 100,000 new objects would trigger full collections over all of them
    try:
        messages = tuple([info(u, flags[f], m, s, d) for u, f, m, s, d in cursor])
    finally:
        if enabled:
            gc.enable()
    if cache is not None:
        cache[row.name] = (key, messages)
    return messages


def _build_snapshot(
    ctx: Ctx, row: MailboxRow, first_recent: int, cache: SnapshotCache | None = None
) -> MailboxSnapshot:
    return MailboxSnapshot(
        name=row.name,
        uidvalidity=row.uidvalidity,
        uidnext=row.uidnext,
        highestmodseq=row.highestmodseq,
        messages=_messages(ctx, row, cache),
        first_recent_uid=first_recent,
    )


def _is_fresh(ctx: Ctx, name: str) -> MailboxRow | None:
    """The index row if the maildir is known and unchanged since its last scan."""
    path = existing_path(ctx, name)
    row = index.get_mailbox(ctx.conn, name)
    if row is None or needs_rescan(row, dir_mtimes(path)):
        return None
    return row


def snapshot(
    ctx: Ctx, name: str, claim_recent: bool, cache: SnapshotCache | None = None
) -> tuple[MailboxSnapshot, SyncChanges]:
    """Sync and return the mailbox state; with ``claim_recent`` take the unclaimed UIDs.

    A mailbox unchanged on disk whose messages are all claimed already (a second SELECT)
    is answered from a read transaction: no write, no commit to wait for.
    """
    fresh = _is_fresh(ctx, name)
    if fresh is not None and (not claim_recent or fresh.recent_uid >= fresh.uidnext - 1):
        with index.read_transaction(ctx.conn):
            row = index.get_mailbox(ctx.conn, name)
            if row is not None and (not claim_recent or row.recent_uid >= row.uidnext - 1):
                first = row.recent_uid + 1 if claim_recent else 0
                return _build_snapshot(ctx, row, first, cache), SyncChanges()
    with index.write_transaction(ctx.conn):
        row, _, changes = resolve(ctx, name, move_new=claim_recent)
        first_recent = 0
        if claim_recent:
            first_recent = row.recent_uid + 1
            ctx.conn.execute(
                "UPDATE mailboxes SET recent_uid=? WHERE id=?", (row.uidnext - 1, row.id)
            )
        return _build_snapshot(ctx, row, first_recent, cache), changes


def status(ctx: Ctx, name: str) -> tuple[MailboxStatus, SyncChanges]:
    """Counters for STATUS (RFC 3501 6.3.10), synced like ``snapshot``."""
    changes = SyncChanges()
    if _is_fresh(ctx, name) is None:
        with index.write_transaction(ctx.conn):
            _, _, changes = resolve(ctx, name)
    with index.read_transaction(ctx.conn):
        row = index.get_mailbox(ctx.conn, name)
        if row is None:
            raise StoreError(StoreErrorKind.NOT_FOUND, "mailbox vanished")
        count, recent, unseen, size = ctx.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(uid > ?), 0), COALESCE(SUM((flags & ?) = 0), 0), "
            "COALESCE(SUM(size), 0) FROM messages WHERE mailbox_id=?",
            (row.recent_uid, index.SEEN_BIT, row.id),
        ).fetchone()
    result = MailboxStatus(
        messages=count,
        recent=recent,
        unseen=unseen,
        uidnext=row.uidnext,
        uidvalidity=row.uidvalidity,
        highestmodseq=row.highestmodseq,
        size=size,
    )
    return result, changes


def check_quota(ctx: Ctx, limits: QuotaLimits, size: int, count: int) -> None:
    """``OVER_QUOTA`` if ``count`` more messages of ``size`` octets would exceed a limit."""
    if not (limits.storage_bytes or limits.messages):
        return
    used_bytes, used_count = index.usage(ctx.conn)
    if limits.storage_bytes and used_bytes + size > limits.storage_bytes:
        raise StoreError(StoreErrorKind.OVER_QUOTA, "storage limit")
    if limits.messages and used_count + count > limits.messages:
        raise StoreError(StoreErrorKind.OVER_QUOTA, "message count limit")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message written and fsynced into ``tmp/``, waiting for its UID."""

    path: Path
    base: str
    size: int
    internal_date: float
    system: frozenset[str]
    keywords: frozenset[str]
    header: bytes
    structure: str


def write_message(
    path: Path,
    message: bytes | Path,
    *,
    prefix: bytes,
    system: frozenset[str],
    keywords: frozenset[str],
    internal_date: float | None,
    crlf: bool = False,
    sync: bool = True,
) -> Prepared:
    """Write prefix + message as ``tmp/<base>`` of maildir ``path``, contents fsynced, and
    parse its metadata (no lock needed: the name is unique). A missing maildir surfaces
    as ``FileNotFoundError`` (``NOT_FOUND``); quota is checked by ``commit_append``.
    ``crlf``: in-memory ``message`` known to have no bare LF (not converted again).
    ``sync=False`` (in-memory messages): the caller fsyncs ``Prepared.path`` before the commit."""
    if isinstance(message, Path):
        with open(message, "rb") as f:
            full = prefix + f.read()
        size = crlf_size(full)
        base = new_basename(len(full), size)
        staged = path / "tmp" / base
        if prefix:
            write_staged(staged, [full])
        else:  # a spooled message is durable already: a second name is enough
            os.link(message, staged)
        is_crlf = size == len(full)
    else:
        full = to_crlf(prefix) + (message if crlf else to_crlf(message))
        size = len(full)
        base = new_basename(size, size)
        staged = path / "tmp" / base
        write_staged(staged, [full], sync=sync)
        is_crlf = True
    if internal_date is not None:
        os.utime(staged, (internal_date, internal_date))
    mtime = os.stat(staged).st_mtime
    header, envelope, body = parse_message(full, crlf=is_crlf)
    return Prepared(
        staged, base, size, mtime, system, keywords, header, metacodec.encode(envelope, body)
    )


def commit_append(
    ctx: Ctx,
    name: str,
    prepared: Prepared,
    limits: QuotaLimits | Callable[[], QuotaLimits],
    dir_syncs: list[Path] | None = None,
) -> tuple[MailboxRow, int, SyncChanges]:
    """Move the prepared file into ``new/`` (``cur/`` if flagged) and give it the next UID.

    The quota is checked here, inside the write transaction that adds the message, so
    concurrent appends cannot overshoot it; ``limits`` may be a function (the user
    directory's lookup, blocking) so that the caller needs no thread hop of its own.
    The prepared file is gone afterwards whatever happens. With ``dir_syncs`` the
    directory that received the file is added to that list instead of being fsynced:
    the caller syncs it before it reports the append.
    """
    moved = False
    try:
        if callable(limits):
            limits = limits()
        with index.write_transaction(ctx.conn):
            row, path, changes = resolve(ctx, name)
            check_quota(ctx, limits, prepared.size, 1)
            kw_letters = ""
            if prepared.keywords:
                kw_letters = KeywordMap.load(path).letters_for(sorted(prepared.keywords))
            letters = flags_to_letters(prepared.system, kw_letters)
            flagged = bool(prepared.system or prepared.keywords)
            file_name = format_name(prepared.base, letters) if flagged else prepared.base
            dest = file_path(path, file_name, not flagged)
            before = changes.mtimes or dir_mtimes(path)  # as the sync just saw them
            os.rename(prepared.path, dest)
            moved = True
            try:
                if dir_syncs is None:
                    fsync_dir(dest.parent)
                else:
                    dir_syncs.append(dest.parent)
                uid, modseq = index.take_uid_and_modseq(ctx.conn, row.id)
                message = MessageRow(
                    uid,
                    prepared.base,
                    file_name,
                    not flagged,
                    index.bits_of(prepared.system),
                    index.join_keywords(prepared.keywords),
                    modseq,
                    prepared.size,
                    prepared.internal_date,
                )
                insert_message(ctx.conn, row.id, message)
                store_meta(ctx.conn, row.id, uid, prepared.header, prepared.structure)
                index.add_usage(ctx.conn, prepared.size, 1)
                record_own_change(ctx.conn, row, path, before)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
    finally:
        if not moved:
            prepared.path.unlink(missing_ok=True)
    return row, uid, changes


def metadata(ctx: Ctx, name: str, uids: list[int]) -> dict[int, MessageMeta]:
    """Cached metadata of the messages of ``uids`` that exist; computed once if missing."""
    with index.write_transaction(ctx.conn):
        row, path, _ = resolve(ctx, name)
        rows = message_rows(ctx.conn, row.id, uids)
        stored = {
            int(uid): (bytes(header), str(structure))
            for uid, header, structure in ctx.conn.execute(
                _LOAD_META_SQL, (row.id, index.as_json([r.uid for r in rows]))
            )
        }
        out: dict[int, MessageMeta] = {}
        computed: list[tuple[int, int, bytes, str]] = []
        dirs = (f"{path}/cur/", f"{path}/new/")  # strings: a Path per message costs more
        enabled = gc.isenabled()
        gc.disable()  # thousands of small objects, none of them in a cycle
        try:
            for r in rows:
                meta = _cached_meta(r, stored.get(r.uid))
                if meta is None:
                    meta = _compute_meta(dirs[r.in_new] + r.name, r)
                    if meta is not None:
                        structure = metacodec.encode(meta.envelope, meta.body)
                        computed.append((row.id, r.uid, meta.header, structure))
                if meta is not None:
                    out[r.uid] = meta
        finally:
            if enabled:
                gc.enable()
        if computed:
            ctx.conn.executemany(_STORE_META_SQL, computed)
    return out


_LOAD_META_SQL = (
    "SELECT uid, header, structure FROM message_meta "
    "WHERE mailbox_id=? AND uid IN (SELECT value FROM json_each(?))"
)
"""The cached metadata of many messages in one query (``metadata`` asks for hundreds)."""
_STORE_META_SQL = (
    "INSERT OR REPLACE INTO message_meta(mailbox_id, uid, header, structure) VALUES (?, ?, ?, ?)"
)
"""``store_meta`` for many messages at once (``executemany``)."""


def _cached_meta(r: MessageRow, stored: tuple[bytes, str] | None) -> MessageMeta | None:
    if stored is None:
        return None
    try:
        envelope, body = metacodec.decode(stored[1])
    except metacodec.MetaCodecError:
        return None
    return MessageMeta(r.uid, r.size, r.internal_date, stored[0], envelope, body)


def _compute_meta(file: str, r: MessageRow) -> MessageMeta | None:
    """Parse the message file (as stored: ``parse_stored`` converts line ends as needed)."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        raw = read_at(fd, 0, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    header, envelope, body = parse_stored(raw)
    return MessageMeta(r.uid, r.size, r.internal_date, header, envelope, body)
