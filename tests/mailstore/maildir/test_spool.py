from __future__ import annotations

import errno
import os
import stat

import pytest
from twisted.internet import defer
from twisted.python.failure import Failure

from mailstore import blocking
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir.spool import BUFFER_LIMIT, Spool, SpoolFileWriter, WriterState
from mailstore.types import StagedMessage


@pytest.fixture
def inline_blocking(monkeypatch):
    """run_blocking without a thread pool: the call happens inline."""

    async def run_inline(fn, *args, **kwargs):
        return fn(*args, **kwargs)

    monkeypatch.setattr(blocking, "run_blocking", run_inline)


def finish(writer: SpoolFileWriter) -> StagedMessage:
    d = defer.Deferred.fromCoroutine(writer.finish())
    results: list[object] = []
    d.addBoth(results.append)
    assert results, "finish did not complete synchronously"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    assert isinstance(results[0], StagedMessage)
    return results[0]


def test_directory_created_private(tmp_path):
    spool = Spool(tmp_path / "data" / "spool")
    mode = stat.S_IMODE((tmp_path / "data" / "spool").stat().st_mode)
    assert mode == 0o700
    assert spool.directory == tmp_path / "data" / "spool"


def test_stale_files_removed(tmp_path):
    old, fresh = tmp_path / "old", tmp_path / "fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_days_ago = os.stat(old).st_mtime - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    Spool(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh"]


def test_small_message_stays_in_memory_until_finish(tmp_path, inline_blocking):
    spool = Spool(tmp_path)
    writer = spool.writer()
    writer.write(b"Subject: hi\r\n\r\n")
    writer.write(b"")
    writer.write(b"body\r\n")
    assert list(tmp_path.iterdir()) == []
    staged = finish(writer)
    assert staged.size == 21
    assert spool.path_of(staged).read_bytes() == b"Subject: hi\r\n\r\nbody\r\n"
    assert writer.state is WriterState.DONE
    spool.discard(staged)
    spool.discard(staged)
    assert list(tmp_path.iterdir()) == []


def test_large_message_goes_to_disk(tmp_path, inline_blocking):
    spool = Spool(tmp_path)
    writer = spool.writer()
    chunk = b"x" * 1000 + b"\r\n"
    for _ in range(300):
        writer.write(chunk)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and 0 < files[0].stat().st_size < 300 * len(chunk)
    assert files[0].stat().st_size >= BUFFER_LIMIT
    staged = finish(writer)
    assert staged.size == 300 * len(chunk)
    assert spool.path_of(staged).read_bytes() == chunk * 300


def test_empty_message(tmp_path, inline_blocking):
    spool = Spool(tmp_path)
    staged = finish(spool.writer())
    assert staged.size == 0
    assert spool.path_of(staged).read_bytes() == b""


def test_abort_removes_everything(tmp_path):
    spool = Spool(tmp_path)
    writer = spool.writer()
    writer.write(b"y" * (BUFFER_LIMIT + 1))
    assert len(list(tmp_path.iterdir())) == 1
    writer.abort()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        writer.write(b"more")


def test_write_and_finish_after_finish_raise(tmp_path, inline_blocking):
    writer = Spool(tmp_path).writer()
    writer.write(b"a")
    finish(writer)
    with pytest.raises(RuntimeError):
        writer.write(b"b")
    with pytest.raises(RuntimeError):
        finish(writer)
    writer.abort()  # no-op once finished: the staged file belongs to the caller
    assert len(list(tmp_path.iterdir())) == 1


def test_abort_during_finish(tmp_path, monkeypatch):
    writer = Spool(tmp_path).writer()
    writer.write(b"data")
    pending: defer.Deferred[None] = defer.Deferred()

    async def run_later(fn, *args, **kwargs):
        await pending
        return fn(*args, **kwargs)

    monkeypatch.setattr(blocking, "run_blocking", run_later)
    d = defer.Deferred.fromCoroutine(writer.finish())
    with pytest.raises(RuntimeError):
        writer.write(b"late")
    writer.abort()
    pending.callback(None)
    failures: list[Failure] = []
    d.addErrback(failures.append)
    assert failures and failures[0].check(RuntimeError)
    assert list(tmp_path.iterdir()) == []


def test_disk_error_in_finish_is_temporary(tmp_path, inline_blocking, monkeypatch):
    writer = Spool(tmp_path).writer()
    writer.write(b"data")

    def broken(fd):
        raise OSError(errno.EIO, "io error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(StoreError) as info:
        finish(writer)
    assert info.value.kind is StoreErrorKind.TEMPORARY
    assert writer.state is WriterState.ABORTED
    assert list(tmp_path.iterdir()) == []


def test_disk_error_in_write_is_temporary(tmp_path, monkeypatch):
    writer = Spool(tmp_path).writer()
    real_open = os.open

    def full(path, flags, mode=0o777):
        if str(path).startswith(str(tmp_path)):
            raise OSError(errno.ENOSPC, "disk full")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", full)
    with pytest.raises(StoreError) as info:
        writer.write(b"z" * BUFFER_LIMIT)
    assert info.value.kind is StoreErrorKind.TEMPORARY
    assert writer.state is WriterState.ABORTED
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("token", ["", "..", "a/b", "../x", ".hidden", "a..b", "a\0b", "a b"])
def test_path_of_rejects_foreign_tokens(tmp_path, token):
    spool = Spool(tmp_path)
    with pytest.raises(ValueError):
        spool.path_of(StagedMessage(token=token, size=0))
    with pytest.raises(ValueError):
        spool.discard(StagedMessage(token=token, size=0))


def test_finish_in_real_thread_pool(tmp_path, reactor_thread):
    spool = Spool(tmp_path)
    writer = spool.writer()
    writer.write(b"From: a@example.org\r\n\r\nhello\r\n")
    staged = reactor_thread.run(writer.finish)
    assert staged == StagedMessage(token=writer.path.name, size=30)
    assert spool.path_of(staged).read_bytes() == b"From: a@example.org\r\n\r\nhello\r\n"
