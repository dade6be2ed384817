"""swaks (Debian ``swaks``) speaks LMTP to mailstack over TCP (pipelined) and a unix socket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.interop.lmtp_env import listen, make_env, read_mailbox

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed"),
]


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_swaks_round_trip(tmp_path: Path, reactor_thread, family: str) -> None:
    env = make_env(tmp_path / "store")
    listening = reactor_thread.run(listen, env, tmp_path / "lmtp.sock")
    try:
        where = (["--server", "127.0.0.1", "--port", str(listening.tcp_port), "--pipeline"]
                 if family == "tcp" else ["--socket", str(listening.unix_path)])
        done = subprocess.run(
            ["swaks", "--protocol", "LMTP", *where, "--from", "s@example.org",
             "--to", "alice@lmtp.test,bob+x@lmtp.test,nobody@lmtp.test",
             "--header", f"Subject: swaks {family}", "--body", "Hello from swaks.\n.dot line\n",
             "--helo", "swaks.example", "--timeout", "30"],
            capture_output=True, text=True, timeout=120, check=False,
        )
    finally:
        reactor_thread.run(listening.stop)
    transcript = done.stdout + done.stderr
    assert "250 2.0.0 <alice@lmtp.test> Saved" in transcript, transcript
    assert "250 2.0.0 <bob+x@lmtp.test> Saved" in transcript, transcript
    assert "550 5.1.1" in transcript
    for user in ("alice", "bob"):
        (stored,) = reactor_thread.run(read_mailbox, env, user)
        assert f"Subject: swaks {family}\r\n".encode() in stored
        assert b"\r\n\r\nHello from swaks.\r\n.dot line\r\n" in stored  # unstuffed
        assert b"Return-Path: <s@example.org>\r\n" in stored
