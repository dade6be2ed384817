"""imaplib against the real IMAP server over real sockets: plain+STARTTLS and IMAPS, the
certificate verified against the trustme CA, on a real MaildirStore."""

from __future__ import annotations

import imaplib
import re
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailstore.types import DELETED, FLAGGED, INBOX, SEEN
from tests.interop.imap_env import PASSWORD, ImapEnv, listen, make_env, sample
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


def starttls_client(env: ImapEnv, ctx: ssl.SSLContext) -> imaplib.IMAP4:
    client = imaplib.IMAP4("localhost", env.plain_port, timeout=30)
    client.starttls(ssl_context=ctx)
    return client


def imaps_client(env: ImapEnv, ctx: ssl.SSLContext) -> imaplib.IMAP4:
    return imaplib.IMAP4_SSL("localhost", env.tls_port, ssl_context=ctx, timeout=30)


@pytest.fixture(params=["starttls", "imaps"])
def connect(
    request: pytest.FixtureRequest,
    env: ImapEnv,
    tls_client_context: ssl.SSLContext,  # noqa: F811 - pytest fixture
) -> Callable[[], imaplib.IMAP4]:
    make = starttls_client if request.param == "starttls" else imaps_client

    def login() -> imaplib.IMAP4:
        client = make(env, tls_client_context)
        assert client.login("alice", PASSWORD)[0] == "OK"
        return client

    return login


def test_logindisabled_before_starttls(env: ImapEnv, tls_client_context: ssl.SSLContext) -> None:  # noqa: F811 - pytest fixture
    client = imaplib.IMAP4("localhost", env.plain_port, timeout=30)
    assert "LOGINDISABLED" in client.capabilities
    assert "STARTTLS" in client.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        client.login("alice", PASSWORD)
    client.starttls(ssl_context=tls_client_context)
    assert "LOGINDISABLED" not in client.capabilities
    assert "AUTH=PLAIN" in client.capabilities
    assert client.login("alice", PASSWORD)[0] == "OK"
    client.logout()


def test_wrong_password_and_authenticate_plain(
    env: ImapEnv,
    tls_client_context: ssl.SSLContext,  # noqa: F811 - pytest fixture
) -> None:
    client = imaps_client(env, tls_client_context)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("alice", "wrong")
    secret = f"\0alice\0{PASSWORD}".encode()
    assert client.authenticate("PLAIN", lambda _challenge: secret)[0] == "OK"
    assert client.select(INBOX)[0] == "OK"
    client.logout()


def test_read_flag_copy_move_expunge(env: ImapEnv, connect: Any, reactor_thread: Any) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2), sample(3)])
    client = connect()
    typ, data = client.select(INBOX)
    assert (typ, data) == ("OK", [b"3"])
    typ, data = client.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK"
    bodies = [item[1] for item in data if isinstance(item, tuple)]
    assert bodies == [sample(1), sample(2), sample(3)]
    assert client.store("1", "+FLAGS", "(\\Flagged)")[0] == "OK"
    assert client.fetch("2", "(BODY[TEXT])")[0] == "OK"  # sets \Seen
    assert client.search(None, "FLAGGED")[1] == [b"1"]
    assert client.create("Saved")[0] == "OK"
    typ, data = client.copy("1", "Saved")
    assert typ == "OK"
    assert client.status("Saved", "(MESSAGES)")[1] == [b"Saved (MESSAGES 1)"]
    typ, data = client.uid("MOVE", "3", "Saved")
    assert typ == "OK"
    assert client.store("2", "+FLAGS", "(\\Deleted)")[0] == "OK"
    typ, data = client.expunge()
    assert (typ, data[-1]) == ("OK", b"2")  # imaplib also keeps MOVE's "* 3 EXPUNGE"
    client.logout()
    inbox = reactor_thread.run(env.messages, "alice")
    assert inbox == [(1, frozenset({FLAGGED}))]
    archive = reactor_thread.run(env.messages, "alice", "Saved")
    assert [flags for _uid, flags in archive] == [frozenset({FLAGGED}), frozenset()]
    assert DELETED not in str(inbox) and SEEN not in str(archive)


def test_append_appenduid_and_list(env: ImapEnv, connect: Any, reactor_thread: Any) -> None:
    client = connect()
    assert client.create("Work/Reports")[0] == "OK"
    typ, data = client.append("Work/Reports", "(\\Seen)", None, sample(7))
    assert typ == "OK"
    assert re.match(rb"\[APPENDUID \d+ 1\]", data[0])
    typ, data = client.list('""', "Work*")
    assert data == [b'(\\HasChildren) "/" Work', b'(\\HasNoChildren) "/" Work/Reports']
    typ, data = client.append("Nowhere", None, None, sample(8))
    assert typ == "NO" and b"TRYCREATE" in data[0]
    assert client.subscribe("Work/Reports")[0] == "OK"
    assert b'() "/" Work/Reports' in client.lsub('""', "*")[1]
    assert client.rename("Work", "Play")[0] == "OK"
    assert client.select("Play/Reports")[1] == [b"1"]
    assert client.delete("Nowhere")[0] == "NO"
    client.logout()
    assert reactor_thread.run(env.messages, "alice", "Play/Reports")[0][1] == frozenset({SEEN})


def test_big_literal_append_and_fetch(env: ImapEnv, connect: Any, reactor_thread: Any) -> None:
    message = sample(9, body_lines=40000)  # ~1 MB: a streamed literal both ways
    client = connect()
    assert client.append(INBOX, None, None, message)[0] == "OK"
    client.select(INBOX)
    typ, data = client.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == message
    typ, data = client.fetch("1", "(BODY.PEEK[]<10.20>)")
    assert data[0][1] == message[10:30]
    client.logout()


def test_idle_woken_by_concurrent_append(env: ImapEnv, connect: Any, reactor_thread: Any) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1)])
    client = connect()
    client.select(INBOX)
    tag = client._new_tag()
    client.send(tag + b" IDLE\r\n")
    assert client.readline().startswith(b"+ ")
    reactor_thread.run(env.deliver, "alice", [sample(2)])
    assert client.readline() == b"* 2 EXISTS\r\n"
    assert client.readline() == b"* 2 RECENT\r\n"
    client.send(b"DONE\r\n")
    assert client.readline() == tag + b" OK IDLE terminated\r\n"
    client.logout()


def test_namespace_id_quota_unselect(env: ImapEnv, connect: Any) -> None:
    client = connect()
    typ, data = client.namespace()
    assert data == [b'(("" "/")) NIL NIL']
    typ, data = client.xatom("ID", '("name" "imaplib")')
    assert typ == "OK"
    assert client.untagged_responses.pop("ID") == [b'("name" "mailstack")']
    typ, data = client.getquotaroot(INBOX)
    assert typ == "OK"
    client.select(INBOX)
    assert client.unselect()[0] == "OK"
    client.send(b"x1 FETCH 1 (FLAGS)\r\n")
    assert client.readline() == b"x1 BAD Command not valid in this state\r\n"
    client.logout()
