"""``mailstack-admin user ...`` driven through ``main([...])``."""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailstack import admin
from mailstack.admin import main
from mailstore import passwords
from mailstore.passwd_file import parse_passwd
from mailstore.passwords import Password, verify_password
from mailstore.types import QuotaLimits

M = 1024 * 1024


@pytest.fixture(autouse=True)
def cheap_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "BCRYPT_COST", 4)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailstack.toml"
    path.write_text(
        'data_dir = "data"\n[accounts]\ndefault_quota = "1G"\ndefault_quota_messages = 5000\n'
    )
    return path


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "users"


class Console:
    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], config: Path
    ) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.config = config
        self.typed: list[str] = []
        monkeypatch.setattr("getpass.getpass", self._getpass)

    def _getpass(self, prompt: str = "") -> str:
        if not self.typed:
            raise EOFError
        return self.typed.pop(0)

    def run(self, *argv: str, stdin: str = "", typed: tuple[str, ...] = ()) -> tuple[int, str, str]:
        self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        self.typed = list(typed)
        code = main(["--config", str(self.config), *argv])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def console(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], config: Path
) -> Iterator[Console]:
    yield Console(monkeypatch, capsys, config)


def record(users_file: Path, name: str):
    for user in parse_passwd(users_file.read_bytes()).users:
        if user.name == name:
            return user
    raise AssertionError(f"{name} not in file")


def test_add_first_user_creates_file(console: Console, users_file: Path) -> None:
    code, out, err = console.run(
        "user", "add", "alice@example.test", "--password-stdin", stdin="s3cret pass \n"
    )
    assert (code, err) == (0, "")
    assert "added user alice@example.test" in out
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    user = record(users_file, "alice@example.test")
    assert user.password_hash.startswith("{BLF-CRYPT}$2y$04$")
    assert verify_password(Password(b"s3cret pass "), user.password_hash)
    assert user.extra == ()


def test_stdin_password_strips_only_the_newline(console: Console, users_file: Path) -> None:
    assert console.run("user", "add", "bob", "--password-stdin", stdin="\tpw\r\nsecond\n")[0] == 0
    assert verify_password(Password(b"\tpw\r"), record(users_file, "bob").password_hash)
    assert console.run("user", "add", "carol", "--password-stdin", stdin="nonewline")[0] == 0
    assert verify_password(Password(b"nonewline"), record(users_file, "carol").password_hash)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--quota", "500M", "--quota-messages", "100"), QuotaLimits(500 * M, 100)),
        (("--quota", "2G"), QuotaLimits(2048 * M, 5000)),
        (("--quota-messages", "7"), QuotaLimits(1024 * M, 7)),
        (("--quota", "0"), QuotaLimits(0, 5000)),
    ],
)
def test_add_with_quota(
    console: Console, users_file: Path, args: tuple[str, ...], expected: QuotaLimits
) -> None:
    code, _, err = console.run("user", "add", "alice", *args, "--password-stdin", stdin="pw\n")
    assert (code, err) == (0, "")
    assert record(users_file, "alice").quota == expected
    assert b"userdb_quota_rule=*:storage=" in users_file.read_bytes()


def test_add_prompts_twice(console: Console, users_file: Path) -> None:
    code, _, err = console.run("user", "add", "alice", typed=("pw1", "pw1"))
    assert (code, err) == (0, "")
    assert verify_password(Password(b"pw1"), record(users_file, "alice").password_hash)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (("pw1", "pw2"), "the passwords do not match"),
        (("", ""), "empty password refused"),
        (("pw1",), "no password entered"),
    ],
)
def test_add_prompt_failures(
    console: Console, users_file: Path, typed: tuple[str, ...], message: str
) -> None:
    code, _, err = console.run("user", "add", "alice", typed=typed)
    assert code == 1
    assert err == f"mailstack-admin: error: {message}\n"
    assert not users_file.exists()


def test_add_errors_are_one_line(console: Console, users_file: Path) -> None:
    assert console.run("user", "add", "alice", "--password-stdin", stdin="pw\n")[0] == 0
    before = users_file.read_bytes()
    for argv, stdin, message in [
        (("user", "add", "ALICE", "--password-stdin"), "pw\n", "already exists"),
        (("user", "add", ".alice", "--password-stdin"), "pw\n", "invalid user name"),
        (("user", "add", "bob", "--password-stdin"), "p" * 73 + "\n", "72 bytes"),
        (("user", "add", "bob", "--password-stdin"), "", "no password on standard input"),
        (("user", "add", "bob", "--password-stdin"), "\n", "empty password refused"),
    ]:
        code, _, err = console.run(*argv, stdin=stdin)
        assert code == 1, argv
        assert err.startswith("mailstack-admin: error: ")
        assert message in err
        assert err.count("\n") == 1
        assert "Traceback" not in err
    assert users_file.read_bytes() == before


def test_passwd(console: Console, users_file: Path) -> None:
    users_file.parent.mkdir(parents=True)
    users_file.write_bytes(b"# comment\nalice:{PLAIN}old:1:1::/srv/a::quota_rule=*:storage=1M\n")
    code, _, err = console.run("user", "passwd", "Alice", typed=("new", "new"))
    assert (code, err) == (0, "")
    data = users_file.read_bytes()
    assert data.startswith(b"# comment\nalice:{BLF-CRYPT}$2y$04$")
    assert data.endswith(b":1:1::/srv/a::quota_rule=*:storage=1M\n")
    assert verify_password(Password(b"new"), record(users_file, "alice").password_hash)
    code, _, err = console.run("user", "passwd", "alice", "--password-stdin", stdin="newer\n")
    assert code == 0
    assert verify_password(Password(b"newer"), record(users_file, "alice").password_hash)
    code, _, err = console.run("user", "passwd", "nobody", "--password-stdin", stdin="x\n")
    assert (code, err) == (1, "mailstack-admin: error: no such user 'nobody'\n")
    code, _, err = console.run("user", "passwd", "alice", typed=("a", "b"))
    assert code == 1
    assert verify_password(Password(b"newer"), record(users_file, "alice").password_hash)


def test_del_and_list(console: Console, users_file: Path, tmp_path: Path) -> None:
    users_file.parent.mkdir(parents=True)
    users_file.write_bytes(
        b"# keep me\nalice:{PLAIN}a\nBob@example.test:{PLAIN}b\n\ncarol:{PLAIN}c\n"
    )
    code, out, _ = console.run("user", "list")
    assert (code, out) == (0, "alice\nBob@example.test\ncarol\n")
    code, out, err = console.run("user", "del", "bob@EXAMPLE.test")
    assert (code, err) == (0, "")
    assert "deleted user Bob@example.test" in out
    assert str(tmp_path / "data" / "mail" / "Bob@example.test") in out
    assert users_file.read_bytes() == b"# keep me\nalice:{PLAIN}a\n\ncarol:{PLAIN}c\n"
    code, _, err = console.run("user", "del", "bob@example.test")
    assert (code, err) == (1, "mailstack-admin: error: no such user 'bob@example.test'\n")
    assert console.run("user", "list")[1] == "alice\ncarol\n"


def test_list_without_file(console: Console) -> None:
    assert console.run("user", "list") == (0, "", "")


def test_config_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--config", str(tmp_path / "missing.toml"), "user", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mailstack-admin: error: ") and "not found" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[accounts]\nnope = 1\n")
    assert main(["--config", str(bad), "user", "list"]) == 1
    assert "nope" in capsys.readouterr().err


def test_disk_errors_are_one_line(console: Console, users_file: Path) -> None:
    users_file.parent.write_bytes(b"a file where the directory should be")
    code, _, err = console.run("user", "add", "alice", "--password-stdin", stdin="pw\n")
    assert code == 1
    assert err.startswith("mailstack-admin: error: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["user"],
        ["user", "frobnicate"],
        ["user", "add"],
        ["user", "add", "alice", "--quota", "lots"],
        ["user", "add", "alice", "--quota-messages", "-1"],
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "--help"]) == 0
    out = capsys.readouterr().out
    for command in ("add", "passwd", "del", "list"):
        assert command in out


def test_command_groups_are_pluggable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def add_hello(subparsers) -> None:
        hello = subparsers.add_parser("hello")
        hello.set_defaults(handler=lambda args, ctx: ctx.print("hi") or 0)

    monkeypatch.setattr(admin, "COMMAND_GROUPS", [*admin.COMMAND_GROUPS, add_hello])
    assert main(["hello"]) == 0
    assert capsys.readouterr().out == "hi\n"
