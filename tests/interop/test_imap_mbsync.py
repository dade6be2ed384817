"""Real mbsync (Debian ``isync``) against the IMAP server over IMAPS, the certificate verified
against the test CA: two-way sync with a local Maildir — initial pull, new messages, flag changes
and deletions both ways, and a second run that changes nothing on either side."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mailstore.types import DELETED, FLAGGED, INBOX, SEEN, FlagMode
from tests.interop.imap_clients import (
    ClientEnv,
    maildir_messages,
    run_program,
    start_env,
    store_messages,
    store_state,
)
from tests.interop.imap_env import PASSWORD, ImapEnv, sample

MBSYNC = shutil.which("mbsync")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(MBSYNC is None, reason="mbsync (isync) is not installed"),
]

CONFIG = """\
IMAPAccount remote
Host localhost
Port {port}
User alice
Pass "{password}"
SSLType IMAPS
CertificateFile {ca}
Timeout 30

IMAPStore remote
Account remote

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
"""


@pytest.fixture
def client_env(tmp_path: Path, reactor_thread: Any) -> Iterator[ClientEnv]:
    yield from start_env(tmp_path, reactor_thread)


class Mbsync:
    def __init__(self, cenv: ClientEnv, ca_pem: Path | None = None) -> None:
        self.home = cenv.home
        self.maildir = cenv.home / "Mail"
        self.maildir.mkdir()
        self.config = cenv.home / "mbsyncrc"
        ca = ca_pem or cenv.ca_pem
        self.config.write_text(
            CONFIG.format(port=cenv.env.tls_port, password=PASSWORD, ca=ca, maildir=self.maildir)
        )

    def run(self) -> tuple[int, str]:
        return run_program([str(MBSYNC), "-Dn", "-c", str(self.config), "-a"], self.home)

    def sync(self) -> str:
        code, log = self.run()
        assert code == 0, log
        return log

    def local(self, folder: str = INBOX) -> dict[str, tuple[bytes, str]]:
        return maildir_messages(self.maildir / folder)

    def local_flags(self, folder: str = INBOX) -> dict[str, str]:
        return {mid: flags for mid, (_content, flags) in self.local(folder).items()}

    def local_path(self, mid: str, folder: str = INBOX) -> Path:
        for sub in ("cur", "new"):
            for path in (self.maildir / folder / sub).iterdir():
                if f"<{mid}@example.org>".encode() in path.read_bytes():
                    return path
        raise AssertionError(f"no local message {mid}")

    def files(self) -> list[tuple[str, bytes]]:
        return sorted(
            (str(p.relative_to(self.maildir)), p.read_bytes())
            for p in self.maildir.rglob("*")
            if p.is_file() and not p.name.startswith(".mbsync")
        )


def unix(message: bytes) -> bytes:
    return message.replace(b"\r\n", b"\n")


def without_tuid(message: bytes) -> bytes:
    """mbsync adds an ``X-TUID`` header to the messages it copies (its own bookkeeping)."""
    return re.sub(rb"(?m)^X-TUID: \S+\n", b"", message)


def mid(n: int) -> str:
    return f"<{n}@example.org>"


async def change_remote(env: ImapEnv) -> None:
    """Server side: flag message 1, delete and expunge message 2, append message 10."""
    account = await env.store.account("alice")
    box = await account.open_mailbox(INBOX)
    uids = [m.uid for m in (await box.snapshot()).messages]
    await box.store_flags([uids[0]], FlagMode.ADD, [FLAGGED])
    await box.store_flags([uids[1]], FlagMode.ADD, [DELETED])
    await box.expunge([uids[1]])
    await box.append(sample(10), flags=[SEEN])


async def snapshot_all(env: ImapEnv) -> dict[str, Any]:
    account = await env.store.account("alice")
    state: dict[str, Any] = {}
    for info in await account.list_mailboxes():
        box = await account.open_mailbox(info.name)
        snap = await box.snapshot()
        state[info.name] = (snap.uidvalidity, snap.uidnext, snap.highestmodseq, snap.messages)
    return state


def test_two_way_sync(client_env: ClientEnv, reactor_thread: Any) -> None:
    env = client_env.env
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2), sample(3), sample(4)])
    mb = Mbsync(client_env)

    # 1. initial pull
    mb.sync()
    local = mb.local()
    assert sorted(local) == [mid(n) for n in (1, 2, 3, 4)]
    assert without_tuid(local[mid(3)][0]) == unix(sample(3))  # mbsync stores LF line ends
    assert all(flags == "" for _c, flags in local.values())

    # 2. changes on both sides
    reactor_thread.run(change_remote, env)
    new_local = mb.maildir / INBOX / "new" / "1700000000.local1.host"
    new_local.write_bytes(unix(sample(20)))
    flag_me = mb.local_path("3")
    flag_me.rename(flag_me.parent.parent / "cur" / f"{flag_me.name.partition(':')[0]}:2,FS")
    mb.local_path("4").unlink()
    mb.sync()

    remote = reactor_thread.run(store_state, env, "alice", INBOX)
    assert remote == {
        mid(1): frozenset({FLAGGED}),
        mid(3): frozenset({FLAGGED, SEEN}),
        mid(10): frozenset({SEEN}),
        mid(20): frozenset(),
    }
    uploaded = reactor_thread.run(store_messages, env, "alice", INBOX)[mid(20)][0]
    assert without_tuid(uploaded.replace(b"\r\n", b"\n")) == unix(sample(20))
    assert mb.local_flags() == {mid(1): "F", mid(3): "FS", mid(10): "S", mid(20): ""}
    assert without_tuid(mb.local()[mid(10)][0]) == unix(sample(10))

    # 3. a second run changes nothing on either side
    before_remote = reactor_thread.run(snapshot_all, env)
    before_local = mb.files()
    mb.sync()
    assert reactor_thread.run(snapshot_all, env) == before_remote
    assert mb.files() == before_local


def test_certificate_from_another_ca_is_refused(
    client_env: ClientEnv, reactor_thread: Any, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    reactor_thread.run(client_env.env.deliver, "alice", [sample(1)])
    mb = Mbsync(client_env, other)
    code, log = mb.run()
    assert code != 0, log
    assert "certificate" in log.lower(), log
    assert not (mb.maildir / INBOX).exists()
