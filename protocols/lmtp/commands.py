"""Pure LMTP command-line parser: one line (without its line end) in, one typed command out.

Grammar (RFC 5321 4.1.1 and 4.1.2, RFC 2033 4.1 for LHLO)::

    lhlo = "LHLO" SP ( Domain / address-literal )
    mail = "MAIL FROM:" Reverse-path [SP Mail-parameters]      ; RFC 1870 SIZE=, RFC 6152 BODY=,
    rcpt = "RCPT TO:" ( "<Postmaster>" / Forward-path )        ;   RFC 6531 SMTPUTF8
    bdat = "BDAT" SP chunk-size [SP "LAST"]                    ; RFC 3030 2
    data / rset / quit = verb ; noop / help / vrfy = verb [SP String]

Verbs and parameter keywords are case-insensitive. A space after ``FROM:``/``TO:`` is tolerated
(as Postfix and Dovecot do). Anything wrong raises ``CommandError`` carrying the fixed reply.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from protocols.lmtp.replies import R, Reply

MAX_ADDRESS_OCTETS = 512
"""Longer than RFC 5321 4.5.3.1.3's 256-octet path, so real mail passes; bounds header sizes."""
MAX_DOMAIN_OCTETS = 255
MAX_SIZE_DIGITS = 20


class CommandError(Exception):
    """A command line that cannot be accepted; ``reply`` is what the client gets."""

    def __init__(self, reply: R) -> None:
        super().__init__(reply.name)
        self.reply: Reply = reply.reply
        self.kind = reply


class BodyType(enum.Enum):
    """RFC 6152 ``BODY=`` values we accept (no BINARYMIME: not advertised)."""

    SEVEN_BIT = "7BIT"
    EIGHT_BIT_MIME = "8BITMIME"


@dataclass(frozen=True, slots=True)
class Lhlo:
    """``LHLO domain`` (RFC 2033 4.1)."""

    domain: str


@dataclass(frozen=True, slots=True)
class MailFrom:
    """``MAIL FROM:<reverse-path>`` with its parameters; ``address`` is ``""`` for ``<>``."""

    address: str
    size: int | None = None
    body: BodyType | None = None
    smtputf8: bool = False


@dataclass(frozen=True, slots=True)
class RcptTo:
    """``RCPT TO:<forward-path>``; ``ascii`` is False when it needs SMTPUTF8 (RFC 6531 3.4)."""

    address: str
    ascii: bool = True


@dataclass(frozen=True, slots=True)
class Data:
    """``DATA`` (RFC 5321 4.1.1.4)."""


@dataclass(frozen=True, slots=True)
class Bdat:
    """``BDAT size [LAST]`` (RFC 3030 2): ``size`` octets follow the command line."""

    size: int
    last: bool = False


@dataclass(frozen=True, slots=True)
class Rset:
    """``RSET``: abort the transaction (RFC 5321 4.1.1.5)."""


@dataclass(frozen=True, slots=True)
class Noop:
    """``NOOP [string]``."""


@dataclass(frozen=True, slots=True)
class Quit:
    """``QUIT``."""


@dataclass(frozen=True, slots=True)
class Vrfy:
    """``VRFY string``: always answered 252 (RFC 5321 3.5.3), the argument is not used."""


@dataclass(frozen=True, slots=True)
class Help:
    """``HELP [string]``."""


Command = Lhlo | MailFrom | RcptTo | Data | Bdat | Rset | Noop | Quit | Vrfy | Help
_Parser: TypeAlias = Callable[[bytes], Command]

_KEYWORD = re.compile(rb"[A-Za-z0-9][A-Za-z0-9-]*")
_PARAM_VALUE = re.compile(rb"[\x21-\x3c\x3e-\x7e]+")
_DOMAIN = re.compile(rb"[\x21-\x7e]+")
_DIGITS = re.compile(rb"[0-9]+")


def parse_command(line: bytes) -> Command:
    """Parse one command line (CRLF already removed). Raises ``CommandError``."""
    verb, _, rest = line.partition(b" ")
    name = verb.upper()
    if name in (b"EHLO", b"HELO"):
        raise CommandError(R.NOT_LMTP)
    parser = _PARSERS.get(name)
    if parser is None:
        raise CommandError(R.UNKNOWN_COMMAND)
    if any(byte < 0x20 or byte == 0x7F for byte in rest):
        raise CommandError(R.SYNTAX)
    return parser(rest)


def _no_args(cls: type[Data | Rset | Quit]) -> _Parser:
    def parse(rest: bytes) -> Command:
        if rest.strip(b" "):
            raise CommandError(R.BAD_ARGUMENTS)
        return cls()

    return parse


def _any_args(cls: type[Noop | Vrfy | Help]) -> _Parser:
    def parse(rest: bytes) -> Command:
        return cls()

    return parse


def _lhlo(rest: bytes) -> Command:
    domain = rest.strip(b" ")
    if not _DOMAIN.fullmatch(domain) or len(domain) > MAX_DOMAIN_OCTETS:
        raise CommandError(R.BAD_ARGUMENTS)
    return Lhlo(domain.decode("ascii"))


def _bdat(rest: bytes) -> Command:
    words = rest.split(b" ")
    if len(words) not in (1, 2) or not _DIGITS.fullmatch(words[0]):
        raise CommandError(R.BAD_ARGUMENTS)
    if len(words[0]) > MAX_SIZE_DIGITS:
        raise CommandError(R.BAD_ARGUMENTS)
    if len(words) == 2 and words[1].upper() != b"LAST":
        raise CommandError(R.BAD_ARGUMENTS)
    return Bdat(int(words[0]), last=len(words) == 2)


def _mail(rest: bytes) -> Command:
    path, params = _split_path(rest, b"FROM:")
    values = _parse_params(params)
    size = body = None
    smtputf8 = False
    for key, value in values.items():
        if key == b"SIZE":
            if value is None or not _DIGITS.fullmatch(value) or len(value) > MAX_SIZE_DIGITS:
                raise CommandError(R.BAD_ARGUMENTS)
            size = int(value)
        elif key == b"BODY":
            body = _body_type(value)
        elif key == b"SMTPUTF8":
            if value is not None:
                raise CommandError(R.BAD_ARGUMENTS)
            smtputf8 = True
        else:
            raise CommandError(R.UNKNOWN_PARAMETER)
    address, is_ascii = _mailbox(path, allow_empty=True, allow_bare=False)
    if not is_ascii and not smtputf8:
        raise CommandError(R.NEED_SMTPUTF8)
    return MailFrom(address, size=size, body=body, smtputf8=smtputf8)


def _rcpt(rest: bytes) -> Command:
    path, params = _split_path(rest, b"TO:")
    if _parse_params(params):
        raise CommandError(R.UNKNOWN_PARAMETER)
    address, is_ascii = _mailbox(path, allow_empty=False, allow_bare=True)
    return RcptTo(address, ascii=is_ascii)


def _body_type(value: bytes | None) -> BodyType:
    try:
        return BodyType((value or b"").upper().decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise CommandError(R.BAD_ARGUMENTS) from None


def _split_path(rest: bytes, prefix: bytes) -> tuple[bytes, bytes]:
    """``FROM:<path> params`` → (path without brackets, params); quoted local parts respected."""
    if rest[: len(prefix)].upper() != prefix:
        raise CommandError(R.SYNTAX)
    rest = rest[len(prefix) :].lstrip(b" ")
    if not rest.startswith(b"<"):
        raise CommandError(R.SYNTAX)
    in_quote = escaped = False
    for index in range(1, len(rest)):
        char = rest[index]
        if escaped:
            escaped = False
        elif in_quote and char == 0x5C:  # backslash
            escaped = True
        elif char == 0x22:  # double quote
            in_quote = not in_quote
        elif char == 0x3E and not in_quote:  # '>'
            params = rest[index + 1 :]
            if params and not params.startswith(b" "):
                raise CommandError(R.SYNTAX)
            return rest[1:index], params
        elif char in b" <" and not in_quote:
            raise CommandError(R.SYNTAX)
    raise CommandError(R.SYNTAX)


def _parse_params(params: bytes) -> dict[bytes, bytes | None]:
    """ESMTP parameters (RFC 5321 4.1.2 ``esmtp-param``), keys upper-cased; duplicates refused."""
    values: dict[bytes, bytes | None] = {}
    for word in params.split(b" "):
        if not word:
            continue
        key, eq, value = word.partition(b"=")
        if not _KEYWORD.fullmatch(key) or (eq and not _PARAM_VALUE.fullmatch(value)):
            raise CommandError(R.SYNTAX)
        key = key.upper()
        if key in values:
            raise CommandError(R.BAD_ARGUMENTS)
        values[key] = value if eq else None
    return values


def _mailbox(path: bytes, *, allow_empty: bool, allow_bare: bool) -> tuple[str, bool]:
    """Validate and decode a path's mailbox; drop an RFC 5321 4.1.2 source route."""
    if path.startswith(b"@"):
        _route, colon, path = path.partition(b":")
        if not colon:
            raise CommandError(R.SYNTAX)
    if not path:
        if allow_empty:
            return "", True
        raise CommandError(R.SYNTAX)
    if len(path) > MAX_ADDRESS_OCTETS:
        raise CommandError(R.SYNTAX)
    local, at, domain = path.rpartition(b"@")
    if not at:
        if not (allow_bare and path.lower() == b"postmaster"):
            raise CommandError(R.SYNTAX)
    elif not local or not domain or b'"' in domain:
        raise CommandError(R.SYNTAX)
    try:
        text = path.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(R.SYNTAX) from None
    return text, path.isascii()


_PARSERS = {
    b"LHLO": _lhlo,
    b"MAIL": _mail,
    b"RCPT": _rcpt,
    b"DATA": _no_args(Data),
    b"BDAT": _bdat,
    b"RSET": _no_args(Rset),
    b"NOOP": _any_args(Noop),
    b"QUIT": _no_args(Quit),
    b"VRFY": _any_args(Vrfy),
    b"HELP": _any_args(Help),
}
