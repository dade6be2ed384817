"""FETCH data items (RFC 3501 6.4.5, 9; RFC 7162 3.1.4 CONDSTORE, 3.2.6 QRESYNC).

ABNF (RFC 3501 9, RFC 7162 7)::

    fetch           = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
                      fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
    fetch-att       = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
                      "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
                      "BODY" ["STRUCTURE"] / "UID" / "MODSEQ" /
                      "BODY" section ["<" number "." nz-number ">"] /
                      "BODY.PEEK" section ["<" number "." nz-number ">"]
    section         = "[" [section-spec] "]"
    section-spec    = section-msgtext / (section-part ["." section-text])
    section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
    section-part    = nz-number *("." nz-number)
    section-text    = section-msgtext / "MIME"
    header-list     = "(" header-fld-name *(SP header-fld-name) ")"
    header-fld-name = astring
    fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
    fetch-modifier  = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"

Macros are expanded when parsed (ALL = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE, FAST without
ENVELOPE, FULL = ALL + BODY).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from protocols.imap.grammar.lexer import (
    MAX_NUMBER,
    MAX_NUMBER64,
    Reader,
    parenthesized,
    syntax_error,
)


class FetchAttr(enum.Enum):
    """The fetch-atts that take no section."""

    ENVELOPE = "ENVELOPE"
    FLAGS = "FLAGS"
    INTERNALDATE = "INTERNALDATE"
    RFC822 = "RFC822"
    RFC822_HEADER = "RFC822.HEADER"
    RFC822_SIZE = "RFC822.SIZE"
    RFC822_TEXT = "RFC822.TEXT"
    BODY = "BODY"
    BODYSTRUCTURE = "BODYSTRUCTURE"
    UID = "UID"
    MODSEQ = "MODSEQ"


class SectionText(enum.Enum):
    """``section-msgtext`` / ``section-text``."""

    HEADER = "HEADER"
    HEADER_FIELDS = "HEADER.FIELDS"
    HEADER_FIELDS_NOT = "HEADER.FIELDS.NOT"
    TEXT = "TEXT"
    MIME = "MIME"


@dataclass(frozen=True, slots=True)
class Section:
    """``section-spec``: part numbers (empty: the whole message), text, header fields."""

    part: tuple[int, ...] = ()
    text: SectionText | None = None
    fields: tuple[bytes, ...] = ()
    """Header field names for HEADER.FIELDS(.NOT), as sent (compare case-insensitively)."""

    def serialize(self) -> bytes:
        """``[1.2.HEADER.FIELDS (From To)]``."""
        out = b".".join(str(n).encode() for n in self.part)
        if self.text is not None:
            out += (b"." if out else b"") + self.text.value.encode()
        if self.fields:
            out += b" (" + b" ".join(_field(name) for name in self.fields) + b")"
        return b"[" + out + b"]"


@dataclass(frozen=True, slots=True)
class BodySection:
    """``BODY[section]<partial>`` / ``BODY.PEEK[...]``; ``partial`` is (origin, length)."""

    section: Section = Section()
    peek: bool = False
    partial: tuple[int, int] | None = None

    def serialize(self) -> bytes:
        """The fetch-att as a client writes it."""
        out = (b"BODY.PEEK" if self.peek else b"BODY") + self.section.serialize()
        if self.partial is not None:
            out += b"<%d.%d>" % self.partial
        return out

    def response_name(self) -> bytes:
        """The item name in the FETCH response: ``BODY[section]<origin>`` (no PEEK)."""
        out = b"BODY" + self.section.serialize()
        if self.partial is not None:
            out += b"<%d>" % self.partial[0]
        return out


FetchItem = FetchAttr | BodySection


@dataclass(frozen=True, slots=True)
class FetchModifiers:
    """RFC 7162 ``CHANGEDSINCE`` and ``VANISHED``."""

    changed_since: int | None = None
    vanished: bool = False


ALL = (FetchAttr.FLAGS, FetchAttr.INTERNALDATE, FetchAttr.RFC822_SIZE, FetchAttr.ENVELOPE)
FAST = (FetchAttr.FLAGS, FetchAttr.INTERNALDATE, FetchAttr.RFC822_SIZE)
FULL = (*ALL, FetchAttr.BODY)
_MACROS = {b"ALL": ALL, b"FAST": FAST, b"FULL": FULL}
_ATTRS = {attr.value.encode(): attr for attr in FetchAttr}
_NAME = re.compile(rb"[A-Za-z0-9.]+")
_MSGTEXT = rb"HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT"
_SPEC = re.compile(
    rb"(?:([1-9][0-9]{0,9}(?:\.[1-9][0-9]{0,9})*)(?:\.(" + _MSGTEXT + rb"|MIME))?"
    rb"|(" + _MSGTEXT + rb"))?\Z",
    re.IGNORECASE,
)
_FIELD_SAFE = re.compile(rb"[!#-'+-9;-Z^-~]+\Z")


def _field(name: bytes) -> bytes:
    if _FIELD_SAFE.match(name) and name.upper() != b"NIL":
        return name
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _header_field(reader: Reader) -> bytes:
    name = reader.astring()
    if not name or any(b <= 0x20 or b >= 0x7F or b == 0x3A for b in name):
        raise syntax_error("Invalid header field name")
    return name


def parse_section(reader: Reader) -> Section:
    """``section`` including the brackets."""
    reader.char(b"[")
    spec = b"" if reader.peek() == 0x5D else reader.take(_NAME)
    match = _SPEC.match(spec)
    if match is None:
        raise syntax_error("Invalid section")
    numbers, text_name = match.group(1), match.group(2) or match.group(3)
    part = tuple(int(n) for n in numbers.split(b".")) if numbers else ()
    if any(n > MAX_NUMBER for n in part):
        raise syntax_error("Invalid section")
    text = None if text_name is None else SectionText(text_name.upper().decode("ascii"))
    fields: tuple[bytes, ...] = ()
    if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        reader.sp()
        fields = tuple(parenthesized(reader, _header_field, empty=False))
    reader.char(b"]")
    return Section(part, text, fields)


def _partial(reader: Reader) -> tuple[int, int] | None:
    if not reader.try_char(b"<"):
        return None
    origin = reader.number()
    reader.char(b".")
    length = reader.nz_number()
    reader.char(b">")
    return origin, length


def parse_fetch_att(reader: Reader) -> FetchItem:
    """One ``fetch-att``."""
    name = reader.take(_NAME).upper()
    if name in (b"BODY", b"BODY.PEEK") and reader.peek() == 0x5B:
        section = parse_section(reader)
        return BodySection(section, name == b"BODY.PEEK", _partial(reader))
    attr = _ATTRS.get(name)
    if attr is None:
        raise syntax_error("Invalid fetch attribute")
    return attr


def parse_fetch_items(reader: Reader) -> tuple[FetchItem, ...]:
    """A macro, one fetch-att, or a parenthesised list of them."""
    if reader.peek() == 0x28:
        items = parenthesized(reader, parse_fetch_att, empty=False)
        return tuple(dict.fromkeys(items))
    for word, macro in _MACROS.items():
        if reader.try_keyword(word):
            return macro
    return (parse_fetch_att(reader),)


def _modifier(reader: Reader) -> tuple[str, int]:
    if reader.try_keyword(b"CHANGEDSINCE"):
        reader.sp()
        return "changedsince", reader.nz_number(MAX_NUMBER64)
    if reader.try_keyword(b"VANISHED"):
        return "vanished", 0
    raise syntax_error("Invalid fetch modifier")


def parse_fetch_modifiers(reader: Reader) -> FetchModifiers:
    """``fetch-modifiers`` after SP (RFC 7162 3.1.4.1, 3.2.6)."""
    found = dict(parenthesized(reader, _modifier, empty=False))
    if "vanished" in found and "changedsince" not in found:
        raise syntax_error("VANISHED needs CHANGEDSINCE")
    return FetchModifiers(found.get("changedsince"), "vanished" in found)


def serialize_fetch_items(items: tuple[FetchItem, ...]) -> bytes:
    """The parenthesised list form of ``items``."""
    return b"(" + b" ".join(_item(item) for item in items) + b")"


def _item(item: FetchItem) -> bytes:
    if isinstance(item, BodySection):
        return item.serialize()
    return item.value.encode()
