"""Crash-safe writes: a file is either complete and durable under its name or absent.

The Maildir delivery protocol (cr.yp.to/proto/maildir.html): write into ``tmp/``, fsync
the file, link (or rename) it into ``new/`` or ``cur/``, fsync that directory. Only after
that may a delivery be acknowledged. Linking instead of renaming gives "never overwrite"
for free (``FileExistsError``); renaming is the fallback on file systems without hard
links. Whatever fails, no temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from mailstore.maildir.filenames import new_basename

CHUNK_SIZE = 1024 * 1024
"""Copies are streamed in chunks of this size."""

FILE_MODE = 0o600
"""Message and metadata files are private to the mail user, as Dovecot makes them."""

_NO_LINK_ERRNOS = frozenset(
    {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}
)
"""``os.link`` failures that mean "this file system will not link here": copy instead."""


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (creations, renames, unlinks) durable."""
    fsync_path(path, os.O_DIRECTORY)


def fsync_path(path: Path, flags: int = 0) -> None:
    """fsync the file or directory ``path`` through a descriptor of its own (``fsync`` makes
    the inode's data durable whichever descriptor wrote them); ``flags`` add to the open's."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_staged(path: Path, chunks: Iterable[bytes], *, sync: bool = True) -> int:
    """Create ``path`` (a new name in a ``tmp/`` directory), write ``chunks``, fsync the
    contents; the byte count. Removed again on failure.

    Only the contents must be durable here: the file becomes mail when it is renamed into
    ``new/`` or ``cur/`` and *that* directory is fsynced. ``tmp/`` itself is not synced: a
    crash can at most leave (or lose) a stray temporary file, never a half message.
    ``sync=False`` leaves the fsync to the caller (``fsync_path``), who must do it before
    the rename (a group commit syncs many files at once).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    total = 0
    try:
        try:  # plain os calls: a file object adds fstat, ioctl and lseek to every delivery
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                total += len(chunk)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        raise
    return total


def _link_no_replace(src: Path, dest: Path) -> None:
    """Give ``src`` the name ``dest``, never replacing an existing ``dest``.

    Hard link then unlink; where hard links are refused, rename after an existence
    check (unique names make the remaining race harmless).
    """
    try:
        os.link(src, dest)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINK_ERRNOS:
            raise
        if os.path.lexists(dest):
            raise FileExistsError(errno.EEXIST, "destination exists", str(dest)) from exc
        os.rename(src, dest)
    else:
        with contextlib.suppress(OSError):  # a leftover in tmp/ is harmless: cleaned later
            os.unlink(src)


def write_file_durably(
    tmp_dir: Path, dest_dir: Path, dest_name: str, chunks: Iterable[bytes]
) -> int:
    """Write ``chunks`` to ``dest_dir/dest_name`` crash-safely; the number of bytes written.

    The data goes to a unique file in ``tmp_dir``, is fsynced, linked or renamed to the
    destination (``FileExistsError`` if it exists: never overwritten) and ``dest_dir`` is
    fsynced. On any failure the temporary file is removed, and so is the destination if
    it was created but its directory could not be synced.
    """
    tmp_path = tmp_dir / new_basename()
    dest = dest_dir / dest_name
    linked = False
    try:
        total = write_staged(tmp_path, chunks)
        _link_no_replace(tmp_path, dest)
        linked = True
        fsync_dir(dest_dir)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        if linked:
            with contextlib.suppress(OSError):
                dest.unlink(missing_ok=True)
        raise
    return total


def _read_chunks(src: Path) -> Iterator[bytes]:
    with open(src, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            yield chunk


def copy_file_durably(
    src: Path, tmp_dir: Path, dest_dir: Path, dest_name: str, prefix: bytes = b""
) -> int:
    """Put ``prefix`` + the contents of ``src`` at ``dest_dir/dest_name``; the size there.

    Without a prefix the file is hard-linked when the file system allows it (same device;
    ``src`` must already be durable, as spooled and stored messages are), else copied in
    1 MiB chunks through ``tmp_dir``. Same guarantees as ``write_file_durably``.
    """
    dest = dest_dir / dest_name
    if not prefix:
        try:
            os.link(src, dest)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
        else:
            try:
                fsync_dir(dest_dir)
            except BaseException:
                with contextlib.suppress(OSError):
                    dest.unlink(missing_ok=True)
                raise
            return os.stat(dest).st_size
    chunks = itertools.chain([prefix] if prefix else [], _read_chunks(src))
    return write_file_durably(tmp_dir, dest_dir, dest_name, chunks)


def atomic_replace(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (small metadata files).

    A temporary file beside it (not starting with ``.``, so no Maildir++ folder scan
    mistakes it for a folder) is written, fsynced and renamed over ``path``; then the
    directory is fsynced. The temporary file is removed on failure.
    """
    tmp_path = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    try:
        write_staged(tmp_path, [data])
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
