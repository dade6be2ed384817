"""Where mailboxes live on disk: Maildir++ folders under one user's Maildir.

INBOX is the Maildir root (``tmp/ new/ cur/``); every other mailbox is a directory
``.A.B`` beside them holding its own ``tmp/ new/ cur/`` and an empty ``maildirfolder``
file (Maildir++, as Courier and Dovecot make them). Every name goes through
``mailstore.names`` first, and the folder it maps to is checked once more here to be a
single directory entry directly under the root: no path ever leaves the Maildir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from twisted.logger import Logger

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir.durable import fsync_dir
from mailstore.names import from_maildir_folder, to_maildir_folder
from mailstore.types import INBOX

SUBDIRS = ("tmp", "new", "cur")
MAILDIRFOLDER = "maildirfolder"
TRASH_PREFIX = "mailstack-deleting."
"""Folders being deleted are first renamed to this (not ``.``-prefixed: never listed)."""
DIR_MODE = 0o700

log = Logger()


def folder_of(name: str) -> str:
    """The Maildir++ folder name of a (normalised) mailbox name, checked to be one entry."""
    folder = to_maildir_folder(name)
    if folder == "":
        return folder
    if (
        not folder.startswith(".")
        or folder in (".", "..")
        or "/" in folder
        or "\0" in folder
        or len(folder.encode("utf-8", "surrogateescape")) > 255
    ):
        raise StoreError(StoreErrorKind.INVALID_NAME, "folder name not a single entry")
    return folder


def mailbox_path(root: Path, name: str) -> Path:
    """The directory of mailbox ``name`` under the Maildir ``root``."""
    folder = folder_of(name)
    return root if folder == "" else root / folder


def is_maildir(path: Path) -> bool:
    """True if ``path`` is a directory with ``cur/`` (a selectable maildir)."""
    return (path / "cur").is_dir() and not path.is_symlink()


def make_maildir(path: Path, *, folder: bool) -> None:
    """Create ``tmp/ new/ cur/`` (and ``maildirfolder`` for a folder) durably.

    Nothing is fsynced when everything already existed (every account open calls this).
    """
    created = False
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE)
        created = True
    changed = created
    for sub in SUBDIRS:
        with contextlib.suppress(FileExistsError):
            (path / sub).mkdir(mode=DIR_MODE)
            changed = True
    if folder:
        marker = path / MAILDIRFOLDER
        if not marker.exists():
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.close(fd)
            changed = True
    if changed:
        fsync_dir(path)
    if created:
        fsync_dir(path.parent)


def list_folders(root: Path) -> list[str]:
    """Names of the mailboxes that exist as folders under ``root`` (INBOX not included).

    Folder names that do not decode (``from_maildir_folder`` refuses them) are skipped
    and logged, so a stray ``.something`` never becomes a mailbox with a hostile name.
    """
    names: list[str] = []
    with os.scandir(root) as entries:
        for entry in entries:
            if not entry.name.startswith(".") or entry.name in (".", ".."):
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            try:
                name = from_maildir_folder(entry.name)
            except StoreError:
                log.warn("skipping folder {folder!r}: not a valid mailbox name", folder=entry.name)
                continue
            if name != INBOX:
                names.append(name)
    return names


def remove_folder(root: Path, name: str) -> None:
    """Delete a folder and everything in it: renamed away first, then removed."""
    path = mailbox_path(root, name)
    if path == root:
        raise StoreError(StoreErrorKind.NOT_ALLOWED, "INBOX cannot be removed")
    trash = root / (TRASH_PREFIX + os.urandom(8).hex())
    os.rename(path, trash)
    fsync_dir(root)
    shutil.rmtree(trash, ignore_errors=True)


def rename_folder(root: Path, old: str, new: str) -> None:
    """Rename one folder (not its children), refusing to replace an existing entry."""
    src, dest = mailbox_path(root, old), mailbox_path(root, new)
    if root in (src, dest):
        raise StoreError(StoreErrorKind.NOT_ALLOWED, "INBOX is the Maildir root")
    if os.path.lexists(dest):
        raise StoreError(StoreErrorKind.ALREADY_EXISTS, "destination folder exists")
    os.rename(src, dest)


def remove_stale_trash(root: Path) -> None:
    """Finish deletions interrupted by a crash."""
    with os.scandir(root) as entries:
        stale = [e.path for e in entries if e.name.startswith(TRASH_PREFIX)]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
