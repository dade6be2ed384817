"""The Twisted edge of IMAP: moves bytes between one transport and one ``ImapSession``.

It owns what only the transport knows: the framer's input buffer, the queue of framed
events (handled strictly one at a time; reading pauses while too many wait), the decision
to send ``+`` for a synchronising literal (once the commands queued before it ran, so a
pipelined LOGIN counts; the framer waits for it), write back-pressure (it registers
itself as the transport's push producer, so streaming a big body waits while the socket is
full), timeouts (pre-authentication and autologout, RFC 3501 5.4), and STARTTLS through
``protocols.starttls.start_tls``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from mailstore.api import Store
from mailstore.errors import StoreError
from protocols.auth import Authenticator
from protocols.imap import commands as c
from protocols.imap.framing import Framer, LiteralTooLarge, NeedContinuation
from protocols.imap.grammar.writer import serialize_chunks
from protocols.imap.responses import Condition, ExternalLiteral, Response, StatusResponse
from protocols.imap.session import ImapSession, ImapSettings, SessionEvent, Wake
from protocols.sockets import send_promptly
from protocols.starttls import start_tls
from protocols.tls import is_secure, wrap_tls

__all__ = ["ImapFactory", "ImapProtocol", "ImapSettings", "build_factory"]

log = Logger()

_FLUSH_AT = 64 * 1024


def _global_reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class ImapProtocol(Protocol):
    """One IMAP connection (RFC 3501 2.2, 5.4, 5.5)."""

    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        tls_context: object | None,
        settings: ImapSettings,
        *,
        implicit_tls: bool = False,
        clock: Any = None,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.tls_context = tls_context
        self.settings = settings
        self.implicit_tls = implicit_tls
        self._clock: Any = clock if clock is not None else _global_reactor()
        self.framer = Framer(
            max_line=settings.max_line,
            max_literal=settings.max_literal,
            chunk_threshold=settings.stream_literal_at,
        )
        self.session: ImapSession | None = None
        self._queue: deque[SessionEvent] = deque()
        self._busy = False
        self._pumping = False
        self._paused_input = False
        self._write_paused: Deferred[None] | None = None
        self._closed = False
        self._timer: Any = None

    @property
    def _io(self) -> Any:
        return self.transport

    # -- connection ----------------------------------------------------------------------

    def connectionMade(self) -> None:
        """Greet with ``* OK [CAPABILITY ...]`` (RFC 3501 7.1.1) and start the timer."""
        send_promptly(self._io)
        peer = self._io.getPeer()
        self.session = ImapSession(
            self.store,
            self.authenticator,
            self.settings,
            self,
            peer=str(getattr(peer, "host", peer)),
            tls_available=self.tls_context is not None and not self.implicit_tls,
        )
        self.session.wake = self._wake
        self._io.registerProducer(self, True)
        self._timer = self._clock.callLater(self.settings.preauth_timeout, self._timed_out)
        self._io.write(b"".join(_plain(serialize_chunks(self.session.greeting()))))

    def dataReceived(self, data: bytes) -> None:
        """Frame input; queue events; answer literal announcements at once."""
        if self.session is None or self._closed:
            return
        self._touch()
        self.framer.receive_data(data)
        self._frame()
        if len(self._queue) > self.settings.max_queued and not self._paused_input:
            self._paused_input = True
            self._io.pauseProducing()
        self._pump()

    def _frame(self) -> None:
        """Queue framed events. A ``{n}`` announcement is decided at once only when nothing
        is queued before it: behind a pipelined LOGIN it waits for its turn in ``_pump``."""
        while (event := self.framer.next_event()) is not None:
            if isinstance(event, NeedContinuation) and not self._busy and not self._queue:
                self._decide_literal(event)
            else:
                self._queue.append(event)

    def _decide_literal(self, event: NeedContinuation) -> None:
        assert self.session is not None
        if self.session.accept_literal(event):
            self.framer.accept_literal()
            self._io.write(b"+ Ready for literal data\r\n")
        else:
            self.framer.reject_literal()
            self._queue.appendleft(LiteralTooLarge(event.tag, event.size, True))

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Release the session's resources and stop timers."""
        self._closed = True
        self._queue.clear()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if self.session is not None:
            self.session.connection_lost()
        self._release_writer()

    def clearLineBuffer(self) -> bytes:
        """Drop all unanswered input (``start_tls`` calls this); a stand-in for its size."""
        dropped = self.framer.buffered + len(self._queue)
        self.framer.clear()
        self._queue.clear()
        return b"\0" * dropped

    # -- timers --------------------------------------------------------------------------

    def _touch(self) -> None:
        if self._timer is None or not self._timer.active() or self.session is None:
            return
        if self.session.state is c.SessionState.NOT_AUTHENTICATED:
            return  # the pre-auth deadline is not extended by traffic
        self._timer.reset(self.settings.idle_timeout)

    def _timed_out(self) -> None:
        if self.session is not None and self.session.state is c.SessionState.NOT_AUTHENTICATED:
            text = "Login timeout"
        elif self.session is not None and self.session.user is not None:
            # First expiry after login: switch to the idle timer unless already idle that long.
            text = "Autologout; idle for too long"
        else:
            text = "Timeout"
        log.info("imap timeout peer={peer} reason={reason}", peer=self._peer(), reason=text)
        self._io.write(b"* BYE " + text.encode() + b"\r\n")
        self.close()

    def _peer(self) -> str:
        return self.session.peer if self.session is not None else "?"

    # -- event pump ----------------------------------------------------------------------

    def _wake(self) -> None:
        if not self._closed and not any(isinstance(e, Wake) for e in self._queue):
            self._queue.append(Wake())
            self._pump()

    def _pump(self) -> None:
        # A loop, not recursion: events that complete synchronously (literal chunks, NOOPs)
        # call back into ``_pump`` via ``_done``; hundreds of them pipelined used to overflow
        # the stack (seen as ``NO [SERVERBUG]`` on a big pipelined APPEND).
        if self._pumping:
            return
        self._pumping = True
        try:
            while not self._busy and not self._closed and self._queue and self.session is not None:
                event = self._queue.popleft()
                if isinstance(event, NeedContinuation):
                    self._decide_literal(event)
                    self._frame()
                    continue
                self._busy = True
                was_auth = self.session.state
                d = Deferred.fromCoroutine(self.session.handle(event))
                d.addCallbacks(self._done, self._failed, callbackArgs=(was_auth,))
                if self._paused_input and len(self._queue) <= self.settings.max_queued // 2:
                    self._paused_input = False
                    self._io.resumeProducing()
        finally:
            self._pumping = False

    def _done(self, _result: object, was: c.SessionState) -> None:
        self._busy = False
        session = self.session
        if (
            session is not None
            and was is c.SessionState.NOT_AUTHENTICATED
            and session.state in c.AUTHENTICATED
            and self._timer is not None
            and self._timer.active()
        ):
            self._timer.reset(self.settings.idle_timeout)
        self._pump()

    def _failed(self, failure: Failure) -> None:
        self._busy = False
        log.failure("imap session error peer={peer}", failure, peer=self._peer())
        if not self._closed:
            self._io.write(b"* BYE Internal server error\r\n")
            self.close()

    # -- Output (what the session calls) -------------------------------------------------

    async def send(self, responses: list[Response]) -> None:
        """Serialize and write responses; stream external literals with back-pressure."""
        buf: list[bytes] = []
        size = 0
        for response in responses:
            for chunk in serialize_chunks(response):
                if isinstance(chunk, bytes):
                    buf.append(chunk)
                    size += len(chunk)
                    if size >= _FLUSH_AT:
                        await self._write(buf)
                        buf, size = [], 0
                    continue
                await self._write(buf)
                buf, size = [], 0
                await self._stream(chunk)
        await self._write(buf)

    async def _write(self, buf: list[bytes]) -> None:
        if self._closed or not buf:
            return
        self._io.write(b"".join(buf))
        if self._write_paused is not None:
            await self._write_paused

    async def _stream(self, literal: ExternalLiteral) -> None:
        """Write an announced literal's octets. If they cannot all be had (the message
        vanished meanwhile, a read failed) the connection is closed: the client counts
        octets, so nothing else may follow a short literal (RFC 2180 4.1.3)."""
        written = 0
        try:
            async for piece in cast(Any, literal.source).chunks():
                if self._closed:
                    return
                written += len(piece)
                await self._write([piece])
        except StoreError as exc:
            log.info(
                "literal source failed peer={peer} kind={kind}: closing",
                peer=self._peer(),
                kind=exc.kind.value,
            )
            self.close()
            return
        except Exception:  # noqa: BLE001 (a bug: log it; the stream cannot be resumed)
            log.failure("literal source failed peer={peer}: closing", peer=self._peer())
            self.close()
            return
        if written != literal.size and not self._closed:
            # The literal was announced with its size: the connection cannot recover.
            log.error("literal size mismatch peer={peer}", peer=self._peer())
            self.close()

    def start_tls(self) -> None:
        """STARTTLS: drop pipelined input, then the handshake (RFC 3501 6.2.1)."""
        start_tls(cast(LineReceiver, self), self.tls_context)

    def close(self) -> None:
        """Close once everything written is sent."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        # Twisted's TLS layer only shuts down once no producer is registered: without this a
        # LOGOUT over IMAPS/STARTTLS never closes the connection (mbsync waits forever).
        self._io.unregisterProducer()
        self._io.loseConnection()
        self._release_writer()

    def set_raw_lines(self, raw: bool) -> None:
        """Switch the framer to raw lines (IDLE, AUTHENTICATE) or back."""
        self.framer.set_line_mode(raw)

    def is_secure(self) -> bool:
        """Whether the transport is TLS now."""
        return is_secure(self.transport)

    # -- IPushProducer (the transport's write buffer) ------------------------------------

    def pauseProducing(self) -> None:
        """The transport's buffer is full: make ``send`` wait."""
        if self._write_paused is None:
            self._write_paused = Deferred()

    def resumeProducing(self) -> None:
        """The transport drained: let ``send`` continue."""
        self._release_writer()

    def stopProducing(self) -> None:
        """The connection is going away."""
        self._closed = True
        self._release_writer()

    def _release_writer(self) -> None:
        waiting, self._write_paused = self._write_paused, None
        if waiting is not None:
            waiting.callback(None)


def _plain(chunks: list[bytes | ExternalLiteral]) -> list[bytes]:
    return [chunk for chunk in chunks if isinstance(chunk, bytes)]


class ImapFactory(ServerFactory):
    """Builds an ``ImapProtocol`` per connection, sharing store, authenticator and settings."""

    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        tls_context: object | None,
        settings: ImapSettings,
        *,
        implicit_tls: bool = False,
        clock: Any = None,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.tls_context = tls_context
        self.settings = settings
        self.implicit_tls = implicit_tls
        self.clock = clock

    def buildProtocol(self, addr: Any) -> ImapProtocol:
        """A new connection's protocol."""
        protocol = ImapProtocol(
            self.store,
            self.authenticator,
            self.tls_context,
            self.settings,
            implicit_tls=self.implicit_tls,
            clock=self.clock,
        )
        protocol.factory = self
        return protocol


def build_factory(
    store: Store,
    authenticator: Authenticator,
    tls_context: object | None,
    settings: ImapSettings,
    *,
    implicit_tls: bool,
    clock: Any = None,
) -> IProtocolFactory:
    """The factory for one IMAP listener; with ``implicit_tls`` TLS starts at once (RFC 8314)."""
    factory = ImapFactory(
        store, authenticator, tls_context, settings, implicit_tls=implicit_tls, clock=clock
    )
    if implicit_tls:
        if tls_context is None:
            raise ValueError("implicit TLS needs a TLS context")
        return wrap_tls(cast(IProtocolFactory, factory), cast(Any, tls_context))
    return cast(IProtocolFactory, factory)


def bye(text: str) -> StatusResponse:
    """An untagged BYE with a fixed text."""
    return StatusResponse(Condition.BYE, text)
