"""Finding a mailbox's index row and directory, creating the row on first sight.

A folder found on disk that the index does not know yet (a new index, or a folder made by
another program) gets a row: its UIDVALIDITY and UIDs come from a ``dovecot-uidlist``
in the folder if there is one, else a fresh UIDVALIDITY. Fresh values are strictly
increasing per user (``mailstack-uidvalidity`` in the Maildir keeps the last one, so even
a deleted index never brings an old value back) and fit in 32 bits, never 0.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import index, layout
from mailstore.maildir.durable import atomic_replace, fsync_dir
from mailstore.maildir.index import MailboxRow
from mailstore.maildir.sync import SyncChanges, sync_mailbox
from mailstore.maildir.uidlist import load_uidlist

UIDVALIDITY_FILE = "mailstack-uidvalidity"
_MAX_UIDVALIDITY = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Ctx:
    """One account's open index and Maildir root (used by the synchronous operations)."""

    conn: sqlite3.Connection
    root: Path
    user: str


def allocate_uidvalidity(ctx: Ctx) -> int:
    """A new UIDVALIDITY above every one given out before in this Maildir (RFC 3501 2.3.1.1)."""
    path = ctx.root / UIDVALIDITY_FILE
    try:
        text = path.read_text("ascii").strip()
        last = int(text) if text.isdigit() else 0
    except (FileNotFoundError, UnicodeDecodeError):
        last = 0
    last = max(last, index.get_meta(ctx.conn, "last_uidvalidity"))
    value = max(int(time.time()), last + 1)
    if value > _MAX_UIDVALIDITY:
        value = 1 + (value % _MAX_UIDVALIDITY)
    atomic_replace(path, f"{value}\n".encode("ascii"))
    index.set_meta(ctx.conn, "last_uidvalidity", value)
    return value


def existing_path(ctx: Ctx, name: str) -> Path:
    """The directory of an existing mailbox; ``NOT_FOUND`` if it is not a maildir."""
    path = layout.mailbox_path(ctx.root, name)
    if not layout.is_maildir(path):
        raise StoreError(StoreErrorKind.NOT_FOUND, "no such mailbox")
    return path


def resolve(
    ctx: Ctx, name: str, *, force: bool = False, move_new: bool = False
) -> tuple[MailboxRow, Path, SyncChanges]:
    """Row and directory of mailbox ``name``, synced (inside a write transaction)."""
    path = existing_path(ctx, name)
    row = index.get_mailbox(ctx.conn, name)
    if row is None:
        uidlist = load_uidlist(path)
        if uidlist is not None:
            row = index.insert_mailbox(ctx.conn, name, uidlist.uidvalidity, uidlist.next_uid)
            index.set_meta(
                ctx.conn,
                "last_uidvalidity",
                max(index.get_meta(ctx.conn, "last_uidvalidity"), uidlist.uidvalidity),
            )
        else:
            row = index.insert_mailbox(ctx.conn, name, allocate_uidvalidity(ctx))
        sync_mailbox(ctx.conn, path, row, force=True, uidlist=uidlist)
        changes = SyncChanges()
    else:
        changes = sync_mailbox(ctx.conn, path, row, force=force, move_new=move_new)
        if changes.untouched:
            return row, path, changes  # nothing written: no need to read the row again
    fresh = index.get_mailbox(ctx.conn, name)
    assert fresh is not None
    return fresh, path, changes


def file_path(path: Path, name: str, in_new: bool) -> Path:
    """The message file ``name`` in ``new/`` or ``cur/`` of maildir ``path``."""
    return path / ("new" if in_new else "cur") / name


def fsync_dirs(*dirs: Path) -> None:
    """fsync each distinct directory once."""
    for d in dict.fromkeys(dirs):
        fsync_dir(d)


def unlink_quietly(paths: list[Path]) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
