"""Real offlineimap against the IMAP server over IMAPS, the certificate verified against the test
CA (``sslcacertfile``): one full sync of two folders into a local Maildir, checked against the
store (contents, flags both ways, a local message uploaded)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailstore.types import FLAGGED, INBOX, SEEN
from tests.interop.imap_clients import (
    ClientEnv,
    maildir_messages,
    run_program,
    start_env,
    store_messages,
)
from tests.interop.imap_env import PASSWORD, ImapEnv, sample

OFFLINEIMAP = shutil.which("offlineimap")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OFFLINEIMAP is None, reason="offlineimap is not installed"),
]

CONFIG = """\
[general]
accounts = test
metadata = {home}/offlineimap-meta
ui = quiet

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {home}/Mail

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = {port}
remoteuser = alice
remotepass = {password}
ssl = yes
sslcacertfile = {ca}
timeout = 30
folderfilter = lambda name: name in ("INBOX", "Work")
"""


@pytest.fixture
def client_env(tmp_path: Path, reactor_thread: Any) -> Iterator[ClientEnv]:
    yield from start_env(tmp_path, reactor_thread)


async def fill(env: ImapEnv) -> None:
    """INBOX: messages 1 (seen), 2 (flagged); Work: message 3."""
    account = await env.store.account("alice")
    await account.create_mailbox("Work")
    inbox = await account.open_mailbox(INBOX)
    await inbox.append(sample(1), flags=[SEEN])
    await inbox.append(sample(2), flags=[FLAGGED])
    work = await account.open_mailbox("Work")
    await work.append(sample(3, body_lines=2000))


def test_full_sync_of_two_folders(client_env: ClientEnv, reactor_thread: Any) -> None:
    env, home = client_env.env, client_env.home
    reactor_thread.run(fill, env)
    config = home / "offlineimaprc"
    config.write_text(
        CONFIG.format(home=home, port=env.tls_port, password=PASSWORD, ca=client_env.ca_pem)
    )
    local_work = home / "Mail" / "Work"
    for sub in ("cur", "new", "tmp"):
        (local_work / sub).mkdir(parents=True)
    (local_work / "new" / "1700000000.local.host").write_bytes(sample(4))

    code, log = run_program([str(OFFLINEIMAP), "-o", "-u", "quiet", "-c", str(config)], home)
    assert code == 0, log

    remote_inbox = reactor_thread.run(store_messages, env, "alice", INBOX)
    remote_work = reactor_thread.run(store_messages, env, "alice", "Work")
    assert {mid: flags for mid, (_c, flags) in remote_inbox.items()} == {
        "<1@example.org>": frozenset({SEEN}),
        "<2@example.org>": frozenset({FLAGGED}),
    }
    assert {mid: flags for mid, (_c, flags) in remote_work.items()} == {
        "<3@example.org>": frozenset(),
        "<4@example.org>": frozenset(),
    }
    assert sample(4).split(b"\r\n\r\n")[1] in remote_work["<4@example.org>"][0]

    local_inbox = maildir_messages(home / "Mail" / INBOX)
    local = {**local_inbox, **maildir_messages(local_work)}
    assert {mid: flags for mid, (_c, flags) in local.items()} == {
        "<1@example.org>": "S",
        "<2@example.org>": "F",
        "<3@example.org>": "",
        "<4@example.org>": "",
    }
    for mid, (content, _flags) in {**remote_inbox, **remote_work}.items():
        if mid != "<4@example.org>":
            assert local[mid][0].replace(b"\r\n", b"\n") == content.replace(b"\r\n", b"\n")
