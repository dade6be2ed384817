"""Body sections located by offsets (RFC 3501 6.4.5), pure: no store, no reactor."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailstore.message import MessageMeta
from mailstore.message_parse import parse_message
from protocols.imap.fetching import (
    FieldsOf,
    Need,
    Span,
    filter_header,
    header_fields,
    locate_part,
    needs,
    section_source,
)
from protocols.imap.grammar.fetch import (
    ALL,
    BodySection,
    FetchAttr,
    Section,
    SectionText,
)

T = SectionText

INNER = (
    b"From: Carol <carol@example.net>\r\n"
    b"Subject: inner\r\n"
    b"Content-Type: multipart/alternative; boundary=in\r\n"
    b"\r\n"
    b"--in\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"inner plain\r\n"
    b"--in\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>inner html</p>\r\n"
    b"--in--\r\n"
)
NESTED = (
    b"From: Bob <bob@example.org>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: nested\r\n"
    b"X-Long: first\r\n second line\r\n"
    b"Content-Type: multipart/mixed; boundary=out\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--out\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello part one.\r\n"
    b"--out\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"Content-Description: forwarded\r\n"
    b"\r\n" + INNER + b"--out\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAw==\r\n"
    b"--out--\r\n"
    b"epilogue\r\n"
)
SIMPLE = b"From: a@b.c\r\nSubject: plain\r\n\r\nJust text.\r\n"
RFC822_TOP = b"Content-Type: message/rfc822\r\n\r\n" + SIMPLE


def meta_of(data: bytes) -> MessageMeta:
    header, envelope, body = parse_message(data)
    return MessageMeta(1, len(data), 0.0, header, envelope, body)


def section_bytes(data: bytes, section: Section) -> bytes | None:
    """What the section source says, resolved against the message octets."""
    source = section_source(meta_of(data), section)
    if source is None or isinstance(source, bytes):
        return source
    if isinstance(source, FieldsOf):
        block = data[source.span.start : source.span.end]
        return filter_header(block, source.names, exclude=source.exclude)
    assert isinstance(source, Span)
    return data[source.start : source.end]


NESTED_CASES = [
    (Section(), NESTED),
    (Section(text=T.HEADER), NESTED[: NESTED.index(b"\r\n\r\n") + 4]),
    (Section(text=T.TEXT), NESTED[NESTED.index(b"\r\n\r\n") + 4 :]),
    (Section((1,)), b"Hello part one."),
    (Section((1,), T.MIME), b"Content-Type: text/plain; charset=utf-8\r\n\r\n"),
    (Section((2,)), INNER[:-2]),  # the CRLF before a delimiter belongs to it
    (
        Section((2,), T.MIME),
        b"Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n",
    ),
    (Section((2,), T.HEADER), INNER[: INNER.index(b"\r\n\r\n") + 4]),
    (Section((2,), T.TEXT), INNER[INNER.index(b"\r\n\r\n") + 4 : -2]),
    (Section((2, 1)), b"inner plain"),
    (Section((2, 2)), b"<p>inner html</p>"),
    (Section((2, 2), T.MIME), b"Content-Type: text/html\r\n\r\n"),
    (
        Section((2,), T.HEADER_FIELDS, (b"SUBJECT", b"x-absent")),
        b"Subject: inner\r\n\r\n",
    ),
    (Section((3,)), b"AAECAw=="),
    (
        Section(text=T.HEADER_FIELDS, fields=(b"x-long", b"FROM")),
        b"From: Bob <bob@example.org>\r\nX-Long: first\r\n second line\r\n\r\n",
    ),
    (
        Section(text=T.HEADER_FIELDS_NOT, fields=(b"content-type", b"x-long", b"subject")),
        b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\n\r\n",
    ),
    # parts that do not exist, or have no header of their own: NIL
    (Section((4,)), None),
    (Section((0,)), None),
    (Section((1, 1)), None),
    (Section((1,), T.HEADER), None),
    (Section((3,), T.TEXT), None),
    (Section((2, 3)), None),
    (Section((2, 1, 1)), None),
]


@pytest.mark.parametrize(("section", "expected"), NESTED_CASES)
def test_sections_of_nested_message(section: Section, expected: bytes | None) -> None:
    assert section_bytes(NESTED, section) == expected


SIMPLE_CASES = [
    (Section((1,)), b"Just text.\r\n"),
    (Section((1,), T.MIME), b"From: a@b.c\r\nSubject: plain\r\n\r\n"),
    (Section(text=T.TEXT), b"Just text.\r\n"),
    (Section((2,)), None),
    (Section((1, 1)), None),
    (Section(text=T.HEADER_FIELDS, fields=(b"Date",)), b"\r\n"),
]


@pytest.mark.parametrize(("section", "expected"), SIMPLE_CASES)
def test_single_part_message_is_part_one(section: Section, expected: bytes | None) -> None:
    assert section_bytes(SIMPLE, section) == expected


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (Section((1,)), SIMPLE),
        (Section((1,), T.HEADER), b"From: a@b.c\r\nSubject: plain\r\n\r\n"),
        (Section((1,), T.TEXT), b"Just text.\r\n"),
        (Section((1, 1)), b"Just text.\r\n"),
    ],
)
def test_top_level_message_rfc822(section: Section, expected: bytes) -> None:
    assert section_bytes(RFC822_TOP, section) == expected


def test_top_level_header_comes_from_the_cache() -> None:
    meta = meta_of(NESTED)
    assert section_source(meta, Section(text=T.HEADER)) is meta.header
    fields = section_source(meta, Section(text=T.HEADER_FIELDS, fields=(b"to",)))
    assert fields == b"To: alice@example.com\r\n\r\n"


def test_header_fields_unfold_and_keep_malformed_lines() -> None:
    block = b"A: 1\r\n\tcont\r\nno colon here\r\nB : 2\r\n\r\n"
    assert header_fields(block) == [
        (b"a", b"A: 1\r\n\tcont\r\n"),
        (b"", b"no colon here\r\n"),
        (b"b", b"B : 2\r\n"),
    ]
    assert filter_header(block, [b"b"], exclude=False) == b"B : 2\r\n\r\n"
    assert filter_header(block, [b"A"], exclude=True) == b"no colon here\r\nB : 2\r\n\r\n"


@pytest.mark.parametrize(
    ("items", "need"),
    [
        ((FetchAttr.FLAGS, FetchAttr.UID, FetchAttr.RFC822_SIZE), Need.NONE),
        (ALL, Need.META),
        ((FetchAttr.RFC822,), Need.SEEN),
        ((FetchAttr.RFC822_HEADER,), Need.META),
        ((FetchAttr.RFC822_TEXT,), Need.META | Need.SEEN),
        ((BodySection(peek=True),), Need.NONE),
        ((BodySection(),), Need.SEEN),
        ((BodySection(Section(text=T.HEADER), peek=True),), Need.META),
        ((FetchAttr.BODYSTRUCTURE, BodySection(Section((1,)))), Need.META | Need.SEEN),
    ],
)
def test_needs(items: tuple[FetchAttr | BodySection, ...], need: Need) -> None:
    assert needs(items) == need


def test_locate_part_walks_into_message_rfc822() -> None:
    meta = meta_of(NESTED)
    inner = locate_part(meta.body, (2, 1))
    assert inner is not None and inner.subtype == "plain"
    assert locate_part(meta.body, ()) is None


@given(
    st.lists(st.integers(min_value=0, max_value=5), max_size=5),
    st.sampled_from([None, *SectionText]),
    st.sampled_from([NESTED, SIMPLE, RFC822_TOP, b"", b"\r\n", b"no header end"]),
)
def test_any_section_is_in_bounds_or_nil(path: list[int], text: T | None, data: bytes) -> None:
    if text is T.MIME and not path:
        text = None
    fields = (b"subject",) if text in (T.HEADER_FIELDS, T.HEADER_FIELDS_NOT) else ()
    meta = meta_of(data)
    source = section_source(meta, Section(tuple(path), text, fields))
    spans = [source] if isinstance(source, Span) else []
    if isinstance(source, FieldsOf):
        spans = [source.span]
    for span in spans:
        assert 0 <= span.start <= span.end <= meta.size
