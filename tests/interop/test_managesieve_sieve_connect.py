"""sieve-connect (Debian ``sieve-connect``) uploads and activates a script over STARTTLS."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mailstore.passwords import Password
from mailstore.types import QuotaLimits
from protocols.auth import Authenticator
from protocols.managesieve import ManageSieveSettings, build_factory
from protocols.tls import server_context
from sieve.storage import SieveStorage

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sieve-connect") is None, reason="sieve-connect missing"),
]

SCRIPT = b'require "fileinto";\nif address :is "from" "boss@example.com" {\n  fileinto "Boss";\n}\n'


class Accounts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def home(self, user: str) -> Path:
        return self.root / user

    def quota_limits(self, user: str) -> QuotaLimits:
        return QuotaLimits()


class Verifier:
    async def verify(self, user: str, password: Password) -> str | None:
        return "alice" if (user, password.reveal()) == ("alice", b"s3cret") else None


@pytest.fixture
def server(tmp_path: Path, reactor_thread: Any) -> Iterator[tuple[int, Path]]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert, key, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    context = server_context(cert, key, data_dir=tmp_path, hostname="localhost")
    authenticator = Authenticator(Verifier(), clock=reactor_thread.reactor, base_delay=0.01)
    factory = build_factory(
        Accounts(tmp_path / "homes"), authenticator, context, ManageSieveSettings()
    )
    port = reactor_thread.call(reactor_thread.reactor.listenTCP, 0, factory, interface="127.0.0.1")
    yield port.getHost().port, ca_file
    reactor_thread.call(port.stopListening)


def sieve_connect(port: int, ca_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"s3cret\n")
    os.close(write_fd)
    try:
        return subprocess.run(
            ["sieve-connect", "--server", "localhost", "--port", str(port), "--4",
             "--user", "alice", "--passwordfd", str(read_fd), "--tlscafile", str(ca_file),
             "--authmech", "PLAIN", "--noclearauth", *args],
            capture_output=True, text=True, timeout=60, check=False, pass_fds=(read_fd,),
        )  # fmt: skip
    finally:
        os.close(read_fd)


def test_upload_activate_list(server: tuple[int, Path], tmp_path: Path) -> None:
    port, ca_file = server
    local = tmp_path / "boss.sieve"
    local.write_bytes(SCRIPT)
    done = sieve_connect(port, ca_file, "--upload", "--localsieve", str(local),
                         "--remotesieve", "boss")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    done = sieve_connect(port, ca_file, "--activate", "--remotesieve", "boss")
    assert done.returncode == 0, done.stdout + done.stderr
    done = sieve_connect(port, ca_file, "--list")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == '"boss" ACTIVE\n'
    storage = SieveStorage(tmp_path / "homes" / "alice")
    assert storage.list() == [("boss", True)]
    assert storage.get("boss").replace(b"\r\n", b"\n") == SCRIPT


def test_upload_of_a_broken_script_shows_the_line(server: tuple[int, Path], tmp_path: Path) -> None:
    port, ca_file = server
    local = tmp_path / "bad.sieve"
    local.write_bytes(b'keep;\nfileinto "x";\n')
    done = sieve_connect(port, ca_file, "--upload", "--localsieve", str(local))
    assert done.returncode != 0
    assert "line 2" in done.stdout + done.stderr
