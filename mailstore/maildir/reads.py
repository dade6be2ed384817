"""Reading messages of one maildir: by UID through the lock-free read index, or after a sync.

``Mailbox.read``/``read_many`` first try ``read_indexed``/``read_indexed_many`` (no account
lock: the read-only index connection and the file); on a miss (not indexed yet, or the file
was renamed or removed by another program) the async layer syncs under the lock with
``locate``/``locate_many`` and reads again. All of it runs in the thread pool.
"""

from __future__ import annotations

import os
from pathlib import Path

from mailstore.api import ReadRange
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import index
from mailstore.maildir.boxes import Ctx, file_path, resolve
from mailstore.maildir.messagerows import MessageRow, message_rows
from mailstore.maildir.readindex import ReadIndex
from mailstore.maildir.sync import SyncChanges
from mailstore.message_parse import to_crlf


def locate(
    ctx: Ctx, name: str, uid: int, *, force: bool
) -> tuple[Path, MessageRow, SyncChanges]:
    """The file of message ``uid`` after a sync (forced when a read found it gone)."""
    with index.write_transaction(ctx.conn):
        row, path, changes = resolve(ctx, name, force=force)
        found = message_rows(ctx.conn, row.id, [uid])
    if not found:
        raise StoreError(StoreErrorKind.NOT_FOUND, "no such message")
    return file_path(path, found[0].name, found[0].in_new), found[0], changes


def read_indexed(
    reader: ReadIndex, path: Path, name: str, uid: int, *, start: int, length: int | None
) -> bytes | None:
    """``read_file`` of the file the index last recorded for ``uid`` of mailbox ``name``
    (directory ``path``), without a sync or the account lock.

    ``None`` when the index has no such message or its file is gone (renamed or removed
    by another program): the caller then syncs and retries (``locate``).
    """
    found = reader.locate(name, uid)
    if found is None:
        return None
    file = file_path(path, found.name, found.in_new)
    try:
        return read_file(file, found.size, start, length)
    except FileNotFoundError:
        return None


def read_indexed_many(
    reader: ReadIndex, path: Path, name: str, ranges: list[ReadRange]
) -> list[bytes | None]:
    """``read_indexed`` of many ranges with one index query (blocking; thread pool).

    None where the index has no such message or its file is gone: the caller syncs and
    retries those (``locate_many``).
    """
    found = reader.locate_many(name, [uid for uid, _, _ in ranges])
    new, cur = f"{path}/new/", f"{path}/cur/"  # strings: a Path per message costs more
    out: list[bytes | None] = []
    for uid, start, length in ranges:
        where = found.get(uid)
        if where is None:
            out.append(None)
            continue
        file = (new if where.in_new else cur) + where.name
        try:
            out.append(read_file(file, where.size, start, length))
        except FileNotFoundError:
            out.append(None)
    return out


def locate_many(
    ctx: Ctx, name: str, uids: list[int], *, force: bool
) -> tuple[dict[int, tuple[Path, int]], SyncChanges]:
    """Files and sizes of the messages of ``uids`` still in the mailbox, after a sync."""
    with index.write_transaction(ctx.conn):
        row, path, changes = resolve(ctx, name, force=force)
        found = message_rows(ctx.conn, row.id, uids)
    return {r.uid: (file_path(path, r.name, r.in_new), r.size) for r in found}, changes


def read_files(files: dict[int, tuple[Path, int]], ranges: list[ReadRange]) -> list[bytes | None]:
    """``read_file`` of each range whose message is in ``files``; None if not or vanished."""
    out: list[bytes | None] = []
    for uid, start, length in ranges:
        where = files.get(uid)
        try:
            out.append(None if where is None else read_file(where[0], where[1], start, length))
        except FileNotFoundError:
            out.append(None)
    return out


def read_file(file: Path | str, size: int, start: int, length: int | None) -> bytes:
    """Bytes ``[start, start+length)`` of the CRLF form of a message file.

    Plain ``os`` calls rather than a file object: FETCH reads thousands of small files
    in a row, and the buffered reader's set-up costs more than the read itself.
    """
    if length is not None and length <= 0:
        return b""
    fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    try:
        physical = os.fstat(fd).st_size
        if physical == size:
            want = max(0, physical - start) if length is None else length
            return read_at(fd, start, want)
        data = read_at(fd, 0, physical)
    finally:
        os.close(fd)
    # LF line ends (as most MDAs write): one replace; mixed ends: the general conversion
    data = data.replace(b"\n", b"\r\n") if b"\r" not in data else to_crlf(data)
    end = None if length is None else start + length
    return data[start:end]


def read_at(fd: int, offset: int, length: int) -> bytes:
    """Up to ``length`` octets at ``offset`` (fewer only at the end of the file)."""
    data = os.pread(fd, length, offset)
    if len(data) == length or not data:
        return data
    pieces = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)
