"""The ManageSieve session: state, command dispatch and replies, without sockets (RFC 5804).

Why this shape: the Twisted protocol (``server.py``) only moves bytes. It feeds input to
:meth:`ManageSieveSession.feed`, which frames it (the framer's limits depend on the state:
small literals before login, script-sized after), and hands each framed command, one at a
time, to :meth:`ManageSieveSession.handle`. ``handle`` awaits the injected services (the
login gate and the user's script store, both asynchronous) and returns what to do:
:class:`Send` bytes, :class:`StartTls` (after the OK is written), :class:`Close`. So every
exchange, including SASL continuations and hostile input, is tested with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from twisted.logger import Logger

from protocols import sasl
from protocols.auth import AuthUnavailableError, plaintext_allowed
from protocols.managesieve import commands as c
from protocols.managesieve.framing import Frame, FrameError, FrameErrorKind, Framer, FramerEvent
from protocols.managesieve.responses import (
    Code,
    Response,
    Status,
    capability_lines,
    encode_string,
    list_lines,
    script_literal,
)
from sieve import CAPABILITIES, SieveCompileError, SieveLimits
from sieve.storage import SieveQuota, SieveStorageError, SieveStorageErrorKind

__all__ = [
    "Close",
    "ManageSieveSession",
    "ManageSieveSettings",
    "Output",
    "ScriptStore",
    "Send",
    "SessionServices",
    "StartTls",
]

log = Logger()

_PREAUTH_LITERAL = 16 * 1024
_PREAUTH_SKIP = 64 * 1024
_MAX_ERROR_TEXT = 400


@dataclass(frozen=True, slots=True)
class ManageSieveSettings:
    """Server settings; ``quota`` and ``limits`` also bound literal sizes."""

    implementation: str = "mailstack"
    allow_plaintext_auth: bool = False
    max_line: int = 8192
    quota: SieveQuota = field(default_factory=SieveQuota)
    limits: SieveLimits = field(default_factory=SieveLimits)
    max_skip: int = 64 << 20
    """A literal above this ends the connection; up to it, an oversized one is skipped."""
    idle_timeout: float = 1800.0
    max_bad_commands: int = 16
    global_dir: Path | None = None
    """Where ``include :global`` scripts live (RFC 6609), if anywhere."""

    @property
    def max_script_bytes(self) -> int:
        """The largest literal accepted after login."""
        return self.quota.max_script_bytes or self.limits.max_script_bytes


class ScriptStore(Protocol):
    """One user's scripts (``sieve.storage.AsyncSieveStorage``)."""

    async def list(self) -> list[tuple[str, bool]]: ...
    async def get(self, name: str) -> bytes: ...
    async def put(self, name: str, content: bytes) -> None: ...
    async def check(self, content: bytes) -> None: ...
    async def have_space(self, name: str, size: int) -> None: ...
    async def activate(self, name: str | None) -> None: ...
    async def delete(self, name: str) -> None: ...
    async def rename(self, old: str, new: str) -> None: ...


class SessionServices(Protocol):
    """What a session needs from the rest of the server."""

    async def authenticate(self, credentials: sasl.Credentials, *, peer: str) -> str | None:
        """The canonical user, None for bad credentials; may raise ``AuthUnavailableError``."""
        ...

    async def open_scripts(self, user: str) -> ScriptStore:
        """The script store of ``user``."""
        ...


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes."""

    data: bytes


@dataclass(frozen=True, slots=True)
class StartTls:
    """Start TLS now (the OK has been sent), then send ``session.tls_started()``."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection once everything is written."""


Output = Send | StartTls | Close

_STORAGE_REPLIES: dict[SieveStorageErrorKind, tuple[Code | None, str]] = {
    SieveStorageErrorKind.INVALID_NAME: (None, "Invalid script name"),
    SieveStorageErrorKind.NOT_FOUND: (Code.NONEXISTENT, "No such script"),
    SieveStorageErrorKind.ALREADY_EXISTS: (Code.ALREADYEXISTS, "Script already exists"),
    SieveStorageErrorKind.ACTIVE: (Code.ACTIVE, "Script is active"),
    SieveStorageErrorKind.QUOTA_MAXSCRIPTS: (Code.QUOTA_MAXSCRIPTS, "Too many scripts"),
    SieveStorageErrorKind.QUOTA_MAXSIZE: (Code.QUOTA_MAXSIZE, "Script too large"),
    SieveStorageErrorKind.QUOTA: (Code.QUOTA, "Script storage quota exceeded"),
    SieveStorageErrorKind.INVALID_UTF8: (None, "Script is not UTF-8"),
}

_SASL_REPLIES: dict[sasl.SaslErrorKind, str] = {
    sasl.SaslErrorKind.MALFORMED: "Malformed authentication exchange",
    sasl.SaslErrorKind.CANCELLED: "Authentication cancelled",
    sasl.SaslErrorKind.BAD_AUTHZID: "Authorization identity refused",
    sasl.SaslErrorKind.UNSUPPORTED_MECHANISM: "Unsupported mechanism",
}


def _no(text: str, code: Code | None = None) -> Send:
    return Send(Response(Status.NO, text, code).encode())


def _ok(text: str, code: Code | None = None, data: bytes | None = None) -> Send:
    return Send(Response(Status.OK, text, code, data).encode())


def _compile_error_text(exc: SieveCompileError) -> str:
    """``line N: message`` for the client, with controls removed and length bounded."""
    text = f"line {exc.line}: {exc.message}"
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text[:_MAX_ERROR_TEXT]


class ManageSieveSession:
    """One connection's protocol state (RFC 5804 §1.2 states, §2 commands)."""

    def __init__(
        self,
        settings: ManageSieveSettings,
        services: SessionServices,
        *,
        peer: str,
        secure: bool,
        tls_available: bool,
    ) -> None:
        self.settings = settings
        self.services = services
        self.peer = peer
        self.secure = secure
        self.tls_available = tls_available
        self.state = c.State.NOT_AUTHENTICATED
        self.user: str | None = None
        self.scripts: ScriptStore | None = None
        self.closed = False
        self._sasl: sasl.Challenge | None = None
        self._bad = 0
        self.framer = Framer(
            max_line=settings.max_line, max_literal=_PREAUTH_LITERAL, max_skip=_PREAUTH_SKIP
        )

    # --- input --------------------------------------------------------------------

    def feed(self, data: bytes) -> list[FramerEvent]:
        """Frame ``data``; the server passes each event to :meth:`handle` in order."""
        return self.framer.feed(data)

    def clear_input(self) -> bytes:
        """Drop buffered input (STARTTLS: nothing sent before TLS may be run after it)."""
        return self.framer.clear()

    def _set_state(self, state: c.State) -> None:
        self.state = state
        if state is c.State.AUTHENTICATED:
            self.framer.max_literal = self.settings.max_script_bytes
            self.framer.max_skip = self.settings.max_skip
        else:
            self.framer.max_literal = _PREAUTH_LITERAL
            self.framer.max_skip = _PREAUTH_SKIP

    # --- capability ---------------------------------------------------------------

    def capabilities(self) -> list[tuple[str, str | None]]:
        """RFC 5804 §1.7: what this server offers now."""
        mechanisms = (
            " ".join(sasl.MECHANISMS)
            if plaintext_allowed(self.secure, self.settings.allow_plaintext_auth)
            and self.state is c.State.NOT_AUTHENTICATED
            else ""
        )
        caps: list[tuple[str, str | None]] = [
            ("IMPLEMENTATION", self.settings.implementation),
            ("SASL", mechanisms),
            ("SIEVE", " ".join(sorted(CAPABILITIES))),
        ]
        if self.tls_available and not self.secure and self.state is c.State.NOT_AUTHENTICATED:
            caps.append(("STARTTLS", None))
        caps.append(("MAXREDIRECTS", str(self.settings.limits.max_redirects)))
        if self.user is not None:
            caps.append(("OWNER", self.user))
        caps += [("UNAUTHENTICATE", None), ("VERSION", "1.0")]
        return caps

    def greeting(self) -> list[Output]:
        """RFC 5804 §1.7: capabilities then OK on connect."""
        return [Send(capability_lines(self.capabilities())), _ok("mailstack ManageSieve ready")]

    def tls_started(self) -> list[Output]:
        """RFC 5804 §2.2: after the TLS handshake, capabilities are sent again."""
        self.secure = True
        return [Send(capability_lines(self.capabilities())), _ok("TLS negotiated")]

    # --- dispatch -----------------------------------------------------------------

    async def handle(self, event: FramerEvent) -> list[Output]:
        """Answer one framed command (or SASL response, or framing error)."""
        if self.closed:
            return []
        if isinstance(event, FrameError):
            return self._frame_error(event)
        if self._sasl is not None:
            return await self._sasl_continue(event)
        try:
            command = c.parse_command(event)
        except c.CommandError as exc:
            return self._bad_command(exc.text)
        if self.state not in command.valid_in:
            return self._bad_command("Command not valid in this state")
        return await self._dispatch(command)

    def _bad_command(self, text: str) -> list[Output]:
        self._bad += 1
        if self._bad >= self.settings.max_bad_commands:
            self.closed = True
            log.info("managesieve too many errors peer={peer}", peer=self.peer)
            return [Send(Response(Status.BYE, "Too many errors").encode()), Close()]
        return [_no(text)]

    def _frame_error(self, event: FrameError) -> list[Output]:
        log.info(
            "managesieve framing error peer={peer} kind={kind} size={size}",
            peer=self.peer,
            kind=event.kind.value,
            size=event.size,
        )
        if event.fatal:
            self.closed = True
            return [Send(Response(Status.BYE, "Literal too large").encode()), Close()]
        if self._sasl is not None:
            self._sasl = None
            return [_no(_SASL_REPLIES[sasl.SaslErrorKind.MALFORMED])]
        if event.kind is FrameErrorKind.LITERAL_TOO_LARGE:
            if self.state is c.State.AUTHENTICATED:
                return [_no("Script too large", Code.QUOTA_MAXSIZE)]
            return self._bad_command("Literal too large")
        if event.kind is FrameErrorKind.LINE_TOO_LONG:
            return self._bad_command("Line too long")
        return self._bad_command("Syntax error")

    async def _dispatch(self, command: c.Command) -> list[Output]:
        match command:
            case c.Capability():
                return [Send(capability_lines(self.capabilities())), _ok("Capability completed")]
            case c.Noop(tag=tag):
                return [_ok("Done", Code.TAG if tag is not None else None, tag)]
            case c.Logout():
                self.closed = True
                return [_ok("Logout completed"), Close()]
            case c.StartTls():
                return self._starttls()
            case c.Authenticate():
                return await self._authenticate(command)
            case c.Unauthenticate():
                self.user, self.scripts = None, None
                self._set_state(c.State.NOT_AUTHENTICATED)
                return [_ok("Unauthenticated")]
        return await self._script_command(command)

    def _starttls(self) -> list[Output]:
        if self.secure:
            return [_no("TLS already active")]
        if not self.tls_available:
            return [_no("TLS not available")]
        return [_ok("Begin TLS negotiation now"), StartTls()]

    # --- authentication (RFC 5804 §2.1) --------------------------------------------

    async def _authenticate(self, command: c.Authenticate) -> list[Output]:
        if not plaintext_allowed(self.secure, self.settings.allow_plaintext_auth):
            return [_no("Authentication requires TLS", Code.ENCRYPT_NEEDED)]
        try:
            initial = (
                None if command.initial is None else sasl.decode_initial_response(command.initial)
            )
            step = sasl.start(command.mechanism, initial)
        except sasl.SaslError as exc:
            return [_no(_SASL_REPLIES[exc.kind])]
        return await self._sasl_step(step)

    async def _sasl_continue(self, frame: Frame) -> list[Output]:
        challenge, self._sasl = self._sasl, None
        assert challenge is not None
        try:
            step = challenge.respond(sasl.decode_base64(c.parse_sasl_response(frame)))
        except c.CommandError:
            return [_no(_SASL_REPLIES[sasl.SaslErrorKind.MALFORMED])]
        except sasl.SaslError as exc:
            return [_no(_SASL_REPLIES[exc.kind])]
        return await self._sasl_step(step)

    async def _sasl_step(self, step: sasl.SaslStep) -> list[Output]:
        if isinstance(step, sasl.Challenge):
            self._sasl = step
            return [Send(encode_string(sasl.encode_base64(step.data)) + b"\r\n")]
        try:
            user = await self.services.authenticate(step.credentials, peer=self.peer)
            if user is None:
                return [_no("Authentication failed")]
            scripts = await self.services.open_scripts(user)
        except AuthUnavailableError:
            return [_no("Authentication temporarily unavailable", Code.TRYLATER)]
        except Exception:  # noqa: BLE001 - any failure is a logged TRYLATER
            log.failure("managesieve login error peer={peer}", peer=self.peer)
            return [_no("Authentication temporarily unavailable", Code.TRYLATER)]
        self.user, self.scripts = user, scripts
        self._set_state(c.State.AUTHENTICATED)
        return [_ok("Logged in")]

    # --- scripts (RFC 5804 §2.5-§2.12) ----------------------------------------------

    async def _script_command(self, command: c.Command) -> list[Output]:
        assert self.scripts is not None
        try:
            outputs = await self._run_script_command(self.scripts, command)
        except SieveStorageError as exc:
            code, text = _STORAGE_REPLIES[exc.kind]
            outcome, outputs = exc.kind.value, [_no(text, code)]
        except SieveCompileError as exc:
            outcome, outputs = f"compile error line {exc.line}", [_no(_compile_error_text(exc))]
        except Exception:  # noqa: BLE001 - any failure is a logged TRYLATER
            log.failure(
                "managesieve {command} failed user={user}", command=command, user=self.user
            )
            return [_no("Internal error, try again later", Code.TRYLATER)]
        else:
            outcome = "ok"
        log.info(
            "managesieve user={user} peer={peer} command={command} result={outcome}",
            user=self.user,
            peer=self.peer,
            command=command,
            outcome=outcome,
        )
        return outputs

    async def _run_script_command(self, scripts: ScriptStore, command: c.Command) -> list[Output]:
        match command:
            case c.HaveSpace(name=name, size=size):
                await scripts.have_space(name, size)
                return [_ok("Putscript would succeed")]
            case c.PutScript(name=name, content=content):
                await scripts.put(name, content)
                return [_ok("Script stored")]
            case c.CheckScript(content=content):
                await scripts.check(content)
                return [_ok("Script is valid")]
            case c.ListScripts():
                return [Send(list_lines(await scripts.list())), _ok("Listscripts completed")]
            case c.SetActive(name=name):
                await scripts.activate(name or None)
                return [_ok("Script activated" if name else "Scripts deactivated")]
            case c.GetScript(name=name):
                content = await scripts.get(name)
                return [Send(script_literal(content)), _ok("Getscript completed")]
            case c.DeleteScript(name=name):
                await scripts.delete(name)
                return [_ok("Script deleted")]
            case c.RenameScript(old=old, new=new):
                await scripts.rename(old, new)
                return [_ok("Script renamed")]
        raise AssertionError(f"unhandled command {command!r}")
