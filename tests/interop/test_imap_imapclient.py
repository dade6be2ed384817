"""imapclient against the real IMAP server: STARTTLS and IMAPS with the CA verified, IDLE
woken by a concurrent append, the extensions imapclient exposes (MOVE, UIDPLUS, ENABLE,
CONDSTORE, QUOTA, NAMESPACE, ID, SPECIAL-USE)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from mailstore.types import INBOX
from tests.interop.imap_env import (
    ImapEnv,
    imapclient_factory,
    listen,
    make_env,
    sample,
)
from tests.protocols.conftest import (  # noqa: F401 - the trustme fixtures
    tls_ca,
    tls_cert_files,
    tls_client_context,
    tls_server_cert,
    tls_server_context,
)


@pytest.fixture
def env(tmp_path: Path, reactor_thread: Any, tls_server_context: Any) -> Iterator[ImapEnv]:  # noqa: F811 - pytest fixture
    env = make_env(tmp_path / "imap")
    reactor_thread.run(listen, env, tls_server_context)
    yield env
    reactor_thread.run(env.stop)


@pytest.fixture(params=["starttls", "imaps"])
def connect(
    request: pytest.FixtureRequest,
    env: ImapEnv,
    tls_client_context: ssl.SSLContext,  # noqa: F811 - pytest fixture
) -> Iterator[Callable[[], IMAPClient]]:
    yield from imapclient_factory(env, request.param, tls_client_context)


def test_fetch_store_search_move(env: ImapEnv, connect: Any, reactor_thread: Any) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2)])
    client = connect()
    info = client.select_folder(INBOX)
    assert info[b"EXISTS"] == 2 and info[b"UIDNEXT"] == 3
    data = client.fetch([1, 2], ["ENVELOPE", "FLAGS", "RFC822.SIZE"])
    assert data[1][b"ENVELOPE"].subject == b"message 1"
    client.add_flags([2], [b"\\Flagged", b"$Label1"])
    assert client.search(["FLAGGED"]) == [2]
    assert client.search(["SUBJECT", "message 1"]) == [1]
    client.create_folder("Kept")
    client.move([1], "Kept")
    assert client.search("ALL") == [2]
    assert client.folder_status("Kept", [b"MESSAGES"])[b"MESSAGES"] == 1
    assert set(client.get_flags([2])[2]) == {b"$Label1", b"\\Flagged", b"\\Recent"}


def test_idle_sees_append_flag_change_and_expunge(
    env: ImapEnv, connect: Any, reactor_thread: Any
) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1)])
    watcher, actor = connect(), connect()
    watcher.select_folder(INBOX)
    actor.select_folder(INBOX)
    watcher.idle()
    reactor_thread.run(env.deliver, "alice", [sample(2)])
    assert (2, b"EXISTS") in watcher.idle_check(timeout=10)
    actor.add_flags([1], [b"\\Deleted"])
    responses = watcher.idle_check(timeout=10)
    assert any(r[0] == 1 and r[1] == b"FETCH" for r in responses)
    actor.expunge()
    assert (1, b"EXPUNGE") in watcher.idle_check(timeout=10)
    watcher.idle_done()
    assert watcher.search("ALL") == [2]  # imapclient searches by UID


def test_enable_condstore_quota_namespace_id(env: ImapEnv, connect: Any) -> None:
    client = connect()
    assert client.has_capability("MOVE") and client.has_capability("UIDPLUS")
    assert client.enable("CONDSTORE") == [b"CONDSTORE"]
    info = client.select_folder(INBOX)
    assert b"HIGHESTMODSEQ" in info
    ns = client.namespace()
    assert ns.personal == (("", "/"),)
    assert client.id_({"name": "imapclient"}) == ((b"name", b"mailstack"),)
    roots, _quotas = client.get_quota_root(INBOX)
    assert roots.mailbox == INBOX
    folders = {name: flags for flags, _sep, name in client.list_folders()}
    assert b"\\Sent" in folders["Sent"]
    client.unselect_folder()
