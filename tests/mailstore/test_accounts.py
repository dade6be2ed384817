"""The passwd-file parser and the account directory (lookups, reload, login, edits)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher

from mailstore import accounts as accounts_module
from mailstore import passwords
from mailstore.accounts import AccountDirectory, UserRecord
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.passwd_file import (
    check_user_name,
    format_user_line,
    parse_extra_fields,
    parse_passwd,
    quota_from_extra,
)
from mailstore.passwords import Password, hash_password, verify_password
from mailstore.types import QuotaLimits

M = 1024 * 1024
HASH = "{PLAIN}secret"


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []

    def observer(event: LogEvent) -> None:
        lines.append(formatEvent(event))

    publisher_observer = cast(ILogObserver, observer)
    globalLogPublisher.addObserver(publisher_observer)
    yield lines
    globalLogPublisher.removeObserver(publisher_observer)


@pytest.fixture(autouse=True)
def cheap_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "BCRYPT_COST", 4)


def make_directory(tmp_path: Path, passwd: bytes | None, aliases: bytes | None = None,
                   **kwargs: object) -> AccountDirectory:
    if passwd is not None:
        (tmp_path / "users").write_bytes(passwd)
    if aliases is not None:
        (tmp_path / "aliases").write_bytes(aliases)
    return AccountDirectory(tmp_path / "users", tmp_path / "aliases",
                            mail_root=tmp_path / "mail", **kwargs)  # type: ignore[arg-type]


# --- parsing -----------------------------------------------------------------------------


def test_parse_full_and_short_lines() -> None:
    data = (
        b"# users\n"
        b"\n"
        b"alice@example.test:{PLAIN}a:1000:1000:Alice A:/srv/alice:/bin/false:"
        b"userdb_quota_rule=*:storage=500M userdb_quota_rule2=*:messages=10000 nopassword\n"
        b"bob:{PLAIN}b\n"
        b"   # indented comment\n"
        b"carol:{PLAIN}c::::::\r\n"
    )
    parsed = parse_passwd(data, QuotaLimits(1 * M, 7))
    assert parsed.issues == ()
    alice, bob, carol = parsed.users
    assert alice == UserRecord(
        "alice@example.test", "{PLAIN}a", "1000", "1000", "Alice A", "/srv/alice", "/bin/false",
        (("userdb_quota_rule", "*:storage=500M"), ("userdb_quota_rule2", "*:messages=10000"),
         ("nopassword", "")),
        QuotaLimits(500 * M, 10000),
    )
    assert bob.name == "bob"
    assert bob.quota == QuotaLimits(1 * M, 7)
    assert (bob.uid, bob.home, bob.extra) == ("", "", ())
    assert carol.password_hash == "{PLAIN}c"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"justaname", "at least"),
        (b":{PLAIN}x", "empty user name"),
        (b".hidden:{PLAIN}x", "starts with '.'"),
        (b"a/b:{PLAIN}x", "'/'"),
        (b"a b:{PLAIN}x", "' '"),
        (b"a\tb:{PLAIN}x", "'\\t'"),
        (b"a\x00b:{PLAIN}x", "'\\x00'"),
        (b"\xff\xfe:{PLAIN}x", "UTF-8"),
    ],
)
def test_malformed_lines_are_skipped_with_line_numbers(line: bytes, reason: str) -> None:
    data = b"# header\nok1:{PLAIN}x\n" + line + b"\nok2:{PLAIN}y\n"
    parsed = parse_passwd(data)
    assert [u.name for u in parsed.users] == ["ok1", "ok2"]
    assert len(parsed.issues) == 1
    assert parsed.issues[0].line == 3
    assert reason in parsed.issues[0].reason
    assert "skipped" in parsed.issues[0].reason


def test_duplicate_and_relative_home() -> None:
    parsed = parse_passwd(b"Alice:{PLAIN}1\nalice:{PLAIN}2\nbob:{PLAIN}3::::rel/home\n")
    assert [u.name for u in parsed.users] == ["Alice", "bob"]
    assert parsed.users[1].home == ""
    assert [(i.line, i.reason) for i in parsed.issues] == [
        (2, "duplicate user name; skipped"),
        (3, "home is not an absolute path; ignored"),
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("userdb_quota_rule=*:storage=500M", QuotaLimits(500 * M, 3)),
        ("quota_rule=*:storage=1G", QuotaLimits(1024 * M, 3)),
        ("userdb_quota_rule=*:storage=100", QuotaLimits(100 * 1024, 3)),  # Dovecot: kilobytes
        ("userdb_quota_rule=*:storage=100B", QuotaLimits(100, 3)),
        ("userdb_quota_rule=*:bytes=100", QuotaLimits(100, 3)),
        ("userdb_quota_rule=*:storage=0", QuotaLimits(0, 3)),
        ("userdb_quota_rule2=*:messages=10000", QuotaLimits(2 * M, 10000)),
        ("quota_rule=*:storage=1M:messages=5", QuotaLimits(M, 5)),
        ("quota_rule=*:storage=1M quota_rule2=*:messages=1k", QuotaLimits(M, 1024)),
        ("userdb_quota_rule=Trash:storage=+100M", QuotaLimits(2 * M, 3)),
        ("other=*:storage=5M", QuotaLimits(2 * M, 3)),
    ],
)
def test_quota_extra_fields(extra: str, expected: QuotaLimits) -> None:
    quota, problems = quota_from_extra(parse_extra_fields(extra), QuotaLimits(2 * M, 3))
    assert quota == expected
    assert problems == []


@pytest.mark.parametrize(
    "extra",
    [
        "userdb_quota_rule=*:storage=lots",
        "userdb_quota_rule=*:storage=10%",
        "userdb_quota_rule=*:storage=+1M",
        "userdb_quota_rule=*:storage",
        "userdb_quota_rule=*:volume=3",
        "userdb_quota_rule=nocolon",
    ],
)
def test_bad_quota_rules_are_reported_and_default_kept(extra: str) -> None:
    quota, problems = quota_from_extra(parse_extra_fields(extra), QuotaLimits(2 * M, 3))
    assert quota == QuotaLimits(2 * M, 3)
    assert len(problems) == 1


def test_bad_quota_rule_keeps_the_user() -> None:
    parsed = parse_passwd(b"a:{PLAIN}x::::::quota_rule=*:storage=huge\n")
    assert [u.name for u in parsed.users] == ["a"]
    assert parsed.issues[0].line == 1
    assert "skipped" not in parsed.issues[0].reason


def test_format_user_line_round_trips() -> None:
    line = format_user_line("alice@example.test", HASH, QuotaLimits(500 * M, 10000))
    assert line == (b"alice@example.test:{PLAIN}secret::::::"
                    b"userdb_quota_rule=*:storage=500M userdb_quota_rule2=*:messages=10000\n")
    (record,) = parse_passwd(line).users
    assert record.quota == QuotaLimits(500 * M, 10000)
    odd = format_user_line("bob", HASH, QuotaLimits(1000, 0))
    assert b"*:storage=1000B " in odd
    assert parse_passwd(odd).users[0].quota == QuotaLimits(1000, 0)
    assert format_user_line("carol", HASH) == b"carol:{PLAIN}secret\n"


@pytest.mark.parametrize("name", ["", ".x", "a:b", "a b", "a/b", "a\x00", "x" * 256, "a\nb"])
def test_invalid_names(name: str) -> None:
    assert check_user_name(name) is not None
    with pytest.raises(ValueError):
        format_user_line(name, HASH)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_parser_never_crashes(data: bytes) -> None:
    parsed = parse_passwd(data)
    for user in parsed.users:
        assert check_user_name(user.name) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="abc:/ .#=*\n\x00é", max_size=30), max_size=8))
def test_parser_handles_texty_garbage(lines: list[str]) -> None:
    parse_passwd("\n".join(lines).encode())


# --- the directory ---------------------------------------------------------------------


def test_lookup_is_case_insensitive_and_canonical(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, b"Alice@Example.test:{PLAIN}x\nbob:{PLAIN}y\n")
    record = directory.lookup("alice@example.TEST")
    assert record is not None
    assert record.name == "Alice@Example.test"
    assert directory.lookup("nobody") is None
    assert directory.users() == ["Alice@Example.test", "bob"]


def test_home_and_quota(tmp_path: Path) -> None:
    directory = make_directory(
        tmp_path,
        b"alice:{PLAIN}x:::::\nbob:{PLAIN}y:1:1::/srv/bob::quota_rule=*:storage=5M\n",
        default_quota=QuotaLimits(1 * M, 100),
    )
    assert directory.home("ALICE") == tmp_path / "mail" / "alice"
    assert directory.home("bob") == Path("/srv/bob")
    assert directory.quota_limits("alice") == QuotaLimits(1 * M, 100)
    assert directory.quota_limits("bob") == QuotaLimits(5 * M, 100)
    assert directory.quota_limits("nobody") == QuotaLimits(1 * M, 100)
    with pytest.raises(StoreError) as info:
        directory.home("nobody")
    assert info.value.kind is StoreErrorKind.NOT_FOUND


def test_malformed_lines_logged_without_hash(tmp_path: Path, log_lines: list[str]) -> None:
    directory = make_directory(
        tmp_path, b"ok:{PLAIN}x\n.bad:{PLAIN}topsecret\n# c\nsp ace:{PLAIN}topsecret\n"
    )
    assert directory.users() == ["ok"]
    joined = "\n".join(log_lines)
    assert "line 2:" in joined
    assert "line 4:" in joined
    assert "topsecret" not in joined


def test_reload_after_change(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, b"alice:{PLAIN}x\n")
    assert directory.users() == ["alice"]
    path = tmp_path / "users"
    # Same size, same second: the inode (new file renamed over) or mtime_ns tells.
    replacement = tmp_path / "users.new"
    replacement.write_bytes(b"carol:{PLAIN}x\n")
    os.replace(replacement, path)
    assert directory.users() == ["carol"]
    path.write_bytes(b"carol:{PLAIN}x\ndave:{PLAIN}y\n")
    assert directory.users() == ["carol", "dave"]
    st_before = path.stat()
    path.write_bytes(b"erin1:{PLAIN}x\ndave2:{PLAIN}y\n")  # same size as before
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns + 1))
    assert directory.users() == ["erin1", "dave2"]


def test_resolve_recent_trusts_a_check_for_a_second_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = make_directory(
        tmp_path, b"alice:{PLAIN}x\nbob:{PLAIN}y::::::quota_rule=*:messages=5\n",
        aliases=b"team: alice, bob\n",
    )
    now = [1000.0]
    monkeypatch.setattr(accounts_module.time, "monotonic", lambda: now[0])
    assert directory.resolve_recent("alice@example.org") is None  # never checked yet
    assert [r.user for r in directory.resolve("alice")] == ["alice"]  # checks both files
    found = directory.resolve_recent("team")
    assert found is not None
    recipients, limits = found
    assert [r.user for r in recipients] == ["alice", "bob"]
    assert limits == [QuotaLimits(), QuotaLimits(0, 5)]
    (tmp_path / "users").write_bytes(b"carol:{PLAIN}x\n")
    found = directory.resolve_recent("carol")  # still trusting the last check
    assert found is not None and found[0] == []
    now[0] += accounts_module.RECHECK_SECONDS
    assert directory.resolve_recent("carol") is None  # due: the caller checks in a thread
    assert [r.user for r in directory.resolve("carol")] == ["carol"]
    found = directory.resolve_recent("carol")
    assert found is not None and [r.user for r in found[0]] == ["carol"]


def test_missing_passwd_file_logged_once(tmp_path: Path, log_lines: list[str]) -> None:
    directory = make_directory(tmp_path, None)
    assert directory.users() == []
    assert directory.lookup("alice") is None
    assert directory.resolve("alice@example.test") == []
    assert sum(line.startswith("passwd file") and "does not exist" in line
               for line in log_lines) == 1
    (tmp_path / "users").write_bytes(b"alice:{PLAIN}x\n")
    assert directory.users() == ["alice"]
    (tmp_path / "users").unlink()
    assert directory.users() == []


def test_unreadable_file_keeps_last_contents(tmp_path: Path, log_lines: list[str]) -> None:
    directory = make_directory(tmp_path, b"alice:{PLAIN}x\n")
    assert directory.users() == ["alice"]
    path = tmp_path / "users"
    path.unlink()
    path.mkdir()  # stat works, reading fails
    assert directory.users() == ["alice"]
    assert any("cannot read" in line for line in log_lines)


# --- login -----------------------------------------------------------------------------


def test_verify(tmp_path: Path, reactor_thread, monkeypatch: pytest.MonkeyPatch,
                log_lines: list[str]) -> None:
    bcrypt_hash = hash_password(Password(b"s3cret"), rounds=4)
    directory = make_directory(
        tmp_path,
        f"Alice@example.test:{bcrypt_hash}\nbob:{{SHA512-CRYPT}}$6$x\nnopw:\n".encode(),
    )
    seen: list[str] = []

    def spy(password: Password, stored: str) -> bool:
        seen.append(stored)
        return verify_password(password, stored)

    cheap_dummy = hash_password(Password(b"dummy"), rounds=4)
    monkeypatch.setattr("mailstore.accounts.verify_password", spy)
    monkeypatch.setattr("mailstore.accounts.DUMMY_HASH", cheap_dummy)
    run = reactor_thread.run
    assert run(directory.verify, "alice@EXAMPLE.test", Password(b"s3cret")) == "Alice@example.test"
    assert run(directory.verify, "alice@example.test", Password(b"wrong")) is None
    assert run(directory.verify, "alice@example.test", Password(b"x" * 100)) is None
    assert run(directory.verify, "bob", Password(b"anything")) is None
    # Unknown users, users without a password and hostile names spend a dummy verify.
    seen.clear()
    for name in ("nobody", "nopw", "bad/name", "", "a\x00b", ".."):
        assert run(directory.verify, name, Password(b"s3cret")) is None
    assert seen == [cheap_dummy] * 6
    assert "s3cret" not in "\n".join(log_lines)


def test_verify_runs_off_the_reactor_thread(tmp_path: Path, reactor_thread,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    threads: list[str] = []

    def spy(password: Password, stored: str) -> bool:
        threads.append(threading.current_thread().name)
        return stored == "{PLAIN}x" and password.reveal() == b"x"

    monkeypatch.setattr("mailstore.accounts.verify_password", spy)
    directory = make_directory(tmp_path, b"alice:{PLAIN}x\n")
    assert reactor_thread.run(directory.verify, "alice", Password(b"x")) == "alice"
    assert threads and threads[0] != "reactor"


# --- edits -----------------------------------------------------------------------------

ORIGINAL = (
    b"# managed by hand and by mailstack-admin\n"
    b"\n"
    b"alice:{PLAIN}a:1000:1000:Alice:/srv/alice::userdb_quota_rule=*:storage=1G  extra=1\n"
    b"#bob:{PLAIN}commented-out\n"
    b"this line is junk\n"
    b"carol:{PLAIN}c\r\n"
    b"dave:{PLAIN}d"  # no final newline
)


def test_add_user_keeps_everything_else(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, ORIGINAL)
    directory.add_user("erin@example.test", Password(b"pw"), QuotaLimits(500 * M, 10))
    data = (tmp_path / "users").read_bytes()
    assert data.startswith(ORIGINAL + b"\n")
    last = data[len(ORIGINAL) + 1 :]
    assert last.startswith(b"erin@example.test:{BLF-CRYPT}$2y$04$")
    assert last.endswith(
        b"::::::userdb_quota_rule=*:storage=500M userdb_quota_rule2=*:messages=10\n")
    record = directory.lookup("erin@example.test")
    assert record is not None
    assert record.quota == QuotaLimits(500 * M, 10)
    assert verify_password(Password(b"pw"), record.password_hash)
    directory.add_user("frank", Password(b"pw2"))
    assert (tmp_path / "users").read_bytes().startswith(data)
    assert directory.users()[-2:] == ["erin@example.test", "frank"]


@pytest.mark.parametrize("name", ["ALICE", "alice", "Dave"])
def test_add_existing_user_fails(tmp_path: Path, name: str) -> None:
    directory = make_directory(tmp_path, ORIGINAL)
    with pytest.raises(ValueError, match="already exists"):
        directory.add_user(name, Password(b"pw"))
    assert (tmp_path / "users").read_bytes() == ORIGINAL


def test_add_invalid_user_or_password_fails(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, ORIGINAL)
    with pytest.raises(ValueError, match="invalid user name"):
        directory.add_user("../etc", Password(b"pw"))
    with pytest.raises(ValueError, match="72 bytes"):
        directory.add_user("long", Password(b"p" * 80))
    assert (tmp_path / "users").read_bytes() == ORIGINAL


def test_add_first_user_creates_file_0600_and_directory(tmp_path: Path) -> None:
    directory = AccountDirectory(tmp_path / "etc" / "deep" / "users", tmp_path / "aliases",
                                 mail_root=tmp_path / "mail")
    assert directory.users() == []
    directory.add_user("alice", Password(b"pw"))
    path = tmp_path / "etc" / "deep" / "users"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert directory.users() == ["alice"]
    leftovers = sorted(p.name for p in path.parent.iterdir())
    assert leftovers == ["users", "users.lock"]


def test_existing_mode_is_kept(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, ORIGINAL)
    (tmp_path / "users").chmod(0o640)
    directory.add_user("erin", Password(b"pw"))
    assert stat.S_IMODE((tmp_path / "users").stat().st_mode) == 0o640


def test_set_password_changes_only_that_field(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, ORIGINAL)
    directory.set_password("ALICE", Password(b"new"))
    data = (tmp_path / "users").read_bytes()
    before, line, after = data.partition(b"alice:")
    assert before == ORIGINAL.partition(b"alice:")[0]
    new_line = (line + after).split(b"\n")[0] + b"\n"
    assert new_line.startswith(b"alice:{BLF-CRYPT}$2y$04$")
    assert new_line.endswith(
        b":1000:1000:Alice:/srv/alice::userdb_quota_rule=*:storage=1G  extra=1\n")
    assert data.endswith(ORIGINAL.split(b"\n", 3)[3])
    record = directory.lookup("alice")
    assert record is not None
    assert verify_password(Password(b"new"), record.password_hash)
    directory.set_password("dave", Password(b"d2"))
    data = (tmp_path / "users").read_bytes()
    assert data.rpartition(b"\n")[2].startswith(b"dave:{BLF-CRYPT}$2y$04$")
    directory.set_password("carol", Password(b"c2"))
    assert b"carol:{BLF-CRYPT}" in (tmp_path / "users").read_bytes()
    assert (tmp_path / "users").read_bytes().count(b"\r\n") == 1


def test_delete_user(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, ORIGINAL)
    directory.delete_user("Carol")
    assert (tmp_path / "users").read_bytes() == ORIGINAL.replace(b"carol:{PLAIN}c\r\n", b"")
    assert directory.users() == ["alice", "dave"]
    with pytest.raises(ValueError, match="no such user"):
        directory.delete_user("carol")
    with pytest.raises(ValueError, match="no such user"):
        directory.set_password("bob", Password(b"x"))  # only a comment mentions bob
    directory.delete_user("dave")
    assert directory.users() == ["alice"]


def test_edits_on_missing_file(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, None)
    with pytest.raises(ValueError, match="no such user"):
        directory.delete_user("alice")
    with pytest.raises(ValueError, match="no such user"):
        directory.set_password("alice", Password(b"x"))
    assert not (tmp_path / "users").exists()
