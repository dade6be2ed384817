"""Editing a passwd-file in place, safely against crashes and concurrent editors.

Every edit runs under an exclusive ``fcntl`` lock on ``<file>.lock``, reads the file as
bytes, changes only the lines it must (comments, blank lines, unknown fields and other
users stay byte for byte), writes a temporary file in the same directory, fsyncs it,
renames it over the original and fsyncs the directory. A reader sees the old file or the
new one, never half of one. A new file gets mode 0600 (it holds password hashes); an
existing file keeps its mode.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_edit", "split_lines"]

NEW_FILE_MODE = 0o600


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, NEW_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def split_lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` split at LF, each with its ending (the last one may have none)."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def atomic_edit(path: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    """Apply ``change`` to the file's lines under the lock and replace the file atomically.

    ``change`` gets the current lines (``[]`` for a missing file) and returns the new ones;
    an exception from it leaves the file untouched. The parent directory is created if
    missing (mode 0700).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(path):
        try:
            data = path.read_bytes()
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            data, mode = b"", NEW_FILE_MODE
        new_lines = change(split_lines(data))
        _write_atomically(path, b"".join(new_lines), mode)
