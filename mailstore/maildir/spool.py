"""The message spool: where LMTP DATA and IMAP APPEND literals land before they are filed.

A message arrives in pieces on the reactor thread; it is buffered in memory up to
``BUFFER_LIMIT`` and then appended to a private spool file, so a large message is never
held in RAM whole. ``finish`` flushes and fsyncs in the thread pool and hands back a
``StagedMessage`` (an opaque token + size) that the Store appends to one or more
mailboxes (hard-linked or copied) and then discards. Nothing here names a path to
protocols; only the Store calls ``Spool.path_of``.

Writer states: OPEN → FINISHING → DONE, or → ABORTED from OPEN or FINISHING. An
``abort`` while ``finish`` runs in the thread is honoured when the thread returns.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import time
from pathlib import Path
from typing import BinaryIO

from twisted.logger import Logger

from mailstore import blocking
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir.durable import FILE_MODE
from mailstore.types import StagedMessage

BUFFER_LIMIT = 256 * 1024
"""Bytes kept in memory before the spool file is opened and written."""
STALE_AFTER = 24 * 3600
"""Spool files older than this (seconds) are left over from a crash: removed at start."""

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
log = Logger()


class WriterState(enum.Enum):
    """Where a ``SpoolFileWriter`` is in its life."""

    OPEN = "open"
    FINISHING = "finishing"
    DONE = "done"
    ABORTED = "aborted"


class Spool:
    """A directory of spooled messages (e.g. ``<data_dir>/spool``), mode 0700."""

    def __init__(self, directory: Path) -> None:
        """Create the directory if needed and remove spool files older than a day."""
        self.directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        self._remove_stale()

    def _remove_stale(self) -> None:
        limit = time.time() - STALE_AFTER
        removed = 0
        with os.scandir(self.directory) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < limit:
                        os.unlink(entry.path)
                        removed += 1
        if removed:
            log.info(
                "removed {count} stale spool files from {dir}",
                count=removed,
                dir=str(self.directory),
            )

    def new_token(self) -> str:
        """A fresh spool file name: safe as a token, unique across processes."""
        return f"{time.time_ns()}.{os.getpid()}.{os.urandom(8).hex()}"

    def writer(self) -> SpoolFileWriter:
        """A writer for one message (implements ``mailstore.api.SpoolWriter``)."""
        return SpoolFileWriter(self.directory / self.new_token())

    def path_of(self, staged: StagedMessage) -> Path:
        """The spool file of ``staged`` (for the Store only).

        Raises ``ValueError`` for a token that is not one of ours (``/``, ``..`` ...).
        """
        token = staged.token
        if not _TOKEN.fullmatch(token) or ".." in token:
            raise ValueError("invalid spool token")
        return self.directory / token

    def discard(self, staged: StagedMessage) -> None:
        """Remove the spool file of ``staged``; a missing file is fine."""
        self.path_of(staged).unlink(missing_ok=True)


class SpoolFileWriter:
    """Receives one message; ``mailstore.api.SpoolWriter`` over a spool file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = WriterState.OPEN
        self.size = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._file: BinaryIO | None = None

    def _check_open(self) -> None:
        if self.state is not WriterState.OPEN:
            raise RuntimeError(f"spool writer is {self.state.value}")

    def _flush_buffer(self) -> None:
        if self._file is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
            self._file = open(fd, "wb", buffering=0, closefd=True)  # noqa: SIM115
        self._file.write(b"".join(self._buffer))
        self._buffer.clear()
        self._buffered = 0

    def write(self, data: bytes) -> None:
        """Add ``data``; past ``BUFFER_LIMIT`` buffered bytes they go to the spool file.

        Raises ``RuntimeError`` after ``finish``/``abort`` and ``StoreError(TEMPORARY)``
        if the disk refuses the data (the writer is then aborted).
        """
        self._check_open()
        if not data:
            return
        self._buffer.append(bytes(data))
        self._buffered += len(data)
        self.size += len(data)
        if self._buffered >= BUFFER_LIMIT:
            try:
                self._flush_buffer()
            except OSError as exc:
                self.abort()
                raise StoreError(StoreErrorKind.TEMPORARY, f"spool write: {exc}") from exc

    def _finish_sync(self) -> StagedMessage:
        """Flush, fsync and close (blocking: runs in the thread pool); the staged message."""
        self._flush_buffer()
        assert self._file is not None
        try:
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
            self._file = None
        return StagedMessage(token=self.path.name, size=self.size)

    async def finish(self) -> StagedMessage:
        """Flush and fsync in the thread pool; the message is then durable.

        Raises ``StoreError(TEMPORARY)`` on a disk error and ``RuntimeError`` if the
        writer was aborted meanwhile; in both cases nothing is left on disk.
        """
        self._check_open()
        self.state = WriterState.FINISHING
        try:
            staged = await blocking.run_blocking(self._finish_sync)
        except OSError as exc:
            self.state = WriterState.OPEN
            self.abort()
            raise StoreError(StoreErrorKind.TEMPORARY, f"spool finish: {exc}") from exc
        if self.state is WriterState.ABORTED:
            self._remove()
            raise RuntimeError("spool writer aborted while finishing")
        self.state = WriterState.DONE
        return staged

    def _remove(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Drop what was written: close and unlink. Idempotent; a no-op after ``finish``.

        During ``finish`` the removal happens when the thread returns.
        """
        if self.state is WriterState.OPEN:
            self._buffer.clear()
            self._buffered = 0
            self._remove()
        if self.state in (WriterState.OPEN, WriterState.FINISHING):
            self.state = WriterState.ABORTED
