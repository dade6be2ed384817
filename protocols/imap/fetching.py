"""FETCH data items from the session's view, cached metadata and range reads (RFC 3501 6.4.5).

FLAGS, INTERNALDATE, RFC822.SIZE, UID and MODSEQ (RFC 7162 3.1.4.1) come from the view
(``SelectedMailbox.info``); ENVELOPE, BODY and BODYSTRUCTURE from the ``MessageMeta`` the
store cached at save time; body sections (RFC 3501 6.4.5 ``BODY[section]<partial>``) are
located in the MIME tree by their byte offsets and read as ranges with ``Mailbox.read`` —
nothing is ever reparsed. ``HEADER`` and ``HEADER.FIELDS`` of the message itself are
served from the cached header block without touching the file.

Section data at or above ``STREAM_THRESHOLD`` octets is not read here: it becomes an
``ExternalLiteral`` whose ``source`` is a ``MessageRange`` that the transport reads in
chunks while writing (``MessageRange.chunks``), so a big body never sits whole in memory.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from mailstore.api import Mailbox
from mailstore.message import BodyPart, MessageMeta
from mailstore.types import SEEN, MessageInfo
from protocols.imap.grammar.fetch import BodySection, FetchAttr, FetchItem, Section, SectionText
from protocols.imap.responses import (
    BodyStructureItem,
    EnvelopeItem,
    ExternalLiteral,
    FetchData,
    FetchValue,
    FlagsItem,
    InternalDateItem,
    ModSeqItem,
    SectionItem,
    SizeItem,
    UidItem,
)
from protocols.imap.selected import SelectedMailbox

STREAM_THRESHOLD = 64 * 1024
"""Sections of this many octets or more are streamed by the transport, not read here."""
CHUNK_SIZE = 64 * 1024
"""Octets per range read when a ``MessageRange`` is streamed."""

_META_ATTRS = frozenset({FetchAttr.ENVELOPE, FetchAttr.BODY, FetchAttr.BODYSTRUCTURE})
_SEEN_ATTRS = frozenset({FetchAttr.RFC822, FetchAttr.RFC822_TEXT})
_WHOLE = Section()
_HEADER = Section(text=SectionText.HEADER)
_TEXT = Section(text=SectionText.TEXT)
_RFC822_SECTIONS = {
    FetchAttr.RFC822: _WHOLE,
    FetchAttr.RFC822_HEADER: _HEADER,
    FetchAttr.RFC822_TEXT: _TEXT,
}


@dataclass(frozen=True, slots=True)
class MessageRange:
    """The octets ``[start, start+length)`` of one message: an ``ExternalLiteral`` source.

    The transport writes ``length`` octets by iterating ``chunks()``. If the message
    vanishes meanwhile the read raises ``StoreError``; the literal length is already
    on the wire, so the session must then close the connection (RFC 2180 4.1.3).
    """

    mailbox: Mailbox
    uid: int
    start: int
    length: int

    async def read(self, offset: int, length: int) -> bytes:
        """``length`` octets at ``offset`` within this range."""
        length = max(0, min(length, self.length - offset))
        if length == 0:
            return b""
        return await self.mailbox.read(self.uid, self.start + offset, length)

    async def chunks(self, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The range in pieces of at most ``chunk_size`` octets."""
        offset = 0
        while offset < self.length:
            data = await self.read(offset, chunk_size)
            if not data:
                return
            offset += len(data)
            yield data


@dataclass(frozen=True, slots=True)
class Span:
    """A byte range ``[start, end)`` of the CRLF message."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class FieldsOf:
    """The header block at ``span`` filtered by HEADER.FIELDS(.NOT) (needs a read)."""

    span: Span
    names: tuple[bytes, ...]
    exclude: bool


SectionSource = Span | FieldsOf | bytes | None
"""Where a section's octets come from; None: the part does not exist (sent as NIL)."""


class Need(enum.Flag):
    """What a FETCH needs beyond the view."""

    NONE = 0
    META = enum.auto()
    """``Mailbox.metadata``: envelope, structure, header block, part offsets."""
    SEEN = enum.auto()
    """A non-PEEK body item: sets ``\\Seen`` (RFC 3501 6.4.5)."""


def needs(items: Iterable[FetchItem]) -> Need:
    """What fetching ``items`` requires (metadata; implicit ``\\Seen``)."""
    need = Need.NONE
    for item in items:
        if isinstance(item, BodySection):
            if item.section != _WHOLE:
                need |= Need.META
            if not item.peek:
                need |= Need.SEEN
        elif item in _META_ATTRS or item in (FetchAttr.RFC822_HEADER, FetchAttr.RFC822_TEXT):
            need |= Need.META
        if item in _SEEN_ATTRS:
            need |= Need.SEEN
    return need


# -- locating sections (pure) ------------------------------------------------------------


def locate_part(root: BodyPart, path: Sequence[int]) -> BodyPart | None:
    """The body part named by ``path`` (RFC 3501 6.4.5 part specifiers), or None.

    A non-multipart message has one part, numbered 1; the parts of a message/rfc822 part
    are those of the message it encloses.
    """
    current, in_message = root, True
    part: BodyPart | None = None
    for i, number in enumerate(path):
        if current.type == "multipart":
            if not 1 <= number <= len(current.parts):
                return None
            part = current.parts[number - 1]
        elif in_message and number == 1:
            part = current
        else:
            return None
        if i + 1 < len(path):
            if _is_message(part) and part.message_body is not None:
                current, in_message = part.message_body, True
            else:
                current, in_message = part, False
    return part


def _is_message(part: BodyPart) -> bool:
    return part.type == "message" and part.subtype == "rfc822"


def section_source(meta: MessageMeta, section: Section) -> SectionSource:
    """Where ``section`` of the message lies (RFC 3501 6.4.5), without reading it."""
    text, fields = section.text, section.fields
    if not section.part:
        header_end = len(meta.header)
        if text is None:
            return Span(0, meta.size)
        if text is SectionText.HEADER:
            return meta.header
        if text is SectionText.TEXT:
            return Span(header_end, max(header_end, meta.size))
        if text is SectionText.MIME:
            return None
        return filter_header(meta.header, fields, exclude=text is SectionText.HEADER_FIELDS_NOT)
    part = locate_part(meta.body, section.part)
    if part is None:
        return None
    if text is None:
        return Span(part.body_start, part.body_end)
    if text is SectionText.MIME:
        return Span(part.header_start, part.body_start)
    inner = part.message_body if _is_message(part) else None
    if inner is None:
        return None
    if text is SectionText.HEADER:
        return Span(inner.header_start, inner.body_start)
    if text is SectionText.TEXT:
        return Span(inner.body_start, inner.body_end)
    span = Span(inner.header_start, inner.body_start)
    return FieldsOf(span, fields, text is SectionText.HEADER_FIELDS_NOT)


def header_fields(header: bytes) -> list[tuple[bytes, bytes]]:
    """A header block as ``(lower-case name, raw field with continuation lines and CRLF)``.

    The empty line that ends the block is dropped; a line without a colon is kept with
    the name ``b""`` (it matches no HEADER.FIELDS name).
    """
    out: list[tuple[bytes, bytes]] = []
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            name, raw = out[-1]
            out[-1] = (name, raw + line + b"\r\n")
            continue
        colon = line.find(b":")
        name = line[:colon].rstrip(b" \t").lower() if colon > 0 else b""
        out.append((name, line + b"\r\n"))
    return out


def filter_header(header: bytes, names: Iterable[bytes], *, exclude: bool) -> bytes:
    """HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 3501 6.4.5): the chosen fields, then CRLF.

    Names compare case-insensitively; fields keep their order and original octets.
    """
    wanted = {name.lower() for name in names}
    kept = [raw for name, raw in header_fields(header) if (name in wanted) != exclude]
    return b"".join(kept) + b"\r\n"


def _partial(length: int, partial: tuple[int, int] | None) -> tuple[int, int]:
    """(offset, length) within a section of ``length`` octets for ``<origin.count>``."""
    if partial is None:
        return 0, length
    origin, count = partial
    origin = min(origin, length)
    return origin, min(count, length - origin)


# -- computing items ---------------------------------------------------------------------


async def section_data(
    mailbox: Mailbox,
    uid: int,
    source: SectionSource,
    partial: tuple[int, int] | None,
    threshold: int = STREAM_THRESHOLD,
) -> bytes | ExternalLiteral | None:
    """The octets of a located section, cut by ``partial``; ranges of ``threshold`` octets
    or more become ``ExternalLiteral``s read later by the transport."""
    if source is None:
        return None
    if isinstance(source, FieldsOf):
        span = source.span
        block = await mailbox.read(uid, span.start, span.end - span.start)
        source = filter_header(block, source.names, exclude=source.exclude)
    if isinstance(source, bytes):
        offset, length = _partial(len(source), partial)
        return source[offset : offset + length]
    offset, length = _partial(max(0, source.end - source.start), partial)
    if length == 0:
        return b""
    start = source.start + offset
    if length >= threshold:
        return ExternalLiteral(length, MessageRange(mailbox, uid, start, length))
    return await mailbox.read(uid, start, length)


async def _body_item(
    mailbox: Mailbox,
    info: MessageInfo,
    meta: MessageMeta | None,
    item: BodySection,
    threshold: int,
) -> SectionItem:
    source: SectionSource
    if item.section == _WHOLE:
        source = Span(0, info.size)
    elif meta is None:
        raise LookupError(info.uid)
    else:
        source = section_source(meta, item.section)
    data = await section_data(mailbox, info.uid, source, item.partial, threshold)
    return SectionItem(item.response_name(), data)


def _simple_item(
    sel: SelectedMailbox, info: MessageInfo, meta: MessageMeta | None, item: FetchAttr
) -> FetchValue:
    if item is FetchAttr.UID:
        return UidItem(info.uid)
    if item is FetchAttr.FLAGS:
        return FlagsItem(sel.flags_with_recent(info.uid))
    if item is FetchAttr.INTERNALDATE:
        return InternalDateItem(info.internal_date)
    if item is FetchAttr.RFC822_SIZE:
        return SizeItem(info.size)
    if item is FetchAttr.MODSEQ:
        return ModSeqItem(info.modseq)
    if meta is None:
        raise LookupError(info.uid)
    if item is FetchAttr.ENVELOPE:
        return EnvelopeItem(meta.envelope)
    return BodyStructureItem(meta.body, extended=item is FetchAttr.BODYSTRUCTURE)


async def fetch_message(
    sel: SelectedMailbox,
    uid: int,
    items: Sequence[FetchItem],
    meta: MessageMeta | None,
    *,
    with_uid: bool = False,
    with_flags: bool = False,
    with_modseq: bool = False,
    threshold: int = STREAM_THRESHOLD,
) -> FetchData:
    """``* n FETCH (...)`` for one message of the view (RFC 3501 7.4.2).

    ``with_uid`` adds UID (UID FETCH, RFC 3501 6.4.8); ``with_flags`` adds FLAGS (the
    implicit ``\\Seen`` changed them); ``with_modseq`` adds MODSEQ (CHANGEDSINCE, or FLAGS
    under CONDSTORE); sections of ``threshold`` octets or more are streamed. Raises
    ``LookupError`` when ``meta`` is needed but missing (the message left the store),
    ``StoreError`` when a read fails.
    """
    info = sel.info(uid)
    seq = sel.seq_of(uid)
    if seq is None:
        raise LookupError(uid)
    wanted: list[FetchItem] = list(items)
    if with_uid and FetchAttr.UID not in wanted:
        wanted.insert(0, FetchAttr.UID)
    if with_flags and FetchAttr.FLAGS not in wanted:
        wanted.append(FetchAttr.FLAGS)
    if with_modseq and FetchAttr.MODSEQ not in wanted:
        wanted.append(FetchAttr.MODSEQ)
    values: list[FetchValue] = []
    for item in wanted:
        if isinstance(item, BodySection):
            values.append(await _body_item(sel.mailbox, info, meta, item, threshold))
        elif item in _RFC822_SECTIONS:
            body = BodySection(_RFC822_SECTIONS[item], peek=True)
            got = await _body_item(sel.mailbox, info, meta, body, threshold)
            values.append(SectionItem(item.value.encode(), got.data))
        else:
            values.append(_simple_item(sel, info, meta, item))
    return FetchData(seq, tuple(values))


def unseen(sel: SelectedMailbox, uids: Iterable[int]) -> list[int]:
    """The UIDs among ``uids`` still in the store whose ``\\Seen`` is not set."""
    return [u for u in uids if not sel.is_expunged(u) and SEEN not in sel.info(u).flags]
