"""Real getmail6 over POP3S (getmail has no STLS) with ca_certs pointing at the trustme CA,
delivering through an external MDA into a directory; ``read_all = false`` exercises its UIDL
bookkeeping."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.interop.pop3_env import (
    PASSWORD,
    Pop3Env,
    ca_file,
    listen,
    make_env,
    sample,
    server_context_for,
)

GETMAIL = shutil.which("getmail")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(GETMAIL is None, reason="getmail6 is not installed"),
]


@pytest.fixture
def env(tmp_path: Path, reactor_thread: Any, ca: trustme.CA) -> Iterator[Pop3Env]:
    env = make_env(tmp_path / "pop3")
    reactor_thread.run(listen, env, server_context_for(ca, tmp_path / "tls"))
    yield env
    reactor_thread.run(env.stop)


def getmail(base: Path, ca_pem: Path, port: int, *, delete: bool) -> tuple[int, str, Path]:
    maildir = base / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    # getmail refuses Maildir delivery as root; an external MDA may run as root if allowed
    mda = base / "mda.sh"
    mda.write_text(f'#!/bin/sh\nexec cat > "$(mktemp "{maildir}/new/msg.XXXXXX")"\n')
    mda.chmod(0o755)
    rc = base / "getmailrc"
    rc.write_text(
        "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = localhost\n"
        f"port = {port}\nusername = alice\npassword = {PASSWORD}\n"
        f"ca_certs = {ca_pem}\nssl_cert_hostname = localhost\n"
        f"[destination]\ntype = MDA_external\npath = {mda}\nallow_root_commands = true\n"
        f"[options]\nread_all = false\ndelete = {str(delete).lower()}\nverbose = 2\n"
    )
    proc = subprocess.run(
        [str(GETMAIL), "--getmaildir", str(base), "--rcfile", str(rc)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr, maildir


def messages(maildir: Path) -> list[bytes]:
    return sorted(p.read_bytes() for p in (maildir / "new").iterdir())


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_pem(tmp_path: Path, ca: trustme.CA) -> Path:
    return ca_file(ca, tmp_path / "ca.pem")


def test_getmail_keeps_and_fetches_only_new(env: Pop3Env, reactor_thread: Any, tmp_path: Path,
                                            ca_pem: Path) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2)])
    base = tmp_path / "gm"
    base.mkdir()
    code, log, maildir = getmail(base, ca_pem, env.tls_port, delete=False)
    assert code == 0, log
    got = messages(maildir)
    assert len(got) == 2 and all(b"\n.dot line\n" in m for m in got)
    reactor_thread.run(env.deliver, "alice", [sample(3)])
    code, log, maildir = getmail(base, ca_pem, env.tls_port, delete=False)
    assert code == 0, log
    assert len(messages(maildir)) == 3
    assert len(reactor_thread.run(env.inbox, "alice")) == 3


def test_getmail_delete(env: Pop3Env, reactor_thread: Any, tmp_path: Path,
                        ca_pem: Path) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2)])
    base = tmp_path / "gm"
    base.mkdir()
    code, log, maildir = getmail(base, ca_pem, env.tls_port, delete=True)
    assert code == 0, log
    assert len(messages(maildir)) == 2
    assert reactor_thread.run(env.inbox, "alice") == []


def test_getmail_refuses_unknown_ca(env: Pop3Env, reactor_thread: Any, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    reactor_thread.run(env.deliver, "alice", [sample(1)])
    base = tmp_path / "gm"
    base.mkdir()
    code, log, maildir = getmail(base, other, env.tls_port, delete=True)
    assert code != 0, log
    assert messages(maildir) == []
    assert len(reactor_thread.run(env.inbox, "alice")) == 1
