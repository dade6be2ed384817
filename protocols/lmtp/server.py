"""The Twisted edge of LMTP: a Protocol that owns the transport and runs the session's actions.

The session (``protocols.lmtp.session``) decides everything; this module only moves bytes,
calls the ``DeliveryAgent``, pauses reading while an answer is awaited (so a pipelining
client cannot make us buffer without bound), enforces the idle timeout and logs one line
per recipient (queue id, sender, recipient, size, mailbox, result, milliseconds; never a
header or the body). Reads are not line-based (no ``LineReceiver``): the session frames
lines itself with ``LmtpSettings.max_line_length`` and streams DATA without lines at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger
from twisted.python.failure import Failure

from mailstore.api import SpoolWriter
from mailstore.delivery import (
    DeliveryAgent,
    DeliveryResult,
    RecipientCheck,
    RecipientStatus,
)
from mailstore.errors import StoreErrorKind
from mailstore.types import StagedMessage
from protocols.lmtp.actions import (
    AbortSpool,
    Accepted,
    Action,
    CheckRecipient,
    Close,
    Deliver,
    OpenSpool,
    Send,
    WriteSpool,
)
from protocols.lmtp.session import LmtpSession, new_queue_id
from protocols.lmtp.settings import LmtpSettings
from protocols.sockets import send_promptly

log = Logger()
PAUSE_BACKLOG = 64 * 1024
"""Octets a client may send ahead while an agent call is pending before reading stops."""


def _global_reactor() -> Any:
    from twisted.internet import reactor  # not installed at import time

    return reactor
_TEMPORARY = DeliveryResult(ok=False, mailbox=None, uid=None, error=StoreErrorKind.TEMPORARY)


class LmtpProtocol(Protocol):
    """One LMTP connection (RFC 2033) over any stream transport (TCP or a unix socket)."""

    def __init__(
        self,
        delivery: DeliveryAgent,
        settings: LmtpSettings,
        *,
        clock: Any = None,
        new_id: Callable[[], str] = new_queue_id,
    ) -> None:
        """``clock`` is an ``IReactorTime`` (the global reactor when None)."""
        self.delivery = delivery
        self.settings = settings
        self.session: LmtpSession | None = None
        self._clock: Any = clock if clock is not None else _global_reactor()
        self._new_id = new_id
        self._writer: SpoolWriter | None = None
        self._lost = False
        self._timer: Any = None
        self._paused = False

    @property
    def _io(self) -> Any:
        """The transport (typed loosely: Twisted's interfaces are not mypy-friendly)."""
        return self.transport

    def _now(self) -> float:
        return float(self._clock.seconds())

    def setTimeout(self, seconds: float | None) -> None:
        """(Re)start the idle timer, or stop it with None."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if seconds is not None and not self._lost:
            self._timer = self._clock.callLater(seconds, self.timeoutConnection)

    def resetTimeout(self) -> None:
        """Input arrived: the idle period starts again."""
        if self._timer is not None and self._timer.active():
            self._timer.reset(self.settings.idle_timeout)

    def connectionMade(self) -> None:
        """Greet and start the idle timer."""
        send_promptly(self._io)
        peer = self._io.getPeer()
        is_ip = isinstance(peer, IPv4Address | IPv6Address)
        address = f"[{peer.host}]" if is_ip else "unix socket"
        self.session = LmtpSession(self.settings, address, new_id=self._new_id)
        self.setTimeout(self.settings.idle_timeout)
        log.debug("lmtp connection from {peer}", peer=address)
        self._perform(self.session.start())

    def dataReceived(self, data: bytes) -> None:
        """Feed the session; the idle timer restarts on any input."""
        if self.session is None:
            return
        self.resetTimeout()
        self._perform(self.session.receive(data))
        session = self.session
        if session.waiting and session.backlog > PAUSE_BACKLOG and not self._paused:
            self._paused = True
            self._io.pauseProducing()

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Abort a half-received message: no temp file may remain."""
        self._lost = True
        self.setTimeout(None)
        if self.session is not None:
            self._perform(self.session.connection_lost())
        if self._writer is not None:
            self._writer.abort()
            self._writer = None

    def timeoutConnection(self) -> None:
        """Idle too long (``LmtpSettings.idle_timeout``): 421 and close."""
        if self.session is not None:
            log.info("lmtp idle timeout, closing")
            self._perform(self.session.timed_out())

    def _perform(self, actions: list[Action]) -> None:
        out: list[bytes] = []
        for action in actions:
            if isinstance(action, Send):
                out.append(action.data)
                continue
            self._write(out)
            out = []
            self._act(action)
        self._write(out)

    def _write(self, out: list[bytes]) -> None:
        if out and not self._lost and self._io is not None:
            self._io.writeSequence(out)

    def _act(self, action: Action) -> None:
        match action:
            case OpenSpool():
                self._writer = self.delivery.spool()
            case WriteSpool(data=data):
                if self._writer is not None:
                    self._writer.write(data)
            case AbortSpool():
                if self._writer is not None:
                    self._writer.abort()
                    self._writer = None
            case Close():
                if self._io is not None:
                    self._io.loseConnection()
            case CheckRecipient():
                self._await(self._check(action), self._checked)
            case Deliver():
                self._await(self._deliver(action), self._delivered)

    def _await(self, coroutine: Any, then: Any) -> None:
        """Run an agent call with the idle timer stopped until it answers.

        Reading goes on: the session keeps what arrives meanwhile (a pipelining client
        has usually sent it already), and ``dataReceived`` stops reading only once that
        backlog passes ``PAUSE_BACKLOG`` — pausing on every call cost two ``epoll_ctl``
        per agent call, a tenth of the reactor's time per delivery.
        """
        self.setTimeout(None)
        deferred = defer.Deferred.fromCoroutine(coroutine)
        deferred.addCallback(then)
        deferred.addErrback(lambda failure: log.failure("lmtp driver error", failure))

    def _resume(self) -> bool:
        if self._lost:
            return False
        self.setTimeout(self.settings.idle_timeout)
        if self._paused and self._io is not None:
            self._paused = False
            self._io.resumeProducing()
        return True

    def _checked(self, check: RecipientCheck) -> None:
        if self._resume() and self.session is not None:
            self._perform(self.session.recipient_checked(check))

    def _delivered(self, results: list[DeliveryResult]) -> None:
        if self._resume() and self.session is not None:
            self._perform(self.session.delivered(results))

    async def _check(self, action: CheckRecipient) -> RecipientCheck:
        try:
            return await self.delivery.check_recipient(action.address, action.size_hint)
        except Exception:  # noqa: BLE001 - any agent failure is a tempfail, logged
            log.failure("lmtp recipient check failed for <{rcpt}>", rcpt=action.address)
            return RecipientCheck(RecipientStatus.TEMPORARY_FAILURE, None)

    async def _deliver(self, action: Deliver) -> list[DeliveryResult]:
        writer, self._writer = self._writer, None
        started = self._now()
        if writer is None:
            return [_TEMPORARY for _ in action.recipients]
        try:
            staged = await writer.finish()
        except Exception:  # noqa: BLE001 - any agent failure is a tempfail, logged
            log.failure("lmtp spool finish failed, queue id {qid}", qid=action.envelope.queue_id)
            results = [_TEMPORARY for _ in action.recipients]
        else:
            try:
                calls = [
                    defer.Deferred.fromCoroutine(self._deliver_one(staged, action, accepted))
                    for accepted in action.recipients
                ]
                results = await defer.gatherResults(calls)
            finally:
                self.delivery.discard(staged)
        self._log(action, results, started)
        return results

    async def _deliver_one(
        self, staged: StagedMessage, action: Deliver, accepted: Accepted
    ) -> DeliveryResult:
        check = accepted.check
        if check.recipient is None:
            return _TEMPORARY
        result = _TEMPORARY
        for recipient in (check.recipient, *check.also):  # an alias may name several users
            try:
                result = await self.delivery.deliver(staged, action.envelope, recipient)
            except Exception:  # noqa: BLE001 - any agent failure is a tempfail, logged
                log.failure("lmtp delivery to <{rcpt}> failed", rcpt=accepted.address)
                return _TEMPORARY
            if not result.ok:
                return result
        return result

    def _log(self, action: Deliver, results: list[DeliveryResult], started: float) -> None:
        ms = round((self._now() - started) * 1000, 1)
        for accepted, result in zip(action.recipients, results, strict=True):
            outcome = "duplicate" if result.duplicate else "ok" if result.ok else "failed"
            log.info(
                "lmtp delivery qid={qid} from=<{sender}> to=<{rcpt}> size={size} "
                "mailbox={mailbox} result={result} error={error} ms={ms} long_lines={long}",
                qid=action.envelope.queue_id,
                sender=action.envelope.mail_from,
                rcpt=accepted.address,
                size=action.size,
                mailbox=result.mailbox,
                result=outcome,
                error=result.error.value if result.error else None,
                ms=ms,
                long=action.line_too_long,
            )


class LmtpFactory(ServerFactory):
    """Builds one ``LmtpProtocol`` per connection, all sharing one ``DeliveryAgent``."""

    def __init__(
        self, delivery: DeliveryAgent, settings: LmtpSettings, clock: Any = None
    ) -> None:
        self.delivery = delivery
        self.settings = settings
        self.clock = clock

    def buildProtocol(self, addr: Any) -> LmtpProtocol:
        """A protocol for a new connection."""
        protocol = LmtpProtocol(self.delivery, self.settings, clock=self.clock)
        protocol.factory = self
        return protocol


def build_factory(delivery: DeliveryAgent, settings: LmtpSettings) -> ServerFactory:
    """The factory the app shell listens with, on TCP and unix endpoints alike."""
    return LmtpFactory(delivery, settings)
