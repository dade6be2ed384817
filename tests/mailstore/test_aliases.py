"""The aliases file and recipient resolution (aliases, +detail, domains, loops)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher

from mailstore.accounts import AccountDirectory, Recipient
from mailstore.aliases import (
    MAX_ALIAS_DEPTH,
    AliasTable,
    clean_address,
    parse_aliases,
    resolve_address,
    split_detail,
)
from mailstore.passwd_file import parse_passwd

USERS = b"""\
alice@example.test:{PLAIN}a
Bob:{PLAIN}b
carol@other.test:{PLAIN}c
dave+ext@example.test:{PLAIN}d
"""


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []

    def observer(event: LogEvent) -> None:
        lines.append(formatEvent(event))

    publisher_observer = cast(ILogObserver, observer)
    globalLogPublisher.addObserver(publisher_observer)
    yield lines
    globalLogPublisher.removeObserver(publisher_observer)


def directory(tmp_path: Path, aliases: bytes = b"", delimiter: str = "+") -> AccountDirectory:
    (tmp_path / "users").write_bytes(USERS)
    (tmp_path / "aliases").write_bytes(aliases)
    return AccountDirectory(tmp_path / "users", tmp_path / "aliases",
                            mail_root=tmp_path / "mail", recipient_delimiter=delimiter)


def R(user: str, detail: str | None, address: str) -> Recipient:
    return Recipient(user, detail, address)


# --- parsing -----------------------------------------------------------------------------


def test_parse_aliases() -> None:
    table = parse_aliases(
        b"# comment\n"
        b"postmaster: alice@example.test\n"
        b"\n"
        b"Team: alice,\n"
        b"  bob ,\n"
        b"# a comment inside does not end the entry\n"
        b"\tcarol@other.test\r\n"
        b"quoted: \"|/usr/bin/vacation alice\", \"bob\"\n"
        b"\"sales\": bob\n"
    )
    assert dict(table.entries) == {
        "postmaster": ("alice@example.test",),
        "team": ("alice", "bob", "carol@other.test"),
        "quoted": ("|/usr/bin/vacation alice", "bob"),
        "sales": ("bob",),
    }
    assert table.issues == ()


def test_parse_aliases_problems() -> None:
    table = parse_aliases(
        b"  orphan continuation\n"
        b"nocolon here\n"
        b"empty:\n"
        b"a: bob\n"
        b"A: carol\n"
        b"two words: bob\n"
        b"bad\xff: bob\n"
        b"ok: bob\n"
    )
    assert dict(table.entries) == {"a": ("bob",), "ok": ("bob",)}
    assert sorted(issue.line for issue in table.issues) == [1, 2, 3, 5, 6, 7]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_aliases_never_crashes(data: bytes) -> None:
    table = parse_aliases(data)
    for name, targets in table.entries.items():
        assert name == name.lower()
        assert targets


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a: b", " c", "#x", "", "b: a, c", "c: a", "\td,e"]),
                max_size=10))
def test_resolution_always_terminates(lines: list[str]) -> None:
    table = parse_aliases("\n".join(lines).encode())
    users = {user.name: user for user in parse_passwd(b"a:x\nd:y\n").users}
    result = resolve_address("b@x.test", table, lambda form: users.get(form.partition("@")[0]))
    assert len({r.user for r in result}) == len(result)


# --- +detail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "delimiters", "expected"),
    [
        ("alice+lists", "+", ("alice", "lists")),
        ("alice+lists+more", "+", ("alice", "lists+more")),
        ("alice-lists", "+-", ("alice", "lists")),
        ("alice-a+b", "+-", ("alice", "a+b")),
        ("alice+a-b", "+-", ("alice", "a-b")),
        ("alice+", "+", ("alice", "")),
        ("+alice", "+", ("+alice", None)),
        ("alice", "+", ("alice", None)),
        ("alice+x", "", ("alice+x", None)),
    ],
)
def test_split_detail(local: str, delimiters: str, expected: tuple[str, str | None]) -> None:
    assert split_detail(local, delimiters) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("<alice@example.test>", [R("alice@example.test", None, "alice@example.test")]),
        ("ALICE@Example.Test", [R("alice@example.test", None, "ALICE@Example.Test")]),
        ("alice+lists@example.test",
         [R("alice@example.test", "lists", "alice+lists@example.test")]),
        ("<alice+@example.test>", [R("alice@example.test", "", "alice+@example.test")]),
        # A user without a domain matches the local part in any domain.
        ("bob@anything.test", [R("Bob", None, "bob@anything.test")]),
        ("bob+x@anything.test", [R("Bob", "x", "bob+x@anything.test")]),
        ("bob", [R("Bob", None, "bob")]),
        # A user with a domain only matches that domain.
        ("carol@example.test", []),
        ("carol", []),
        # A user whose name holds the delimiter is found before splitting; splitting
        # happens at the first delimiter (as Postfix does).
        ("dave+ext@example.test", [R("dave+ext@example.test", None, "dave+ext@example.test")]),
        ("dave+ext+x@example.test", []),
        ("nobody@example.test", []),
        ("", []),
        ("<>", []),
        ("a b@example.test", []),
        ("../bob@x", []),
    ],
)
def test_resolve_users(tmp_path: Path, address: str, expected: list[Recipient]) -> None:
    assert directory(tmp_path).resolve(address) == expected


def test_several_delimiters(tmp_path: Path) -> None:
    accounts = directory(tmp_path, delimiter="+-")
    assert accounts.resolve("alice-news@example.test") == [
        R("alice@example.test", "news", "alice-news@example.test")]
    assert accounts.resolve("alice+news@example.test") == [
        R("alice@example.test", "news", "alice+news@example.test")]
    assert accounts.resolve("bob-a+b@x.test") == [R("Bob", "a+b", "bob-a+b@x.test")]
    assert directory(tmp_path / "..", delimiter="").resolve("alice+x@example.test") == []


# --- aliases ---------------------------------------------------------------------------

ALIASES = b"""\
postmaster: alice
abuse: postmaster
team@example.test: alice@example.test, bob, carol@other.test
everyone: team@example.test, bob, alice+all
sales+vip: bob
remote: someone@elsewhere.test, alice
pipe: |/usr/bin/foo, /var/mail/file, :include:/etc/list, bob
self: self, alice
"""


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("postmaster@example.test", [R("alice@example.test", None, "alice@example.test")]),
        ("Postmaster@EXAMPLE.test", [R("alice@example.test", None, "alice@EXAMPLE.test")]),
        ("abuse@example.test", [R("alice@example.test", None, "alice@example.test")]),
        ("postmaster+x@example.test", [R("alice@example.test", None, "alice@example.test")]),
        ("team@example.test", [
            R("alice@example.test", None, "alice@example.test"),
            R("Bob", None, "bob@example.test"),
            R("carol@other.test", None, "carol@other.test"),
        ]),
        ("team@other.test", []),
        ("everyone@example.test", [
            R("alice@example.test", None, "alice@example.test"),
            R("Bob", None, "bob@example.test"),
            R("carol@other.test", None, "carol@other.test"),
        ]),
        ("sales+vip@example.test", [R("Bob", None, "bob@example.test")]),
        ("sales@example.test", []),
        ("remote@example.test", [R("alice@example.test", None, "alice@example.test")]),
        ("pipe@example.test", [R("Bob", None, "bob@example.test")]),
        ("self@example.test", [R("alice@example.test", None, "alice@example.test")]),
    ],
)
def test_resolve_aliases(tmp_path: Path, address: str, expected: list[Recipient]) -> None:
    assert directory(tmp_path, ALIASES).resolve(address) == expected


def test_non_local_targets_logged(tmp_path: Path, log_lines: list[str]) -> None:
    directory(tmp_path, ALIASES).resolve("remote@example.test")
    assert any("someone@elsewhere.test" in line and "not a local user" in line
               for line in log_lines)
    directory(tmp_path, ALIASES).resolve("pipe@example.test")
    assert sum("not supported" in line for line in log_lines) == 3


def test_alias_loop_is_detected(tmp_path: Path, log_lines: list[str]) -> None:
    accounts = directory(tmp_path, b"a: b, alice\nb: c\nc: a\nbob: bob, carol@other.test\n")
    assert accounts.resolve("a@example.test") == [
        R("alice@example.test", None, "alice@example.test")]
    assert any("alias loop" in line for line in log_lines)
    # An alias naming itself reaches the user of that name (sendmail's rule).
    assert accounts.resolve("bob@example.test") == [
        R("Bob", None, "bob@example.test"), R("carol@other.test", None, "carol@other.test")]


def test_alias_depth_limit(tmp_path: Path, log_lines: list[str]) -> None:
    def chain(length: int) -> bytes:
        lines = [f"a{i}: a{i + 1}" for i in range(length)] + [f"a{length}: alice"]
        return "\n".join(lines).encode()

    assert directory(tmp_path, chain(MAX_ALIAS_DEPTH - 1)).resolve("a0@example.test") == [
        R("alice@example.test", None, "alice@example.test")]
    assert directory(tmp_path, chain(MAX_ALIAS_DEPTH)).resolve("a0@example.test") == []
    assert any("deeper than 10" in line for line in log_lines)


def test_aliases_reload_and_missing_file(tmp_path: Path) -> None:
    accounts = directory(tmp_path, b"help: alice\n")
    assert accounts.resolve("help@example.test") == [
        R("alice@example.test", None, "alice@example.test")]
    # A local target takes the domain of the address it came from.
    assert accounts.resolve("help@x.test") == []
    (tmp_path / "aliases").write_bytes(b"help: bob\nmore: bob\n")
    assert accounts.resolve("help@x.test") == [R("Bob", None, "bob@x.test")]
    (tmp_path / "aliases").unlink()
    assert accounts.resolve("help@x.test") == []
    assert accounts.resolve("bob@x.test") == [R("Bob", None, "bob@x.test")]


def test_alias_shadows_user(tmp_path: Path) -> None:
    accounts = directory(tmp_path, b"alice@example.test: bob\n")
    assert accounts.resolve("alice@example.test") == [R("Bob", None, "bob@example.test")]
    assert accounts.resolve("alice+x@example.test") == [R("Bob", None, "bob@example.test")]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (" <a@b> ", "a@b"),
        ("a@b", "a@b"),
        ("<>", None),
        ("", None),
        ("a\x00@b", None),
        ("a/b@c", None),
    ],
)
def test_clean_address(address: str, expected: str | None) -> None:
    assert clean_address(address) == expected


def test_resolve_address_with_empty_table() -> None:
    assert resolve_address("x@y", AliasTable(), lambda form: None) == []
