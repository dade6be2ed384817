"""Synchronous mailbox management: LIST, CREATE, DELETE, RENAME, subscriptions, quota.

RFC 3501 6.3.3 to 6.3.9 and RFC 6154 (special use). Existence is the file system's: a
mailbox exists when its folder does; parents that exist only because a child does are
``\\Noselect``. Deleting a mailbox that has children removes its folder (its messages)
and leaves the name as such a ``\\Noselect`` parent (RFC 3501 6.3.4); renaming moves the
children along; renaming INBOX moves its messages into a new mailbox (6.3.5).
"""

from __future__ import annotations

import os
from pathlib import Path

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import index, layout
from mailstore.maildir.boxes import Ctx, allocate_uidvalidity, fsync_dirs, resolve
from mailstore.maildir.sync import SyncChanges
from mailstore.names import normalize_name, parent_names
from mailstore.types import HIERARCHY_SEPARATOR, INBOX, MailboxInfo, QuotaUsage, SpecialUse

SPECIAL_MAILBOXES: tuple[tuple[str, SpecialUse], ...] = (
    ("Drafts", SpecialUse.DRAFTS),
    ("Sent", SpecialUse.SENT),
    ("Trash", SpecialUse.TRASH),
    ("Junk", SpecialUse.JUNK),
    ("Archive", SpecialUse.ARCHIVE),
)
SUBSCRIPTIONS_FILE = "subscriptions"


def _sort_key(name: str) -> tuple[int, list[str]]:
    return (0 if name == INBOX else 1, name.split(HIERARCHY_SEPARATOR))


def _children(names: set[str], name: str) -> list[str]:
    prefix = name + HIERARCHY_SEPARATOR
    return [n for n in names if n.startswith(prefix)]


def list_mailboxes(ctx: Ctx) -> list[MailboxInfo]:
    """Every mailbox, INBOX first, parents (``\\Noselect`` if only implied) before children."""
    real = set(layout.list_folders(ctx.root)) | {INBOX}
    implied = {p for n in real for p in parent_names(n)} - real
    every = real | implied
    special = {
        name: SpecialUse(use)
        for name, use in ctx.conn.execute(
            "SELECT name, special_use FROM mailboxes WHERE special_use IS NOT NULL"
        )
    }
    subscribed = set(subscriptions(ctx))
    has_children = {p for n in every for p in parent_names(n)}
    return [
        MailboxInfo(
            name=name,
            special_use=special.get(name) if name in real else None,
            selectable=name in real,
            has_children=name in has_children,
            subscribed=name in subscribed,
        )
        for name in sorted(every, key=_sort_key)
    ]


def _create_folder(ctx: Ctx, name: str) -> None:
    path = layout.mailbox_path(ctx.root, name)
    layout.make_maildir(path, folder=True)
    if index.get_mailbox(ctx.conn, name) is None:
        index.insert_mailbox(ctx.conn, name, allocate_uidvalidity(ctx))


def create_mailbox(ctx: Ctx, name: str, special_use: SpecialUse | None) -> str:
    """Create ``name`` and missing parents (RFC 3501 6.3.3); the normalised name."""
    name = normalize_name(name)
    if name == INBOX or layout.mailbox_path(ctx.root, name).exists():
        raise StoreError(StoreErrorKind.ALREADY_EXISTS, "mailbox exists")
    with index.write_transaction(ctx.conn):
        for parent in parent_names(name):
            if parent != INBOX and not layout.mailbox_path(ctx.root, parent).exists():
                _create_folder(ctx, parent)
        _create_folder(ctx, name)
        if special_use is not None:
            ctx.conn.execute(
                "UPDATE mailboxes SET special_use=? WHERE name=?", (special_use.value, name)
            )
    return name


def delete_mailbox(ctx: Ctx, name: str) -> list[str]:
    """Delete ``name`` (RFC 3501 6.3.4); the mailbox names whose sessions must close."""
    name = normalize_name(name)
    if name == INBOX:
        raise StoreError(StoreErrorKind.NOT_ALLOWED, "INBOX cannot be deleted")
    real = set(layout.list_folders(ctx.root))
    if name not in real:
        if _children(real, name):
            raise StoreError(StoreErrorKind.HAS_CHILDREN, "\\Noselect with inferiors")
        raise StoreError(StoreErrorKind.NOT_FOUND, "no such mailbox")
    with index.write_transaction(ctx.conn):
        row = index.get_mailbox(ctx.conn, name)
        if row is not None:
            size, count = index.delete_mailbox_rows(ctx.conn, row.id)
            index.add_usage(ctx.conn, -size, -count)
        layout.remove_folder(ctx.root, name)
    return [name]


def rename_mailbox(ctx: Ctx, old: str, new: str) -> list[str]:
    """Rename ``old`` and its children to ``new`` (RFC 3501 6.3.5); the names gone."""
    old, new = normalize_name(old), normalize_name(new)
    if new == INBOX or layout.mailbox_path(ctx.root, new).exists():
        raise StoreError(StoreErrorKind.ALREADY_EXISTS, "target exists")
    if new.startswith(old + HIERARCHY_SEPARATOR):
        raise StoreError(StoreErrorKind.NOT_ALLOWED, "cannot rename into itself")
    real = set(layout.list_folders(ctx.root))
    moving = sorted(([old] if old in real else []) + _children(real, old), key=_sort_key)
    if not moving:
        raise StoreError(StoreErrorKind.NOT_FOUND, "no such mailbox")
    targets = [new + m[len(old) :] for m in moving]
    for target in targets:
        normalize_name(target)
        layout.folder_of(target)
        if target in real:
            raise StoreError(StoreErrorKind.ALREADY_EXISTS, "target child exists")
    with index.write_transaction(ctx.conn):
        for parent in parent_names(new):
            if parent != INBOX and not layout.mailbox_path(ctx.root, parent).exists():
                _create_folder(ctx, parent)
        done: list[tuple[str, str]] = []
        try:
            for src, dest in zip(moving, targets, strict=True):
                layout.rename_folder(ctx.root, src, dest)
                done.append((src, dest))
        except BaseException:
            for src, dest in reversed(done):
                os.rename(layout.mailbox_path(ctx.root, dest), layout.mailbox_path(ctx.root, src))
            raise
        fsync_dirs(ctx.root)
        for src, dest in done:
            ctx.conn.execute("UPDATE mailboxes SET name=? WHERE name=?", (dest, src))
            ctx.conn.execute("UPDATE OR IGNORE subscriptions SET name=? WHERE name=?", (dest, src))
    return moving


def subscriptions(ctx: Ctx) -> list[str]:
    return [n for (n,) in ctx.conn.execute("SELECT name FROM subscriptions ORDER BY name")]


def set_subscribed(ctx: Ctx, name: str, subscribed: bool) -> None:
    """SUBSCRIBE / UNSUBSCRIBE (RFC 3501 6.3.6-7): names need not exist."""
    name = normalize_name(name)
    with index.write_transaction(ctx.conn):
        if subscribed:
            ctx.conn.execute("INSERT OR IGNORE INTO subscriptions(name) VALUES (?)", (name,))
        else:
            ctx.conn.execute("DELETE FROM subscriptions WHERE name=?", (name,))


def _import_subscriptions(ctx: Ctx) -> None:
    """Read a Maildir++ ``subscriptions`` file (Courier ``INBOX.A.B`` or Dovecot names)."""
    try:
        lines = (ctx.root / SUBSCRIPTIONS_FILE).read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return
    for line in lines.splitlines():
        text = line.strip()
        if text.upper().startswith("INBOX.") and len(text) > 6:
            text = text[6:]
        try:
            name = normalize_name(text.replace(".", HIERARCHY_SEPARATOR))
        except StoreError:
            continue
        ctx.conn.execute("INSERT OR IGNORE INTO subscriptions(name) VALUES (?)", (name,))


def open_account(ctx: Ctx) -> list[SyncChanges]:
    """First use of an account: Maildir, special-use mailboxes, subscriptions, index build."""
    layout.make_maildir(ctx.root, folder=False)
    layout.remove_stale_trash(ctx.root)
    if index.get_meta(ctx.conn, "initialized"):
        return []
    with index.write_transaction(ctx.conn):
        if index.get_meta(ctx.conn, "initialized"):
            return []
        _import_subscriptions(ctx)
        for name, use in SPECIAL_MAILBOXES:
            if not layout.mailbox_path(ctx.root, name).exists():
                _create_folder(ctx, name)
                ctx.conn.execute("INSERT OR IGNORE INTO subscriptions(name) VALUES (?)", (name,))
            if index.get_mailbox(ctx.conn, name) is None:
                resolve(ctx, name)
            ctx.conn.execute("UPDATE mailboxes SET special_use=? WHERE name=?", (use.value, name))
        _recount(ctx)
        index.set_meta(ctx.conn, "initialized", 1)
    return []


def _recount(ctx: Ctx) -> None:
    """Sync every mailbox and set the quota usage from the index (in a write transaction)."""
    for name in [INBOX, *layout.list_folders(ctx.root)]:
        if layout.is_maildir(layout.mailbox_path(ctx.root, name)):
            resolve(ctx, name)
    size, count = ctx.conn.execute(
        "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages"
    ).fetchone()
    index.set_meta(ctx.conn, "quota_bytes", int(size))
    index.set_meta(ctx.conn, "quota_messages", int(count))


def recalculate_quota(ctx: Ctx) -> QuotaUsage:
    """Recount usage from the mailboxes (dropping index rows of vanished folders)."""
    with index.write_transaction(ctx.conn):
        present = {INBOX, *layout.list_folders(ctx.root)}
        for row in index.all_mailboxes(ctx.conn):
            path = layout.mailbox_path(ctx.root, row.name)
            if row.name not in present or not layout.is_maildir(path):
                index.delete_mailbox_rows(ctx.conn, row.id)
        _recount(ctx)
        size, count = index.usage(ctx.conn)
    return QuotaUsage(size, count)


def mailbox_exists(ctx: Ctx, name: str) -> bool:
    return layout.is_maildir(layout.mailbox_path(ctx.root, normalize_name(name)))


def maildir_root(home: Path) -> Path:
    return home / "Maildir"
