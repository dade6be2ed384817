"""ManageSieve input framing: bytes in, one token list per command out (RFC 5804 §4).

A command is a line of atoms and strings; a string is ``quoted`` or a literal
``{n+}``/``{n}`` CRLF followed by n octets, after which the same command line goes on. The
server never sends a continuation (RFC 5804 has none: clients send ``{n+}``, and Dovecot
accepts a plain ``{n}`` the same way, so we do too).

Limits are enforced before anything is buffered: a text line longer than ``max_line`` is
skipped to its end, a literal longer than ``max_literal`` is counted off without being kept
(the command then comes out as a :class:`FrameError`, so the client's bytes are never run
as commands), and a literal longer than ``max_skip`` — or an absurd count — ends the
connection (``fatal``). Pure: no I/O, any split of the input gives the same events.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = [
    "Atom",
    "Frame",
    "FrameError",
    "FrameErrorKind",
    "Framer",
    "FramerEvent",
    "String",
    "Token",
]

MAX_QUOTED = 1024
"""RFC 5804 §4: ``quoted = DQUOTE *1024QUOTED-CHAR DQUOTE``."""

_LITERAL_TAIL = re.compile(rb"\{(\d{1,20})(\+?)\}\Z")
_ATOM_CHARS = re.compile(rb"[\x21\x23-\x27\x2a-\x5b\x5d-\x7a\x7c\x7e]+")
"""Printable ASCII except SP, DQUOTE, ``(``, ``)``, ``\\``, ``{``, ``}``."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A bare word: a command name, a number, ``ACTIVE``."""

    text: str


@dataclass(frozen=True, slots=True)
class String:
    """A quoted string (unescaped) or a literal's octets."""

    value: bytes
    literal: bool = False


Token = Atom | String


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete command (or one SASL response line) as tokens."""

    tokens: tuple[Token, ...]


class FrameErrorKind(enum.Enum):
    """Why a command could not be framed."""

    LINE_TOO_LONG = "line-too-long"
    LITERAL_TOO_LARGE = "literal-too-large"
    SYNTAX = "syntax"
    TOO_MANY_TOKENS = "too-many-tokens"


@dataclass(frozen=True, slots=True)
class FrameError:
    """A command that was skipped; ``fatal``: the connection must end (BYE)."""

    kind: FrameErrorKind
    fatal: bool = False
    size: int = 0
    """For ``LITERAL_TOO_LARGE``: the size the client announced."""


FramerEvent = Frame | FrameError


class _LexError(Exception):
    pass


class _Mode(enum.Enum):
    LINE = "line"
    LITERAL = "literal"
    SKIP_LITERAL = "skip-literal"
    SKIP_LINE = "skip-line"
    DEAD = "dead"


class Framer:
    """Incremental framer; ``feed`` returns the events completed by ``data``."""

    def __init__(
        self,
        *,
        max_line: int = 8192,
        max_literal: int = 1 << 20,
        max_skip: int = 64 << 20,
        max_tokens: int = 16,
    ) -> None:
        self.max_line = max_line
        self.max_literal = max_literal
        self.max_skip = max_skip
        self.max_tokens = max_tokens
        self._buffer = bytearray()
        self._tokens: list[Token] = []
        self._error: FrameErrorKind | None = None
        self._error_size = 0
        self._mode = _Mode.LINE
        self._remaining = 0
        self._continued = False

    def clear(self) -> bytes:
        """Drop all buffered input and any partial command (STARTTLS); what was dropped."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        self._reset_command()
        if self._mode is not _Mode.DEAD:
            self._mode = _Mode.LINE
        return dropped

    def _reset_command(self) -> None:
        self._tokens = []
        self._error = None
        self._error_size = 0
        self._continued = False

    def feed(self, data: bytes) -> list[FramerEvent]:
        """Consume ``data``; return every command it completes, in order."""
        if self._mode is _Mode.DEAD:
            return []
        self._buffer += data
        events: list[FramerEvent] = []
        while self._step(events):
            pass
        return events

    def _step(self, events: list[FramerEvent]) -> bool:
        if self._mode is _Mode.LINE:
            return self._line(events)
        if self._mode is _Mode.LITERAL:
            if len(self._buffer) < self._remaining:
                return False
            self._tokens.append(String(bytes(self._buffer[: self._remaining]), literal=True))
            del self._buffer[: self._remaining]
            self._mode = _Mode.LINE
            return True
        if self._mode is _Mode.SKIP_LITERAL:
            taken = min(self._remaining, len(self._buffer))
            del self._buffer[:taken]
            self._remaining -= taken
            if self._remaining:
                return False
            self._mode = _Mode.LINE
            return True
        if self._mode is _Mode.SKIP_LINE:
            end = self._buffer.find(b"\n")
            if end < 0:
                self._buffer.clear()
                return False
            del self._buffer[: end + 1]
            self._finish(events)
            self._mode = _Mode.LINE
            return True
        return False

    def _line(self, events: list[FramerEvent]) -> bool:
        end = self._buffer.find(b"\n", 0, self.max_line + 2)
        if end < 0:
            if len(self._buffer) > self.max_line + 1:
                self._fail(FrameErrorKind.LINE_TOO_LONG)
                self._mode = _Mode.SKIP_LINE
                return True
            return False
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        tail = _LITERAL_TAIL.search(line)
        if tail is not None:
            line = line[: tail.start()]
        if self._error is None:
            try:
                self._tokens.extend(
                    _lex(line, first=not self._continued, expect_literal=tail is not None)
                )
            except _LexError:
                self._fail(FrameErrorKind.SYNTAX)
            if len(self._tokens) > self.max_tokens:
                self._fail(FrameErrorKind.TOO_MANY_TOKENS)
        if tail is None:
            self._finish(events)
            return True
        self._continued = True
        return self._start_literal(int(tail.group(1)), events)

    def _start_literal(self, size: int, events: list[FramerEvent]) -> bool:
        if size > self.max_skip:
            events.append(FrameError(FrameErrorKind.LITERAL_TOO_LARGE, fatal=True, size=size))
            self._buffer.clear()
            self._mode = _Mode.DEAD
            return False
        self._remaining = size
        if size > self.max_literal:
            self._fail(FrameErrorKind.LITERAL_TOO_LARGE, size)
        self._mode = _Mode.LITERAL if self._error is None else _Mode.SKIP_LITERAL
        return True

    def _fail(self, kind: FrameErrorKind, size: int = 0) -> None:
        if self._error is None:
            self._error = kind
            self._error_size = size
        self._tokens = []

    def _finish(self, events: list[FramerEvent]) -> None:
        if self._error is not None:
            events.append(FrameError(self._error, size=self._error_size))
        else:
            events.append(Frame(tuple(self._tokens)))
        self._reset_command()


def _lex(line: bytes, *, first: bool, expect_literal: bool) -> list[Token]:
    """Split one line (without CRLF or trailing literal marker) into tokens.

    A line after a literal continues the command, so each of its tokens (and a literal
    that ends it) must follow a space; so must a literal after tokens on the first line.
    """
    tokens: list[Token] = []
    pos = 0
    n = len(line)
    need_space = not first
    while pos < n:
        if need_space:
            if line[pos] != 0x20:
                raise _LexError("missing space")
            pos += 1
            if pos == n:
                if expect_literal:
                    return tokens
                raise _LexError("trailing space")
        need_space = True
        if line[pos] == 0x22:
            value, pos = _quoted(line, pos + 1)
            tokens.append(String(value))
            continue
        match = _ATOM_CHARS.match(line, pos)
        if match is None:
            raise _LexError("bad character")
        tokens.append(Atom(match.group().decode("ascii")))
        pos = match.end()
    if expect_literal and need_space:
        raise _LexError("literal not after a space")
    return tokens


def _quoted(line: bytes, pos: int) -> tuple[bytes, int]:
    """RFC 5804 §4 ``quoted``: ``\\"`` and ``\\\\`` escapes; no CR, LF or NUL."""
    out = bytearray()
    n = len(line)
    while pos < n:
        ch = line[pos]
        if ch == 0x22:
            if len(out) > MAX_QUOTED:
                raise _LexError("quoted string too long")
            return bytes(out), pos + 1
        if ch == 0x5C:
            if pos + 1 >= n or line[pos + 1] not in (0x22, 0x5C):
                raise _LexError("bad escape")
            out.append(line[pos + 1])
            pos += 2
            continue
        if ch in (0x00, 0x0D, 0x0A):
            raise _LexError("control character in quoted string")
        out.append(ch)
        pos += 1
    raise _LexError("unterminated quoted string")
