"""The Twisted edge of ManageSieve (RFC 5804): moves bytes between a transport and the session.

Commands are answered strictly in order, one at a time; while more than a few framed
commands wait, reading is paused so a pipelining client cannot make us buffer without
bound. STARTTLS goes through ``protocols.starttls.start_tls`` (the one helper), which
calls :meth:`ManageSieveProtocol.clearLineBuffer` to drop everything received before TLS.
"""

from __future__ import annotations

from collections import deque
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from protocols.managesieve.framing import FramerEvent
from protocols.managesieve.responses import Response, Status
from protocols.managesieve.session import (
    Close,
    ManageSieveSession,
    ManageSieveSettings,
    Output,
    Send,
    SessionServices,
    StartTls,
)
from protocols.sockets import send_promptly
from protocols.starttls import start_tls
from protocols.tls import is_secure

__all__ = ["ManageSieveFactory", "ManageSieveProtocol"]

log = Logger()

_MAX_QUEUED = 8


def _global_reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class ManageSieveProtocol(Protocol):
    """One ManageSieve connection."""

    def __init__(
        self,
        settings: ManageSieveSettings,
        services: SessionServices,
        tls_context: object | None,
        *,
        clock: Any = None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.tls_context = tls_context
        self.session: ManageSieveSession | None = None
        self._clock: Any = clock if clock is not None else _global_reactor()
        self._queue: deque[FramerEvent] = deque()
        self._busy = False
        self._pumping = False
        self._paused = False
        self._closed = False
        self._timer: Any = None

    @property
    def _io(self) -> Any:
        return self.transport

    def connectionMade(self) -> None:
        """Send the capability greeting (RFC 5804 §1.7) and start the idle timer."""
        send_promptly(self._io)
        peer = self._io.getPeer()
        self.session = ManageSieveSession(
            self.settings,
            self.services,
            peer=str(getattr(peer, "host", peer)),
            secure=is_secure(self.transport),
            tls_available=self.tls_context is not None,
        )
        self._timer = self._clock.callLater(self.settings.idle_timeout, self._timed_out)
        self._perform(self.session.greeting())

    def dataReceived(self, data: bytes) -> None:
        """Frame input and answer the commands it completes, in order."""
        if self.session is None or self._closed:
            return
        if self._timer is not None and self._timer.active():
            self._timer.reset(self.settings.idle_timeout)
        self._queue.extend(self.session.feed(data))
        if len(self._queue) > _MAX_QUEUED and not self._paused:
            self._paused = True
            self._io.pauseProducing()
        self._pump()

    def clearLineBuffer(self) -> bytes:
        """Drop all input not yet answered (for ``start_tls``); what was dropped."""
        self._queue.clear()
        return self.session.clear_input() if self.session is not None else b""

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Forget queued input and stop the timer."""
        self._closed = True
        self._queue.clear()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    def _timed_out(self) -> None:
        log.info("managesieve idle timeout, closing")
        self._perform([Send(Response(Status.BYE, "Idle timeout").encode()), Close()])

    def _pump(self) -> None:
        if self._pumping:
            return
        self._pumping = True
        try:
            while not self._busy and self._queue and not self._closed:
                assert self.session is not None
                event = self._queue.popleft()
                self._busy = True
                d = Deferred.fromCoroutine(self.session.handle(event))
                d.addCallbacks(self._done, self._failed)
        finally:
            self._pumping = False
        if self._paused and len(self._queue) <= _MAX_QUEUED // 2 and not self._closed:
            self._paused = False
            self._io.resumeProducing()

    def _done(self, outputs: list[Output]) -> None:
        self._busy = False
        self._perform(outputs)
        self._pump()

    def _failed(self, failure: Failure) -> None:
        self._busy = False
        log.failure("managesieve session error", failure)
        self._perform([Send(Response(Status.BYE, "Internal error").encode()), Close()])

    def _perform(self, outputs: list[Output]) -> None:
        for output in outputs:
            if self._closed:
                return
            if isinstance(output, Send):
                self._io.write(output.data)
            elif isinstance(output, StartTls):
                self._start_tls()
            elif isinstance(output, Close):
                self._closed = True
                self._queue.clear()
                self._io.loseConnection()

    def _start_tls(self) -> None:
        assert self.session is not None
        start_tls(cast(LineReceiver, self), self.tls_context)
        self._perform(self.session.tls_started())


class ManageSieveFactory(ServerFactory):
    """Builds a :class:`ManageSieveProtocol` per connection."""

    def __init__(
        self,
        settings: ManageSieveSettings,
        services: SessionServices,
        tls_context: object | None,
        *,
        clock: Any = None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.tls_context = tls_context
        self.clock = clock

    def buildProtocol(self, addr: Any) -> ManageSieveProtocol:
        """A protocol sharing the factory's settings and services."""
        protocol = ManageSieveProtocol(
            self.settings, self.services, self.tls_context, clock=self.clock
        )
        protocol.factory = self
        return protocol
