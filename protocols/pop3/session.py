"""The POP3 session as a sans-IO state machine: lines and results in, actions out.

Why this shape: every rule of RFC 1939 (AUTHORIZATION → TRANSACTION → UPDATE), RFC 2449
(CAPA, RESP-CODES), RFC 2595 (STLS) and RFC 5034 (AUTH) lives here, apart from Twisted and
from storage, so transcripts replay without sockets. The session never awaits: work that
takes time (checking a password, opening the maildrop, streaming a message, the UPDATE
expunge) is returned as an action with ``busy`` set; the driver (``protocols.pop3.server``)
performs it, stops reading meanwhile (so pipelined commands wait, RFC 2449 section 6.6),
and feeds the outcome back (``authenticated``, ``maildrop_opened``, ``transfer_done``,
``update_done``). Only then is the next line handed in, so replies keep command order.

The maildrop is a snapshot of INBOX taken at login (RFC 1939 section 4): message numbers,
sizes and UIDLs stay fixed for the session; mail delivered meanwhile shows up next time.
Messages sent by RETR or TOP are marked ``\\Seen`` in UPDATE, just before the expunge
(like Dovecot, which flags at QUIT; unlike Dovecot, TOP counts too, because
``fetchmail --keep`` downloads whole messages with ``TOP n 99999999``). A session that ends
without QUIT changes nothing at all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailstore.errors import StoreErrorKind
from protocols import sasl
from protocols.auth import plaintext_allowed
from protocols.pop3 import commands as c
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
from protocols.pop3.replies import CRLF, R, capabilities, greeting, multiline, ok

__all__ = ["Pop3Session", "Pop3Settings", "State", "uidl"]


@dataclass(frozen=True, slots=True)
class Pop3Settings:
    """Server options (the ``[pop3]`` config section).

    ``idle_timeout``: RFC 1939 section 3 asks for at least 10 minutes. ``max_line`` bounds a
    command line (RFC 2449 section 4 says 255 octets; SASL responses need more).
    ``max_bad_commands`` invalid commands end the connection. ``read_chunk`` is how much of a
    message is read from the store at a time while streaming RETR/TOP. ``read_ahead`` bounds
    the octets read for the next messages before the client asks (``protocols.pop3.readahead``;
    0: off), ``read_ahead_messages`` how many messages past the current one are read ahead
    (one store call reads up to that many).
    """

    hostname: str = "localhost"
    allow_plaintext_auth: bool = False
    idle_timeout: float = 600.0
    max_line: int = 1024
    max_bad_commands: int = 20
    read_chunk: int = 1024 * 1024
    read_ahead: int = 4 * 1024 * 1024
    read_ahead_messages: int = 32


class State(enum.Enum):
    """The session states of RFC 1939 section 3, plus CLOSED."""

    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"
    CLOSED = "closed"


def uidl(uidvalidity: int, uid: int) -> str:
    """The unique-id of a message (RFC 1939 section 7): ``%08X`` UID then ``%08X`` UIDVALIDITY.

    This is Dovecot's default ``pop3_uidl_format`` (``%08Xu%08Xv``): derived from the store
    only, unchanged by flag changes, and the same as Dovecot's for a Maildir whose
    ``dovecot-uidlist`` was imported, so clients moving over do not fetch everything again.
    """
    return f"{uid:08X}{uidvalidity:08X}"


#: Store errors at login (RFC 2449 section 8, RFC 3206 section 4).
_OPEN_ERRORS: dict[StoreErrorKind, R] = {
    StoreErrorKind.IN_USE: R.IN_USE,
    StoreErrorKind.TEMPORARY: R.SYS_TEMP,
    StoreErrorKind.INTERNAL: R.SYS_TEMP,
}
#: Store errors on RETR/TOP before the first byte was sent.
_READ_ERRORS: dict[StoreErrorKind, R] = {StoreErrorKind.NOT_FOUND: R.MESSAGE_GONE}

_COMMAND_ERRORS: dict[c.CommandErrorKind, R] = {
    c.CommandErrorKind.EMPTY: R.EMPTY_LINE,
    c.CommandErrorKind.UNKNOWN: R.UNKNOWN_COMMAND,
    c.CommandErrorKind.SYNTAX: R.SYNTAX,
    c.CommandErrorKind.BAD_NUMBER: R.BAD_NUMBER,
}
_SASL_ERRORS: dict[sasl.SaslErrorKind, R] = {
    sasl.SaslErrorKind.MALFORMED: R.AUTH_MALFORMED,
    sasl.SaslErrorKind.CANCELLED: R.AUTH_CANCELLED,
    sasl.SaslErrorKind.BAD_AUTHZID: R.AUTH_FAILED,
    sasl.SaslErrorKind.UNSUPPORTED_MECHANISM: R.UNKNOWN_MECHANISM,
}


def open_error_reply(kind: StoreErrorKind) -> R:
    """The reply for a store failure while opening the maildrop (unlisted kinds: SYS/PERM)."""
    return _OPEN_ERRORS.get(kind, R.SYS_PERM)


def read_error_reply(kind: StoreErrorKind) -> R:
    """The reply for a store failure before a RETR/TOP sent anything."""
    return _READ_ERRORS.get(kind, R.SYS_TEMP)


class Pop3Session:
    """One POP3 conversation (RFC 1939, 2449, 2595, 5034) without I/O."""

    def __init__(self, settings: Pop3Settings, *, secure: bool, stls_available: bool) -> None:
        self.settings = settings
        self.state = State.AUTHORIZATION
        self.secure = secure
        self.busy = False
        self.user: str | None = None
        self.verb = ""
        """The verb of the last command line, for the log."""
        self._stls = stls_available
        self._user_name: str | None = None
        self._sasl: sasl.Challenge | None = None
        self._drop = Maildrop(0, ())
        self._deleted: set[int] = set()
        self._retrieved: set[int] = set()
        self._retrieving: int | None = None
        self._bad = 0

    # -- input -------------------------------------------------------------------------

    def start(self) -> list[Action]:
        """The greeting (RFC 1939 section 4)."""
        return [Send(greeting(self.settings.hostname))]

    def line_received(self, line: bytes) -> list[Action]:
        """Handle one input line (without its line end)."""
        if self.state is State.CLOSED or self.busy:
            return []
        if self._sasl is not None:
            return self._sasl_response(line)
        try:
            command = c.parse_command(line)
        except c.CommandError as exc:
            self.verb = exc.verb or "?"
            return self._refuse(_COMMAND_ERRORS[exc.kind])
        self.verb = type(command).__name__.upper()
        if self.state is State.AUTHORIZATION:
            return self._authorization(command)
        return self._transaction(command)

    def line_too_long(self) -> list[Action]:
        """A line exceeded ``max_line``; it was discarded whole."""
        self._sasl = None
        self.verb = "?"
        return self._refuse(R.LINE_TOO_LONG)

    def timed_out(self) -> list[Action]:
        """The idle timer fired (RFC 1939 section 3): close without entering UPDATE."""
        if self.state is State.CLOSED:
            return []
        quiet = self.busy
        self.state = State.CLOSED
        return [Close()] if quiet else [Send(R.IDLE_TIMEOUT.to_bytes()), Close()]

    def connection_lost(self) -> None:
        """The client went away: nothing is expunged (RFC 1939 section 6)."""
        self.state = State.CLOSED

    # -- results from the driver -------------------------------------------------------

    def tls_started(self) -> None:
        """The transport now speaks TLS."""
        self.secure = True

    def authenticated(self, user: str | None, *, unavailable: bool = False) -> list[Action]:
        """Outcome of ``Authenticate``: the canonical user, None for bad credentials."""
        self.busy = False
        if unavailable:
            return [Send(R.AUTH_UNAVAILABLE.to_bytes())]
        if user is None:
            return [Send(R.AUTH_FAILED.to_bytes())]
        self.user = user
        self.busy = True
        return [OpenMaildrop(user)]

    def maildrop_opened(self, drop: Maildrop) -> list[Action]:
        """The maildrop is locked and snapshotted: enter TRANSACTION (RFC 1939 section 4)."""
        self.busy = False
        self._drop = drop
        self.state = State.TRANSACTION
        count, octets = self._totals()
        return [Send(ok(f"Logged in, {count} messages ({octets} octets)"))]

    def maildrop_failed(self, kind: StoreErrorKind) -> list[Action]:
        """The maildrop could not be opened: stay in AUTHORIZATION (RFC 2449 section 8.1)."""
        self.busy = False
        self.user = None
        return [Send(open_error_reply(kind).to_bytes())]

    def transfer_done(self, error: StoreErrorKind | None = None, *, started: bool = False) -> list[
        Action
    ]:
        """Outcome of ``Transfer``; ``started`` says whether the status line went out."""
        self.busy = False
        index, self._retrieving = self._retrieving, None
        if error is None:
            if index is not None:
                self._retrieved.add(index)
            return []
        if started:  # a reply is half-sent: the only safe way out is to hang up
            self.state = State.CLOSED
            return [Close()]
        return [Send(read_error_reply(error).to_bytes())]

    def update_done(self, error: StoreErrorKind | None = None) -> list[Action]:
        """Outcome of ``Update`` (RFC 1939 section 6): answer QUIT and close."""
        self.busy = False
        self.state = State.CLOSED
        reply = R.BYE if error is None else R.UPDATE_FAILED
        return [Send(reply.to_bytes()), Close()]

    # -- AUTHORIZATION ----------------------------------------------------------------

    def _authorization(self, command: c.Command) -> list[Action]:
        match command:
            case c.Capa():
                return self._capa()
            case c.Quit():
                self.state = State.CLOSED
                return [Send(R.BYE.to_bytes()), Close()]
            case c.Stls():
                return self._stls_command()
            case c.User(name=name):
                if not self._plaintext_ok():
                    return [Send(R.PLAINTEXT_REFUSED.to_bytes())]
                self._user_name = name
                return [Send(R.USER_OK.to_bytes())]
            case c.Pass(password=password):
                pending, self._user_name = self._user_name, None
                if not self._plaintext_ok():
                    return [Send(R.PLAINTEXT_REFUSED.to_bytes())]
                if pending is None:
                    return self._refuse(R.NEED_USER)
                return self._authenticate(sasl.Credentials(pending, password, None))
            case c.Auth():
                return self._auth(command)
        return self._refuse(R.WRONG_STATE)

    def _plaintext_ok(self) -> bool:
        return plaintext_allowed(self.secure, self.settings.allow_plaintext_auth)

    def _capa(self) -> list[Action]:
        login = self.state is State.AUTHORIZATION and self._plaintext_ok()
        caps = capabilities(
            stls=self.state is State.AUTHORIZATION and self._stls and not self.secure,
            user=login,
            sasl=sasl.MECHANISMS if login else None,
        )
        return [Send(multiline(R.CAPA.to_bytes(), caps))]

    def _stls_command(self) -> list[Action]:
        if self.secure:
            return [Send(R.TLS_ACTIVE.to_bytes())]
        if not self._stls:
            return [Send(R.TLS_UNAVAILABLE.to_bytes())]
        self._user_name = None
        return [Send(R.BEGIN_TLS.to_bytes()), StartTls()]

    def _auth(self, command: c.Auth) -> list[Action]:
        self._user_name = None
        if command.mechanism is None:
            if not self._plaintext_ok():
                return [Send(R.PLAINTEXT_REFUSED.to_bytes())]
            return [Send(multiline(R.MECHANISMS.to_bytes(), sasl.MECHANISMS))]
        if command.mechanism not in sasl.MECHANISMS:
            return [Send(R.UNKNOWN_MECHANISM.to_bytes())]
        if not self._plaintext_ok():
            return [Send(R.PLAINTEXT_REFUSED.to_bytes())]
        try:
            initial = None
            if command.initial_response is not None:
                initial = sasl.decode_initial_response(command.initial_response)
            return self._sasl_step(sasl.start(command.mechanism, initial))
        except sasl.SaslError as exc:
            return [Send(_SASL_ERRORS[exc.kind].to_bytes())]

    def _sasl_response(self, line: bytes) -> list[Action]:
        """A client line during an AUTH exchange (RFC 5034 section 4): base64 or ``*``."""
        challenge, self._sasl = self._sasl, None
        assert challenge is not None
        try:
            return self._sasl_step(challenge.respond(sasl.decode_base64(line)))
        except sasl.SaslError as exc:
            return [Send(_SASL_ERRORS[exc.kind].to_bytes())]

    def _sasl_step(self, step: sasl.SaslStep) -> list[Action]:
        if isinstance(step, sasl.Challenge):
            self._sasl = step
            return [Send(b"+ " + sasl.encode_base64(step.data) + CRLF)]
        return self._authenticate(step.credentials)

    def _authenticate(self, credentials: sasl.Credentials) -> list[Action]:
        self.busy = True
        return [Authenticate(credentials)]

    # -- TRANSACTION ------------------------------------------------------------------

    def _transaction(self, command: c.Command) -> list[Action]:
        match command:
            case c.Stat():
                count, octets = self._totals()
                return [Send(ok(f"{count} {octets}"))]
            case c.List(msg=None):
                return [Send(self._listing())]
            case c.Uidl(msg=None):
                return [Send(self._uid_listing())]
            case c.List(msg=int(number)) | c.Uidl(msg=int(number)):
                return self._one_message(command, number)
            case c.Dele(msg=number) | c.Retr(msg=number) | c.Top(msg=number):
                return self._one_message(command, number)
            case c.Noop():
                return [Send(R.OK.to_bytes())]
            case c.Rset():
                self._deleted.clear()
                count, octets = self._totals()
                reply = ok(f"maildrop has {count} messages ({octets} octets)")
                return [ForgetReadAhead(), Send(reply)]  # the client may start over
            case c.Capa():
                return self._capa()
            case c.Quit():
                return self._quit()
        return self._refuse(R.WRONG_STATE)

    def _one_message(self, command: c.Command, msg: int) -> list[Action]:
        index = msg - 1
        if index >= len(self._drop.messages):
            return [Send(R.NO_SUCH_MESSAGE.to_bytes())]
        if index in self._deleted:
            return [Send(R.ALREADY_DELETED.to_bytes())]
        message = self._drop.messages[index]
        match command:
            case c.List():
                return [Send(ok(f"{msg} {message.size}"))]
            case c.Uidl():
                return [Send(ok(f"{msg} {uidl(self._drop.uidvalidity, message.uid)}"))]
            case c.Dele():
                self._deleted.add(index)
                return [ForgetReadAhead((message.uid,)), Send(R.DELETED.to_bytes())]
            case c.Retr():
                self.busy = True
                self._retrieving = index
                status = ok(f"{message.size} octets")
                return [Transfer(message.uid, message.size, status, None, self._ahead(index))]
            case c.Top(lines=lines):
                self.busy = True
                self._retrieving = index
                status = R.TOP_FOLLOWS.to_bytes()
                return [Transfer(message.uid, message.size, status, lines, self._ahead(index))]
        raise AssertionError(command)  # pragma: no cover - callers pass only the above

    def _ahead(self, index: int) -> tuple[MaildropMessage, ...]:
        """The next undeleted messages after ``index``: clients collect mail in order."""
        wanted = self.settings.read_ahead_messages
        ahead: list[MaildropMessage] = []
        messages = self._drop.messages
        index += 1
        while len(ahead) < wanted and index < len(messages):
            if index not in self._deleted:
                ahead.append(messages[index])
            index += 1
        return tuple(ahead)

    def _live(self) -> list[tuple[int, MaildropMessage]]:
        return [
            (index + 1, message)
            for index, message in enumerate(self._drop.messages)
            if index not in self._deleted
        ]

    def _totals(self) -> tuple[int, int]:
        live = self._live()
        return len(live), sum(message.size for _, message in live)

    def _listing(self) -> bytes:
        count, octets = self._totals()
        status = ok(f"{count} messages ({octets} octets)")
        return multiline(status, (f"{n} {m.size}" for n, m in self._live()))

    def _uid_listing(self) -> bytes:
        validity = self._drop.uidvalidity
        return multiline(
            R.UNIQUE_IDS.to_bytes(), (f"{n} {uidl(validity, m.uid)}" for n, m in self._live())
        )

    def _quit(self) -> list[Action]:
        """QUIT in TRANSACTION: enter UPDATE (RFC 1939 section 6)."""
        self.state = State.UPDATE
        self.busy = True
        messages = self._drop.messages
        expunge = tuple(messages[i].uid for i in sorted(self._deleted))
        seen = tuple(messages[i].uid for i in sorted(self._retrieved - self._deleted))
        return [ForgetReadAhead(), Update(expunge, seen)]

    # -- errors -----------------------------------------------------------------------

    def _refuse(self, reply: R) -> list[Action]:
        """An invalid command: its ``-ERR``, and the connection ends after too many."""
        self._bad += 1
        if self._bad >= self.settings.max_bad_commands:
            self.state = State.CLOSED
            return [Send(reply.to_bytes()), Send(R.TOO_MANY_ERRORS.to_bytes()), Close()]
        return [Send(reply.to_bytes())]
