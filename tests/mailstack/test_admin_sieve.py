"""``mailstack-admin sieve ...`` driven through ``main([...])``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mailstack import admin, admin_sieve
from mailstore import passwords
from sieve.storage import SieveStorage


class Console:
    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsysbinary: pytest.CaptureFixture[bytes],
    ) -> None:
        self.config = tmp_path / "mailstack.toml"
        self.config.write_text('data_dir = "data"\n')
        self.monkeypatch = monkeypatch
        self.capsys = capsysbinary

    def run(self, *argv: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
        self.monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = admin.main(["--config", str(self.config), *argv])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> Console:
    monkeypatch.setattr(passwords, "BCRYPT_COST", 4)
    assert admin_sieve.register in admin.COMMAND_GROUPS
    c = Console(tmp_path, monkeypatch, capsysbinary)
    assert c.run("user", "add", "alice", "--password-stdin", stdin=b"pw\n")[0] == 0
    return c


def home(console: Console) -> Path:
    return admin.AdminContext(console.config, io.StringIO(), io.StringIO()).accounts().home("alice")


def test_put_list_get_activate_delete(console: Console, tmp_path: Path) -> None:
    script = tmp_path / "s.sieve"
    script.write_bytes(b'require "fileinto";\nfileinto "Junk";\n')
    assert console.run("sieve", "put", "alice", "main", str(script)) == (0, b"", b"")
    assert console.run("sieve", "put", "alice", "other", stdin=b"keep;\n")[0] == 0
    assert console.run("sieve", "list", "alice") == (0, b"main\nother\n", b"")
    assert console.run("sieve", "activate", "alice", "main")[0] == 0
    assert console.run("sieve", "list", "alice")[1] == b"main (active)\nother\n"
    assert console.run("sieve", "get", "alice", "main")[1] == script.read_bytes()
    out_file = tmp_path / "copy.sieve"
    assert console.run("sieve", "get", "alice", "other", str(out_file))[0] == 0
    assert out_file.read_bytes() == b"keep;\n"
    code, _, err = console.run("sieve", "delete", "alice", "main")
    assert code == 1 and b"active" in err
    assert console.run("sieve", "activate", "alice")[0] == 0
    assert console.run("sieve", "delete", "alice", "main")[0] == 0
    assert SieveStorage(home(console)).list() == [("other", False)]


def test_put_activate_flag(console: Console) -> None:
    assert console.run("sieve", "put", "--activate", "alice", "a", stdin=b"keep;")[0] == 0
    assert SieveStorage(home(console)).list() == [("a", True)]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (("sieve", "put", "alice", "bad"), b"keep;\nif nosuch { }\n", b"line 2"),
        (("sieve", "put", "bob", "x"), b"keep;", b"no such user: bob"),
        (("sieve", "put", "alice", "a/b"), b"keep;", b"invalid script name"),
        (("sieve", "get", "alice", "nope"), b"", b"no such script"),
        (("sieve", "activate", "alice", "nope"), b"", b"no such script"),
    ],
)
def test_errors(console: Console, argv: tuple[str, ...], stdin: bytes, message: bytes) -> None:
    code, _, err = console.run(*argv, stdin=stdin)
    assert code == 1
    assert message in err
    assert b"Traceback" not in err
