"""FETCH data items from the session's view, cached metadata and range reads (RFC 3501 6.4.5).

FLAGS, INTERNALDATE, RFC822.SIZE, UID and MODSEQ (RFC 7162 3.1.4.1) come from the view
(``SelectedMailbox.info``); ENVELOPE, BODY and BODYSTRUCTURE from the ``MessageMeta`` the
store cached at save time; body sections (RFC 3501 6.4.5 ``BODY[section]<partial>``) are
located in the MIME tree by their byte offsets — nothing is ever reparsed. ``HEADER`` and
``HEADER.FIELDS`` of the message itself are served from the cached header block without
touching the file.

``FetchPlanner.plan`` makes each message's response without any I/O: what must be read is
left as ``PendingRead`` ranges, which the FETCH handler reads for many messages at once
(``Mailbox.read_many``: one trip to the store per batch, not one per message) before
``PlannedFetch.complete`` fills them in.

Section data at or above ``STREAM_THRESHOLD`` octets is not read here: it becomes an
``ExternalLiteral`` whose ``source`` is a ``MessageRange`` that the transport reads in
chunks while writing (``MessageRange.chunks``), so a big body never sits whole in memory.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
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


# -- planning a message's response -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingRead:
    """A section of one message whose octets the batch reads (``Mailbox.read_many``).

    ``fields`` set: the octets are a header block to filter (HEADER.FIELDS of a part),
    then cut by ``partial``.
    """

    slot: int
    name: bytes
    start: int
    length: int
    fields: FieldsOf | None = None
    partial: tuple[int, int] | None = None

    def finish(self, octets: bytes) -> bytes:
        """The section data made of the octets read."""
        if self.fields is None:
            return octets
        block = filter_header(octets, self.fields.names, exclude=self.fields.exclude)
        offset, length = _partial(len(block), self.partial)
        return block[offset : offset + length]


@dataclass(slots=True)
class PlannedFetch:
    """One ``* n FETCH`` whose values are known except the sections still to be read."""

    uid: int
    seq: int
    values: list[FetchValue]
    reads: list[PendingRead]

    @property
    def octets(self) -> int:
        """Octets the reads will bring."""
        return sum(r.length for r in self.reads)

    def complete(self, data: Sequence[bytes]) -> FetchData:
        """The response, with ``data[i]`` the octets of ``reads[i]``."""
        values = self.values
        for read, octets in zip(self.reads, data, strict=True):
            values[read.slot] = SectionItem(read.name, read.finish(octets))
        return FetchData(self.seq, tuple(values))


_FLAGS_ITEMS: dict[tuple[str, ...], FlagsItem] = {}


def _flags_item(flags: tuple[str, ...]) -> FlagsItem:
    """A shared ``FlagsItem`` per flag list (a mailbox has few distinct ones)."""
    item = _FLAGS_ITEMS.get(flags)
    if item is None:
        if len(_FLAGS_ITEMS) >= 4096:
            _FLAGS_ITEMS.clear()
        item = _FLAGS_ITEMS[flags] = FlagsItem(flags)
    return item


class FetchPlanner:
    """Plans the response of each message of one FETCH command (RFC 3501 6.4.5, 7.4.2).

    ``with_uid`` adds UID (UID FETCH, RFC 3501 6.4.8); ``with_flags`` adds FLAGS to the
    messages whose ``\\Seen`` the fetch itself set; ``with_modseq`` adds MODSEQ (always:
    CHANGEDSINCE; with FLAGS: CONDSTORE); sections of ``threshold`` octets or more are
    streamed (``ExternalLiteral``), smaller ones are left for the batch to read.
    """

    def __init__(
        self,
        sel: SelectedMailbox,
        items: Sequence[FetchItem],
        *,
        with_uid: bool = False,
        with_modseq: bool = False,
        modseq_if_flagged: bool = False,
        threshold: int = STREAM_THRESHOLD,
    ) -> None:
        self.sel = sel
        self.threshold = threshold
        wanted: list[FetchItem] = list(items)
        if with_uid and FetchAttr.UID not in wanted:
            wanted.insert(0, FetchAttr.UID)
        flagged = list(wanted)
        if FetchAttr.FLAGS not in flagged:
            flagged.append(FetchAttr.FLAGS)
        for group, add in ((wanted, with_modseq), (flagged, with_modseq or modseq_if_flagged)):
            if add and FetchAttr.MODSEQ not in group:
                group.append(FetchAttr.MODSEQ)
        self._wanted = tuple(map(_step, wanted))
        self._flagged = tuple(map(_step, flagged))

    def plan(self, uid: int, meta: MessageMeta | None, *, flagged: bool = False) -> PlannedFetch:
        """The response of ``uid`` (``flagged``: its ``\\Seen`` was just set).

        Raises ``LookupError`` when the message left the view, or ``meta`` is needed but
        missing (the message left the store).
        """
        sel = self.sel
        seq = sel.seq_of(uid)
        if seq is None:
            raise LookupError(uid)
        info = sel.info(uid)
        values: list[FetchValue] = []
        reads: list[PendingRead] = []
        for simple, section, name in self._flagged if flagged else self._wanted:
            if simple is not None:
                values.append(simple(sel, info, meta))
                continue
            assert section is not None
            value, read = self._section(info, meta, section, name, len(values))
            values.append(value)
            if read is not None:
                reads.append(read)
        return PlannedFetch(uid, seq, values, reads)

    def _section(
        self, info: MessageInfo, meta: MessageMeta | None, item: BodySection, name: bytes, slot: int
    ) -> tuple[SectionItem, PendingRead | None]:
        """The section's value; a placeholder and the read that fills it in ``slot`` when
        its octets are to be read by the batch."""
        source: SectionSource
        if item.section == _WHOLE:
            source = Span(0, info.size)
        elif meta is None:
            raise LookupError(info.uid)
        else:
            source = section_source(meta, item.section)
        if isinstance(source, FieldsOf):
            span = source.span
            length = max(0, span.end - span.start)
            read = PendingRead(slot, name, span.start, length, source, item.partial)
            return SectionItem(name, None), read
        if source is None:
            return SectionItem(name, None), None
        if isinstance(source, bytes):
            offset, length = _partial(len(source), item.partial)
            return SectionItem(name, source[offset : offset + length]), None
        offset, length = _partial(max(0, source.end - source.start), item.partial)
        start = source.start + offset
        if length == 0:
            return SectionItem(name, b""), None
        if length >= self.threshold:
            stream = MessageRange(self.sel.mailbox, info.uid, start, length)
            return SectionItem(name, ExternalLiteral(length, stream)), None
        return SectionItem(name, None), PendingRead(slot, name, start, length)


def _need(meta: MessageMeta | None, info: MessageInfo) -> MessageMeta:
    if meta is None:
        raise LookupError(info.uid)
    return meta


SimpleItem = Callable[[SelectedMailbox, MessageInfo, MessageMeta | None], FetchValue]
_SIMPLE: dict[FetchAttr, SimpleItem] = {
    FetchAttr.UID: lambda sel, info, meta: UidItem(info.uid),
    FetchAttr.FLAGS: lambda sel, info, meta: _flags_item(sel.flags_with_recent(info.uid)),
    FetchAttr.INTERNALDATE: lambda sel, info, meta: InternalDateItem(info.internal_date),
    FetchAttr.RFC822_SIZE: lambda sel, info, meta: SizeItem(info.size),
    FetchAttr.MODSEQ: lambda sel, info, meta: ModSeqItem(info.modseq),
    FetchAttr.ENVELOPE: lambda sel, info, meta: EnvelopeItem(_need(meta, info).envelope),
    FetchAttr.BODY: lambda sel, info, meta: BodyStructureItem(_need(meta, info).body, False),
    FetchAttr.BODYSTRUCTURE: lambda sel, info, meta: BodyStructureItem(_need(meta, info).body),
}
"""How each non-section item is made from the view (and metadata): chosen once per command."""


def _step(item: FetchItem) -> tuple[SimpleItem | None, BodySection | None, bytes]:
    """(maker of a simple item) or (the body section to locate and its response name)."""
    if isinstance(item, BodySection):
        return None, item, item.response_name()
    if item in _RFC822_SECTIONS:
        return None, BodySection(_RFC822_SECTIONS[item], peek=True), item.value.encode()
    return _SIMPLE[item], None, b""


def unseen(sel: SelectedMailbox, uids: Iterable[int]) -> list[int]:
    """The UIDs among ``uids`` still in the store whose ``\\Seen`` is not set."""
    return [u for u in uids if not sel.is_expunged(u) and SEEN not in sel.info(u).flags]
