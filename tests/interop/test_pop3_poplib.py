"""poplib against the real server over real sockets: plain+STLS and POP3S, the certificate
verified against the trustme CA, on a real MaildirStore."""

from __future__ import annotations

import poplib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mailstore.types import DELETED, FLAGGED, INBOX, SEEN, FlagMode
from tests.interop.pop3_env import (
    PASSWORD,
    Pop3Env,
    listen,
    make_env,
    sample,
    server_context_for,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def env(tmp_path: Path, reactor_thread: Any, ca: trustme.CA) -> Iterator[Pop3Env]:
    env = make_env(tmp_path / "pop3")
    reactor_thread.run(listen, env, server_context_for(ca, tmp_path / "tls"))
    yield env
    reactor_thread.run(env.stop)


def stls_client(env: Pop3Env, ctx: ssl.SSLContext) -> poplib.POP3:
    client = poplib.POP3("localhost", env.plain_port, timeout=30)
    client.stls(context=ctx)
    return client


def pop3s_client(env: Pop3Env, ctx: ssl.SSLContext) -> poplib.POP3:
    return poplib.POP3_SSL("localhost", env.tls_port, context=ctx, timeout=30)


@pytest.fixture(params=["stls", "pop3s"])
def connect(request: pytest.FixtureRequest, env: Pop3Env, client_ctx: ssl.SSLContext):
    make = stls_client if request.param == "stls" else pop3s_client
    return lambda: make(env, client_ctx)


def login(client: poplib.POP3, user: str = "alice") -> None:
    client.user(user)
    client.pass_(PASSWORD)


def test_capa_before_and_after_stls(env: Pop3Env, client_ctx: ssl.SSLContext) -> None:
    client = poplib.POP3("localhost", env.plain_port, timeout=30)
    before = client.capa()
    assert "STLS" in before and "USER" not in before and "SASL" not in before
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.user("alice")
    client.stls(context=client_ctx)
    after = client.capa()
    assert "STLS" not in after and "USER" in after and after["SASL"] == ["PLAIN", "LOGIN"]
    assert after["IMPLEMENTATION"] == ["mailstack"]
    client.quit()


def test_wrong_ca_is_refused(env: Pop3Env) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        poplib.POP3_SSL("localhost", env.tls_port, context=ssl.create_default_context(),
                        timeout=30)


def test_retrieve_delete_quit(env: Pop3Env, connect: Any, reactor_thread: Any) -> None:
    messages = [sample(n) for n in range(3)]
    uids = reactor_thread.run(env.deliver, "alice", messages)
    client = connect()
    login(client)
    count, octets = client.stat()
    assert (count, octets) == (3, sum(len(m) for m in messages))
    _resp, listing, _ = client.list()
    assert [int(x.split()[1]) for x in listing] == [len(m) for m in messages]
    for n, message in enumerate(messages, 1):
        resp, lines, _size = client.retr(n)
        assert b"\r\n".join(lines) + b"\r\n" == message  # poplib unstuffs the dots
        assert resp == b"+OK %d octets" % len(message)  # the CRLF size, as LIST said
    _resp, top, _ = client.top(2, 0)
    assert top[-1] == b"" and top[-2].startswith(b"Message-ID")
    client.dele(1)
    client.quit()
    left = reactor_thread.run(env.inbox, "alice")
    assert [uid for uid, _f, _d in left] == uids[1:]
    assert all(SEEN in flags for _u, flags, _d in left)


def test_rset_and_drop_expunge_nothing(env: Pop3Env, connect: Any, reactor_thread: Any) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(n) for n in range(2)])
    client = connect()
    login(client)
    client.dele(1)
    client.rset()
    client.quit()
    client = connect()
    login(client)
    client.retr(1)
    client.dele(2)
    client.close()  # no QUIT
    reactor_thread.run(env.store.close)  # also waits for the server's side of the drop
    left = reactor_thread.run(env.inbox, "alice")
    assert len(left) == 2 and all(not flags for _u, flags, _d in left)


def test_uidl_stable_across_sessions_and_flag_changes(
    env: Pop3Env, connect: Any, reactor_thread: Any
) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(n) for n in range(3)])
    client = connect()
    login(client)
    first = client.uidl()[1]
    client.quit()

    async def flag_and_deliver() -> None:
        box = await (await env.store.account("alice")).open_mailbox(INBOX)
        uids = [m.uid for m in (await box.snapshot()).messages]
        await box.store_flags(uids, FlagMode.ADD, [FLAGGED, SEEN])
        await box.store_flags(uids[:1], FlagMode.ADD, [DELETED])
        await box.expunge(uids[:1])
        await env.deliver("alice", [sample(9)])

    reactor_thread.run(flag_and_deliver)
    client = connect()
    login(client)
    second = client.uidl()[1]
    client.quit()
    ids_first = [line.split()[1] for line in first]
    ids_second = [line.split()[1] for line in second]
    assert ids_second[:2] == ids_first[1:]
    assert ids_second[2] not in ids_first
    assert len(set(ids_second)) == 3


def test_second_session_is_in_use(env: Pop3Env, client_ctx: ssl.SSLContext) -> None:
    first = pop3s_client(env, client_ctx)
    login(first)
    second = stls_client(env, client_ctx)
    second.user("alice")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_(PASSWORD)
    first.quit()
    second.user("alice")
    second.pass_(PASSWORD)
    second.quit()


def test_bad_password(env: Pop3Env, client_ctx: ssl.SSLContext) -> None:
    client = pop3s_client(env, client_ctx)
    client.user("alice")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.pass_("wrong")
    client.quit()


def test_large_message_streams_intact(env: Pop3Env, client_ctx: ssl.SSLContext,
                                      reactor_thread: Any) -> None:
    body = b"".join(b".%07d %s\r\n" % (i, b"x" * 90) for i in range(40000))  # ~4 MB
    message = b"Subject: big\r\n\r\n" + body
    reactor_thread.run(env.deliver, "alice", [message])
    client = pop3s_client(env, client_ctx)
    login(client)
    _resp, lines, _octets = client.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == message
    client.quit()


def test_pipelined_raw_session(env: Pop3Env, client_ctx: ssl.SSLContext,
                               reactor_thread: Any) -> None:
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2)])
    client = pop3s_client(env, client_ctx)
    raw: Any = client  # poplib has no public way to pipeline
    raw._putline(b"USER alice\r\nPASS " + PASSWORD.encode() +
                    b"\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nQUIT")
    assert raw._getresp().startswith(b"+OK")
    assert raw._getresp().startswith(b"+OK Logged in, 2 messages")
    assert raw._getresp() == b"+OK 2 %d" % (len(sample(1)) + len(sample(2)))
    _resp, lines, _ = raw._getlongresp()
    assert b"\r\n".join(lines) + b"\r\n" == sample(1)
    assert raw._getresp() == b"+OK Message deleted"
    assert raw._getresp() == b"+OK Logging out"
    client.close()
    left = reactor_thread.run(env.inbox, "alice")
    assert len(left) == 1
