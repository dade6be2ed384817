"""SEARCH criteria (RFC 3501 6.4.4, 9; RFC 7162 3.1.5 MODSEQ; RFC 4731 ESEARCH RETURN).

ABNF (RFC 3501 9, RFC 4731 3, RFC 7162 7)::

    search          = "SEARCH" [search-return-opts] [SP "CHARSET" SP astring] 1*(SP search-key)
    search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
    search-return-opt  = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
    search-key      = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date /
                      "BODY" SP astring / "CC" SP astring / "DELETED" / "FLAGGED" /
                      "FROM" SP astring / "KEYWORD" SP flag-keyword / "NEW" / "OLD" /
                      "ON" SP date / "RECENT" / "SEEN" / "SINCE" SP date /
                      "SUBJECT" SP astring / "TEXT" SP astring / "TO" SP astring /
                      "UNANSWERED" / "UNDELETED" / "UNFLAGGED" / "UNKEYWORD" SP flag-keyword /
                      "UNSEEN" / "DRAFT" / "HEADER" SP header-fld-name SP astring /
                      "LARGER" SP number / "NOT" SP search-key /
                      "OR" SP search-key SP search-key / "SENTBEFORE" SP date /
                      "SENTON" SP date / "SENTSINCE" SP date / "SMALLER" SP number /
                      "UID" SP sequence-set / "UNDRAFT" / sequence-set /
                      "(" search-key *(SP search-key) ")" /
                      "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer

Strings are decoded with the CHARSET (UTF-8 or US-ASCII; 8-bit octets under US-ASCII are
read as UTF-8, as clients that omit CHARSET mean). Another charset gives ``NO [BADCHARSET]``.
Nesting is limited so that hostile input cannot exhaust the stack.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from protocols.imap.errors import ParseError
from protocols.imap.grammar.dates import format_date, parse_date
from protocols.imap.grammar.flags import canonical_flag
from protocols.imap.grammar.lexer import MAX_NUMBER64, Reader, parenthesized, syntax_error
from protocols.imap.grammar.sequence import SequenceSet, parse_sequence_set
from protocols.imap.grammar.wire import astring_bytes

MAX_DEPTH = 32
CHARSETS = ("US-ASCII", "UTF-8")
_WORD = re.compile(rb"[A-Za-z]+")


class SimpleKey(enum.Enum):
    """Keys without arguments that are not flag tests."""

    ALL = "ALL"
    NEW = "NEW"
    OLD = "OLD"
    RECENT = "RECENT"


class DateField(enum.Enum):
    """INTERNALDATE (BEFORE/ON/SINCE) or the Date: header (SENT*)."""

    INTERNAL = ""
    SENT = "SENT"


class DateOp(enum.Enum):
    """Comparison of a date key."""

    BEFORE = "BEFORE"
    ON = "ON"
    SINCE = "SINCE"


class TextField(enum.Enum):
    """Substring keys."""

    BCC = "BCC"
    BODY = "BODY"
    CC = "CC"
    FROM = "FROM"
    SUBJECT = "SUBJECT"
    TEXT = "TEXT"
    TO = "TO"


class ReturnOpt(enum.Enum):
    """ESEARCH result options (RFC 4731 3.1)."""

    MIN = "MIN"
    MAX = "MAX"
    ALL = "ALL"
    COUNT = "COUNT"
    SAVE = "SAVE"


@dataclass(frozen=True, slots=True)
class SearchSimple:
    """ALL, NEW, OLD, RECENT."""

    kind: SimpleKey


@dataclass(frozen=True, slots=True)
class SearchFlag:
    """ANSWERED/UNANSWERED ... KEYWORD/UNKEYWORD: ``flag`` set (``present``) or not."""

    flag: str
    present: bool


@dataclass(frozen=True, slots=True)
class SearchDate:
    """BEFORE/ON/SINCE (internal date) and SENTBEFORE/SENTON/SENTSINCE."""

    field: DateField
    op: DateOp
    date: dt.date


@dataclass(frozen=True, slots=True)
class SearchText:
    """BCC, BODY, CC, FROM, SUBJECT, TEXT, TO: case-insensitive substring."""

    field: TextField
    value: str


@dataclass(frozen=True, slots=True)
class SearchHeader:
    """HEADER name value (an empty value matches every message that has the field)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SearchSize:
    """LARGER n / SMALLER n (RFC822.SIZE)."""

    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class SearchSet:
    """A sequence set, or UID set with ``uid``."""

    numbers: SequenceSet
    uid: bool


@dataclass(frozen=True, slots=True)
class SearchModSeq:
    """MODSEQ (RFC 7162 3.1.5): messages with mod-sequence >= ``modseq``."""

    modseq: int
    entry: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class SearchNot:
    """NOT key."""

    key: SearchKey


@dataclass(frozen=True, slots=True)
class SearchOr:
    """OR key1 key2."""

    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class SearchAnd:
    """A parenthesised list, or the top-level keys of a SEARCH (all must match)."""

    keys: tuple[SearchKey, ...]


SearchKey = (
    SearchSimple
    | SearchFlag
    | SearchDate
    | SearchText
    | SearchHeader
    | SearchSize
    | SearchSet
    | SearchModSeq
    | SearchNot
    | SearchOr
    | SearchAnd
)

_FLAG_KEYS = {
    b"ANSWERED": ("\\Answered", True),
    b"DELETED": ("\\Deleted", True),
    b"DRAFT": ("\\Draft", True),
    b"FLAGGED": ("\\Flagged", True),
    b"SEEN": ("\\Seen", True),
    b"UNANSWERED": ("\\Answered", False),
    b"UNDELETED": ("\\Deleted", False),
    b"UNDRAFT": ("\\Draft", False),
    b"UNFLAGGED": ("\\Flagged", False),
    b"UNSEEN": ("\\Seen", False),
}
_FLAG_NAMES = {value: key for key, value in _FLAG_KEYS.items()}
_DATE_KEYS = {(f.value + op.value).encode(): (f, op) for f in DateField for op in DateOp}
_TEXT_KEYS = {f.value.encode(): f for f in TextField}
_SIMPLE_KEYS = {k.value.encode(): k for k in SimpleKey}


class _Parser:
    """Recursive-descent parser for search keys with a depth limit."""

    def __init__(self, reader: Reader, charset: str) -> None:
        self.reader = reader
        self.charset = charset
        self.depth = 0

    def text(self) -> str:
        raw = self.reader.astring()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise syntax_error("Invalid characters in search string") from None

    def key(self) -> SearchKey:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise syntax_error("Search too complex")
        try:
            return self._key()
        finally:
            self.depth -= 1

    def _key(self) -> SearchKey:
        r = self.reader
        first = r.peek()
        if first == 0x28:
            return SearchAnd(tuple(parenthesized(r, lambda _r: self.key(), empty=False)))
        if first is not None and (0x30 <= first <= 0x39 or first == 0x2A):
            return SearchSet(parse_sequence_set(r), uid=False)
        word = r.take(_WORD).upper()
        if word in _SIMPLE_KEYS:
            return SearchSimple(_SIMPLE_KEYS[word])
        if word in _FLAG_KEYS:
            return SearchFlag(*_FLAG_KEYS[word])
        r.sp()
        if word in _TEXT_KEYS:
            return SearchText(_TEXT_KEYS[word], self.text())
        if word in _DATE_KEYS:
            return SearchDate(*_DATE_KEYS[word], parse_date(r))
        return self._with_argument(word)

    def _with_argument(self, word: bytes) -> SearchKey:
        r = self.reader
        if word in (b"KEYWORD", b"UNKEYWORD"):
            flag = canonical_flag(r.atom())
            return SearchFlag(flag, word == b"KEYWORD")
        if word == b"HEADER":
            name = self.text()
            r.sp()
            return SearchHeader(name, self.text())
        if word in (b"LARGER", b"SMALLER"):
            return SearchSize(word == b"LARGER", r.number())
        if word == b"UID":
            return SearchSet(parse_sequence_set(r), uid=True)
        if word == b"NOT":
            return SearchNot(self.key())
        if word == b"OR":
            left = self.key()
            r.sp()
            return SearchOr(left, self.key())
        if word == b"MODSEQ":
            return self._modseq()
        raise syntax_error("Unknown search key")

    def _modseq(self) -> SearchModSeq:
        r = self.reader
        entry = None
        if r.peek() == 0x22:
            name = r.quoted().decode("ascii", "replace")
            r.sp()
            kind = r.atom().decode("ascii").lower()
            if kind not in ("priv", "shared", "all"):
                raise syntax_error("Invalid MODSEQ entry type")
            r.sp()
            entry = (name, kind)
        return SearchModSeq(r.number(MAX_NUMBER64), entry)


def parse_charset(reader: Reader) -> str:
    """The astring after CHARSET: a supported name, else ``NO [BADCHARSET]`` (RFC 3501 6.4.4)."""
    from protocols.imap.responses import AtomsCode, CodeKind  # import cycle

    name = reader.astring().decode("ascii", "replace").upper()
    if name in ("UTF8", "ASCII"):
        name = {"UTF8": "UTF-8", "ASCII": "US-ASCII"}[name]
    if name not in CHARSETS:
        raise ParseError(
            "Unsupported charset",
            code=AtomsCode(CodeKind.BADCHARSET, CHARSETS),
            respond_no=True,
        )
    return name


def parse_search_keys(reader: Reader, charset: str = "US-ASCII") -> SearchKey:
    """``1*(SP search-key)`` after the leading SP; several keys become one ``SearchAnd``."""
    parser = _Parser(reader, charset)
    keys = [parser.key()]
    while not reader.at_end():
        reader.sp()
        keys.append(parser.key())
    return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))


def parse_return_opts(reader: Reader) -> frozenset[ReturnOpt]:
    """``"(" [search-return-opt *(SP search-return-opt)] ")"``; empty means ALL (RFC 4731)."""

    def opt(r: Reader) -> ReturnOpt:
        try:
            return ReturnOpt(r.take(_WORD).upper().decode("ascii"))
        except ValueError:
            raise syntax_error("Invalid RETURN option") from None

    opts = frozenset(parenthesized(reader, opt))
    return opts or frozenset({ReturnOpt.ALL})


def serialize_search_key(key: SearchKey) -> bytes:
    """The wire form of a key; strings become atoms, quoted strings or literals."""
    match key:
        case SearchSimple(kind):
            return kind.value.encode()
        case SearchFlag(flag, present):
            name = _FLAG_NAMES.get((flag, present))
            if name is not None:
                return name
            return (b"KEYWORD " if present else b"UNKEYWORD ") + flag.encode("ascii")
        case SearchDate(field, op, date):
            return (field.value + op.value).encode() + b" " + format_date(date)
        case SearchText(field, value):
            return field.value.encode() + b" " + astring_bytes(value.encode("utf-8"))
        case SearchHeader(name, value):
            return b"HEADER %s %s" % (
                astring_bytes(name.encode("utf-8")),
                astring_bytes(value.encode("utf-8")),
            )
        case SearchSize(larger, size):
            return b"%s %d" % (b"LARGER" if larger else b"SMALLER", size)
        case SearchSet(numbers, uid):
            return (b"UID " if uid else b"") + numbers.serialize()
        case SearchModSeq(modseq, entry):
            if entry is None:
                return b"MODSEQ %d" % modseq
            name = entry[0].encode("ascii", "replace").replace(b"\\", b"\\\\")
            return b'MODSEQ "%s" %s %d' % (name, entry[1].encode(), modseq)
        case SearchNot(inner):
            return b"NOT " + serialize_search_key(inner)
        case SearchOr(left, right):
            return b"OR %s %s" % (serialize_search_key(left), serialize_search_key(right))
        case SearchAnd(keys):
            return b"(" + b" ".join(serialize_search_key(k) for k in keys) + b")"
    raise TypeError(key)
