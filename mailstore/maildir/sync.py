"""Sync one maildir with the index: find deliveries, flag renames and deletions by anyone.

Cheap when nothing changed: ``new/`` and ``cur/`` are stat'ed and compared with the
mtimes recorded in the index. A directory is listed again when

- its mtime differs from the recorded one (someone changed it since);
- the last listing started less than ``DIRTY_WINDOW_NS`` after the recorded mtime (a
  change in the same timestamp tick as the one listed would not move the mtime): on
  every sync, until a listing is clean;
- it carries changes of our own that no listing has verified yet, and
  ``DIRTY_WINDOW_NS`` has passed since the first of them.

Our own renames, links and unlinks are recorded in the write transaction that indexes
them (``record_own_change``), but only when the directory had not changed since the
index last matched it. Then the next syncs need not list 100,000 names after every STORE
or flagged APPEND. What a change of our own cannot rule out (another program touching
the directory while we change it, or in the same tick right after, without moving the
mtime again) is caught by the one verification listing once the window has passed, as
Dovecot's ``dirty_cur_time`` does; any change that moves the mtime is seen at once.

A listing reads ``new/`` then ``cur/`` (a file moved ``new/`` → ``cur/`` meanwhile is seen
in ``cur/``) and compares the name sets with the index's as set differences (in C), so
only the names that differ cost Python work. It:

- when a session takes ``\\Recent`` (SELECT), moves the files of ``new/`` into ``cur/``,
  as Dovecot does; otherwise, when only ``new/`` changed (deliveries), lists only
  ``new/`` and looks new base names up in the index;
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
from mailstore.maildir.index import MailboxRow
from mailstore.maildir.keywords import KeywordMap
from mailstore.maildir.messagerows import (
    MessageRow,
    bases_known,
    delete_messages,
    insert_messages,
    names_in,
)
from mailstore.maildir.uidlist import UidList

DIRTY_WINDOW_NS = 2_000_000_000
_ALL_KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(slots=True)
class SyncChanges:
    """What a sync found (UIDs in ascending order)."""

    appended: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    expunged: list[int] = field(default_factory=list)
    mtimes: tuple[int, int] | None = None
    """``dir_mtimes`` as the sync found them before it looked (None: not taken)."""
    untouched: bool = False
    """The sync found nothing to look at and wrote nothing: the mailbox row is as it was."""

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


def _stale(mtime: int, state: tuple[int, int, int], now: int) -> bool:
    """True if a directory with ``mtime`` must be listed (see the module docstring)."""
    recorded, scanned_at, own_since = state
    if mtime != recorded:
        return True
    if own_since:
        return now - own_since >= DIRTY_WINDOW_NS
    return scanned_at - recorded < DIRTY_WINDOW_NS


def needs_rescan(row: MailboxRow, mtimes: tuple[int, int]) -> bool:
    """True if ``new/`` or ``cur/`` changed (or may have) since it was last scanned."""
    now = time.time_ns()
    return _stale(mtimes[0], row.scan_state("new"), now) or _stale(
        mtimes[1], row.scan_state("cur"), now
    )


def _verified(state: tuple[int, int, int]) -> bool:
    """True if the index matched the directory at its recorded mtime, tick included."""
    recorded, scanned_at, own_since = state
    return bool(own_since) or scanned_at - recorded >= DIRTY_WINDOW_NS


def record_own_change(
    conn: sqlite3.Connection, row: MailboxRow, path: Path, before: tuple[int, int]
) -> None:
    """After our own change of ``path`` (inside the write transaction that indexes it).

    ``before`` are the mtimes of ``new/`` and ``cur/`` taken right before the change and
    ``row`` the mailbox row as synced before it. A directory whose mtime then still was
    the recorded one, verified by a clean listing (or by own changes pending one), gets
    its new mtime recorded, so the next sync need not list it; the verification listing
    is due ``DIRTY_WINDOW_NS`` after the first unverified own change. Otherwise nothing
    is recorded and the next sync lists the directory.
    """
    after = dir_mtimes(path)
    now = time.time_ns()
    for i, sub in enumerate(("new", "cur")):
        state = row.scan_state(sub)
        if after[i] == before[i] or before[i] != state[0] or not _verified(state):
            continue
        index.set_own_change(conn, row.id, sub, after[i], state[2] or now)


def _record_listing(
    conn: sqlite3.Connection, row: MailboxRow, sub: str, mtime: int, scanned_at: int
) -> None:
    """Record a listing of ``sub`` that started at ``scanned_at`` with the dir at ``mtime``.

    A listing too close to ``mtime`` is dirty: normally every sync lists again until one is
    clean. But when the mtime is still the one of our own last change (nobody else moved
    it), the listing only re-verifies our own work: its own verification is deferred by
    the window like an own change's, so that a stream of our own changes (flagged
    deliveries, one STORE after another) costs one listing per window, not one each.
    """
    recorded, _, own_since = row.scan_state(sub)
    pending = 0
    if own_since and mtime == recorded and scanned_at - mtime < DIRTY_WINDOW_NS:
        pending = scanned_at
    index.set_scan_state(conn, row.id, sub, mtime, scanned_at, own_since=pending)


def _names(path: Path, sub: str) -> list[str]:
    return [n for n in os.listdir(path / sub) if not n.startswith(".")]


def _base(name: str) -> str:
    return name.partition(INFO_SEPARATOR)[0]


def _move_new_to_cur(path: Path, disk_new: set[str], disk_cur: set[str]) -> None:
    """Rename files of ``new/`` into ``cur/`` with an info part (``base:2,``)."""
    for name in sorted(disk_new):
        target = format_name(_base(name), parse_name(name).letters)
        try:
            os.rename(path / "new" / name, path / "cur" / target)
        except FileNotFoundError:
            continue
        disk_new.discard(name)
        disk_cur.add(target)


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
    files of ``new/`` into ``cur/``. When only ``new/`` changed, only it is listed. The
    result carries the directory mtimes found first (unless files were moved): an append
    uses them as the "before" of its own change instead of stat'ing again.
    """
    mtimes = dir_mtimes(path)
    changes = _sync(conn, path, row, mtimes, force=force, uidlist=uidlist, move_new=move_new)
    if not move_new:
        changes.mtimes = mtimes
    return changes


def _sync(
    conn: sqlite3.Connection,
    path: Path,
    row: MailboxRow,
    mtimes: tuple[int, int],
    *,
    force: bool,
    uidlist: UidList | None,
    move_new: bool,
) -> SyncChanges:
    new_mtime, cur_mtime = mtimes
    now = time.time_ns()
    new_stale = _stale(new_mtime, row.scan_state("new"), now)
    cur_stale = _stale(cur_mtime, row.scan_state("cur"), now)
    if not (force or new_stale or cur_stale or move_new):
        return SyncChanges(untouched=True)
    scanned_at = time.time_ns()
    new_names = _names(path, "new")
    if not (force or cur_stale or (move_new and new_names)):
        if not new_stale:
            return SyncChanges()
        changes = _scan_new_only(conn, path, row, new_names)
        if changes is not None:
            _record_listing(conn, row, "new", new_mtime, scanned_at)
            return changes
    listing = _Listing(path, set(new_names), set(_names(path, "cur")))
    changes = _full_scan(conn, listing, row, uidlist=uidlist, move_new=move_new)
    _record_listing(conn, row, "new", new_mtime, scanned_at)
    _record_listing(conn, row, "cur", cur_mtime, scanned_at)
    if listing.moved_from is not None:
        scanned = index.get_mailbox(conn, row.name)
        if scanned is not None and listing.moved_from == (new_mtime, cur_mtime):
            record_own_change(conn, scanned, path, listing.moved_from)
    return changes


def _scan_new_only(
    conn: sqlite3.Connection, path: Path, row: MailboxRow, new_names: list[str]
) -> SyncChanges | None:
    """Index new files of ``new/``; None if anything else changed (a full scan is needed)."""
    known = names_in(conn, row.id, True)
    listing = set(new_names)
    if not known <= listing:
        return None
    fresh_names = listing - known
    if not fresh_names:
        return SyncChanges()
    fresh = {_base(name): (name, True) for name in fresh_names}
    if len(fresh) != len(fresh_names) or bases_known(conn, row.id, fresh):
        return None
    changes = SyncChanges()
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


@dataclass(slots=True)
class _Listing:
    """The names found in ``new/`` and ``cur/`` of one maildir."""

    path: Path
    new: set[str]
    cur: set[str]
    moved_from: tuple[int, int] | None = None
    """mtimes right before ``new/`` files were moved into ``cur/`` (None: no move)."""

    def relist(self) -> None:
        """Add a second listing (``readdir`` may skip entries renamed while it runs)."""
        self.new.update(_names(self.path, "new"))
        self.cur.update(_names(self.path, "cur"))

    def move_new(self) -> None:
        if self.new:
            self.moved_from = dir_mtimes(self.path)
            _move_new_to_cur(self.path, self.new, self.cur)


_DIFF_SQL = (
    "SELECT uid, base, name, in_new, flags, keywords, modseq, size FROM messages "
    "WHERE mailbox_id=? AND base IN (SELECT value FROM json_each(?))"
)


def _full_scan(
    conn: sqlite3.Connection,
    listing: _Listing,
    row: MailboxRow,
    *,
    uidlist: UidList | None,
    move_new: bool,
) -> SyncChanges:
    """Compare both directories with the index: renames, expunges, new files."""
    known_new = names_in(conn, row.id, True)
    known_cur = names_in(conn, row.id, False)
    if not (known_new <= listing.new and known_cur <= listing.cur):
        listing.relist()
    if move_new:
        listing.move_new()
    missing = (known_new - listing.new) | (known_cur - listing.cur)
    disk: dict[str, tuple[str, bool]] = {}
    for name in listing.new - known_new:
        disk[_base(name)] = (name, True)
    for name in listing.cur - known_cur:
        base = _base(name)
        if base not in disk or disk[base][1]:
            disk[base] = (name, False)
    changes = SyncChanges()
    next_modseq = _Modseq(conn, row.id)
    kw = _Keywords(path=listing.path)
    if missing:
        rows = conn.execute(_DIFF_SQL, (row.id, index.as_json({_base(n) for n in missing})))
        _apply_diff(
            conn,
            row,
            rows=rows.fetchall(),
            disk=disk,
            kw=kw,
            next_modseq=next_modseq,
            changes=changes,
        )
    if disk:
        for base in bases_known(conn, row.id, disk):
            del disk[base]  # another name for a file the index has under its own name
    if disk:
        _add_new(
            conn,
            listing.path,
            row,
            disk,
            kw=kw,
            uidlist=uidlist,
            next_modseq=next_modseq,
            changes=changes,
        )
    changes.flags.sort()
    return changes


def _apply_diff(
    conn: sqlite3.Connection,
    row: MailboxRow,
    *,
    rows: list[tuple[int, str, str, int, int, str, int, int]],
    disk: dict[str, tuple[str, bool]],
    kw: _Keywords,
    next_modseq: Callable[[], int],
    changes: SyncChanges,
) -> None:
    """Index rows whose file name is gone: renamed (flags) or deleted (expunge)."""
    updates: list[tuple[object, ...]] = []
    gone: list[tuple[int, int]] = []
    for uid, base, _old_name, _old_in_new, old_flags, old_kw, old_modseq, size in rows:
        found = disk.pop(base, None)
        if found is None:
            gone.append((uid, size))
            continue
        name, in_new = found
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
        delete_messages(conn, row.id, [uid for uid, _ in gone])
        index.add_usage(conn, -sum(size for _, size in gone), -len(gone))
        changes.expunged = sorted(uid for uid, _ in gone)


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
    str_path = str(path)
    for base in sorted(disk):
        name, in_new = disk[base]
        file = f"{str_path}/{'new' if in_new else 'cur'}/{name}"
        try:
            st = os.stat(file)
            vsize = parse_name(name).vsize
            size = vsize if vsize is not None else file_crlf_size(Path(file))
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
    insert_messages(conn, row.id, new_rows)
    index.add_usage(conn, sum(r.size for r in new_rows), len(new_rows))
    changes.appended = sorted(r.uid for r in new_rows)
