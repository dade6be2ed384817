"""POP3 command lines as typed values (RFC 1939 section 3, RFC 2449, RFC 2595, RFC 5034).

A pure parser: ``parse_command(line)`` takes one command line without its line ending and
returns a frozen dataclass, or raises ``CommandError`` whose ``kind`` says which fixed
``-ERR`` to answer. Nothing else can escape it (property-tested with Hypothesis).

Grammar (RFC 1939 section 3, RFC 2449 section 3): a case-insensitive keyword of three or
four characters, then arguments separated by single spaces, each at most 40 octets of
printable ASCII. Two liberties that real clients rely on and Dovecot takes too: runs of
spaces between arguments and trailing spaces are accepted, and the ``PASS`` argument is the
rest of the line verbatim (RFC 1939 section 7: a server may treat spaces as part of the
password). Message numbers are decimal digits without sign, 1 to ``MAX_MSG``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailstore.passwords import Password

__all__ = [
    "MAX_ARG",
    "MAX_MSG",
    "Auth",
    "Capa",
    "Command",
    "CommandError",
    "CommandErrorKind",
    "Dele",
    "List",
    "Noop",
    "Pass",
    "Quit",
    "Retr",
    "Rset",
    "Stat",
    "Stls",
    "Top",
    "Uidl",
    "User",
    "parse_command",
]

#: RFC 1939 section 3: "each argument may be up to 40 characters long".
MAX_ARG = 40
#: Largest message number or line count accepted (anything larger cannot exist).
MAX_MSG = 2**31 - 1
#: User names are often addresses, longer than RFC 1939's 40 octets.
MAX_USER = 255
#: PASS may carry a longer secret (passphrases); still bounded by the line limit.
MAX_PASS = 512
#: An AUTH initial response is base64 of up to ``protocols.sasl.MAX_RESPONSE`` octets.
MAX_INITIAL_RESPONSE = 12 * 1024


class CommandErrorKind(enum.Enum):
    """Why a line is not a valid command; each maps to one fixed ``-ERR`` text."""

    EMPTY = "empty"
    UNKNOWN = "unknown"
    SYNTAX = "syntax"
    """Wrong number of arguments, an over-long or non-ASCII argument."""
    BAD_NUMBER = "bad-number"
    """A message number or line count that is not a positive decimal in range."""


class CommandError(Exception):
    """A malformed command line; the message is for the log only, never the client."""

    def __init__(self, kind: CommandErrorKind, verb: str = "") -> None:
        super().__init__(f"{kind.value} {verb}".strip())
        self.kind = kind
        self.verb = verb


@dataclass(frozen=True, slots=True)
class User:
    """``USER name`` (RFC 1939 section 7)."""

    name: str


@dataclass(frozen=True, slots=True)
class Pass:
    """``PASS secret`` (RFC 1939 section 7); the secret stays wrapped (redacted repr)."""

    password: Password


@dataclass(frozen=True, slots=True)
class Auth:
    """``AUTH [mechanism [initial-response]]`` (RFC 5034 section 4).

    ``mechanism`` None is the bare ``AUTH`` some clients send to list mechanisms.
    ``initial_response`` is still base64 (``=`` for empty); the session decodes it.
    """

    mechanism: str | None
    initial_response: bytes | None = None


@dataclass(frozen=True, slots=True)
class Stls:
    """``STLS`` (RFC 2595 section 4)."""


@dataclass(frozen=True, slots=True)
class Capa:
    """``CAPA`` (RFC 2449 section 5)."""


@dataclass(frozen=True, slots=True)
class Quit:
    """``QUIT`` (RFC 1939 sections 4 and 6)."""


@dataclass(frozen=True, slots=True)
class Stat:
    """``STAT`` (RFC 1939 section 5)."""


@dataclass(frozen=True, slots=True)
class List:
    """``LIST [msg]`` (RFC 1939 section 5)."""

    msg: int | None = None


@dataclass(frozen=True, slots=True)
class Retr:
    """``RETR msg`` (RFC 1939 section 5)."""

    msg: int


@dataclass(frozen=True, slots=True)
class Dele:
    """``DELE msg`` (RFC 1939 section 5)."""

    msg: int


@dataclass(frozen=True, slots=True)
class Noop:
    """``NOOP`` (RFC 1939 section 5)."""


@dataclass(frozen=True, slots=True)
class Rset:
    """``RSET`` (RFC 1939 section 5)."""


@dataclass(frozen=True, slots=True)
class Top:
    """``TOP msg n`` (RFC 1939 section 7): the header and the first ``lines`` body lines."""

    msg: int
    lines: int


@dataclass(frozen=True, slots=True)
class Uidl:
    """``UIDL [msg]`` (RFC 1939 section 7)."""

    msg: int | None = None


Command = (
    User | Pass | Auth | Stls | Capa | Quit | Stat | List | Retr | Dele | Noop | Rset | Top | Uidl
)

_NO_ARGS: dict[bytes, Command] = {
    b"STLS": Stls(),
    b"CAPA": Capa(),
    b"QUIT": Quit(),
    b"STAT": Stat(),
    b"NOOP": Noop(),
    b"RSET": Rset(),
}
_KNOWN = frozenset(
    {b"USER", b"PASS", b"AUTH", b"LIST", b"RETR", b"DELE", b"TOP", b"UIDL", *_NO_ARGS}
)


def parse_command(line: bytes) -> Command:
    """Parse one command line (without CRLF) into a ``Command`` (RFC 1939 section 3).

    Raises ``CommandError`` and nothing else.
    """
    if not line.strip(b" "):
        raise CommandError(CommandErrorKind.EMPTY)
    verb_raw, _, rest = line.lstrip(b" ").partition(b" ")
    verb = verb_raw.upper()
    if verb not in _KNOWN:
        raise CommandError(CommandErrorKind.UNKNOWN)
    name = verb.decode("ascii")
    if verb == b"PASS":
        return _pass(rest, name)
    if verb == b"AUTH":
        return _auth(_args(rest, name, 0, 2, MAX_INITIAL_RESPONSE), name)
    if verb in _NO_ARGS:
        _args(rest, name, 0, 0)
        return _NO_ARGS[verb]
    if verb == b"USER":
        return _user(rest, name)
    if verb in (b"LIST", b"UIDL"):
        args = _args(rest, name, 0, 1)
        msg = _number(args[0], name, minimum=1) if args else None
        return List(msg) if verb == b"LIST" else Uidl(msg)
    if verb == b"TOP":
        raw_msg, raw_lines = _args(rest, name, 2, 2)
        return Top(_number(raw_msg, name, minimum=1), _number(raw_lines, name, minimum=0))
    (raw,) = _args(rest, name, 1, 1)
    msg = _number(raw, name, minimum=1)
    return Retr(msg) if verb == b"RETR" else Dele(msg)


def _args(rest: bytes, verb: str, least: int, most: int, limit: int = MAX_ARG) -> list[bytes]:
    args = [arg for arg in rest.split(b" ") if arg]
    if not least <= len(args) <= most:
        raise CommandError(CommandErrorKind.SYNTAX, verb)
    for arg in args:
        if len(arg) > limit or not all(0x21 <= ch <= 0x7E for ch in arg):
            raise CommandError(CommandErrorKind.SYNTAX, verb)
    return args


def _user(rest: bytes, verb: str) -> User:
    """The user name: one argument of printable UTF-8 (addresses may exceed 40 octets)."""
    args = [arg for arg in rest.split(b" ") if arg]
    if len(args) != 1 or len(args[0]) > MAX_USER:
        raise CommandError(CommandErrorKind.SYNTAX, verb)
    try:
        name = args[0].decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(CommandErrorKind.SYNTAX, verb) from None
    if not name.isprintable():
        raise CommandError(CommandErrorKind.SYNTAX, verb)
    return User(name)


def _pass(rest: bytes, verb: str) -> Pass:
    """RFC 1939 section 7: the one PASS argument is the rest of the line, spaces included."""
    if not rest or len(rest) > MAX_PASS or any(ch < 0x20 or ch == 0x7F for ch in rest):
        raise CommandError(CommandErrorKind.SYNTAX, verb)
    return Pass(Password(rest))


def _auth(args: list[bytes], verb: str) -> Auth:
    if not args:
        return Auth(None)
    mechanism = args[0].decode("ascii").upper()  # _args admitted printable ASCII only
    if len(args[0]) > 20:  # RFC 4422 section 3.1: at most 20 characters
        raise CommandError(CommandErrorKind.SYNTAX, verb)
    return Auth(mechanism, args[1] if len(args) == 2 else None)


def _number(raw: bytes, verb: str, *, minimum: int) -> int:
    if not raw.isdigit() or len(raw) > 10:
        raise CommandError(CommandErrorKind.BAD_NUMBER, verb)
    value = int(raw)
    if not minimum <= value <= MAX_MSG:
        raise CommandError(CommandErrorKind.BAD_NUMBER, verb)
    return value
