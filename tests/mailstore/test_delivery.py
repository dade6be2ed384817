"""LocalDelivery over real accounts and a real Maildir store, and the LMTP server on real
sockets (TCP and unix) driven by a raw pipelining client and by smtplib.LMTP."""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

import pytest

from mailstore.delivery import DeliveryEnvelope, RecipientStatus
from mailstore.errors import StoreErrorKind
from mailstore.types import QuotaLimits
from tests.interop.lmtp_env import MailEnv, listen, make_env, read_mailbox

ENVELOPE = DeliveryEnvelope(
    mail_from="sender@example.org", client_helo="relay.example", client_address="[192.0.2.7]",
    queue_id="Q1", smtputf8=False, body_8bit=False, message_id="<m1@example.org>",
)
MESSAGE = b"Message-ID: <m1@example.org>\r\nSubject: hello\r\n\r\nBody line.\r\n"


async def stage(env: MailEnv, data: bytes = MESSAGE):
    writer = env.delivery.spool()
    writer.write(data)
    return await writer.finish()


async def deliver_to(env: MailEnv, address: str, envelope: DeliveryEnvelope = ENVELOPE):
    check = await env.delivery.check_recipient(address, len(MESSAGE))
    assert check.status is RecipientStatus.ACCEPTED and check.recipient is not None
    staged = await stage(env)
    try:
        return await env.delivery.deliver(staged, envelope, check.recipient)
    finally:
        env.delivery.discard(staged)


def test_check_recipient(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path, {"alice": QuotaLimits(), "tiny": QuotaLimits(storage_bytes=100)},
                   aliases="postmaster: alice\n")

    async def run():
        delivery = env.delivery
        known = await delivery.check_recipient("alice@lmtp.test", 10)
        alias = await delivery.check_recipient("postmaster@lmtp.test", None)
        detail = await delivery.check_recipient("alice+lists@lmtp.test", None)
        unknown = await delivery.check_recipient("nobody@lmtp.test", None)
        full = await delivery.check_recipient("tiny@lmtp.test", 1000)
        fits = await delivery.check_recipient("tiny@lmtp.test", 10)
        return known, alias, detail, unknown, full, fits

    known, alias, detail, unknown, full, fits = reactor_thread.run(run)
    assert known.status is RecipientStatus.ACCEPTED and known.recipient.user == "alice"
    assert alias.status is RecipientStatus.ACCEPTED and alias.recipient.user == "alice"
    assert detail.recipient.user == "alice" and detail.recipient.detail == "lists"
    assert unknown.status is RecipientStatus.UNKNOWN_USER
    assert full.status is RecipientStatus.OVER_QUOTA
    assert fits.status is RecipientStatus.ACCEPTED


def test_deliver_adds_trace_headers_and_keeps_the_message(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path)
    result = reactor_thread.run(deliver_to, env, "bob@lmtp.test")
    assert result.ok and result.mailbox == "INBOX" and result.uid is not None
    (stored,) = reactor_thread.run(read_mailbox, env, "bob")
    head, _, rest = stored.partition(b"Message-ID:")
    assert rest == MESSAGE.removeprefix(b"Message-ID:")
    lines = head.split(b"\r\n")
    assert lines[0] == b"Return-Path: <sender@example.org>"
    assert lines[1] == b"Delivered-To: bob@lmtp.test"
    assert lines[2] == b"Received: from relay.example ([192.0.2.7])"
    assert lines[3] == b"\tby mx.test (mailstack) with LMTP id Q1"
    assert lines[4].startswith(b"\tfor <bob@lmtp.test>; ")


def test_detail_mailbox(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path)

    async def run():
        account = await env.store.account("alice")
        await account.create_mailbox("lists")
        first = await deliver_to(env, "alice+lists@lmtp.test")
        second = await deliver_to(env, "alice+nosuch@lmtp.test")
        return first, second

    first, second = reactor_thread.run(run)
    assert first.mailbox == "lists" and second.mailbox == "INBOX"
    (stored,) = reactor_thread.run(read_mailbox, env, "alice", "lists")
    assert b"Delivered-To: alice+lists@lmtp.test\r\n" in stored


def test_detail_mailbox_off(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path, detail_to_mailbox=False)

    async def run():
        await (await env.store.account("alice")).create_mailbox("lists")
        return await deliver_to(env, "alice+lists@lmtp.test")

    assert reactor_thread.run(run).mailbox == "INBOX"


def test_over_quota_at_delivery(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path, {"tiny": QuotaLimits(storage_bytes=50)}, quota_at_rcpt=False)

    async def run():
        check = await env.delivery.check_recipient("tiny@lmtp.test", None)
        assert check.recipient is not None
        staged = await stage(env, MESSAGE * 5)
        return await env.delivery.deliver(staged, ENVELOPE, check.recipient)

    result = reactor_thread.run(run)
    assert not result.ok and result.error is StoreErrorKind.OVER_QUOTA
    assert reactor_thread.run(read_mailbox, env, "tiny") == []


def test_duplicate_suppression(tmp_path: Path, reactor_thread) -> None:
    now = [1000.0]
    env = make_env(tmp_path, duplicate_window=60.0, clock=lambda: now[0])

    async def run():
        results = [await deliver_to(env, "alice@lmtp.test") for _ in range(2)]
        results.append(await deliver_to(env, "bob@lmtp.test"))
        now[0] += 61
        results.append(await deliver_to(env, "alice@lmtp.test"))
        return results

    first, again, other_user, later = reactor_thread.run(run)
    assert first.ok and not first.duplicate
    assert again.ok and again.duplicate and again.uid is None
    assert not other_user.duplicate and not later.duplicate
    assert len(reactor_thread.run(read_mailbox, env, "alice")) == 2


def test_duplicates_kept_when_window_is_off(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path)

    async def run():
        return [await deliver_to(env, "alice@lmtp.test") for _ in range(2)]

    assert not any(r.duplicate for r in reactor_thread.run(run))
    assert len(reactor_thread.run(read_mailbox, env, "alice")) == 2


def test_filter_hook(tmp_path: Path, reactor_thread) -> None:
    calls = []

    async def sieve(staged, envelope, recipient, default_mailbox):
        calls.append(default_mailbox)
        return {"alice": ["Saved"], "bob": [], "carol": ["Missing"]}[recipient.user]

    env = make_env(tmp_path, filter=sieve)

    async def run():
        await (await env.store.account("alice")).create_mailbox("Saved")
        return [await deliver_to(env, f"{u}@lmtp.test") for u in ("alice", "bob", "carol")]

    alice, bob, carol = reactor_thread.run(run)
    assert calls == ["INBOX", "INBOX", "INBOX"]
    assert alice.mailbox == "Saved" and bob.ok and bob.mailbox is None
    assert carol.mailbox == "INBOX"
    assert len(reactor_thread.run(read_mailbox, env, "alice", "Saved")) == 1
    assert reactor_thread.run(read_mailbox, env, "bob") == []


# -- real sockets ----------------------------------------------------------------------------


def read_reply(sock_file) -> bytes:
    lines = []
    while True:
        line = sock_file.readline()
        assert line, "server closed the connection"
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


@pytest.fixture
def server(tmp_path: Path, reactor_thread):
    env = make_env(tmp_path / "store", {"alice": QuotaLimits(), "bob": QuotaLimits(),
                                        "tiny": QuotaLimits(messages=1)})
    listening = reactor_thread.run(listen, env, tmp_path / "lmtp.sock")
    yield env, listening
    reactor_thread.run(listening.stop)


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_raw_pipelined_multi_recipient(server, reactor_thread, family: str) -> None:
    env, listening = server
    if family == "tcp":
        sock = socket.create_connection(("127.0.0.1", listening.tcp_port), timeout=30)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(30)
        sock.connect(str(listening.unix_path))
    with sock, sock.makefile("rb") as replies:
        assert read_reply(replies).startswith(b"220 ")
        sock.sendall(b"LHLO relay.example\r\nMAIL FROM:<s@example.org>\r\n"
                     b"RCPT TO:<alice@lmtp.test>\r\nRCPT TO:<nobody@lmtp.test>\r\n"
                     b"RCPT TO:<bob+x@lmtp.test>\r\nDATA\r\n")
        got = [read_reply(replies) for _ in range(6)]
        assert [r[:3] for r in got] == [b"250", b"250", b"250", b"550", b"250", b"354"]
        sock.sendall(b"Subject: raw\r\n\r\n..dot\r\n.\r\nQUIT\r\n")
        after = [read_reply(replies) for _ in range(3)]
        assert after == [b"250 2.0.0 <alice@lmtp.test> Saved\r\n",
                         b"250 2.0.0 <bob+x@lmtp.test> Saved\r\n", b"221 2.0.0 Bye\r\n"]
    for user, address in (("alice", b"alice@lmtp.test"), ("bob", b"bob+x@lmtp.test")):
        (stored,) = reactor_thread.run(read_mailbox, env, user)
        assert stored.endswith(b"\r\nSubject: raw\r\n\r\n.dot\r\n")
        assert b"Delivered-To: " + address + b"\r\n" in stored


def test_smtplib_lmtp(server, reactor_thread) -> None:
    env, listening = server
    with smtplib.LMTP("127.0.0.1", listening.tcp_port, timeout=30) as client:
        client.sendmail("s@example.org", ["alice@lmtp.test"], b"Subject: lib\r\n\r\nhi\r\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("s@example.org", ["nobody@lmtp.test"], b"Subject: x\r\n\r\nx\r\n")
    (stored,) = reactor_thread.run(read_mailbox, env, "alice")
    assert stored.endswith(b"Subject: lib\r\n\r\nhi\r\n")


def test_over_quota_recipient_over_socket(server, reactor_thread) -> None:
    _env, listening = server
    with smtplib.LMTP("127.0.0.1", listening.tcp_port, timeout=30) as client:
        client.sendmail("s@example.org", ["tiny@lmtp.test"], b"Subject: 1\r\n\r\n1\r\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            client.sendmail("s@example.org", ["tiny@lmtp.test"], b"Subject: 2\r\n\r\n2\r\n")
    code, text = info.value.recipients["tiny@lmtp.test"]
    assert code == 552 and text.startswith(b"5.2.2")


def test_disconnect_mid_data_leaves_no_file(server, reactor_thread, tmp_path: Path) -> None:
    env, listening = server
    with socket.create_connection(("127.0.0.1", listening.tcp_port), timeout=30) as sock:
        replies = sock.makefile("rb")
        read_reply(replies)
        sock.sendall(
            b"LHLO r\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@lmtp.test>\r\nDATA\r\n"
        )
        for _ in range(4):
            read_reply(replies)
        sock.sendall(b"Subject: cut\r\n\r\n" + b"x" * 300_000)
        # a NOOP round trip on a second connection proves the server has processed our bytes
        with smtplib.LMTP("127.0.0.1", listening.tcp_port, timeout=30) as other:
            other.noop()
        replies.close()
    # wait (bounded, by round trips rather than sleeps) for the abort to run
    for _ in range(50):
        with smtplib.LMTP("127.0.0.1", listening.tcp_port, timeout=30) as other:
            other.noop()
        if not any((tmp_path / "store" / "spool").iterdir()):
            break
    assert list((tmp_path / "store" / "spool").iterdir()) == []
    assert reactor_thread.run(read_mailbox, env, "alice") == []


def test_large_message_spills_to_the_spool(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path)
    body = b"Subject: big\r\n\r\n" + b"y" * 998 + b"\r\n" + (b"z" * 78 + b"\r\n") * 4000

    async def run():
        writer = env.delivery.spool()
        for index in range(0, len(body), 8192):
            writer.write(body[index : index + 8192])
        staged = await writer.finish()
        spooled = list((tmp_path / "spool").iterdir())
        check = await env.delivery.check_recipient("alice@lmtp.test", None)
        assert check.recipient is not None
        result = await env.delivery.deliver(staged, ENVELOPE, check.recipient)
        env.delivery.discard(staged)
        return spooled, result

    spooled, result = reactor_thread.run(run)
    assert len(spooled) == 1 and result.ok  # > 256 KiB went through a spool file
    (stored,) = reactor_thread.run(read_mailbox, env, "alice")
    assert stored.endswith(body)
    for _ in range(100):  # the discard's unlink runs in the thread pool
        if not any((tmp_path / "spool").iterdir()):
            break
        reactor_thread.run(read_mailbox, env, "alice")
    assert list((tmp_path / "spool").iterdir()) == []


def test_small_message_needs_no_spool_file(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path)

    async def run():
        writer = env.delivery.spool()
        writer.write(MESSAGE)
        staged = await writer.finish()
        return staged, list((tmp_path / "spool").iterdir())

    staged, spooled = reactor_thread.run(run)
    assert spooled == [] and staged.size == len(MESSAGE)
    env.delivery.discard(staged)


def test_cached_mailbox_deleted_and_recreated(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path)

    async def run():
        account = await env.store.account("alice")
        await account.create_mailbox("lists")
        first = await deliver_to(env, "alice+lists@lmtp.test")
        await account.delete_mailbox("lists")
        gone = await deliver_to(env, "alice+lists@lmtp.test")
        await account.create_mailbox("lists")
        back = await deliver_to(env, "alice+lists@lmtp.test")
        return first, gone, back

    first, gone, back = reactor_thread.run(run)
    assert (first.mailbox, gone.mailbox, back.mailbox) == ("lists", "INBOX", "lists")
    assert len(reactor_thread.run(read_mailbox, env, "alice", "lists")) == 1


def test_alias_to_several_users_gets_one_reply(tmp_path: Path, reactor_thread) -> None:
    env = make_env(tmp_path / "store", aliases="team: alice, bob\n")
    listening = reactor_thread.run(listen, env, tmp_path / "lmtp.sock")
    try:
        with socket.create_connection(("127.0.0.1", listening.tcp_port), timeout=30) as sock:
            replies = sock.makefile("rb")
            read_reply(replies)
            sock.sendall(b"LHLO r\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<team@lmtp.test>\r\n"
                         b"DATA\r\nSubject: team\r\n\r\nhi\r\n.\r\nQUIT\r\n")
            got = [read_reply(replies) for _ in range(6)]
    finally:
        reactor_thread.run(listening.stop)
    assert got[4] == b"250 2.0.0 <team@lmtp.test> Saved\r\n"
    for user in ("alice", "bob"):
        (stored,) = reactor_thread.run(read_mailbox, env, user)
        assert f"Delivered-To: {user}@lmtp.test\r\n".encode() in stored
