"""The Twisted edge of POP3: a LineReceiver that owns the transport and runs the session's actions.

The session (``protocols.pop3.session``) decides everything; this module frames lines, calls
the authenticator and the store, streams RETR/TOP (``protocols.pop3.streaming``) with the
next messages read ahead (``protocols.pop3.readahead``), enforces the idle timeout and the
maildrop lock, and logs (user, peer, command names, message counts and sizes; never
content, never a password). While an action is outstanding no line is handed in (``paused``)
and, unless it finished at once, the socket is paused too: pipelined lines stay buffered,
unread from the socket beyond that, and are handed to the session in order once the answer
is written.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

from mailstore.api import Mailbox, Store, Unsubscribe
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.types import DELETED, INBOX, SEEN, ChangeEvent, ChangeKind, FlagMode
from protocols.auth import Authenticator, AuthUnavailableError
from protocols.pop3.actions import (
    Action,
    Authenticate,
    Close,
    ForgetReadAhead,
    Maildrop,
    MaildropMessage,
    OpenMaildrop,
    Send,
    StartTls,
    Transfer,
    Update,
)
from protocols.pop3.locks import LockToken, MaildropLocks
from protocols.pop3.readahead import ReadAhead
from protocols.pop3.session import Pop3Session, Pop3Settings, State
from protocols.pop3.streaming import MessageStream, StreamAborted
from protocols.sockets import send_promptly
from protocols.starttls import start_tls
from protocols.tls import is_secure

__all__ = ["Pop3Factory", "Pop3Protocol"]

log = Logger()

# Twisted's LineReceiver and TimeoutMixin are untyped: call their methods through Any.
_LINES: Any = LineReceiver
_TIMEOUT: Any = TimeoutMixin


def _global_reactor() -> Any:
    from twisted.internet import reactor  # not at import time: installs it

    return reactor


class Pop3Protocol(LineReceiver, TimeoutMixin):
    """One POP3 connection (RFC 1939) on a plain (with STLS) or implicit-TLS listener."""

    delimiter = b"\n"

    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        tls_context: object | None,
        settings: Pop3Settings,
        locks: MaildropLocks,
        *,
        clock: Any = None,
    ) -> None:
        """``clock`` is an ``IReactorTime`` for the idle timer (the global reactor if None)."""
        self.store = store
        self.authenticator = authenticator
        self.tls_context = tls_context
        self.settings = settings
        self.locks = locks
        self.MAX_LENGTH = settings.max_line + 1  # the CR before the LF delimiter
        self._clock: Any = clock if clock is not None else _global_reactor()
        self.session = Pop3Session(settings, secure=False, stls_available=False)
        self.peer = "?"
        self._mailbox: Mailbox | None = None
        self._ahead: ReadAhead | None = None
        self._unsubscribe: Unsubscribe | None = None
        self._lock: LockToken | None = None
        self._lost = False
        self._waiting = False
        self._socket_paused = False
        self._discarding = False
        self._rescan = False

    def callLater(self, delay: float, fn: Any, *args: Any) -> Any:
        """TimeoutMixin's scheduler: the injected clock."""
        return self._clock.callLater(delay, fn, *args)

    @property
    def _io(self) -> Any:
        """The transport (typed loosely: Twisted's interfaces are not mypy-friendly)."""
        return self.transport

    # -- connection events -------------------------------------------------------------

    def connectionMade(self) -> None:
        """Build the session (secure already on an implicit-TLS listener) and greet."""
        send_promptly(self._io)
        self.peer = str(getattr(self._io.getPeer(), "host", "?"))
        secure = is_secure(self._io)
        can_stls = self.tls_context is not None and not secure
        self.session = Pop3Session(self.settings, secure=secure, stls_available=can_stls)
        _TIMEOUT.setTimeout(self, self.settings.idle_timeout)
        log.debug("pop3 connection peer={peer} tls={tls}", peer=self.peer, tls=secure)
        self._perform(self.session.start())

    def dataReceived(self, data: bytes) -> None:
        """Frame lines; skip the rest of an over-long line; rescan after such a line."""
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return
            self._discarding = False
            data = data[end + 1 :]
        _LINES.dataReceived(self, data)
        while self._rescan and not self.paused and not self._busyReceiving and not self._lost:
            self._rescan = False
            _LINES.dataReceived(self, b"")

    def lineReceived(self, line: bytes) -> None:
        """One command line (CRLF or bare LF ended) to the session."""
        _TIMEOUT.resetTimeout(self)
        if line.endswith(b"\r"):
            line = line[:-1]
        actions = self.session.line_received(line)
        if not (actions and isinstance(actions[0], Transfer)):  # logged when it is done
            log.debug(
                "pop3 command {verb} user={user} peer={peer}",
                verb=self.session.verb,
                user=self.session.user,
                peer=self.peer,
            )
        self._perform(actions)

    def lineLengthExceeded(self, line: bytes) -> None:
        """Answer ``-ERR`` and drop the line; what follows it is handled as usual."""
        end = line.find(b"\n", self.MAX_LENGTH)
        if end < 0:
            self._discarding = True
        else:
            self._buffer = line[end + 1 :] + self._buffer
            self._rescan = True
        log.info("pop3 line too long peer={peer}", peer=self.peer)
        self._perform(self.session.line_too_long())

    def timeoutConnection(self) -> None:
        """Idle for ``idle_timeout`` (RFC 1939 section 3): close without UPDATE."""
        log.info(
            "pop3 idle timeout user={user} peer={peer}", user=self.session.user, peer=self.peer
        )
        self._perform(self.session.timed_out())

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Nothing is expunged unless QUIT reached UPDATE; the maildrop lock is released."""
        self._lost = True
        _TIMEOUT.setTimeout(self, None)
        if self.session.state is State.TRANSACTION:
            log.info("pop3 connection dropped without QUIT user={user} peer={peer}",
                     user=self.session.user, peer=self.peer)
        self.session.connection_lost()
        self._release()

    # -- actions -----------------------------------------------------------------------

    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if self._lost:
                return
            match action:
                case Send(data=data):
                    self._io.write(data)
                case Close():
                    self._io.loseConnection()
                case StartTls():
                    self._start_tls()
                case Authenticate(credentials=credentials):
                    self._run(self._authenticate(credentials))
                case OpenMaildrop(user=user):
                    self._run(self._open(user))
                case Transfer():
                    self._run(self._transfer(action))
                case ForgetReadAhead(uids=uids):
                    if self._ahead is not None:
                        self._ahead.forget(uids)
                case Update():
                    self._run(self._update(action))

    def _start_tls(self) -> None:
        try:
            start_tls(self, self.tls_context)
        except RuntimeError:
            log.failure("pop3 STLS failed peer={peer}", peer=self.peer)
            self._io.loseConnection()
            return
        self.session.tls_started()
        log.debug("pop3 STLS peer={peer}", peer=self.peer)

    def _run(self, coroutine: Any) -> None:
        """Run a store/auth call; stop handing in lines until its answer is written.

        Lines stop at once (``paused``). The socket is paused too only if the call did not
        finish at once: a RETR of a message that was read ahead usually does, and then the
        two epoll updates of pausing and resuming the socket are saved.
        """
        self.paused = True
        self._waiting = True
        deferred = Deferred.fromCoroutine(coroutine)
        deferred.addErrback(lambda failure: log.failure("pop3 driver error", failure))
        if self._waiting and not self._socket_paused and not self._lost:
            self._socket_paused = True
            self._io.pauseProducing()

    def _resume(self, actions: list[Action]) -> None:
        if self._lost:
            return
        self._waiting = False
        self._perform(actions)
        if self._lost:
            return
        if self.session.busy or self.session.state is State.CLOSED:
            if not self._socket_paused:  # nothing more is read until then
                self._socket_paused = True
                self._io.pauseProducing()
            return
        _TIMEOUT.resetTimeout(self)
        self.paused = False
        if self._socket_paused:
            self._socket_paused = False
            self._io.resumeProducing()
        self.dataReceived(b"")

    def _progress(self) -> None:
        _TIMEOUT.resetTimeout(self)

    def _release(self) -> None:
        if self._lock is not None:
            self.locks.release(self._lock)
            self._lock = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._mailbox = None
        self._ahead = None

    def _changed(self, event: ChangeEvent) -> None:
        """Another session expunged mail: what was read ahead of it must not be sent."""
        if self._ahead is None:
            return
        if event.kind is ChangeKind.EXPUNGED:
            self._ahead.forget(event.uids)
        elif event.kind is ChangeKind.DELETED:
            self._ahead.forget()

    async def _authenticate(self, credentials: Any) -> None:
        user: str | None = None
        unavailable = False
        try:
            user = await self.authenticator.authenticate(
                credentials, peer=self.peer, protocol="pop3"
            )
        except AuthUnavailableError:
            unavailable = True
        except Exception:  # noqa: BLE001 - logged; the client sees a fixed -ERR
            log.failure("pop3 authentication error peer={peer}", peer=self.peer)
            unavailable = True
        self._resume(self.session.authenticated(user, unavailable=unavailable))

    async def _open(self, user: str) -> None:
        token = self.locks.acquire(user)
        if token is None:
            log.info("pop3 maildrop in use user={user} peer={peer}", user=user, peer=self.peer)
            self._resume(self.session.maildrop_failed(StoreErrorKind.IN_USE))
            return
        self._lock = token
        try:
            account = await self.store.account(user)
            mailbox = await account.open_mailbox(INBOX)
            snapshot = await mailbox.snapshot()
        except Exception as exc:  # noqa: BLE001 - mapped to a fixed -ERR, logged
            kind = exc.kind if isinstance(exc, StoreError) else StoreErrorKind.INTERNAL
            log.failure("pop3 cannot open maildrop user={user} kind={kind}",
                        user=user, kind=kind.value)
            self._release()
            self._resume(self.session.maildrop_failed(kind))
            return
        if self._lost:  # connectionLost already released the lock
            return
        self._mailbox = mailbox
        if self.settings.read_ahead > 0:
            self._ahead = ReadAhead(mailbox, self.settings.read_ahead)
            self._unsubscribe = mailbox.subscribe(self._changed)
        messages = tuple(MaildropMessage(m.uid, m.size) for m in snapshot.messages)
        log.info(
            "pop3 login user={user} peer={peer} messages={count} octets={octets}",
            user=user,
            peer=self.peer,
            count=len(messages),
            octets=sum(m.size for m in messages),
        )
        self._resume(self.session.maildrop_opened(Maildrop(snapshot.uidvalidity, messages)))

    async def _transfer(self, action: Transfer) -> None:
        assert self._mailbox is not None
        stream = MessageStream(
            self._io, self._mailbox, chunk_size=self.settings.read_chunk, progress=self._progress
        )
        error: StoreErrorKind | None = None
        first = None
        if self._ahead is not None:
            chunk = self.settings.read_chunk
            first = self._ahead.take(action.uid, min(chunk, action.size))
            self._ahead.start([(m.uid, min(chunk, m.size)) for m in action.ahead])
        try:
            await stream.run(action.uid, action.size, action.status, action.top_lines, first)
        except StreamAborted:
            return
        except Exception as exc:  # noqa: BLE001 - mapped to a fixed -ERR, logged
            error = exc.kind if isinstance(exc, StoreError) else StoreErrorKind.INTERNAL
            log.failure("pop3 {verb} failed user={user} uid={uid} kind={kind}",
                        verb=self.session.verb, user=self.session.user, uid=action.uid,
                        kind=error.value)
        else:
            log.debug("pop3 {verb} user={user} uid={uid} octets={octets}",
                      verb=self.session.verb, user=self.session.user, uid=action.uid,
                      octets=stream.octets)
        self._resume(self.session.transfer_done(error, started=stream.started))

    async def _update(self, action: Update) -> None:
        """RFC 1939 section 6: mark retrieved messages seen, expunge exactly the deleted ones."""
        assert self._mailbox is not None
        box, error, removed = self._mailbox, None, 0
        try:
            if action.seen:
                await box.store_flags(action.seen, FlagMode.ADD, (SEEN,), origin=self)
            if action.expunge:
                await box.store_flags(action.expunge, FlagMode.ADD, (DELETED,), origin=self)
                removed = len(await box.expunge(action.expunge, origin=self))
        except Exception as exc:  # noqa: BLE001 - mapped to a fixed -ERR, logged
            error = exc.kind if isinstance(exc, StoreError) else StoreErrorKind.INTERNAL
            log.failure("pop3 update failed user={user} kind={kind}",
                        user=self.session.user, kind=error.value)
        log.info(
            "pop3 logout user={user} peer={peer} retrieved={seen} deleted={deleted} "
            "expunged={removed}",
            user=self.session.user,
            peer=self.peer,
            seen=len(action.seen),
            deleted=len(action.expunge),
            removed=removed,
        )
        self._release()
        self._resume(self.session.update_done(error))


class Pop3Factory(ServerFactory):
    """Builds ``Pop3Protocol``s sharing one store, authenticator and maildrop lock registry."""

    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        tls_context: object | None,
        settings: Pop3Settings,
        locks: MaildropLocks,
        *,
        clock: Any = None,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.tls_context = tls_context
        self.settings = settings
        self.locks = locks
        self.clock = clock

    def buildProtocol(self, addr: Any) -> Pop3Protocol:
        """A protocol for one connection."""
        protocol = Pop3Protocol(
            self.store,
            self.authenticator,
            self.tls_context,
            self.settings,
            self.locks,
            clock=self.clock,
        )
        protocol.factory = self
        return protocol
