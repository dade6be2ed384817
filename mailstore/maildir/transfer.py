"""COPY and MOVE between mailboxes of one account (RFC 3501 6.4.7, RFC 6851, RFC 4315).

Both run in one write transaction of the account's index, so other sessions never see a
half-done copy: copies are hard links (a copy through ``tmp/`` where links are refused)
made straight into the destination's ``cur/``, removed again if anything fails; moves
rename the files between folders and put them back on failure. Destination UIDs are
given in source UID order; flags (and keywords, re-lettered for the destination's
``dovecot-keywords``) are kept.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import index
from mailstore.maildir.boxes import Ctx, file_path, fsync_dirs, resolve, unlink_quietly
from mailstore.maildir.durable import copy_file_durably
from mailstore.maildir.filenames import flags_to_letters, format_name, new_basename
from mailstore.maildir.index import MailboxRow
from mailstore.maildir.keywords import KeywordMap
from mailstore.maildir.messagerows import MessageRow, delete_messages, insert_messages, message_rows
from mailstore.maildir.messages import check_quota
from mailstore.maildir.sync import SyncChanges, dir_mtimes, record_own_change
from mailstore.types import QuotaLimits

_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK})


def _dest_name(kmap: KeywordMap, r: MessageRow, base: str) -> str:
    keywords = index.split_keywords(r.keywords)
    letters = flags_to_letters(index.system_of(r.flags), kmap.letters_for(sorted(keywords)))
    return format_name(base, letters)


def _link_or_copy(src: Path, dest_dir: Path, name: str) -> None:
    try:
        os.link(src, dest_dir / "cur" / name)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        copy_file_durably(src, dest_dir / "tmp", dest_dir / "cur", name)


def _insert_copies(
    ctx: Ctx, dest: MailboxRow, pairs: list[tuple[MessageRow, str, str]], src_id: int | None
) -> list[int]:
    """Index rows for files now in the destination's ``cur/``; their new UIDs."""
    first = index.take_uids(ctx.conn, dest.id, len(pairs))
    modseq = index.bump_modseq(ctx.conn, dest.id)
    uids = list(range(first, first + len(pairs)))
    insert_messages(
        ctx.conn,
        dest.id,
        [
            MessageRow(uid, base, name, False, r.flags, r.keywords, modseq, r.size, r.internal_date)
            for uid, (r, base, name) in zip(uids, pairs, strict=True)
        ],
    )
    if src_id is not None:
        ctx.conn.executemany(
            "INSERT OR REPLACE INTO message_meta(mailbox_id, uid, header, structure) "
            "SELECT ?, ?, header, structure FROM message_meta WHERE mailbox_id=? AND uid=?",
            [(dest.id, uid, src_id, r.uid) for uid, (r, _, _) in zip(uids, pairs, strict=True)],
        )
    return uids


def _sources(
    ctx: Ctx, source: str, dest: str, uids: list[int]
) -> tuple[MailboxRow, Path, MailboxRow, Path, list[MessageRow], SyncChanges, SyncChanges]:
    src_row, src_path, src_changes = resolve(ctx, source)
    dest_row, dest_path, dest_changes = resolve(ctx, dest)
    rows = message_rows(ctx.conn, src_row.id, uids)
    return src_row, src_path, dest_row, dest_path, rows, src_changes, dest_changes


CopyOutcome = tuple[int, list[int], list[int], SyncChanges, SyncChanges]
"""(dest UIDVALIDITY, source UIDs, dest UIDs, source sync changes, dest sync changes)."""


def copy(ctx: Ctx, source: str, dest: str, uids: list[int], limits: QuotaLimits) -> CopyOutcome:
    """Copy messages of ``uids`` that exist; all or nothing."""
    with index.write_transaction(ctx.conn):
        src_row, src_path, dest_row, dest_path, rows, sc, dc = _sources(ctx, source, dest, uids)
        if not rows:
            return dest_row.uidvalidity, [], [], sc, dc
        check_quota(ctx, limits, sum(r.size for r in rows), len(rows))
        kmap = KeywordMap.load(dest_path)
        pairs: list[tuple[MessageRow, str, str]] = []
        made: list[Path] = []
        before = dir_mtimes(dest_path)
        try:
            for r in rows:
                src_file = file_path(src_path, r.name, r.in_new)
                base = new_basename(os.stat(src_file).st_size, r.size)
                name = _dest_name(kmap, r, base)
                _link_or_copy(src_file, dest_path, name)
                made.append(dest_path / "cur" / name)
                pairs.append((r, base, name))
            fsync_dirs(dest_path / "cur")
            dest_uids = _insert_copies(ctx, dest_row, pairs, src_row.id)
            index.add_usage(ctx.conn, sum(r.size for r in rows), len(rows))
            record_own_change(ctx.conn, dest_row, dest_path, before)
        except FileNotFoundError as exc:
            unlink_quietly(made)
            raise StoreError(StoreErrorKind.TEMPORARY, "source message vanished") from exc
        except BaseException:
            unlink_quietly(made)
            raise
    return dest_row.uidvalidity, [r.uid for r in rows], dest_uids, sc, dc


def move(ctx: Ctx, source: str, dest: str, uids: list[int]) -> CopyOutcome:
    """Move messages of ``uids`` that exist to another mailbox; all or nothing."""
    with index.write_transaction(ctx.conn):
        src_row, src_path, dest_row, dest_path, rows, sc, dc = _sources(ctx, source, dest, uids)
        if not rows:
            return dest_row.uidvalidity, [], [], sc, dc
        kmap = KeywordMap.load(dest_path)
        taken = {
            b
            for (b,) in ctx.conn.execute(
                "SELECT base FROM messages WHERE mailbox_id=?", (dest_row.id,)
            )
        }
        pairs: list[tuple[MessageRow, str, str]] = []
        done: list[tuple[Path, Path]] = []
        before_src, before_dest = dir_mtimes(src_path), dir_mtimes(dest_path)
        try:
            for r in rows:
                base = r.base if r.base not in taken else new_basename(None, r.size)
                name = _dest_name(kmap, r, base)
                src_file = file_path(src_path, r.name, r.in_new)
                dest_file = dest_path / "cur" / name
                if os.path.lexists(dest_file):
                    raise StoreError(StoreErrorKind.TEMPORARY, "destination file exists")
                os.rename(src_file, dest_file)
                done.append((src_file, dest_file))
                pairs.append((r, base, name))
            fsync_dirs(dest_path / "cur", src_path / "cur", src_path / "new")
            dest_uids = _insert_copies(ctx, dest_row, pairs, src_row.id)
            index.bump_modseq(ctx.conn, src_row.id)
            delete_messages(ctx.conn, src_row.id, [r.uid for r in rows])
            record_own_change(ctx.conn, src_row, src_path, before_src)
            record_own_change(ctx.conn, dest_row, dest_path, before_dest)
        except BaseException as exc:
            for src_file, dest_file in reversed(done):
                os.rename(dest_file, src_file)
            if isinstance(exc, FileNotFoundError):
                raise StoreError(StoreErrorKind.TEMPORARY, "source message vanished") from exc
            raise
    return dest_row.uidvalidity, [r.uid for r in rows], dest_uids, sc, dc
