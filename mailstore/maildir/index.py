"""The per-user index: a SQLite cache of the Maildir plus the UID map.

One file per user, ``Maildir/mailstack-index.sqlite`` (WAL). The Maildir stays the
source of truth for messages and flags; the index holds what the file system cannot:
UIDs (never reused: ``uidnext`` only grows), UIDVALIDITY, MODSEQs, keywords beyond the 26
letters, claimed ``\\Recent`` UIDs, cached metadata, subscriptions and quota usage.

Writes run in ``BEGIN IMMEDIATE`` transactions, so two processes never hand out the same
UID (and ``UNIQUE(mailbox_id, base)`` makes a file get at most one UID). Commits are
``synchronous=FULL``: a UID reported to a client must survive a power cut. The one
exception, ``unsynced_commits``, is for a caller that fsyncs the WAL file itself before it
reports anything (the group commit of appends).

This module holds the file, its schema and transactions and the per-mailbox rows; the
per-message rows (``messages``, ``message_meta``) are read and written by ``messagerows``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mailstore.maildir.flagbits import (
    DELETED_BIT,
    FLAG_BITS,
    SEEN_BIT,
    FlagCache,
    bits_of,
    flagset,
    join_keywords,
    split_keywords,
    system_of,
)

__all__ = [
    "DELETED_BIT",
    "FLAG_BITS",
    "SEEN_BIT",
    "FlagCache",
    "bits_of",
    "flagset",
    "join_keywords",
    "split_keywords",
    "system_of",
]

INDEX_FILE = "mailstack-index.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mailboxes(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL,
    highestmodseq INTEGER NOT NULL,
    recent_uid INTEGER NOT NULL DEFAULT 0,
    new_mtime INTEGER NOT NULL DEFAULT -1,
    cur_mtime INTEGER NOT NULL DEFAULT -1,
    new_scanned_at INTEGER NOT NULL DEFAULT 0,
    cur_scanned_at INTEGER NOT NULL DEFAULT 0,
    special_use TEXT,
    new_own_since INTEGER NOT NULL DEFAULT 0,
    cur_own_since INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages(
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    base TEXT NOT NULL,
    name TEXT NOT NULL,
    in_new INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    keywords TEXT NOT NULL,
    modseq INTEGER NOT NULL,
    size INTEGER NOT NULL,
    internal_date REAL NOT NULL,
    PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_base ON messages(mailbox_id, base);
CREATE INDEX IF NOT EXISTS messages_in_new ON messages(mailbox_id) WHERE in_new = 1;
CREATE INDEX IF NOT EXISTS messages_snapshot
    ON messages(mailbox_id, uid, flags, keywords, modseq, size, internal_date);
CREATE TABLE IF NOT EXISTS message_meta(
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    header BLOB NOT NULL,
    structure TEXT NOT NULL,
    PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions(name TEXT PRIMARY KEY);
"""

SNAPSHOT_SQL = (
    "SELECT uid, CASE keywords WHEN '' THEN flags ELSE flags || ' ' || keywords END, "
    "modseq, size, internal_date FROM messages INDEXED BY messages_snapshot "
    "WHERE mailbox_id=? ORDER BY uid"
)
"""A mailbox's message state, read from the covering index ``messages_snapshot``
(narrow rows: half the pages of the table). The second column is the flag key of
``flagbits.FlagCache``: the bits alone when there are no keywords."""


@dataclass(frozen=True, slots=True)
class MailboxRow:
    """One row of ``mailboxes``."""

    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    recent_uid: int
    new_mtime: int
    cur_mtime: int
    new_scanned_at: int
    cur_scanned_at: int
    special_use: str | None
    new_own_since: int
    """When our own first unverified change of ``new/`` was made (0: none pending)."""
    cur_own_since: int
    """Same for ``cur/``: see ``mailstore.maildir.sync`` for the rule."""

    def scan_state(self, subdir: str) -> tuple[int, int, int]:
        """(recorded mtime, listing start, own change pending since) of ``new`` or ``cur``."""
        if subdir == "new":
            return self.new_mtime, self.new_scanned_at, self.new_own_since
        return self.cur_mtime, self.cur_scanned_at, self.cur_own_since


_MAILBOX_COLUMNS = (
    "id, name, uidvalidity, uidnext, highestmodseq, recent_uid, new_mtime, cur_mtime, "
    "new_scanned_at, cur_scanned_at, special_use, new_own_since, cur_own_since"
)
_ADDED_COLUMNS = (
    ("mailboxes", "new_own_since", "INTEGER NOT NULL DEFAULT 0"),
    ("mailboxes", "cur_own_since", "INTEGER NOT NULL DEFAULT 0"),
)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the index at ``path``: WAL, busy timeout, schema."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _enter_wal(conn)
    conn.execute("PRAGMA synchronous=FULL")
    with write_transaction(conn):
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        for table, column, decl in _ADDED_COLUMNS:
            known = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if column not in known:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
        )
    return conn


def _enter_wal(conn: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another process holds the file.

    Switching a new index into WAL needs an exclusive lock, and SQLite answers "database
    is locked" at once instead of waiting out the busy timeout: two processes opening a
    brand-new index together (seen in the two-process test, 1 run in 8) would fail.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any exception)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def wal_path(index_path: Path) -> Path:
    """The write-ahead log of the index at ``index_path`` (SQLite's ``-wal`` file)."""
    return index_path.with_name(index_path.name + "-wal")


@contextlib.contextmanager
def unsynced_commits(conn: sqlite3.Connection) -> Iterator[None]:
    """Commits inside do not fsync the WAL (``synchronous=NORMAL``); ``FULL`` again after.

    The caller must fsync ``wal_path`` before it reports such a commit, and must hold the
    account lock until then so that no other call of this process builds on it. Another
    process could read it earlier and lose it to a power cut; mailstack serves clients
    from one process, and ``mailstack-admin`` reports no UIDs.
    """
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous=FULL")


@contextlib.contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A consistent read over several statements (WAL snapshot)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str, default: int = 0) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return default if row is None else int(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


_ADD_USAGE_SQL = (
    "INSERT INTO meta(key, value) VALUES ('quota_bytes', MAX(0, ?1)), "
    "('quota_messages', MAX(0, ?2)) ON CONFLICT(key) DO UPDATE SET "
    "value = MAX(0, value + CASE key WHEN 'quota_bytes' THEN ?1 ELSE ?2 END)"
)


def add_usage(conn: sqlite3.Connection, size: int, count: int) -> None:
    """Add to the quota usage counters (negative to remove; never below zero)."""
    if size or count:
        conn.execute(_ADD_USAGE_SQL, (size, count))


def usage(conn: sqlite3.Connection) -> tuple[int, int]:
    """(bytes, messages) of the quota usage counters."""
    found = dict(
        conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('quota_bytes', 'quota_messages')"
        ).fetchall()
    )
    return int(found.get("quota_bytes", 0)), int(found.get("quota_messages", 0))


def get_mailbox(conn: sqlite3.Connection, name: str) -> MailboxRow | None:
    row = conn.execute(
        f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes WHERE name=?", (name,)  # noqa: S608
    ).fetchone()
    return None if row is None else MailboxRow(*row)


def all_mailboxes(conn: sqlite3.Connection) -> list[MailboxRow]:
    rows = conn.execute(f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes ORDER BY name").fetchall()  # noqa: S608
    return [MailboxRow(*row) for row in rows]


def insert_mailbox(
    conn: sqlite3.Connection, name: str, uidvalidity: int, uidnext: int = 1
) -> MailboxRow:
    conn.execute(
        "INSERT INTO mailboxes(name, uidvalidity, uidnext, highestmodseq) VALUES (?, ?, ?, 1)",
        (name, uidvalidity, uidnext),
    )
    row = get_mailbox(conn, name)
    assert row is not None
    return row


def delete_mailbox_rows(conn: sqlite3.Connection, mailbox_id: int) -> tuple[int, int]:
    """Drop a mailbox and its messages from the index; the (bytes, count) it held."""
    size, count = conn.execute(
        "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages WHERE mailbox_id=?", (mailbox_id,)
    ).fetchone()
    conn.execute("DELETE FROM messages WHERE mailbox_id=?", (mailbox_id,))
    conn.execute("DELETE FROM message_meta WHERE mailbox_id=?", (mailbox_id,))
    conn.execute("DELETE FROM mailboxes WHERE id=?", (mailbox_id,))
    return int(size), int(count)


def bump_modseq(conn: sqlite3.Connection, mailbox_id: int) -> int:
    """Take the next MODSEQ of a mailbox (inside a write transaction)."""
    row = conn.execute(
        "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id=? "
        "RETURNING highestmodseq",
        (mailbox_id,),
    ).fetchone()
    return int(row[0])


def take_uid_and_modseq(conn: sqlite3.Connection, mailbox_id: int) -> tuple[int, int]:
    """``take_uids(..., 1)`` and ``bump_modseq`` in one statement (an append)."""
    row = conn.execute(
        "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 "
        "WHERE id=? RETURNING uidnext - 1, highestmodseq",
        (mailbox_id,),
    ).fetchone()
    return int(row[0]), int(row[1])


def take_uids(conn: sqlite3.Connection, mailbox_id: int, count: int) -> int:
    """Reserve ``count`` UIDs (inside a write transaction); the first of them."""
    row = conn.execute(
        "UPDATE mailboxes SET uidnext = uidnext + ?1 WHERE id=?2 RETURNING uidnext - ?1",
        (count, mailbox_id),
    ).fetchone()
    return int(row[0])


def set_scan_state(
    conn: sqlite3.Connection,
    mailbox_id: int,
    subdir: str,
    mtime: int,
    scanned_at: int,
    *,
    own_since: int = 0,
) -> None:
    """Record the mtime of ``new`` or ``cur`` seen by a scan that started at ``scanned_at``.

    ``own_since``: a verification still pending (see ``mailstore.maildir.sync``), else 0.
    """
    sub = "new" if subdir == "new" else "cur"
    conn.execute(
        f"UPDATE mailboxes SET {sub}_mtime=?, {sub}_scanned_at=?, {sub}_own_since=? "  # noqa: S608
        "WHERE id=?",
        (mtime, scanned_at, own_since, mailbox_id),
    )


def set_own_change(
    conn: sqlite3.Connection, mailbox_id: int, subdir: str, mtime: int, own_since: int
) -> None:
    """Record the mtime of ``new`` or ``cur`` after a change of our own (no listing)."""
    sub = "new" if subdir == "new" else "cur"
    conn.execute(
        f"UPDATE mailboxes SET {sub}_mtime=?, {sub}_own_since=? WHERE id=?",  # noqa: S608
        (mtime, own_since, mailbox_id),
    )


def as_json(values: Iterable[int] | Iterable[str]) -> str:
    """A list as a JSON array, for ``IN (SELECT value FROM json_each(?))``."""
    return json.dumps(list(values))
