"""Sync one maildir with the index: find deliveries, flag renames and deletions by anyone.

Cheap when nothing changed: ``new/`` and ``cur/`` are stat'ed and compared with the
mtimes recorded at the last scan. A rescan happens when either differs, or when the last
scan came less than ``DIRTY_WINDOW_NS`` after the recorded mtime (a change inside the
file system's timestamp granularity would not move the mtime). A rescan lists ``new/``
then ``cur/`` (in that order, so a file moved ``new/`` → ``cur/`` meanwhile is seen in
``cur/``), compares base names with the index, and:

- when a session takes ``\\Recent`` (SELECT), moves the files of ``new/`` into ``cur/``,
  as Dovecot does; otherwise, when only ``new/`` changed (deliveries), lists only
  ``new/`` and looks new base names up in the index, so a delivery into a big mailbox
  does not cost a listing of its ``cur/``;
- gives files it has not seen UIDs above every UID handed out before, in name order
  (or the UID a ``dovecot-uidlist`` gave them, on the first scan of a maildir);
- turns changed info letters into flag changes, vanished files into expunges, each with
  a new MODSEQ; a file the index knows but the listing misses is looked for in a second
  listing before it counts as expunged (``readdir`` may skip an entry renamed under it).

Metadata is not computed here: a first scan of 100,000 messages lists, stats and (only
for names without ``,W=``) reads files to get their CRLF size.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailstore.maildir import index
from mailstore.maildir.filenames import (
    INFO_SEPARATOR,
    format_name,
    parse_name,
    split_letters,
)
from mailstore.maildir.index import MailboxRow, MessageRow
from mailstore.maildir.keywords import KeywordMap
from mailstore.maildir.uidlist import UidList

DIRTY_WINDOW_NS = 2_000_000_000
_ALL_KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(slots=True)
class SyncChanges:
    """What a sync found (UIDs in ascending order)."""

    appended: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    expunged: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.appended or self.flags or self.expunged)


def crlf_size(data: bytes) -> int:
    """Octets of ``data`` once every bare LF is a CRLF (RFC 822 size as IMAP reports it)."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def file_crlf_size(path: Path) -> int:
    with open(path, "rb") as f:
        return crlf_size(f.read())


def dir_mtimes(path: Path) -> tuple[int, int]:
    """mtime_ns of ``new/`` and ``cur/``."""
    return os.stat(path / "new").st_mtime_ns, os.stat(path / "cur").st_mtime_ns


def _stale(mtime: int, recorded: int, scanned_at: int) -> bool:
    return mtime != recorded or scanned_at - recorded < DIRTY_WINDOW_NS


def needs_rescan(row: MailboxRow, mtimes: tuple[int, int]) -> bool:
    """True if ``new/`` or ``cur/`` changed (or may have) since it was last scanned."""
    return _stale(mtimes[0], row.new_mtime, row.new_scanned_at) or _stale(
        mtimes[1], row.cur_mtime, row.cur_scanned_at
    )


def _names(path: Path, sub: str) -> list[str]:
    return [n for n in os.listdir(path / sub) if not n.startswith(".")]


def _list(path: Path, into: dict[str, tuple[str, bool]], new_names: list[str]) -> None:
    """Add base → (file name, in new/) for ``new_names`` (listed first) and ``cur/``."""
    for name in new_names:
        into[name.partition(INFO_SEPARATOR)[0]] = (name, True)
    for name in _names(path, "cur"):
        base = name.partition(INFO_SEPARATOR)[0]
        if base not in into or into[base][1]:
            into[base] = (name, False)


def _move_new_to_cur(path: Path, disk: dict[str, tuple[str, bool]]) -> None:
    """Rename files of ``new/`` into ``cur/`` with an info part (``base:2,``)."""
    for base, (name, in_new) in list(disk.items()):
        if not in_new:
            continue
        target = format_name(base, parse_name(name).letters)
        try:
            os.rename(path / "new" / name, path / "cur" / target)
        except FileNotFoundError:
            continue
        disk[base] = (target, False)


class _Keywords:
    """The keyword map of a maildir, loaded on first need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: KeywordMap | None = None

    def get(self) -> KeywordMap:
        if self._map is None:
            self._map = KeywordMap.load(self.path)
        return self._map

    def keywords(self, letters: str, old: frozenset[str]) -> frozenset[str]:
        """Keywords of a file with keyword ``letters`` whose index entry had ``old``."""
        if not letters and not old:
            return frozenset()
        kmap = self.get()
        lettered = kmap.keywords_for(_ALL_KEYWORD_LETTERS)
        lettered_lower = {k.lower() for k in lettered}
        kept = {k for k in old if k.lower() not in lettered_lower}
        return frozenset(kept | kmap.keywords_for(letters))


def _flags_of(name: str, kw: _Keywords, old: frozenset[str]) -> tuple[int, str]:
    system, letters = split_letters(parse_name(name).letters)
    return index.bits_of(system), index.join_keywords(kw.keywords(letters, old))


class _Modseq:
    """One new MODSEQ for all the changes of a sync, taken on first need."""

    def __init__(self, conn: sqlite3.Connection, mailbox_id: int) -> None:
        self.conn, self.mailbox_id, self.value = conn, mailbox_id, 0

    def __call__(self) -> int:
        if not self.value:
            self.value = index.bump_modseq(self.conn, self.mailbox_id)
        return self.value


def sync_mailbox(
    conn: sqlite3.Connection,
    path: Path,
    row: MailboxRow,
    *,
    force: bool = False,
    uidlist: UidList | None = None,
    move_new: bool = False,
) -> SyncChanges:
    """Bring the index of one maildir up to date (inside a write transaction).

    ``move_new`` (a session taking ``\\Recent``, as Dovecot does on SELECT) also moves the
    files of ``new/`` into ``cur/``. When only ``new/`` changed, only it is listed.
    """
    new_mtime, cur_mtime = dir_mtimes(path)
    new_stale = _stale(new_mtime, row.new_mtime, row.new_scanned_at)
    cur_stale = _stale(cur_mtime, row.cur_mtime, row.cur_scanned_at)
    if not (force or new_stale or cur_stale or move_new):
        return SyncChanges()
    scanned_at = time.time_ns()
    new_names = _names(path, "new")
    if not (force or cur_stale or (move_new and new_names)):
        if not new_stale:
            return SyncChanges()
        changes = _scan_new_only(conn, path, row, new_names)
        if changes is not None:
            index.set_scan_state(conn, row.id, "new", new_mtime, scanned_at)
            return changes
    changes = _full_scan(conn, path, row, new_names, uidlist=uidlist, move_new=move_new)
    index.set_scan_state(conn, row.id, "new", new_mtime, scanned_at)
    index.set_scan_state(conn, row.id, "cur", cur_mtime, scanned_at)
    return changes


def _scan_new_only(
    conn: sqlite3.Connection, path: Path, row: MailboxRow, new_names: list[str]
) -> SyncChanges | None:
    """Index new files of ``new/``; None if anything else changed (a full scan is needed)."""
    known = {
        base: name
        for base, name in conn.execute(
            "SELECT base, name FROM messages WHERE mailbox_id=? AND in_new=1", (row.id,)
        )
    }
    listing = {name.partition(INFO_SEPARATOR)[0]: name for name in new_names}
    if any(listing.get(base) != name for base, name in known.items()):
        return None
    fresh = {base: (name, True) for base, name in listing.items() if base not in known}
    for base in fresh:
        found = conn.execute(
            "SELECT 1 FROM messages WHERE mailbox_id=? AND base=?", (row.id, base)
        ).fetchone()
        if found is not None:
            return None
    changes = SyncChanges()
    if fresh:
        _add_new(
            conn,
            path,
            row,
            fresh,
            kw=_Keywords(path),
            uidlist=None,
            next_modseq=_Modseq(conn, row.id),
            changes=changes,
        )
    return changes


_FULL_SQL = (
    "SELECT uid, base, name, in_new, flags, keywords, modseq, size FROM messages "
    "WHERE mailbox_id=?"
)


def _full_scan(
    conn: sqlite3.Connection,
    path: Path,
    row: MailboxRow,
    new_names: list[str],
    *,
    uidlist: UidList | None,
    move_new: bool,
) -> SyncChanges:
    """Compare both directories with the index: renames, expunges, new files."""
    disk: dict[str, tuple[str, bool]] = {}
    _list(path, disk, new_names)
    rows = conn.execute(_FULL_SQL, (row.id,)).fetchall()
    if any(r[1] not in disk for r in rows):
        _list(path, disk, _names(path, "new"))
    if move_new:
        _move_new_to_cur(path, disk)
    kw = _Keywords(path)
    changes = SyncChanges()
    next_modseq = _Modseq(conn, row.id)
    updates: list[tuple[object, ...]] = []
    gone: list[tuple[int, int]] = []
    pop = disk.pop
    for uid, base, old_name, old_in_new, old_flags, old_kw, old_modseq, size in rows:
        found = pop(base, None)
        if found is None:
            gone.append((uid, size))
            continue
        name, in_new = found
        if name == old_name and in_new == bool(old_in_new):
            continue
        bits, keywords = _flags_of(name, kw, index.split_keywords(old_kw))
        modseq = old_modseq
        if (bits, keywords) != (old_flags, old_kw):
            modseq = next_modseq()
            changes.flags.append(uid)
        updates.append((name, int(in_new), bits, keywords, modseq, row.id, uid))
    conn.executemany(
        "UPDATE messages SET name=?, in_new=?, flags=?, keywords=?, modseq=? "
        "WHERE mailbox_id=? AND uid=?",
        updates,
    )
    if gone:
        next_modseq()
        index.delete_messages(conn, row.id, [uid for uid, _ in gone])
        index.add_usage(conn, -sum(size for _, size in gone), -len(gone))
        changes.expunged = sorted(uid for uid, _ in gone)
    if disk:
        _add_new(
            conn,
            path,
            row,
            disk,
            kw=kw,
            uidlist=uidlist,
            next_modseq=next_modseq,
            changes=changes,
        )
    changes.flags.sort()
    return changes


def _add_new(
    conn: sqlite3.Connection,
    path: Path,
    row: MailboxRow,
    disk: dict[str, tuple[str, bool]],
    *,
    kw: _Keywords,
    uidlist: UidList | None,
    next_modseq: Callable[[], int],
    changes: SyncChanges,
) -> None:
    """Index files not seen before: stat, size, flags, UIDs in name order."""
    found: list[tuple[str, str, bool, float, int]] = []
    for base in sorted(disk):
        name, in_new = disk[base]
        file = path / ("new" if in_new else "cur") / name
        try:
            st = os.stat(file)
            vsize = parse_name(name).vsize
            size = vsize if vsize is not None else file_crlf_size(file)
        except FileNotFoundError:
            continue
        found.append((base, name, in_new, st.st_mtime, size))
    if not found:
        return
    modseq = next_modseq()
    known = uidlist.uids if uidlist is not None else {}
    fresh = [f for f in found if f[0] not in known]
    first = index.take_uids(conn, row.id, len(fresh)) if fresh else 0
    uids = iter(range(first, first + len(fresh)))
    new_rows: list[MessageRow] = []
    for base, name, in_new, mtime, size in found:
        uid = known[base] if base in known else next(uids)
        bits, keywords = _flags_of(name, kw, frozenset())
        new_rows.append(MessageRow(uid, base, name, in_new, bits, keywords, modseq, size, mtime))
    for new_row in new_rows:
        index.insert_message(conn, row.id, new_row)
    index.add_usage(conn, sum(r.size for r in new_rows), len(new_rows))
    changes.appended = sorted(r.uid for r in new_rows)
