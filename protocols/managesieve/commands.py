"""ManageSieve commands as typed values, parsed from framed tokens (RFC 5804 §2, §4).

``parse_command`` turns one :class:`~protocols.managesieve.framing.Frame` into a frozen
command; each command class names the session states it is valid in (``valid_in``).
Anything malformed raises :class:`CommandError` with a fixed, client-safe text.
Script names are decoded from UTF-8 here; their file-system rules live in
``sieve.storage.validate_name``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from protocols.managesieve.framing import Atom, Frame, String, Token

__all__ = [
    "Authenticate",
    "Capability",
    "CheckScript",
    "Command",
    "CommandError",
    "DeleteScript",
    "GetScript",
    "HaveSpace",
    "ListScripts",
    "Logout",
    "Noop",
    "PutScript",
    "RenameScript",
    "SetActive",
    "StartTls",
    "State",
    "Unauthenticate",
    "parse_command",
    "parse_sasl_response",
]

MAX_NUMBER = 4294967295
"""RFC 5804 §4: ``number = 1*DIGIT`` in the range 0..4,294,967,295."""


class State(enum.Enum):
    """Session states (RFC 5804 §1.2 non-authenticated / authenticated)."""

    NOT_AUTHENTICATED = "not-authenticated"
    AUTHENTICATED = "authenticated"


_ANY = frozenset(State)
_UNAUTH = frozenset({State.NOT_AUTHENTICATED})
_AUTH = frozenset({State.AUTHENTICATED})


class CommandError(Exception):
    """A malformed command; ``text`` is the fixed reply text for the client."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True, slots=True)
class Authenticate:
    """RFC 5804 §2.1 ``AUTHENTICATE auth-type [SP string]``; ``initial`` still base64."""

    mechanism: str
    initial: bytes | None = None
    valid_in: ClassVar[frozenset[State]] = _UNAUTH


@dataclass(frozen=True, slots=True)
class StartTls:
    """RFC 5804 §2.2 ``STARTTLS``."""

    valid_in: ClassVar[frozenset[State]] = _UNAUTH


@dataclass(frozen=True, slots=True)
class Logout:
    """RFC 5804 §2.3 ``LOGOUT``."""

    valid_in: ClassVar[frozenset[State]] = _ANY


@dataclass(frozen=True, slots=True)
class Capability:
    """RFC 5804 §2.4 ``CAPABILITY``."""

    valid_in: ClassVar[frozenset[State]] = _ANY


@dataclass(frozen=True, slots=True)
class HaveSpace:
    """RFC 5804 §2.5 ``HAVESPACE sieve-name SP number``."""

    name: str
    size: int
    valid_in: ClassVar[frozenset[State]] = _AUTH


@dataclass(frozen=True, slots=True)
class PutScript:
    """RFC 5804 §2.6 ``PUTSCRIPT sieve-name SP sieve-script``."""

    name: str
    content: bytes
    valid_in: ClassVar[frozenset[State]] = _AUTH

    def __repr__(self) -> str:
        return f"PutScript(name={self.name!r}, size={len(self.content)})"


@dataclass(frozen=True, slots=True)
class ListScripts:
    """RFC 5804 §2.7 ``LISTSCRIPTS``."""

    valid_in: ClassVar[frozenset[State]] = _AUTH


@dataclass(frozen=True, slots=True)
class SetActive:
    """RFC 5804 §2.8 ``SETACTIVE sieve-name``; the empty name deactivates."""

    name: str
    valid_in: ClassVar[frozenset[State]] = _AUTH


@dataclass(frozen=True, slots=True)
class GetScript:
    """RFC 5804 §2.9 ``GETSCRIPT sieve-name``."""

    name: str
    valid_in: ClassVar[frozenset[State]] = _AUTH


@dataclass(frozen=True, slots=True)
class DeleteScript:
    """RFC 5804 §2.10 ``DELETESCRIPT sieve-name``."""

    name: str
    valid_in: ClassVar[frozenset[State]] = _AUTH


@dataclass(frozen=True, slots=True)
class RenameScript:
    """RFC 5804 §2.11.1 ``RENAMESCRIPT old SP new``."""

    old: str
    new: str
    valid_in: ClassVar[frozenset[State]] = _AUTH


@dataclass(frozen=True, slots=True)
class CheckScript:
    """RFC 5804 §2.12 ``CHECKSCRIPT sieve-script``."""

    content: bytes
    valid_in: ClassVar[frozenset[State]] = _AUTH

    def __repr__(self) -> str:
        return f"CheckScript(size={len(self.content)})"


@dataclass(frozen=True, slots=True)
class Noop:
    """RFC 5804 §2.13 ``NOOP [SP string]``; the string comes back as ``(TAG ...)``."""

    tag: bytes | None = None
    valid_in: ClassVar[frozenset[State]] = _ANY


@dataclass(frozen=True, slots=True)
class Unauthenticate:
    """RFC 5804 §2.14.1 ``UNAUTHENTICATE``."""

    valid_in: ClassVar[frozenset[State]] = _AUTH


Command = (
    Authenticate | StartTls | Logout | Capability | HaveSpace | PutScript | ListScripts
    | SetActive | GetScript | DeleteScript | RenameScript | CheckScript | Noop | Unauthenticate
)  # fmt: skip


class _Args:
    """Cursor over a command's arguments."""

    def __init__(self, tokens: tuple[Token, ...]) -> None:
        self.tokens = tokens
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.tokens)

    def _next(self) -> Token:
        if not self.more():
            raise CommandError("Missing argument")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def string(self) -> bytes:
        token = self._next()
        if not isinstance(token, String):
            raise CommandError("Expected a string")
        return token.value

    def name(self) -> str:
        try:
            return self.string().decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError("Script name is not UTF-8") from None

    def number(self) -> int:
        token = self._next()
        if not isinstance(token, Atom) or not token.text.isdigit() or len(token.text) > 10:
            raise CommandError("Expected a number")
        value = int(token.text)
        if value > MAX_NUMBER:
            raise CommandError("Number out of range")
        return value

    def end(self) -> None:
        if self.more():
            raise CommandError("Too many arguments")


_Parser = Callable[[_Args], Command]


def _simple(
    cls: type[StartTls | Logout | Capability | ListScripts | Unauthenticate],
) -> _Parser:
    def parse(args: _Args) -> Command:
        args.end()
        return cls()

    return parse


def _authenticate(args: _Args) -> Command:
    try:
        mechanism = args.string().decode("ascii")
    except UnicodeDecodeError:
        raise CommandError("Bad mechanism name") from None
    initial = args.string() if args.more() else None
    args.end()
    return Authenticate(mechanism, initial)


def _one_name(cls: type[SetActive | GetScript | DeleteScript]) -> _Parser:
    def parse(args: _Args) -> Command:
        name = args.name()
        args.end()
        return cls(name)

    return parse


def _havespace(args: _Args) -> Command:
    name = args.name()
    size = args.number()
    args.end()
    return HaveSpace(name, size)


def _putscript(args: _Args) -> Command:
    name = args.name()
    content = args.string()
    args.end()
    return PutScript(name, content)


def _renamescript(args: _Args) -> Command:
    old = args.name()
    new = args.name()
    args.end()
    return RenameScript(old, new)


def _checkscript(args: _Args) -> Command:
    content = args.string()
    args.end()
    return CheckScript(content)


def _noop(args: _Args) -> Command:
    tag = args.string() if args.more() else None
    args.end()
    return Noop(tag)


_PARSERS: dict[str, _Parser] = {
    "AUTHENTICATE": _authenticate,
    "STARTTLS": _simple(StartTls),
    "LOGOUT": _simple(Logout),
    "CAPABILITY": _simple(Capability),
    "HAVESPACE": _havespace,
    "PUTSCRIPT": _putscript,
    "LISTSCRIPTS": _simple(ListScripts),
    "SETACTIVE": _one_name(SetActive),
    "GETSCRIPT": _one_name(GetScript),
    "DELETESCRIPT": _one_name(DeleteScript),
    "RENAMESCRIPT": _renamescript,
    "CHECKSCRIPT": _checkscript,
    "NOOP": _noop,
    "UNAUTHENTICATE": _simple(Unauthenticate),
}


def parse_command(frame: Frame) -> Command:
    """The command in ``frame`` (RFC 5804 §4 ``command``); ``CommandError`` if malformed."""
    if not frame.tokens:
        raise CommandError("Empty command")
    head = frame.tokens[0]
    if not isinstance(head, Atom):
        raise CommandError("Expected a command name")
    parser = _PARSERS.get(head.text.upper())
    if parser is None:
        raise CommandError("Unknown command")
    return parser(_Args(frame.tokens[1:]))


def parse_sasl_response(frame: Frame) -> bytes:
    """A client's answer to a SASL challenge: one string, still base64 (RFC 5804 §2.1)."""
    if len(frame.tokens) != 1 or not isinstance(frame.tokens[0], String):
        raise CommandError("Expected a SASL response string")
    return frame.tokens[0].value
