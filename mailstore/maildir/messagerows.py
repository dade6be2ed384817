"""The index's message rows: the ``messages`` and ``message_meta`` tables of ``index``.

Where each message of a mailbox is (base and file name, ``new/`` or ``cur/``), its flags,
MODSEQ, size and date, and its cached header and structure: read, inserted and deleted in
batches. Kept apart from ``index``, which holds the file, its schema and transactions and
the per-mailbox state (UIDs, MODSEQs, scan state, quota usage), because these are the
per-message queries the sync, append, copy/move and expunge paths run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from mailstore.maildir.index import as_json

_NAMES_NEW_SQL = (
    "SELECT group_concat(name, '/') FROM messages INDEXED BY messages_in_new "
    "WHERE mailbox_id=? AND in_new = 1"
)
"""``in_new = 1`` spelled out so that SQLite uses the partial index ``messages_in_new``."""
_NAMES_CUR_SQL = "SELECT group_concat(name, '/') FROM messages WHERE mailbox_id=? AND in_new = 0"


def names_in(conn: sqlite3.Connection, mailbox_id: int, in_new: bool) -> set[str]:
    """File names the index holds for ``cur/`` (or ``new/``) of a mailbox, in one query.

    File names never contain ``/``, so one joined string split in C is the cheapest way
    to move 100,000 names out of SQLite.
    """
    (joined,) = conn.execute(_NAMES_NEW_SQL if in_new else _NAMES_CUR_SQL, (mailbox_id,)).fetchone()
    return set(joined.split("/")) if joined else set()


def bases_known(conn: sqlite3.Connection, mailbox_id: int, bases: Iterable[str]) -> set[str]:
    """Those of ``bases`` that the index already has for this mailbox."""
    return {
        b
        for (b,) in conn.execute(
            "SELECT base FROM messages WHERE mailbox_id=? "
            "AND base IN (SELECT value FROM json_each(?))",
            (mailbox_id, as_json(bases)),
        )
    }


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
    rows = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE mailbox_id=? "  # noqa: S608
        "AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (mailbox_id, as_json(set(uids))),
    ).fetchall()
    return [MessageRow(*row) for row in rows]


_INSERT_SQL = (
    f"INSERT INTO messages(mailbox_id, {_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"  # noqa: S608
)


def insert_message(conn: sqlite3.Connection, mailbox_id: int, row: MessageRow) -> None:
    insert_messages(conn, mailbox_id, [row])


def insert_messages(conn: sqlite3.Connection, mailbox_id: int, rows: Iterable[MessageRow]) -> None:
    conn.executemany(
        _INSERT_SQL,
        [
            (
                mailbox_id,
                r.uid,
                r.base,
                r.name,
                int(r.in_new),
                r.flags,
                r.keywords,
                r.modseq,
                r.size,
                r.internal_date,
            )
            for r in rows
        ],
    )


def delete_messages(conn: sqlite3.Connection, mailbox_id: int, uids: list[int]) -> None:
    """Drop the rows (and cached metadata) of ``uids``: two statements whatever the count."""
    wanted = as_json(uids)
    for table in ("messages", "message_meta"):
        conn.execute(
            f"DELETE FROM {table} WHERE mailbox_id=? "  # noqa: S608
            "AND uid IN (SELECT value FROM json_each(?))",
            (mailbox_id, wanted),
        )


def store_meta(
    conn: sqlite3.Connection, mailbox_id: int, uid: int, header: bytes, structure: str
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO message_meta(mailbox_id, uid, header, structure) "
        "VALUES (?, ?, ?, ?)",
        (mailbox_id, uid, header, structure),
    )
