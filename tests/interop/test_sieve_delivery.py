"""Sieve end to end: scripts uploaded over ManageSieve (sieve-connect and sievelib, both with
STARTTLS), mail delivered over LMTP on real sockets, and what the scripts said seen in the
Maildir (filed, flagged, discarded), in the LMTP replies (``550 5.7.1`` for ereject/reject)
and at a local SMTP sink (redirects and vacation replies)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sievelib.managesieve as sievelib_ms
import trustme
from twisted.internet import defer, protocol
from twisted.mail import smtp
from zope.interface import implementer  # type: ignore[import-untyped]

from protocols.auth import Authenticator
from protocols.managesieve import ManageSieveSettings
from protocols.managesieve import build_factory as managesieve_factory
from protocols.tls import server_context
from sieve.delivery import SieveDelivery
from sieve.filter import SieveFilter
from sieve.outgoing import Outgoing, SubmissionSettings
from tests.interop.lmtp_env import Listening, MailEnv, listen, make_env, read_mailbox

pytestmark = pytest.mark.interop

# -- the SMTP sink -----------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes


@implementer(smtp.IMessage)
class _Message:
    def __init__(self, sink: Sink, mail_from: str, rcpt: str) -> None:
        self.sink, self.mail_from, self.rcpt = sink, mail_from, rcpt
        self.lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def eomReceived(self) -> defer.Deferred[None]:
        self.sink.arrived(self.mail_from, self.rcpt, b"".join(x + b"\r\n" for x in self.lines))
        return defer.succeed(None)

    def connectionLost(self) -> None:
        pass


@implementer(smtp.IMessageDelivery)
class _Delivery:
    def __init__(self, sink: Sink) -> None:
        self.sink, self.origin = sink, ""

    def receivedHeader(self, helo: Any, origin: Any, recipients: Any) -> None:
        return None

    def validateFrom(self, helo: Any, origin: Any) -> Any:
        self.origin = str(origin)
        return origin

    def validateTo(self, user: Any) -> Any:
        origin, rcpt = self.origin, str(user.dest)
        return lambda: _Message(self.sink, origin, rcpt)


class Sink(protocol.ServerFactory):
    """A tiny SMTP server collecting what it is sent (one ``Received`` per transaction)."""

    def __init__(self) -> None:
        self.queue: defer.DeferredQueue[Received] = defer.DeferredQueue()
        self._last: Received | None = None

    def buildProtocol(self, addr: Any) -> smtp.ESMTP:
        server = smtp.ESMTP()
        server.host = b"sink.test"
        server.delivery = _Delivery(self)
        server.factory = self
        return server

    def arrived(self, mail_from: str, rcpt: str, data: bytes) -> None:
        last = self._last
        if (last is not None and last.data is data) or (
            last is not None and last.data == data and last.mail_from == mail_from
            and rcpt not in last.rcpt_to
        ):
            last.rcpt_to.append(rcpt)  # another recipient of the same transaction
            return
        self._last = Received(mail_from, [rcpt], data)
        self.queue.put(self._last)


# -- the environment ---------------------------------------------------------------------------


@dataclass
class World:
    env: MailEnv
    hook: SieveDelivery
    lmtp: Listening
    sink: Sink
    sieve_port: int
    ca_file: Path
    ports: list[Any]


@pytest.fixture
def world(tmp_path: Path, reactor_thread: Any) -> Iterator[World]:
    reactor = reactor_thread.reactor
    env = make_env(tmp_path / "store")
    sink = Sink()
    sink_port = reactor_thread.call(reactor.listenTCP, 0, sink, interface="127.0.0.1")
    settings = SubmissionSettings(
        relay=f"tcp:127.0.0.1:{sink_port.getHost().port}", hostname="mx.test", timeout=30
    )
    hook = SieveDelivery(env.accounts, env.store, SieveFilter(), Outgoing(settings))
    env.delivery.filter = hook
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert, key, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    context = server_context(cert, key, data_dir=tmp_path, hostname="localhost")
    authenticator = Authenticator(env.accounts, clock=reactor, base_delay=0.01)
    factory = managesieve_factory(env.accounts, authenticator, context, ManageSieveSettings())
    sieve_port = reactor_thread.call(reactor.listenTCP, 0, factory, interface="127.0.0.1")
    lmtp = reactor_thread.run(listen, env, tmp_path / "lmtp.sock")
    yield World(env, hook, lmtp, sink, sieve_port.getHost().port, ca_file,
                [sink_port, sieve_port])  # fmt: skip
    reactor_thread.run(hook.idle)
    reactor_thread.run(lmtp.stop)
    for port in (sink_port, sieve_port):
        reactor_thread.call(port.stopListening)
    reactor_thread.run(env.store.close)


def upload_with_sievelib(world: World, user: str, name: str, script: str) -> None:
    client_context = ssl.create_default_context(cafile=str(world.ca_file))
    original = sievelib_ms.ssllib.create_default_context
    sievelib_ms.ssllib.create_default_context = lambda: client_context
    try:
        client = sievelib_ms.Client("localhost", world.sieve_port)
        assert client.connect(user, "pw", starttls=True, authmech="PLAIN")
        assert client.putscript(name, script), client.errmsg
        assert client.setactive(name)
        client.logout()
    finally:
        sievelib_ms.ssllib.create_default_context = original


def upload_with_sieve_connect(world: World, user: str, local: Path) -> None:
    if shutil.which("sieve-connect") is None:
        pytest.skip("sieve-connect missing")
    for action in (["--upload", "--localsieve", str(local)], ["--activate"]):
        read_fd, write_fd = os.pipe()
        os.write(write_fd, b"pw\n")
        os.close(write_fd)
        try:
            done = subprocess.run(
                ["sieve-connect", "--server", "localhost", "--port", str(world.sieve_port),
                 "--4", "--user", user, "--passwordfd", str(read_fd), "--tlscafile",
                 str(world.ca_file), "--authmech", "PLAIN", "--noclearauth",
                 "--remotesieve", "main", *action],
                capture_output=True, text=True, timeout=60, check=False, pass_fds=(read_fd,),
            )  # fmt: skip
        finally:
            os.close(read_fd)
        assert done.returncode == 0, done.stdout + done.stderr


def lmtp_send(world: World, mail_from: str, rcpts: list[str], message: bytes) -> list[bytes]:
    """One LMTP transaction over TCP; the per-recipient replies after DATA (RFC 2033 4.2)."""
    with socket.create_connection(("127.0.0.1", world.lmtp.tcp_port), timeout=60) as sock:
        replies = sock.makefile("rb")

        def reply() -> bytes:
            lines = []
            while True:
                line = replies.readline()
                assert line, "server closed the connection"
                lines.append(line)
                if line[3:4] != b"-":
                    return b"".join(lines)

        assert reply().startswith(b"220")
        sock.sendall(b"LHLO client.test\r\n")
        assert reply().startswith(b"250")
        sock.sendall(f"MAIL FROM:<{mail_from}>\r\n".encode())
        assert reply().startswith(b"250")
        for rcpt in rcpts:
            sock.sendall(f"RCPT TO:<{rcpt}>\r\n".encode())
            assert reply().startswith(b"250")
        sock.sendall(b"DATA\r\n")
        assert reply().startswith(b"354")
        stuffed = message.replace(b"\r\n.", b"\r\n..")
        sock.sendall(stuffed + b".\r\n")
        results = [reply() for _ in rcpts]
        sock.sendall(b"QUIT\r\n")
        return results


def mail(subject: str, *, sender: str = "friend@example.com", to: str = "alice@lmtp.test",
         extra: str = "", body: bytes = b"Hello.\r\n") -> bytes:
    head = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{abs(hash((subject, extra, len(body))))}@example.com>\r\n{extra}\r\n")
    return head.encode() + body


async def flags_of(env: MailEnv, user: str, mailbox: str) -> list[frozenset[str]]:
    account = await env.store.account(user)
    box = await account.open_mailbox(mailbox)
    snapshot = await box.snapshot()
    return [frozenset(info.flags) for info in snapshot.messages]


async def next_sent(sink: Sink) -> Received:
    from twisted.internet import reactor

    got = sink.queue.get()
    got.addTimeout(60, reactor)
    return await got


# -- the tests ---------------------------------------------------------------------------------

FILING = b"""require ["fileinto", "imap4flags", "mailbox", "ereject"];
if address :is "from" "boss@example.com" {
  fileinto :create :flags "\\\\Flagged" "Boss";
} elsif header :contains "subject" "lottery" {
  ereject "No lotteries here.";
} elsif header :contains "subject" "junk" {
  discard;
}
"""


def test_sieve_connect_script_files_flags_and_erejects(world: World, tmp_path: Path,
                                                       reactor_thread: Any) -> None:
    local = tmp_path / "main.sieve"
    local.write_bytes(FILING)
    upload_with_sieve_connect(world, "alice", local)

    boss = mail("Budget", sender="boss@example.com")
    assert lmtp_send(world, "boss@example.com", ["alice@lmtp.test"], boss) == [
        b"250 2.0.0 <alice@lmtp.test> Saved\r\n"
    ]
    replies = lmtp_send(world, "spam@example.net", ["alice@lmtp.test", "bob@lmtp.test"],
                        mail("You won the lottery"))  # fmt: skip
    assert replies == [
        b"550 5.7.1 <alice@lmtp.test> No lotteries here.\r\n",
        b"250 2.0.0 <bob@lmtp.test> Saved\r\n",  # bob has no script
    ]
    assert lmtp_send(world, "x@example.net", ["alice@lmtp.test"], mail("junk")) == [
        b"250 2.0.0 <alice@lmtp.test> Saved\r\n"
    ]
    assert lmtp_send(world, "x@example.net", ["alice@lmtp.test"], mail("plain")) == [
        b"250 2.0.0 <alice@lmtp.test> Saved\r\n"
    ]

    env = world.env
    (filed,) = reactor_thread.run(read_mailbox, env, "alice", "Boss")
    assert b"Subject: Budget\r\n" in filed
    assert reactor_thread.run(flags_of, env, "alice", "Boss") == [frozenset({"\\Flagged"})]
    inbox = reactor_thread.run(read_mailbox, env, "alice")
    assert [b"Subject: plain\r\n" in m for m in inbox] == [True]  # lottery refused, junk gone
    assert len(reactor_thread.run(read_mailbox, env, "bob")) == 1


REPLYING = """require ["vacation", "copy", "reject"];
if header :contains "subject" "reject me" {
  reject "Not interested.";
  stop;
}
if header :contains "subject" "forward" {
  redirect :copy "archive@elsewhere.test";
}
vacation :days 1 :subject "Away" "I am away until Monday.";
"""


def test_sievelib_script_redirects_answers_and_rejects(world: World, reactor_thread: Any) -> None:
    upload_with_sievelib(world, "alice", "replying", REPLYING)
    env, sink = world.env, world.sink

    message = mail("please forward", sender="friend@example.com")
    assert lmtp_send(world, "friend@example.com", ["alice@lmtp.test"], message) == [
        b"250 2.0.0 <alice@lmtp.test> Saved\r\n"
    ]
    redirected = reactor_thread.run(next_sent, sink)
    assert redirected.rcpt_to == ["archive@elsewhere.test"]
    assert redirected.mail_from == "friend@example.com"  # the original envelope sender
    assert redirected.data == b"Delivered-To: alice@lmtp.test\r\n" + message
    reply = reactor_thread.run(next_sent, sink)
    assert reply.mail_from == "" and reply.rcpt_to == ["friend@example.com"]
    assert b"Subject: Away\r\n" in reply.data
    assert b"Auto-Submitted: auto-replied\r\n" in reply.data
    assert b"In-Reply-To: <" in reply.data and b"I am away until Monday.\r\n" in reply.data
    assert len(reactor_thread.run(read_mailbox, env, "alice")) == 1  # :copy kept it

    # the same sender again: answered once per :days (RFC 5230 4.2)
    reactor_thread.run(world.hook.idle)
    lmtp_send(world, "friend@example.com", ["alice@lmtp.test"], mail("second"))
    # bulk mail and an empty return path are never answered (RFC 3834 2)
    lmtp_send(world, "news@example.org", ["alice@lmtp.test"],
              mail("news", sender="news@example.org", extra="Precedence: bulk\r\n"))
    lmtp_send(world, "", ["alice@lmtp.test"], mail("bounce", sender="mailer-daemon@x.test"))
    reactor_thread.run(world.hook.idle)
    assert sink.queue.pending == []

    refused = lmtp_send(world, "pest@example.com", ["alice@lmtp.test"], mail("reject me"))
    assert refused == [b"550 5.7.1 <alice@lmtp.test> Not interested.\r\n"]
    assert len(reactor_thread.run(read_mailbox, env, "alice")) == 4


def test_redirect_loop_and_large_message(world: World, reactor_thread: Any) -> None:
    upload_with_sievelib(world, "bob", "fwd", 'redirect "bob@elsewhere.test";\r\n')
    env, sink = world.env, world.sink

    # already delivered to bob once: not redirected again, and kept rather than lost
    looped = mail("loop", to="bob@lmtp.test", extra="Delivered-To: bob@lmtp.test\r\n")
    assert lmtp_send(world, "a@example.com", ["bob@lmtp.test"], looped) == [
        b"250 2.0.0 <bob@lmtp.test> Saved\r\n"
    ]
    assert len(reactor_thread.run(read_mailbox, env, "bob")) == 1

    # over the filter's 1 MiB view: kept, and redirected whole from the stored copy
    body = b"".join(b"line %07d of a long message\r\n" % i for i in range(60_000))
    big = mail("big", to="bob@lmtp.test", body=body)
    assert len(big) > 1 << 20
    assert lmtp_send(world, "a@example.com", ["bob@lmtp.test"], big) == [
        b"250 2.0.0 <bob@lmtp.test> Saved\r\n"
    ]
    sent = reactor_thread.run(next_sent, sink)
    assert sent.rcpt_to == ["bob@elsewhere.test"]
    assert sent.data == b"Delivered-To: bob@lmtp.test\r\n" + big
    assert len(reactor_thread.run(read_mailbox, env, "bob")) == 2

    # a small message is redirected, not kept
    assert lmtp_send(world, "a@example.com", ["bob@lmtp.test"], mail("small")) == [
        b"250 2.0.0 <bob@lmtp.test> Saved\r\n"
    ]
    assert reactor_thread.run(next_sent, sink).rcpt_to == ["bob@elsewhere.test"]
    assert len(reactor_thread.run(read_mailbox, env, "bob")) == 2


def test_redirect_kept_when_the_relay_is_down(world: World, reactor_thread: Any) -> None:
    upload_with_sievelib(world, "carol", "fwd", 'redirect "carol@elsewhere.test";\r\n')
    reactor_thread.call(world.ports[0].stopListening)  # the sink goes away
    assert lmtp_send(world, "a@example.com", ["carol@lmtp.test"],
                     mail("unsent", to="carol@lmtp.test")) == [
        b"250 2.0.0 <carol@lmtp.test> Saved\r\n"
    ]  # fmt: skip
    (kept,) = reactor_thread.run(read_mailbox, world.env, "carol")
    assert b"Subject: unsent\r\n" in kept
