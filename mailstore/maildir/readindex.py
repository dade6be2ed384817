"""A read-only view of one account's index for the hot read path (POP3 RETR, IMAP FETCH).

``Mailbox.read`` only needs where a message's file is: one indexed lookup. Doing it on the
account's writing connection means waiting for the account lock and a ``BEGIN IMMEDIATE``
sync. Instead each account keeps a second SQLite connection (``query_only``), opened
lazily in the thread pool and guarded by a plain thread lock held only for the lookup
itself (microseconds), never while a file is read. In WAL mode it sees the last committed
state without blocking, and being blocked by, writers. A file renamed by another program
since then is not found; the caller then falls back to the synced path under the lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir.index import BUSY_TIMEOUT_MS
from mailstore.types import MessageInfo

_LOCATE_SQL = (
    "SELECT m.name, m.in_new, m.size FROM mailboxes b JOIN messages m "
    "ON m.mailbox_id = b.id WHERE b.name=? AND m.uid=?"
)
_LOCATE_MANY_SQL = (
    "SELECT m.uid, m.name, m.in_new, m.size FROM mailboxes b JOIN messages m "
    "ON m.mailbox_id = b.id WHERE b.name=? AND m.uid IN (SELECT value FROM json_each(?))"
)


@dataclass(frozen=True, slots=True)
class Located:
    """Where the index last saw a message's file (relative to its maildir) and its size."""

    name: str
    in_new: bool
    size: int


class ReadIndex:
    """A lazily opened, ``query_only`` connection to an index; safe from any thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self.snapshots: dict[str, tuple[tuple[int, int, int, int], tuple[MessageInfo, ...]]] = {}
        """The last message list of each mailbox, for ``messages.snapshot`` (it is only
        used under the account lock, by one thread at a time)."""

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(StoreErrorKind.TEMPORARY, "store closed")
        if self._conn is None:
            conn = sqlite3.connect(
                str(self._path),
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only=1")
            self._conn = conn
        return self._conn

    def locate(self, mailbox: str, uid: int) -> Located | None:
        """The index's record of message ``uid`` of ``mailbox`` (blocking; thread pool)."""
        with self._lock:
            row = self._connection().execute(_LOCATE_SQL, (mailbox, uid)).fetchone()
        return None if row is None else Located(str(row[0]), bool(row[1]), int(row[2]))

    def locate_many(self, mailbox: str, uids: Iterable[int]) -> dict[int, Located]:
        """``locate`` for many UIDs in one query: those the index knows (blocking)."""
        wanted = json.dumps(sorted(set(uids)))
        with self._lock:
            rows = self._connection().execute(_LOCATE_MANY_SQL, (mailbox, wanted)).fetchall()
        return {int(u): Located(str(n), bool(i), int(s)) for u, n, i, s in rows}

    def close(self) -> None:
        """Close the connection; later lookups raise ``TEMPORARY`` (blocking)."""
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
