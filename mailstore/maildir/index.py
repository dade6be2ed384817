"""The per-user index: a SQLite cache of the Maildir plus the UID map.

One file per user, ``Maildir/mailstack-index.sqlite`` (WAL). The Maildir stays the
source of truth for messages and flags; the index holds what the file system cannot:
UIDs (never reused: ``uidnext`` only grows), UIDVALIDITY, MODSEQs, keywords beyond the 26
letters, claimed ``\\Recent`` UIDs, cached metadata, subscriptions and quota usage.

Writes run in ``BEGIN IMMEDIATE`` transactions, so two processes never hand out the same
UID (and ``UNIQUE(mailbox_id, base)`` makes a file get at most one UID). Commits are
``synchronous=FULL``: a UID reported to a client must survive a power cut.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailstore.types import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN

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
    special_use TEXT
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
CREATE TABLE IF NOT EXISTS message_meta(
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    header BLOB NOT NULL,
    structure TEXT NOT NULL,
    PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions(name TEXT PRIMARY KEY);
"""

FLAG_BITS: dict[str, int] = {DRAFT: 1, FLAGGED: 2, ANSWERED: 4, SEEN: 8, DELETED: 16}
"""IMAP system flag → bit in ``messages.flags`` (same order as the letters D F R S T)."""
SEEN_BIT = FLAG_BITS[SEEN]
DELETED_BIT = FLAG_BITS[DELETED]
_BIT_FLAGS = tuple(FLAG_BITS.items())
_FLAGSET_CACHE: dict[tuple[int, str], frozenset[str]] = {}


def bits_of(flags: frozenset[str]) -> int:
    """System flags (exact IMAP spelling) → bit mask."""
    return sum(bit for flag, bit in _BIT_FLAGS if flag in flags)


def system_of(bits: int) -> frozenset[str]:
    """Bit mask → system flags."""
    return frozenset(flag for flag, bit in _BIT_FLAGS if bits & bit)


def join_keywords(keywords: frozenset[str]) -> str:
    """Keywords → the ``messages.keywords`` column (space separated, sorted)."""
    return " ".join(sorted(keywords))


def split_keywords(text: str) -> frozenset[str]:
    """The ``messages.keywords`` column → keywords."""
    return frozenset(text.split()) if text else frozenset()


def flagset(bits: int, keywords: str) -> frozenset[str]:
    """System bits + keyword column → the flags of a ``MessageInfo`` (interned, cached)."""
    key = (bits, keywords)
    found = _FLAGSET_CACHE.get(key)
    if found is None:
        if len(_FLAGSET_CACHE) > 4096:
            _FLAGSET_CACHE.clear()
        found = system_of(bits) | split_keywords(keywords)
        _FLAGSET_CACHE[key] = found
    return found


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


_MAILBOX_COLUMNS = (
    "id, name, uidvalidity, uidnext, highestmodseq, recent_uid, new_mtime, cur_mtime, "
    "new_scanned_at, cur_scanned_at, special_use"
)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the index at ``path``: WAL, busy timeout, schema."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    with write_transaction(conn):
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
        )
    return conn


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


def add_usage(conn: sqlite3.Connection, size: int, count: int) -> None:
    """Add to the quota usage counters (negative to remove)."""
    if size or count:
        set_meta(conn, "quota_bytes", max(0, get_meta(conn, "quota_bytes") + size))
        set_meta(conn, "quota_messages", max(0, get_meta(conn, "quota_messages") + count))


def usage(conn: sqlite3.Connection) -> tuple[int, int]:
    """(bytes, messages) of the quota usage counters."""
    return get_meta(conn, "quota_bytes"), get_meta(conn, "quota_messages")


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
    conn.execute(
        "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id=?", (mailbox_id,)
    )
    row = conn.execute("SELECT highestmodseq FROM mailboxes WHERE id=?", (mailbox_id,)).fetchone()
    return int(row[0])


def take_uids(conn: sqlite3.Connection, mailbox_id: int, count: int) -> int:
    """Reserve ``count`` UIDs (inside a write transaction); the first of them."""
    row = conn.execute("SELECT uidnext FROM mailboxes WHERE id=?", (mailbox_id,)).fetchone()
    first = int(row[0])
    conn.execute("UPDATE mailboxes SET uidnext=? WHERE id=?", (first + count, mailbox_id))
    return first


def set_scan_state(
    conn: sqlite3.Connection, mailbox_id: int, subdir: str, mtime: int, scanned_at: int
) -> None:
    """Record the mtime of ``new`` or ``cur`` seen by a scan that started at ``scanned_at``."""
    if subdir == "new":
        sql = "UPDATE mailboxes SET new_mtime=?, new_scanned_at=? WHERE id=?"
    else:
        sql = "UPDATE mailboxes SET cur_mtime=?, cur_scanned_at=? WHERE id=?"
    conn.execute(sql, (mtime, scanned_at, mailbox_id))


@dataclass(frozen=True, slots=True)
class MessageRow:
    """What a write operation needs of a message: where it is and its flags."""

    uid: int
    base: str
    name: str
    in_new: bool
    flags: int
    keywords: str
    modseq: int
    size: int
    internal_date: float


_MESSAGE_COLUMNS = "uid, base, name, in_new, flags, keywords, modseq, size, internal_date"


def message_rows(
    conn: sqlite3.Connection, mailbox_id: int, uids: list[int] | None = None
) -> list[MessageRow]:
    """Rows of a mailbox (all, or those of ``uids`` that exist), ascending UID."""
    if uids is None:
        rows = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE mailbox_id=? ORDER BY uid",  # noqa: S608
            (mailbox_id,),
        ).fetchall()
        return [MessageRow(*row) for row in rows]
    wanted = sorted(set(uids))
    out: list[MessageRow] = []
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE mailbox_id=? AND uid IN ({marks}) "  # noqa: S608
            "ORDER BY uid",
            (mailbox_id, *chunk),
        ).fetchall()
        out.extend(MessageRow(*row) for row in rows)
    return out


def insert_message(conn: sqlite3.Connection, mailbox_id: int, row: MessageRow) -> None:
    conn.execute(
        f"INSERT INTO messages(mailbox_id, {_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
        (
            mailbox_id,
            row.uid,
            row.base,
            row.name,
            int(row.in_new),
            row.flags,
            row.keywords,
            row.modseq,
            row.size,
            row.internal_date,
        ),
    )


def delete_messages(conn: sqlite3.Connection, mailbox_id: int, uids: list[int]) -> None:
    conn.executemany(
        "DELETE FROM messages WHERE mailbox_id=? AND uid=?", [(mailbox_id, u) for u in uids]
    )
    conn.executemany(
        "DELETE FROM message_meta WHERE mailbox_id=? AND uid=?", [(mailbox_id, u) for u in uids]
    )


def store_meta(
    conn: sqlite3.Connection, mailbox_id: int, uid: int, header: bytes, structure: str
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO message_meta(mailbox_id, uid, header, structure) "
        "VALUES (?, ?, ?, ?)",
        (mailbox_id, uid, header, structure),
    )


def load_meta(
    conn: sqlite3.Connection, mailbox_id: int, uid: int
) -> tuple[bytes, str] | None:
    row = conn.execute(
        "SELECT header, structure FROM message_meta WHERE mailbox_id=? AND uid=?",
        (mailbox_id, uid),
    ).fetchone()
    return None if row is None else (bytes(row[0]), str(row[1]))
