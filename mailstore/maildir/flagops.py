"""Synchronous flag changes and expunges (RFC 3501 6.4.6 STORE, 6.4.3 EXPUNGE; RFC 7162).

Flags live in two places that must agree: the info letters of the file name (system
flags and the 26 lettered keywords, what other Maildir programs see) and the index
(every keyword, MODSEQs). A change renames the files in ``cur/`` and updates the index in
one write transaction; a file renamed meanwhile by another program is found by a forced
resync and the change retried once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from mailstore.maildir import index
from mailstore.maildir.boxes import Ctx, fsync_dirs, resolve
from mailstore.maildir.filenames import (
    INFO_SEPARATOR,
    flags_to_letters,
    format_name,
    preserved_letters,
)
from mailstore.maildir.index import MessageRow
from mailstore.maildir.keywords import KeywordMap, valid_keyword
from mailstore.maildir.sync import SyncChanges
from mailstore.types import SYSTEM_FLAGS, FlagMode, FlagUpdate, StoreFlagsResult

_CANONICAL = {flag.lower(): flag for flag in SYSTEM_FLAGS}


def split_flags(flags: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Client flags → (system flags in canonical spelling, keywords).

    ``\\Recent`` and unknown ``\\`` flags are dropped; keywords that cannot be stored
    (spaces, control characters) too.
    """
    system: set[str] = set()
    keywords: set[str] = set()
    for flag in flags:
        if flag.startswith("\\"):
            canonical = _CANONICAL.get(flag.lower())
            if canonical is not None:
                system.add(canonical)
        elif valid_keyword(flag):
            keywords.add(flag)
    return frozenset(system), frozenset(keywords)


def _combine(
    mode: FlagMode, old: frozenset[str], given: frozenset[str], *, fold: bool
) -> frozenset[str]:
    if mode is FlagMode.REPLACE:
        return given
    if not fold:
        return old | given if mode is FlagMode.ADD else old - given
    given_lower = {g.lower() for g in given}
    if mode is FlagMode.ADD:
        old_lower = {o.lower() for o in old}
        return old | {g for g in given if g.lower() not in old_lower}
    return frozenset(o for o in old if o.lower() not in given_lower)


def _rename(path: str, r: MessageRow, letters: str) -> str:
    """Rename the file of ``r`` (in maildir ``path``) to carry ``letters`` in ``cur/``."""
    old_letters = r.name.partition(INFO_SEPARATOR)[2]
    preserved = preserved_letters(old_letters) if old_letters else ""
    new_name = format_name(r.base, letters + preserved)
    if new_name != r.name or r.in_new:
        sub = "new" if r.in_new else "cur"
        os.rename(f"{path}/{sub}/{r.name}", f"{path}/cur/{new_name}")
    return new_name


def store_flags(
    ctx: Ctx,
    name: str,
    uids: list[int],
    mode: FlagMode,
    flags: Iterable[str],
    *,
    unchanged_since: int | None,
) -> tuple[StoreFlagsResult, SyncChanges, list[int]]:
    """Change flags of ``uids``; (result, sync changes found first, UIDs that changed)."""
    system, keywords = split_flags(flags)
    with index.write_transaction(ctx.conn):
        row, path, changes = resolve(ctx, name)
        rows = index.message_rows(ctx.conn, row.id, uids)
        guard = unchanged_since
        modified = [r.uid for r in rows if guard is not None and r.modseq > guard]
        todo = [r for r in rows if guard is None or r.modseq <= guard]
        kmap: KeywordMap | None = None
        modseq = 0
        updated: list[FlagUpdate] = []
        changed: list[int] = []
        for attempt in range(2):
            retry: list[int] = []
            writes: list[tuple[object, ...]] = []
            str_path = str(path)
            for r in todo:
                new_system = _combine(mode, index.system_of(r.flags), system, fold=False)
                new_keywords = _combine(mode, index.split_keywords(r.keywords), keywords, fold=True)
                bits, kw_text = index.bits_of(new_system), index.join_keywords(new_keywords)
                if (bits, kw_text) == (r.flags, r.keywords):
                    updated.append(FlagUpdate(r.uid, index.flagset(bits, kw_text), r.modseq))
                    continue
                if kmap is None:
                    kmap = KeywordMap.load(path)
                letters = flags_to_letters(new_system, kmap.letters_for(sorted(new_keywords)))
                try:
                    new_name = _rename(str_path, r, letters)
                except FileNotFoundError:
                    retry.append(r.uid)
                    continue
                modseq = modseq or index.bump_modseq(ctx.conn, row.id)
                writes.append((new_name, bits, kw_text, modseq, row.id, r.uid))
                updated.append(FlagUpdate(r.uid, index.flagset(bits, kw_text), modseq))
                changed.append(r.uid)
            ctx.conn.executemany(
                "UPDATE messages SET name=?, in_new=0, flags=?, keywords=?, modseq=? "
                "WHERE mailbox_id=? AND uid=?",
                writes,
            )
            if not retry or attempt:
                break
            row, path, more = resolve(ctx, name, force=True)
            changes.flags.extend(more.flags)
            changes.expunged.extend(more.expunged)
            changes.appended.extend(more.appended)
            todo = index.message_rows(ctx.conn, row.id, retry)
        if changed:
            fsync_dirs(path / "cur")
    updated.sort(key=lambda u: u.uid)
    return StoreFlagsResult(tuple(updated), tuple(modified)), changes, changed


def expunge(
    ctx: Ctx, name: str, uids: list[int] | None
) -> tuple[list[int], SyncChanges]:
    """Remove the ``\\Deleted`` messages (among ``uids`` if given); (removed, sync changes)."""
    with index.write_transaction(ctx.conn):
        row, path, changes = resolve(ctx, name)
        rows = index.message_rows(ctx.conn, row.id, uids)
        doomed = [r for r in rows if r.flags & index.DELETED_BIT]
        if not doomed:
            return [], changes
        str_path = str(path)
        for r in doomed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{str_path}/{'new' if r.in_new else 'cur'}/{r.name}")
        index.bump_modseq(ctx.conn, row.id)
        index.delete_messages(ctx.conn, row.id, [r.uid for r in doomed])
        index.add_usage(ctx.conn, -sum(r.size for r in doomed), -len(doomed))
        fsync_dirs(path / "cur", path / "new")
    return [r.uid for r in doomed], changes
