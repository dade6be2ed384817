"""Per-user Sieve script storage (RFC 5804 §1.6, §2.3-§2.12 semantics, Pigeonhole layout)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sieve import SieveCompileError
from sieve.storage import (
    AsyncSieveStorage,
    SieveQuota,
    SieveStorage,
    SieveStorageError,
    SieveStorageErrorKind,
    validate_name,
)

GOOD = b'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "X"; }\r\n'
BAD = b'require "fileinto";\r\n\r\nif nosuchtest { keep; }\r\n'


@pytest.fixture
def store(tmp_path: Path) -> SieveStorage:
    return SieveStorage(tmp_path / "home")


def kind_of(fn: Any, *args: Any) -> SieveStorageErrorKind:
    with pytest.raises(SieveStorageError) as info:
        fn(*args)
    return info.value.kind


def test_put_get_list(store: SieveStorage) -> None:
    assert store.list() == []
    store.put("main", GOOD)
    store.put("other", b"keep;")
    assert store.get("main") == GOOD
    assert store.list() == [("main", False), ("other", False)]
    assert (store.home / "sieve" / "main.sieve").read_bytes() == GOOD
    assert store.active_path() is None


def test_put_refuses_bad_script_with_line(store: SieveStorage) -> None:
    with pytest.raises(SieveCompileError) as info:
        store.put("bad", BAD)
    assert info.value.line == 3
    assert store.list() == []


def test_put_refuses_invalid_utf8_with_line(store: SieveStorage) -> None:
    with pytest.raises(SieveCompileError) as info:
        store.put("bad", b"keep;\n# \xff\n")
    assert info.value.line == 2


def test_activate_uses_dovecot_symlink(store: SieveStorage) -> None:
    store.put("main", GOOD)
    store.activate("main")
    link = store.home / ".dovecot.sieve"
    assert link.is_symlink()
    assert os.readlink(link) == "sieve/main.sieve"
    assert store.list() == [("main", True)]
    assert store.active_path() == (store.home / "sieve" / "main.sieve").resolve()
    store.activate(None)
    assert not link.exists() and not link.is_symlink()
    assert store.list() == [("main", False)]
    store.activate(None)  # idempotent


def test_activate_missing(store: SieveStorage) -> None:
    assert kind_of(store.activate, "nope") is SieveStorageErrorKind.NOT_FOUND


def test_dovecot_absolute_link_is_understood(store: SieveStorage) -> None:
    store.put("main", GOOD)
    os.symlink(store.home / "sieve" / "main.sieve", store.home / ".dovecot.sieve")
    assert store.active_name() == "main"


def test_legacy_regular_file_adopted_on_activate(store: SieveStorage) -> None:
    store.put("main", GOOD)
    (store.home / ".dovecot.sieve").write_bytes(b"discard;")
    assert store.active_name() is None
    assert store.active_path() == store.home / ".dovecot.sieve"
    store.activate("main")
    assert store.get("dovecot.orig") == b"discard;"
    assert store.list() == [("dovecot.orig", False), ("main", True)]


def test_delete(store: SieveStorage) -> None:
    store.put("main", GOOD)
    store.activate("main")
    assert kind_of(store.delete, "main") is SieveStorageErrorKind.ACTIVE
    assert kind_of(store.delete, "nope") is SieveStorageErrorKind.NOT_FOUND
    store.activate(None)
    store.delete("main")
    assert store.list() == []


def test_rename_keeps_active(store: SieveStorage) -> None:
    store.put("a", GOOD)
    store.put("b", b"keep;")
    store.activate("a")
    assert kind_of(store.rename, "a", "b") is SieveStorageErrorKind.ALREADY_EXISTS
    assert kind_of(store.rename, "zz", "c") is SieveStorageErrorKind.NOT_FOUND
    store.rename("a", "c")
    assert store.list() == [("b", False), ("c", True)]
    assert store.get("c") == GOOD


def test_include_resolves_personal_scripts(store: SieveStorage) -> None:
    with pytest.raises(SieveCompileError):
        store.put("main", b'require "include";\ninclude "lib";\n')
    store.put("lib", b"keep;")
    store.put("main", b'require "include";\ninclude "lib";\n')


def test_check_does_not_store(store: SieveStorage) -> None:
    store.check(GOOD)
    with pytest.raises(SieveCompileError):
        store.check(BAD)
    assert store.list() == []


@pytest.mark.parametrize(
    ("quota", "existing", "name", "size", "kind"),
    [
        (SieveQuota(max_script_bytes=10), [], "a", 11, SieveStorageErrorKind.QUOTA_MAXSIZE),
        (SieveQuota(max_scripts=1), ["x"], "a", 5, SieveStorageErrorKind.QUOTA_MAXSCRIPTS),
        (SieveQuota(max_scripts=1), ["a"], "a", 5, None),  # replacing does not add one
        (SieveQuota(max_total_bytes=12), ["x"], "a", 8, SieveStorageErrorKind.QUOTA),
        (SieveQuota(max_total_bytes=12), ["a"], "a", 12, None),
        (SieveQuota(0, 0, 0), ["x"] * 1, "a", 10**9, None),
    ],
)
def test_have_space(
    tmp_path: Path,
    quota: SieveQuota,
    existing: list[str],
    name: str,
    size: int,
    kind: SieveStorageErrorKind | None,
) -> None:
    store = SieveStorage(tmp_path, quota=quota)
    for n in existing:
        store.put(n, b"keep;")
    if kind is None:
        store.have_space(name, size)
    else:
        assert kind_of(store.have_space, name, size) is kind


def test_put_enforces_quota(tmp_path: Path) -> None:
    store = SieveStorage(tmp_path, quota=SieveQuota(max_scripts=1))
    store.put("a", b"keep;")
    assert kind_of(store.put, "b", b"keep;") is SieveStorageErrorKind.QUOTA_MAXSCRIPTS


@pytest.mark.parametrize(
    "name",
    ["", "a/b", "..", "a..b", ".hidden", "a\x00b", "a\nb", "tab\t", "del\x7f", "c1\x85",
     "ls\u2028", "x" * 129, "e\u0301"],
)  # fmt: skip
def test_invalid_names(store: SieveStorage, name: str) -> None:
    assert kind_of(validate_name, name) is SieveStorageErrorKind.INVALID_NAME
    assert kind_of(store.put, name, b"keep;") is SieveStorageErrorKind.INVALID_NAME
    assert kind_of(store.get, name) is SieveStorageErrorKind.INVALID_NAME


@pytest.mark.parametrize("name", ["main", "my script", "Größe", "x" * 128, "a.b", "日本"])
def test_valid_names(store: SieveStorage, name: str) -> None:
    store.put(name, b"keep;")
    assert store.list() == [(name, False)]


@given(st.text(max_size=140))
def test_name_validation_only_raises_our_error(name: str) -> None:
    try:
        validate_name(name)
    except SieveStorageError as exc:
        assert exc.kind is SieveStorageErrorKind.INVALID_NAME
    else:
        assert "/" not in name and ".." not in name and "\x00" not in name


def test_stray_files_ignored(store: SieveStorage) -> None:
    store.put("a", b"keep;")
    (store.dir / "a.sieve.123.abc.tmp").write_bytes(b"x")
    (store.dir / "notes.txt").write_bytes(b"x")
    (store.dir / "a.svbin").write_bytes(b"x")
    assert store.list() == [("a", False)]


def test_async_wrapper(reactor_thread: Any, store: SieveStorage) -> None:
    wrapper = AsyncSieveStorage(store)

    async def scenario() -> list[tuple[str, bool]]:
        await wrapper.put("a", b"keep;")
        await wrapper.have_space("b", 10)
        await wrapper.check(b"keep;")
        await wrapper.activate("a")
        await wrapper.rename("a", "b")
        assert await wrapper.get("b") == b"keep;"
        await wrapper.activate(None)
        await wrapper.delete("b")
        return await wrapper.list()

    assert reactor_thread.run(scenario) == []
