"""The IMAP session state machine (RFC 3501 3, 5.2, 5.5, 7.4.1).

Why it is shaped this way: the Twisted edge (``server.py``) only frames bytes and queues
events; this class takes those events strictly one at a time, so a pipelined command never
overlaps another and STARTTLS can drop whatever followed it. Each command is parsed
(``grammar``), checked against its ``valid_in`` states, and dispatched by its type to a
handler that returns a ``HandlerResult``. Before the tagged reply the session reports what
other sessions changed, through ``SelectedMailbox``, honouring RFC 3501 7.4.1: no EXPUNGE
while answering FETCH, STORE or SEARCH (their UID forms may). AUTHENTICATE and IDLE are
conversations, so the session keeps a small mode for them and reads raw lines meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.logger import Logger

from mailstore.api import Account, SpoolWriter, Store
from mailstore.errors import StoreError
from protocols.auth import Authenticator
from protocols.imap import commands as c
from protocols.imap.errors import ParseError
from protocols.imap.framing import (
    CommandFrame,
    CommandTooLong,
    FrameEvent,
    LineTooLong,
    LiteralChunk,
    LiteralTooLarge,
    NeedContinuation,
    RawLine,
)
from protocols.imap.grammar.commands import parse_command
from protocols.imap.handlers import HandlerResult
from protocols.imap.responses import (
    AtomsCode,
    CodeKind,
    Condition,
    Response,
    SimpleCode,
    StatusResponse,
)
from protocols.imap.selected import InvalidSequence, SelectedMailbox, SessionToken
from protocols.imap.storemap import store_code, store_reply

log = Logger()

BASE_CAPABILITIES = ("IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE")
AUTH_CAPABILITIES = (
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "CHILDREN",
    "SPECIAL-USE",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "UTF8=ACCEPT",
)
ENABLEABLE = frozenset({"CONDSTORE", "QRESYNC", "UTF8=ACCEPT"})
_NO_EXPUNGE = (c.Fetch, c.Store, c.Search, c.Copy)


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """Per-listener IMAP settings (limits and timeouts in octets and seconds)."""

    hostname: str = "localhost"
    allow_plaintext_auth: bool = False
    max_line: int = 64 * 1024
    max_literal: int = 64 * 1024 * 1024
    max_preauth_literal: int = 8 * 1024
    stream_literal_at: int = 256 * 1024
    max_queued: int = 16
    preauth_timeout: float = 60.0
    idle_timeout: float = 30 * 60.0
    """RFC 3501 5.4: at least 30 minutes of inactivity before an autologout."""
    server_id: tuple[tuple[str, str | None], ...] = (("name", "mailstack"),)


class Output(Protocol):
    """What the session needs from the transport owner (``server.ImapProtocol``)."""

    async def send(self, responses: list[Response]) -> None:
        """Write responses in order, streaming external literals, honouring back-pressure."""

    def start_tls(self) -> None:
        """Drop buffered input and start TLS (after the OK was written)."""

    def close(self) -> None:
        """Close the connection after what was written."""

    def set_raw_lines(self, raw: bool) -> None:
        """Read raw lines (IDLE ``DONE``, SASL responses) instead of commands."""

    def is_secure(self) -> bool:
        """Whether the connection is TLS-protected now."""


@dataclass(frozen=True, slots=True)
class Wake:
    """The selected mailbox changed (queued by the change feed while idling)."""


SessionEvent = FrameEvent | Wake


@dataclass(slots=True)
class Conversation:
    """An AUTHENTICATE or IDLE exchange in progress: raw lines go to ``on_line``."""

    tag: bytes
    on_line: Callable[[bytes], Awaitable[None]]
    cancel: Callable[[], None] = field(default=lambda: None)


class ImapSession:
    """One client's IMAP session over an ``Output`` (RFC 3501 3)."""

    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        settings: ImapSettings,
        output: Output,
        *,
        peer: str,
        tls_available: bool,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.settings = settings
        self.output = output
        self.peer = peer
        self.tls_available = tls_available
        self.state = c.SessionState.NOT_AUTHENTICATED
        self.user: str | None = None
        self.account: Account | None = None
        self.selected: SelectedMailbox | None = None
        self.enabled: set[str] = set()
        self.origin = SessionToken(peer)
        self.conversation: Conversation | None = None
        self.spool: SpoolWriter | None = None
        self.wake: Callable[[], None] = lambda: None
        """Set by the transport owner: queue a ``Wake`` event."""

    # -- capabilities ------------------------------------------------------------------

    @property
    def secure(self) -> bool:
        return self.output.is_secure()

    def plaintext_ok(self) -> bool:
        """RFC 3501 6.2.3 / 9051 11.1: passwords only over TLS unless configured otherwise."""
        return self.secure or self.settings.allow_plaintext_auth

    def capabilities(self) -> tuple[str, ...]:
        """The CAPABILITY list for the current state (RFC 3501 7.2.1)."""
        caps = list(BASE_CAPABILITIES)
        if self.state is c.SessionState.NOT_AUTHENTICATED:
            if self.tls_available and not self.secure:
                caps.append("STARTTLS")
            if self.plaintext_ok():
                caps += ["AUTH=PLAIN", "AUTH=LOGIN"]
            else:
                caps.append("LOGINDISABLED")
        else:
            caps += AUTH_CAPABILITIES
        return tuple(caps)

    def greeting(self) -> Response:
        """``* OK [CAPABILITY ...] ready`` (RFC 3501 7.1.1)."""
        code = AtomsCode(CodeKind.CAPABILITY, self.capabilities())
        return StatusResponse(Condition.OK, f"{self.settings.hostname} IMAP4rev1 ready", code=code)

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled

    # -- events ------------------------------------------------------------------------

    async def handle(self, event: SessionEvent) -> None:
        """Process one framed event to completion (the transport owner serialises calls)."""
        if self.state is c.SessionState.LOGOUT:
            return
        match event:
            case CommandFrame() if self.conversation is not None and len(event.lines) == 1:
                # Framed as a command before IDLE/AUTHENTICATE switched the framer to raw
                # lines: a client that sent DONE in the same write as IDLE.
                await self.conversation.on_line(event.lines[0])
            case CommandFrame():
                await self._command(event)
            case RawLine(line):
                if self.conversation is not None:
                    await self.conversation.on_line(line)
                else:  # framed raw before the exchange ended: a command sent behind DONE
                    await self._command(CommandFrame((line,)))
            case Wake():
                if self.conversation is not None and self.selected is not None:
                    await self.output.send(await self.updates(allow_expunge=True))
            case LiteralChunk(_tag, data, _final):
                self._spool_chunk(data)
            case LineTooLong(tag) | CommandTooLong(tag):
                await self._status(tag, "BAD", "Command line too long")
            case LiteralTooLarge(tag):
                self._drop_spool()
                await self._status(tag, "NO", "Literal too large", SimpleCode(CodeKind.TOOBIG))
            case NeedContinuation():
                pass  # decided synchronously by the transport owner via ``accept_literal``

    def accept_literal(self, event: NeedContinuation) -> bool:
        """Whether to send ``+`` for a synchronising literal (small ones only before login)."""
        if self.state is c.SessionState.NOT_AUTHENTICATED:
            return event.size <= self.settings.max_preauth_literal
        return True

    def _spool_chunk(self, data: bytes) -> None:
        if self.state not in c.AUTHENTICATED:
            return
        if self.spool is None:
            self.spool = self.store.spool()
        self.spool.write(data)

    def _drop_spool(self) -> None:
        if self.spool is not None:
            self.spool.abort()
            self.spool = None

    def take_spool(self) -> SpoolWriter | None:
        """The spool holding the streamed literal of the current APPEND (and forget it)."""
        spool, self.spool = self.spool, None
        return spool

    # -- commands ----------------------------------------------------------------------

    async def _command(self, frame: CommandFrame) -> None:
        try:
            cmd = parse_command(frame, utf8=self.utf8)
        except ParseError as exc:
            self._drop_spool()
            log.debug("parse error: {detail}", detail=exc.detail)
            await self._status(exc.tag, "NO" if exc.respond_no else "BAD", exc.text, exc.code)
            if exc.close:
                self.output.close()
            return
        if self.state not in cmd.valid_in:
            self._drop_spool()
            await self._status(cmd.tag, "BAD", "Command not valid in this state")
            return
        result = await self._run(cmd)
        self._drop_spool()
        if result is None:
            return
        untagged = list(result.untagged)
        if self.selected is not None and self.state is c.SessionState.SELECTED:
            allow = not (isinstance(cmd, _NO_EXPUNGE) and not cmd.uid)
            untagged += await self.updates(allow_expunge=allow)
        await self.output.send(untagged)
        await self._status(cmd.tag, result.status, result.text, result.tagged)

    async def _run(self, cmd: c.Command) -> HandlerResult | None:
        from protocols.imap.handlers.dispatch import dispatch

        try:
            if self.selected is not None and self.selected.dirty:
                await self.selected.sync()
            return await dispatch(cmd, self)
        except InvalidSequence:
            return HandlerResult([], None, "BAD", "Invalid sequence set")
        except StoreError as exc:
            log.info(
                "store error user={user} command={command} kind={kind} detail={detail}",
                user=self.user,
                command=type(cmd).__name__,
                kind=exc.kind.value,
                detail=exc.detail,
            )
            reply = store_reply(exc)
            return HandlerResult([], store_code(reply), reply.status, reply.text)
        except Exception:  # noqa: BLE001 (any bug: log it, answer a fixed text)
            log.failure(
                "command failed user={user} command={command}",
                user=self.user,
                command=type(cmd).__name__,
            )
            return HandlerResult([], SimpleCode(CodeKind.SERVERBUG), "NO", "Internal error")

    async def updates(self, *, allow_expunge: bool) -> list[Response]:
        """Sync the selected mailbox if it changed and return what the client must learn."""
        sel = self.selected
        if sel is None:
            return []
        if sel.dirty:
            await sel.sync()
        return sel.pending_updates(allow_expunge=allow_expunge)

    async def _status(self, tag: bytes | None, status: str, text: str, code: Any = None) -> None:
        response = StatusResponse(Condition(status), text, tag=tag, code=code)
        await self.output.send([response])

    # -- state changes used by handlers --------------------------------------------------

    def login(self, user: str, account: Account) -> None:
        """Enter the authenticated state (RFC 3501 6.2.2, 6.2.3)."""
        self.user = user
        self.account = account
        self.state = c.SessionState.AUTHENTICATED

    def select(self, selected: SelectedMailbox | None) -> None:
        """Enter (or, with None, leave) the selected state (RFC 3501 6.3.1, 6.4.2)."""
        self.deselect()
        if selected is not None:
            self.selected = selected
            selected.attach()
            self.state = c.SessionState.SELECTED

    def deselect(self) -> None:
        """Drop the selected mailbox, back to the authenticated state."""
        if self.selected is not None:
            self.selected.detach()
            self.selected = None
        if self.state is c.SessionState.SELECTED:
            self.state = c.SessionState.AUTHENTICATED

    def logout(self) -> None:
        """Enter the logout state; nothing more is processed."""
        self.deselect()
        self.state = c.SessionState.LOGOUT

    def connection_lost(self) -> None:
        """The transport closed: release the selected mailbox and any spool."""
        if self.conversation is not None:
            self.conversation.cancel()
            self.conversation = None
        self._drop_spool()
        self.deselect()
        self.state = c.SessionState.LOGOUT


__all__ = ["ImapSession", "ImapSettings", "Output", "SessionEvent", "Wake"]
