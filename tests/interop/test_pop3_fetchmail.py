"""Real fetchmail against the POP3 server: STLS and implicit TLS, --keep and not, UIDL
bookkeeping across runs, the certificate checked against the trustme CA (sslcertck), and
delivery to an mda that writes one file per message."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mailstore.types import SEEN
from tests.interop.pop3_env import (
    PASSWORD,
    Pop3Env,
    ca_file,
    listen,
    make_env,
    sample,
    server_context_for,
)

FETCHMAIL = shutil.which("fetchmail")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed"),
]

MDA = """#!/bin/sh
exec cat > "$(mktemp "{out}/msg.XXXXXX")"
"""


@pytest.fixture
def env(tmp_path: Path, reactor_thread: Any, ca: trustme.CA) -> Iterator[Pop3Env]:
    env = make_env(tmp_path / "pop3")
    context = server_context_for(ca, tmp_path / "tls", common_name="localhost")
    reactor_thread.run(listen, env, context)
    yield env
    reactor_thread.run(env.stop)


class Fetchmail:
    def __init__(self, base: Path, ca_pem: Path, port: int, *, implicit: bool, keep: bool):
        self.base = base
        self.out = base / "out"
        self.out.mkdir(parents=True)
        mda = base / "mda.sh"
        mda.write_text(MDA.format(out=self.out))
        mda.chmod(0o755)
        tls = "ssl" if implicit else "sslproto 'TLS1.2+'"
        rc = base / "fetchmailrc"
        rc.write_text(
            f'poll localhost service {port} protocol pop3 uidl\n'
            f'  user "alice" there with password "{PASSWORD}" is "alice" here\n'
            f'  {tls} sslcertck sslcertfile "{ca_pem}"\n'
            f'  {"keep" if keep else "nokeep"} mda "{mda}"\n'
        )
        rc.chmod(0o600)
        self.rc = rc

    def run(self) -> tuple[int, str]:
        env = {**os.environ, "HOME": str(self.base), "FETCHMAILHOME": str(self.base)}
        proc = subprocess.run(
            [str(FETCHMAIL), "-f", str(self.rc), "--idfile", str(self.base / "fetchids"),
             "--pidfile", str(self.base / "fetchmail.pid"), "--nosyslog", "-v"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def delivered(self) -> list[bytes]:
        return sorted(p.read_bytes() for p in self.out.iterdir())


def ids(messages: list[bytes]) -> list[bytes]:
    found = []
    for message in messages:
        for line in message.splitlines():
            if line.lower().startswith(b"message-id:"):
                found.append(line.split(b":", 1)[1].strip())
    return sorted(found)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_pem(tmp_path: Path, ca: trustme.CA) -> Path:
    return ca_file(ca, tmp_path / "ca.pem")


@pytest.mark.parametrize("implicit", [False, True], ids=["stls", "pop3s"])
def test_keep_with_uidl_bookkeeping(env: Pop3Env, reactor_thread: Any, tmp_path: Path,
                                    ca_pem: Path, implicit: bool) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2)])
    port = env.tls_port if implicit else env.plain_port
    fm = Fetchmail(tmp_path / "fm", ca_pem, port, implicit=implicit, keep=True)
    code, log = fm.run()
    assert code == 0, log
    assert ids(fm.delivered()) == [b"<1@example.org>", b"<2@example.org>"]
    assert b"line 2 of message 2" in b"".join(fm.delivered())
    if not implicit:
        assert "STLS" in log
    code, log = fm.run()  # the UIDLs are known: nothing new
    assert code == 1, log
    assert len(fm.delivered()) == 2
    reactor_thread.run(env.deliver, "alice", [sample(3)])
    code, log = fm.run()
    assert code == 0, log
    assert ids(fm.delivered()) == [b"<1@example.org>", b"<2@example.org>", b"<3@example.org>"]
    left = reactor_thread.run(env.inbox, "alice")
    assert len(left) == 3 and all(SEEN in flags for _u, flags, _d in left), log


@pytest.mark.parametrize("implicit", [False, True], ids=["stls", "pop3s"])
def test_nokeep_empties_the_inbox(env: Pop3Env, reactor_thread: Any, tmp_path: Path,
                                  ca_pem: Path, implicit: bool) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2), sample(3, 5000)])
    port = env.tls_port if implicit else env.plain_port
    fm = Fetchmail(tmp_path / "fm", ca_pem, port, implicit=implicit, keep=False)
    code, log = fm.run()
    assert code == 0, log
    assert len(fm.delivered()) == 3
    assert reactor_thread.run(env.inbox, "alice") == []
    code, log = fm.run()
    assert code == 1, log


def test_wrong_ca_is_refused(env: Pop3Env, reactor_thread: Any, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    reactor_thread.run(env.deliver, "alice", [sample(1)])
    fm = Fetchmail(tmp_path / "fm", other, env.tls_port, implicit=True, keep=True)
    code, log = fm.run()
    assert code not in (0, 1), log
    assert fm.delivered() == []
