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
from pathlib import Path

from mailstore.maildir import index
from mailstore.maildir.boxes import Ctx, fsync_dirs, resolve
from mailstore.maildir.filenames import (
    INFO_SEPARATOR,
    flags_to_letters,
    format_name,
    preserved_letters,
)
from mailstore.maildir.keywords import KeywordMap, valid_keyword
from mailstore.maildir.messagerows import delete_messages
from mailstore.maildir.sync import SyncChanges, dir_mtimes, record_own_change
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


class _Planner:
    """New flags and file names for one STORE, computed once per distinct old state.

    A STORE on 100,000 messages sees only a handful of distinct (flags, keywords, info
    letters) combinations: everything but the rename is a dictionary lookup per message.
    """

    def __init__(
        self, path: Path, mode: FlagMode, system: frozenset[str], keywords: frozenset[str]
    ) -> None:
        self.path, self.mode, self.system, self.keywords = path, mode, system, keywords
        self._kmap: KeywordMap | None = None
        self._flags: dict[tuple[int, str], tuple[int, str]] = {}
        self._suffix: dict[tuple[int, str, str], str] = {}

    def flags(self, bits: int, kw_text: str) -> tuple[int, str]:
        """(bits, keyword column) after the STORE of a message that had these."""
        key = (bits, kw_text)
        found = self._flags.get(key)
        if found is None:
            new_system = _combine(self.mode, index.system_of(bits), self.system, fold=False)
            new_kw = _combine(self.mode, index.split_keywords(kw_text), self.keywords, fold=True)
            found = (index.bits_of(new_system), index.join_keywords(new_kw))
            self._flags[key] = found
        return found

    def suffix(self, bits: int, kw_text: str, old_info: str) -> str:
        """The info part (``:2,`` + letters) for new flags, keeping letters we do not know."""
        key = (bits, kw_text, old_info)
        found = self._suffix.get(key)
        if found is None:
            if self._kmap is None:
                self._kmap = KeywordMap.load(self.path)
            keywords = sorted(index.split_keywords(kw_text))
            letters = flags_to_letters(index.system_of(bits), self._kmap.letters_for(keywords))
            preserved = preserved_letters(old_info) if old_info else ""
            found = format_name("", letters + preserved)
            self._suffix[key] = found
        return found


_FlagRow = tuple[int, str, str, int, int, str, int]
_FLAG_SQL = (
    "SELECT uid, base, name, in_new, flags, keywords, modseq FROM messages WHERE mailbox_id=? "
    "AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid"
)


def _flag_rows(ctx: Ctx, mailbox_id: int, uids: list[int]) -> list[_FlagRow]:
    return ctx.conn.execute(_FLAG_SQL, (mailbox_id, index.as_json(set(uids)))).fetchall()


def _apply(
    ctx: Ctx, mailbox_id: int, path: Path, plan: _Planner, todo: list[_FlagRow]
) -> tuple[list[tuple[int, int, str, int]], list[int]]:
    """Rename the files of ``todo`` whose flags change; ((uid, bits, keywords, modseq), gone)."""
    str_path = str(path)
    renames: list[tuple[str, int, str, int]] = []
    done: list[tuple[int, int, str, int]] = []
    vanished: list[int] = []
    for uid, base, name, in_new, bits, kw_text, _modseq in todo:
        new_bits, new_kw = plan.flags(bits, kw_text)
        if new_bits == bits and new_kw == kw_text:
            continue
        new_name = base + plan.suffix(new_bits, new_kw, name.partition(INFO_SEPARATOR)[2])
        if new_name != name or in_new:
            try:
                os.rename(
                    f"{str_path}/{'new' if in_new else 'cur'}/{name}", f"{str_path}/cur/{new_name}"
                )
            except FileNotFoundError:
                vanished.append(uid)
                continue
        renames.append((new_name, new_bits, new_kw, uid))
        done.append((uid, new_bits, new_kw, 0))
    if renames:
        modseq = index.bump_modseq(ctx.conn, mailbox_id)
        ctx.conn.executemany(
            "UPDATE messages SET name=?, in_new=0, flags=?, keywords=?, modseq=? "
            "WHERE mailbox_id=? AND uid=?",
            [(n, b, k, modseq, mailbox_id, u) for n, b, k, u in renames],
        )
        done = [(u, b, k, modseq) for u, b, k, _ in done]
    return done, vanished


def store_flags(
    ctx: Ctx,
    name: str,
    uids: list[int],
    mode: FlagMode,
    flags: Iterable[str],
    *,
    unchanged_since: int | None,
) -> tuple[StoreFlagsResult, SyncChanges, list[int]]:
    """Change flags of ``uids``; (result, sync changes found first, UIDs that changed).

    Only messages whose flags really change are renamed, get the new MODSEQ and are in
    ``updated`` (one MODSEQ for the whole STORE, RFC 7162 3.1.3 permits it).
    """
    system, keywords = split_flags(flags)
    with index.write_transaction(ctx.conn):
        row, path, changes = resolve(ctx, name)
        rows = _flag_rows(ctx, row.id, uids)
        guard = unchanged_since
        modified = [r[0] for r in rows if guard is not None and r[6] > guard]
        todo = rows if guard is None else [r for r in rows if r[6] <= guard]
        plan = _Planner(path, mode, system, keywords)
        done: list[tuple[int, int, str, int]] = []
        for attempt in range(2):
            before = dir_mtimes(path)
            applied, vanished = _apply(ctx, row.id, path, plan, todo)
            done.extend(applied)
            if applied:
                fsync_dirs(path / "cur")
                record_own_change(ctx.conn, row, path, before)
            if not vanished or attempt:
                break
            row, path, more = resolve(ctx, name, force=True)
            changes.flags.extend(more.flags)
            changes.expunged.extend(more.expunged)
            changes.appended.extend(more.appended)
            todo = _flag_rows(ctx, row.id, vanished)
    flagset = index.flagset
    updated = sorted(
        (FlagUpdate(u, flagset(b, k), m) for u, b, k, m in done), key=lambda f: f.uid
    )
    return StoreFlagsResult(tuple(updated), tuple(modified)), changes, [f.uid for f in updated]


def expunge(
    ctx: Ctx, name: str, uids: list[int] | None
) -> tuple[list[int], SyncChanges]:
    """Remove the ``\\Deleted`` messages (among ``uids`` if given); (removed, sync changes)."""
    with index.write_transaction(ctx.conn):
        row, path, changes = resolve(ctx, name)
        sql = "SELECT uid, name, in_new, size FROM messages WHERE mailbox_id=? AND flags & ?"
        args: tuple[object, ...] = (row.id, index.DELETED_BIT)
        if uids is not None:
            sql += " AND uid IN (SELECT value FROM json_each(?))"
            args += (index.as_json(set(uids)),)
        doomed = ctx.conn.execute(sql + " ORDER BY uid", args).fetchall()
        if not doomed:
            return [], changes
        str_path = str(path)
        before = dir_mtimes(path)
        unlink = os.unlink
        for _, file_name, in_new, _ in doomed:
            with contextlib.suppress(FileNotFoundError):
                unlink(f"{str_path}/{'new' if in_new else 'cur'}/{file_name}")
        removed = [uid for uid, _, _, _ in doomed]
        index.bump_modseq(ctx.conn, row.id)
        delete_messages(ctx.conn, row.id, removed)
        index.add_usage(ctx.conn, -sum(d[3] for d in doomed), -len(doomed))
        fsync_dirs(path / "cur", path / "new")
        record_own_change(ctx.conn, row, path, before)
    return removed, changes
