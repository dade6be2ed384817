"""LmtpProtocol's own duties: timeouts, pausing while the agent works, envelope, logging."""

from __future__ import annotations

from typing import cast

from twisted.internet import defer
from twisted.internet.address import UNIXAddress
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import ServerFactory
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from mailstore.delivery import RecipientCheck
from protocols.lmtp import LmtpProtocol, LmtpSettings, build_factory
from protocols.lmtp.server import PAUSE_BACKLOG

from .fakes import FakeAgent
from .test_transcripts import connect

SETTINGS = LmtpSettings(hostname="mx.test", max_message_size=10**7, idle_timeout=60.0)
START = b"LHLO c\r\nMAIL FROM:<s@example.org> BODY=8BITMIME\r\nRCPT TO:<alice@example.com>\r\n"


class SlowAgent(FakeAgent):
    """check_recipient waits for the test to fire ``gate``."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: defer.Deferred[None] = defer.Deferred()

    async def check_recipient(self, address: str, size_hint: int | None) -> RecipientCheck:
        await self.gate
        return await super().check_recipient(address, size_hint)


def test_idle_timeout_closes_with_421() -> None:
    protocol, transport, clock = connect(SETTINGS, FakeAgent())
    clock.advance(59)
    protocol.dataReceived(b"NOOP\r\n")
    clock.advance(59)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.value().endswith(b"421 4.4.2 Idle timeout, closing connection\r\n")
    assert transport.disconnecting


def test_idle_timeout_mid_data_aborts_spool() -> None:
    agent = FakeAgent()
    protocol, transport, clock = connect(SETTINGS, agent)
    protocol.dataReceived(START + b"DATA\r\nSubject: x\r\n")
    clock.advance(61)
    assert transport.disconnecting
    assert [w.state for w in agent.writers] == ["aborted"]
    protocol.connectionLost(Failure(ConnectionLost()))
    assert agent.deliveries == []


def test_input_kept_while_agent_works_and_order_kept() -> None:
    agent = SlowAgent()
    protocol, transport, clock = connect(SETTINGS, agent)
    protocol.dataReceived(START + b"RCPT TO:<bob@example.com>\r\nNOOP\r\n")
    assert transport.producerState == "producing"  # a small backlog: reading goes on
    clock.advance(SETTINGS.idle_timeout * 2)  # no idle timeout while the agent works
    assert not transport.disconnecting
    agent.gate.callback(None)
    assert transport.producerState == "producing"
    lines = transport.value().split(b"\r\n")
    assert lines[-5:] == [b"250 2.1.0 Sender OK", b"250 2.1.5 Recipient OK",
                          b"250 2.1.5 Recipient OK", b"250 2.0.0 OK", b""]


def test_reading_paused_when_backlog_grows_while_agent_works() -> None:
    agent = SlowAgent()
    protocol, transport, _clock = connect(SETTINGS, agent)
    protocol.dataReceived(START)
    assert transport.producerState == "producing"
    flood = b"NOOP\r\n" * (PAUSE_BACKLOG // 6 + 1)
    protocol.dataReceived(flood)
    assert transport.producerState == "paused"
    agent.gate.callback(None)
    assert transport.producerState == "producing"
    replies = transport.value().split(b"\r\n")
    assert replies.count(b"250 2.0.0 OK") == PAUSE_BACKLOG // 6 + 1  # every NOOP answered


def test_disconnect_while_checking_writes_nothing_more() -> None:
    agent = SlowAgent()
    protocol, transport, _clock = connect(SETTINGS, agent)
    protocol.dataReceived(START)
    before = transport.value()
    protocol.connectionLost(Failure(ConnectionLost()))
    agent.gate.callback(None)
    assert transport.value() == before


def test_envelope_and_streaming_of_a_large_message() -> None:
    agent = FakeAgent()
    protocol, transport, _clock = connect(SETTINGS, agent)
    protocol.dataReceived(START + b"DATA\r\n")
    body = b"Message-ID: <big@example.org>\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2000
    for index in range(0, len(body), 4096):
        protocol.dataReceived(body[index : index + 4096])
    assert len(agent.writers[0].data) >= len(body) - 5  # streamed; only a tail held back
    protocol.dataReceived(b".\r\n")
    assert transport.value().endswith(b"250 2.0.0 <alice@example.com> Saved\r\n")
    (delivery,) = agent.deliveries
    assert delivery.body == body
    env = delivery.envelope
    assert (env.mail_from, env.client_helo, env.client_address, env.queue_id) == (
        "s@example.org", "c", "[192.0.2.7]", "Q1")
    assert env.body_8bit and not env.smtputf8
    assert env.message_id == "<big@example.org>"
    assert agent.discarded == ["t0"]


def test_spool_finish_failure_tempfails_every_recipient() -> None:
    agent = FakeAgent(fail_finish=True)
    protocol, transport, _clock = connect(SETTINGS, agent)
    protocol.dataReceived(START + b"RCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n")
    assert transport.value().endswith(
        b"451 4.3.0 <alice@example.com> Temporary failure, try again later\r\n"
        b"451 4.3.0 <bob@example.com> Temporary failure, try again later\r\n")


def test_unix_socket_peer() -> None:
    agent = FakeAgent()
    protocol = LmtpProtocol(agent, SETTINGS)
    transport = StringTransport(peerAddress=UNIXAddress(None))
    protocol.makeConnection(transport)
    protocol.dataReceived(START + b"DATA\r\nx\r\n.\r\nQUIT\r\n")
    assert agent.deliveries[0].envelope.client_address == "unix socket"
    assert transport.disconnecting


def test_build_factory() -> None:
    factory = build_factory(FakeAgent(), SETTINGS)
    assert isinstance(factory, ServerFactory)
    assert isinstance(factory.buildProtocol(None), LmtpProtocol)


def test_log_names_the_delivery_but_not_the_content() -> None:
    events: list[LogEvent] = []
    observer = cast(ILogObserver, events.append)
    globalLogPublisher.addObserver(observer)
    try:
        agent = FakeAgent()
        protocol, _transport, _clock = connect(SETTINGS, agent)
        protocol.dataReceived(START + b"DATA\r\nSubject: secret plans\r\n\r\nbody text\r\n.\r\n")
    finally:
        globalLogPublisher.removeObserver(observer)
    text = "\n".join(formatEvent(e) for e in events)
    assert "qid=Q1" in text and "to=<alice@example.com>" in text and "result=ok" in text
    assert "from=<s@example.org>" in text and "mailbox=INBOX" in text and "ms=" in text
    assert "secret" not in text and "body text" not in text
