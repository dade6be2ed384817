"""The parser's fast paths give what the general scanners give (issue #7).

Each fast path (simple address lists, simple Content-Type/-Disposition values, the
regex header scan, the LF single-part parse of a stored file) is compared with the slow
path it short-cuts, on tricky inputs and on Hypothesis-generated ones.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore.envelope import _simple_list, parse_address_list, parse_address_list_slow
from mailstore.message import Address
from mailstore.message_parse import parse_message, parse_stored
from mailstore.mime import (
    WANTED_FIELDS,
    field_text,
    header_fields,
    header_texts,
    parse_content_type,
    parse_content_type_slow,
    parse_disposition,
    parse_disposition_slow,
)


def reference_header_fields(block: bytes) -> dict[bytes, bytes]:
    """The line-by-line scanner ``header_fields`` replaced (the specification)."""
    found: dict[bytes, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        current = None
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].rstrip(b" \t").lower()
        if name in WANTED_FIELDS and name not in found:
            current = found[name] = [line[colon + 1 :]]
    return {name: b"".join(chunks) for name, chunks in found.items()}


# -- address lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@b", [Address(None, None, "a", "b")]),
        ("  a@b  ", [Address(None, None, "a", "b")]),
        ("a @ b", [Address(None, None, "a", "b")]),
        ("<a@b>", [Address(None, None, "a", "b")]),
        ("Joe Q. Public <jqp@x.org>", [Address("Joe Q. Public", None, "jqp", "x.org")]),
        ("Joe\t  Public\r\n <j@x>", [Address("Joe Public", None, "j", "x")]),
        ('"Doe, John" <j@d>', [Address("Doe, John", None, "j", "d")]),
        ('x"y" <a@b>', [Address("x y", None, "a", "b")]),
        ('"" <a@b>', [Address(None, None, "a", "b")]),
        ('"" x <a@b>', [Address(" x", None, "a", "b")]),
        ("=?utf-8?q?J=C3=B6rg?= <j@d>", [Address("=?utf-8?q?J=C3=B6rg?=", None, "j", "d")]),
        ("J\udcc3\udcb6rg <j@d>", [Address("J\udcc3\udcb6rg", None, "j", "d")]),
        ("a@b, C <c@d>,", [Address(None, None, "a", "b"), Address("C", None, "c", "d")]),
    ],
)
def test_simple_address_lists_take_the_fast_path(value: str, expected: list[Address]) -> None:
    assert _simple_list(value) == tuple(expected)
    assert parse_address_list_slow(value) == tuple(expected)
    assert parse_address_list(value) == tuple(expected)


@pytest.mark.parametrize(
    "value",
    [
        "user@domain (Real Name)",  # comment: the name comes from it
        '"john doe"@x.org',  # quoted local part
        "<@route:user@domain>",  # obsolete route
        "group: a@b, c@d;",  # group syntax
        "undisclosed-recipients:;",
        "u@[192.0.2.1]",  # domain literal
        "a@b,, ,c@d",  # empty members
        "root",  # no domain
        "Name <>",  # empty angle address
        '"a\\"b" <a@b>',  # quoted-pair
        "a@b@c",
        "a@b <c@d>",
        "<a@b> trailing",
        "a@b, ",
    ],
)
def test_other_shapes_fall_back(value: str) -> None:
    assert _simple_list(value) is None
    assert parse_address_list(value) == parse_address_list_slow(value)


address_pieces = st.sampled_from(
    [
        "a", "bob", "x.y", "@", "<", ">", ",", " ", "\t", "\r\n", '"', '"q w"', '""', "\\",
        "(", ")", ";", ":", "[", "]", "\xe9", "\udcff", "=?utf-8?q?a?=", "Name", " <u@d>",
        "u@d", "\xa0",
    ]
)  # fmt: skip


@settings(max_examples=1000)
@given(st.lists(address_pieces, max_size=12).map("".join))
def test_address_fast_path_agrees(value: str) -> None:
    fast = _simple_list(value)
    if fast is not None:
        assert fast == parse_address_list_slow(value)
    assert parse_address_list(value) == parse_address_list_slow(value)
    assert parse_address_list(value) == parse_address_list_slow(value)  # memoised answer


# -- Content-Type / Content-Disposition ------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "text/plain",
        "text/plain; charset=us-ascii",
        "Text/HTML; Charset=UTF-8;",
        'multipart/mixed; boundary="a;b c"',
        "multipart/mixed; boundary=----=_Part_1",
        "text / plain ; charset = x",
        "text/plain; name=",
        "attachment; filename*0=a; filename*1=b",
        "attachment; filename*=utf-8''%C3%A9",
        'text/plain; charset="a\\"b"',  # quoted-pair: slow path
        "text/plain (comment); charset=x",
        "(comment) text/plain",
        "text/plain; garbage; charset=x",
        "text/plain charset=x",
        "text",
        "/plain",
        "text/",
        "",
    ],
)
def test_content_type_fast_path_agrees(value: str) -> None:
    assert parse_content_type(value) == parse_content_type_slow(value)
    assert parse_content_type(value) == parse_content_type_slow(value)  # memoised answer
    assert parse_disposition(value) == parse_disposition_slow(value)


type_pieces = st.sampled_from(
    [
        "text", "/", "plain", ";", " ", "\t", "=", '"', '"q w"', "\\", "(", ")", "charset",
        "x*0", "x*1*", "us-ascii''a", "\xe9", "\r", "\n", "\x00", "\x7f", "A", '""', "?", "%",
        "*",
    ]
)  # fmt: skip


@settings(max_examples=1000)
@given(st.lists(type_pieces, max_size=14).map("".join))
def test_parameter_fast_path_agrees(value: str) -> None:
    assert parse_content_type(value) == parse_content_type_slow(value)
    assert parse_disposition(value) == parse_disposition_slow(value)


# -- header scan -----------------------------------------------------------------------------

header_pieces = st.sampled_from(
    [
        b"From", b"from", b"FROM", b"To", b"Cc", b"x", b":", b" ", b"\t", b"\r\n", b"\r", b"\n",
        b"\r\n ", b"\r\n\t", b"Subject", b"Content-Type", b"In-Reply-To", b"\xff", b"a@b",
        b"X-From", b"From :", b"\r\n\r\n",
    ]
)  # fmt: skip


@settings(max_examples=1000)
@given(st.lists(header_pieces, max_size=16).map(b"".join))
def test_header_scan_agrees_with_the_line_scanner(block: bytes) -> None:
    fields = header_fields(block)
    assert fields == reference_header_fields(block)
    assert header_texts(block) == {name: field_text(fields, name) for name in fields}


def test_header_scan_cases() -> None:
    block = (
        b"X-Subject: no\r\nSUBJECT : one\r\n\ttwo\r\n three\r\nsubject: second\r\n"
        b"From\r\n : not a field\r\n from: continuation\r\nCONTENT-type:text/plain\r\n\r\n"
    )
    assert header_fields(block) == reference_header_fields(block)
    assert header_texts(block) == {b"subject": "one\ttwo three", b"content-type": "text/plain"}


# -- LF files parsed without converting the body ---------------------------------------------

TRICKY_LF = [
    b"From: Sender <s@example.org>\nTo: a@b, C <c@d>\nSubject: hi\n\nbody\nmore\n",
    b"From: a@b\nSubject: =?utf-8?q?caf=C3=A9?=\n folded\n\tagain\n\nbody",
    b"From: Caf\xc3\xa9 \xff <x@y>\nTo: group: a@b, c@d;, undisclosed-recipients:;\n\nx\n",
    b"Sender:\nReply-To: \nFrom: user@domain (Real Name)\nCc: <@r:u@d>\n\nbody\n",
    b"Subject: no addresses at all\n\n",
    b"Subject: header only, no blank line\n",
    b"Subject: no final newline",
    b"\nbody without a header\n",
    b"",
    b"\n",
    b"Garbage line without colon\n: empty name\nFrom: <>\n\nb\n\n\n",
    b'Content-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: base64\n'
    b"Content-Disposition: inline; filename*0=a; filename*1=b\nContent-Language: en, de\n"
    b"Content-ID: <id@x>\nContent-Description: d\nContent-MD5: m\nContent-Location: l\n\n"
    b"PGI+\n",
    b"Content-Type: multipart/mixed; boundary=xx\n\n--xx\nContent-Type: text/plain\n\n"
    b"one\n--xx\n\ntwo\n--xx--\n",
    b"Content-Type: multipart/alternative\n\nno boundary: a text leaf\n",
    b"Content-Type: message/rfc822\n\nFrom: inner@x\nSubject: inner\n\ninner body\n",
    b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nRnJvbTog\n",
    b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n",
    b"Content-Type: bogus\n\nbody\n",
    b"Content-Type: Text/Plain; Charset=ISO-8859-1 (comment)\n\nbody\n",
]


@pytest.mark.parametrize("raw", TRICKY_LF)
def test_parse_stored_lf_is_parse_of_the_crlf_form(raw: bytes) -> None:
    assert parse_stored(raw) == parse_message(raw.replace(b"\n", b"\r\n"))


@pytest.mark.parametrize(
    "raw",
    [b"From: a@b\r\n\r\nbody\r\n", b"From: a@b\n\nmixed\r\nends\n", b"Subject: cr\ronly\n\nb\n"],
)
def test_parse_stored_with_cr_is_parse_message(raw: bytes) -> None:
    assert parse_stored(raw) == parse_message(raw)


lf_pieces = st.sampled_from(
    [
        b"From: A <a@b>\n", b"To: x@y, Z <z@w>\n", b"Subject: s\n", b" folded\n",
        b"Content-Type: text/plain; charset=utf-8\n", b"Content-Type: multipart/mixed; "
        b"boundary=q\n", b"Content-Type: message/rfc822\n", b"--q\n", b"--q--\n", b"\n",
        b"text line\n", b"no newline", b"\xc3\xa9\xff", b"Cc: group: a@b;\n", b"Date: d\n",
    ]
)  # fmt: skip


@settings(max_examples=500)
@given(st.lists(lf_pieces, max_size=24).map(b"".join))
def test_parse_stored_agrees_on_generated_files(raw: bytes) -> None:
    assert parse_stored(raw) == parse_message(raw.replace(b"\n", b"\r\n"))
