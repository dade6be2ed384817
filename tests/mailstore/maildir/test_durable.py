from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailstore.maildir import durable
from mailstore.maildir.durable import (
    atomic_replace,
    copy_file_durably,
    fsync_dir,
    write_file_durably,
    write_staged,
)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    tmp, new = tmp_path / "tmp", tmp_path / "new"
    tmp.mkdir()
    new.mkdir()
    return tmp, new


def test_write(dirs):
    tmp, new = dirs
    assert write_file_durably(tmp, new, "m1", [b"Subject: x\r\n", b"\r\n", b"body\r\n"]) == 20
    assert (new / "m1").read_bytes() == b"Subject: x\r\n\r\nbody\r\n"
    assert (new / "m1").stat().st_mode & 0o777 == 0o600
    assert list(tmp.iterdir()) == []


def test_write_never_overwrites(dirs):
    tmp, new = dirs
    (new / "m1").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        write_file_durably(tmp, new, "m1", [b"new"])
    assert (new / "m1").read_bytes() == b"old"
    assert list(tmp.iterdir()) == []


def test_write_failure_midway_leaves_nothing(dirs):
    tmp, new = dirs

    def chunks():
        yield b"part"
        raise OSError(errno.ENOSPC, "disk full")

    with pytest.raises(OSError, match="disk full"):
        write_file_durably(tmp, new, "m1", chunks())
    assert list(tmp.iterdir()) == [] and list(new.iterdir()) == []


def test_dir_fsync_failure_removes_destination(dirs, monkeypatch):
    tmp, new = dirs

    def broken(path):
        raise OSError(errno.EIO, "io error")

    monkeypatch.setattr(durable, "fsync_dir", broken)
    with pytest.raises(OSError, match="io error"):
        write_file_durably(tmp, new, "m1", [b"x"])
    assert list(tmp.iterdir()) == [] and list(new.iterdir()) == []


def test_rename_fallback_without_links(dirs, monkeypatch):
    tmp, new = dirs

    def no_link(src, dst):
        raise OSError(errno.EPERM, "no links here")

    monkeypatch.setattr(os, "link", no_link)
    assert write_file_durably(tmp, new, "m1", [b"abc"]) == 3
    assert (new / "m1").read_bytes() == b"abc"
    with pytest.raises(FileExistsError):
        write_file_durably(tmp, new, "m1", [b"abc"])
    assert list(tmp.iterdir()) == []


def test_copy_links_without_prefix(dirs, tmp_path):
    tmp, new = dirs
    src = tmp_path / "src"
    src.write_bytes(b"hello\r\n")
    assert copy_file_durably(src, tmp, new, "c1") == 7
    assert (new / "c1").stat().st_ino == src.stat().st_ino
    with pytest.raises(FileExistsError):
        copy_file_durably(src, tmp, new, "c1")


def test_copy_with_prefix_streams(dirs, tmp_path, monkeypatch):
    tmp, new = dirs
    monkeypatch.setattr(durable, "CHUNK_SIZE", 3)
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    assert copy_file_durably(src, tmp, new, "c1", prefix=b"Return-Path: <>\r\n") == 27
    assert (new / "c1").read_bytes() == b"Return-Path: <>\r\n0123456789"
    assert (new / "c1").stat().st_ino != src.stat().st_ino
    assert list(tmp.iterdir()) == []


def test_copy_across_devices_copies(dirs, tmp_path, monkeypatch):
    tmp, new = dirs
    src = tmp_path / "src"
    src.write_bytes(b"data")
    real_link = os.link

    def cross_device(a, b):
        if Path(a) == src:
            raise OSError(errno.EXDEV, "cross-device link")
        real_link(a, b)

    monkeypatch.setattr(os, "link", cross_device)
    assert copy_file_durably(src, tmp, new, "c1") == 4
    assert (new / "c1").read_bytes() == b"data"
    assert (new / "c1").stat().st_ino != src.stat().st_ino


def test_copy_missing_source_leaves_nothing(dirs, tmp_path):
    tmp, new = dirs
    with pytest.raises(FileNotFoundError):
        copy_file_durably(tmp_path / "nope", tmp, new, "c1", prefix=b"x")
    assert list(tmp.iterdir()) == [] and list(new.iterdir()) == []


def test_atomic_replace(tmp_path):
    target = tmp_path / "dovecot-keywords"
    atomic_replace(target, b"one")
    atomic_replace(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["dovecot-keywords"]


def test_atomic_replace_failure_keeps_old(tmp_path, monkeypatch):
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def broken(a, b):
        raise OSError(errno.EIO, "io error")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic_replace(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_fsync_dir(tmp_path):
    fsync_dir(tmp_path)
    with pytest.raises(NotADirectoryError):
        (tmp_path / "file").write_bytes(b"")
        fsync_dir(tmp_path / "file")


def test_write_staged_creates_new_file_only(tmp_path: Path) -> None:
    staged = tmp_path / "m1"
    assert write_staged(staged, [b"Subject: x\r\n", b"\r\nbody\r\n"]) == 20
    assert staged.read_bytes() == b"Subject: x\r\n\r\nbody\r\n"
    with pytest.raises(FileExistsError):
        write_staged(staged, [b"other"])
    assert staged.read_bytes() == b"Subject: x\r\n\r\nbody\r\n"


def test_write_staged_removes_file_on_failure(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"part"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        write_staged(tmp_path / "m1", chunks())
    assert list(tmp_path.iterdir()) == []
