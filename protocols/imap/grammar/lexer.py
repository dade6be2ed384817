"""The IMAP lexical layer: a cursor over one framed command (RFC 3501 9, RFC 7888).

ABNF (RFC 3501 9)::

    atom            = 1*ATOM-CHAR
    ATOM-CHAR       = <any CHAR except atom-specials>
    atom-specials   = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
    astring         = 1*ASTRING-CHAR / string
    ASTRING-CHAR    = ATOM-CHAR / resp-specials
    string          = quoted / literal
    quoted          = DQUOTE *QUOTED-CHAR DQUOTE
    QUOTED-CHAR     = <any TEXT-CHAR except quoted-specials> / "\\" quoted-specials
    literal         = "{" number ["+"] "}" CRLF *CHAR8
    nstring         = string / nil
    number          = 1*DIGIT            ; unsigned 32-bit
    nz-number       = digit-nz *DIGIT

A ``Reader`` walks the lines of a ``CommandFrame``; at the literal marker that ends a line, a
string is the literal that followed it. Quoted strings may hold 8-bit octets (RFC 6855
UTF8=ACCEPT); CR, LF and NUL never. Every failure is a ``ParseError`` with a fixed text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from protocols.imap.errors import ParseError
from protocols.imap.framing import CommandFrame, StreamedLiteral

_ATOM = re.compile(rb'[^(){ \x00-\x1f\x7f-\xff%*"\\\]]+')
_ASTRING = re.compile(rb'[^(){ \x00-\x1f\x7f-\xff%*"\\]+')
_LIST_CHARS = re.compile(rb'[^(){ \x00-\x1f\x7f-\xff"\\]+')
_TAG = re.compile(rb'[^(){ \x00-\x1f\x7f-\xff%*"\\+]+')
_DIGITS = re.compile(rb"[0-9]+")
_QUOTED = re.compile(rb'"((?:[^"\\\r\n\x00]|\\["\\])*)"')
_UNESCAPE = re.compile(rb'\\(["\\])')
_MARKER = re.compile(rb"\{[0-9]{1,10}\+?\}\Z")

T = TypeVar("T")

MAX_NUMBER = 0xFFFFFFFF
MAX_NUMBER64 = 0x7FFFFFFFFFFFFFFF


def syntax_error(text: str = "Syntax error", detail: str = "") -> ParseError:
    """A BAD with a fixed text (RFC 3501 7.1.3)."""
    return ParseError(text, detail=detail)


class Reader:
    """A cursor over a command's lines and literals."""

    __slots__ = ("_end", "_i", "_line", "_lines", "_literals", "_markers", "pos")

    def __init__(
        self, lines: Sequence[bytes], literals: Sequence[bytes | StreamedLiteral] = ()
    ) -> None:
        if len(lines) != len(literals) + 1:
            raise syntax_error(detail="frame lines and literals do not match")
        self._lines = lines
        self._literals = literals
        self._markers: list[int] = []
        for line in lines[:-1]:
            match = _MARKER.search(line)
            if match is None:
                raise syntax_error(detail="line without literal marker")
            self._markers.append(match.start())
        self._i = 0
        self._line = lines[0]
        self._end = self._markers[0] if self._markers else len(self._line)
        self.pos = 0

    @classmethod
    def from_frame(cls, frame: CommandFrame) -> Reader:
        """A reader over a framed command."""
        return cls(frame.lines, frame.literals)

    @classmethod
    def from_bytes(cls, data: bytes) -> Reader:
        """A reader over one line without literals (tests, sub-grammars)."""
        return cls((data,))

    # -- position ------------------------------------------------------------------------

    def at_end(self) -> bool:
        """True once everything has been read."""
        return self._i == len(self._lines) - 1 and self.pos >= self._end

    def at_literal(self) -> bool:
        """True at the marker of a literal."""
        return self._i < len(self._markers) and self.pos == self._end

    def peek(self) -> int | None:
        """The next octet (``{`` at a literal), or None at the end."""
        if self.at_literal():
            return 0x7B
        if self.pos >= self._end:
            return None
        return self._line[self.pos]

    def end(self) -> None:
        """Require the end of the command."""
        if not self.at_end():
            raise syntax_error("Unexpected extra arguments")

    def sp(self) -> None:
        """Require one SP."""
        if self.peek() != 0x20 or self.at_literal():
            raise syntax_error("Missing space")
        self.pos += 1

    def try_char(self, char: bytes) -> bool:
        """Consume ``char`` if it is next."""
        if not self.at_literal() and self.peek() == char[0]:
            self.pos += 1
            return True
        return False

    def char(self, char: bytes) -> None:
        """Require ``char``."""
        if not self.try_char(char):
            raise syntax_error()

    def try_keyword(self, word: bytes) -> bool:
        """Consume ``word`` (case-insensitive) if it is next and not followed by atom chars."""
        end = self.pos + len(word)
        if end > self._end or self._line[self.pos : end].upper() != word:
            return False
        if end < self._end and _ATOM.match(self._line, end, end + 1) is not None:
            return False
        self.pos = end
        return True

    # -- tokens --------------------------------------------------------------------------

    def _match(self, pattern: re.Pattern[bytes]) -> bytes:
        match = pattern.match(self._line, self.pos, self._end)
        if match is None:
            raise syntax_error()
        self.pos = match.end()
        return match.group()

    def atom(self) -> bytes:
        """``atom``."""
        return self._match(_ATOM)

    def tag(self) -> bytes:
        """``tag = 1*<any ASTRING-CHAR except "+">``."""
        return self._match(_TAG)

    def list_chars(self) -> bytes:
        """``1*list-char`` (atom chars, ``%``, ``*`` and ``]``)."""
        return self._match(_LIST_CHARS)

    def take(self, pattern: re.Pattern[bytes]) -> bytes:
        """The longest match of ``pattern`` here (sub-grammars with their own alphabet)."""
        return self._match(pattern)

    def number(self, limit: int = MAX_NUMBER) -> int:
        """``number`` (or ``number64`` with ``limit=MAX_NUMBER64``)."""
        digits = self._match(_DIGITS)
        if len(digits) > 19 or int(digits) > limit:
            raise syntax_error("Number out of range")
        return int(digits)

    def nz_number(self, limit: int = MAX_NUMBER) -> int:
        """``nz-number``."""
        value = self.number(limit)
        if value == 0:
            raise syntax_error("Number out of range")
        return value

    def quoted(self) -> bytes:
        """``quoted``, unescaped."""
        match = _QUOTED.match(self._line, self.pos, self._end)
        if match is None:
            raise syntax_error("Bad quoted string")
        self.pos = match.end()
        return _UNESCAPE.sub(rb"\1", match.group(1))

    def literal(self) -> bytes | StreamedLiteral:
        """The literal announced at the end of the current line."""
        if not self.at_literal():
            raise syntax_error()
        data = self._literals[self._i]
        self._i += 1
        self._line = self._lines[self._i]
        self._end = self._markers[self._i] if self._i < len(self._markers) else len(self._line)
        self.pos = 0
        return data

    def string(self) -> bytes:
        """``string = quoted / literal`` (a streamed literal is refused here)."""
        if self.at_literal():
            data = self.literal()
            if isinstance(data, StreamedLiteral):
                raise syntax_error(detail="streamed literal outside APPEND")
            return data
        if self.peek() == 0x22:
            return self.quoted()
        raise syntax_error("Expected string")

    def astring(self) -> bytes:
        """``astring = 1*ASTRING-CHAR / string``."""
        if self.at_literal() or self.peek() == 0x22:
            return self.string()
        return self._match(_ASTRING)

    def nstring(self) -> bytes | None:
        """``nstring = string / nil``."""
        if self.try_keyword(b"NIL"):
            return None
        return self.string()

    def open_list(self) -> bool:
        """Consume ``(``; True if the list is empty (and ``)`` was consumed too)."""
        self.char(b"(")
        return self.try_char(b")")

    def close_or_sp(self) -> bool:
        """After a list item: True on ``)`` (end), False on SP (another item follows)."""
        if self.try_char(b")"):
            return True
        self.sp()
        return False


def parenthesized(reader: Reader, item: Callable[[Reader], T], *, empty: bool = True) -> list[T]:
    """``"(" [item *(SP item)] ")"``; with ``empty=False`` at least one item."""
    if reader.open_list():
        if not empty:
            raise syntax_error("Empty list")
        return []
    items = [item(reader)]
    while not reader.close_or_sp():
        items.append(item(reader))
    return items
