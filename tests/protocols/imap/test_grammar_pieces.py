from __future__ import annotations

import datetime as dt

import pytest

from protocols.imap.errors import ParseError
from protocols.imap.grammar.dates import format_date, format_date_time, parse_date, parse_date_time
from protocols.imap.grammar.flags import parse_flag_list
from protocols.imap.grammar.lexer import Reader
from protocols.imap.grammar.mailbox import decode_name, encode_name, parse_list_mailbox
from protocols.imap.grammar.wire import astring_bytes, nstring_bytes, string_bytes


@pytest.mark.parametrize(
    ("wire", "date"),
    [
        (b"1-Feb-1994", dt.date(1994, 2, 1)),
        (b'"01-feb-1994"', dt.date(1994, 2, 1)),
        (b"29-Feb-2024", dt.date(2024, 2, 29)),
    ],
)
def test_dates(wire, date):
    assert parse_date(Reader.from_bytes(wire)) == date


@pytest.mark.parametrize("wire", [b"29-Feb-2023", b"1-Foo-1994", b"1-Feb-94", b"0-Jan-2000", b""])
def test_bad_dates(wire):
    with pytest.raises(ParseError):
        parse_date(Reader.from_bytes(wire))


def test_date_time():
    value = parse_date_time(Reader.from_bytes(b'"17-Jul-1996 02:44:25 -0700"'))
    assert value == dt.datetime(1996, 7, 17, 9, 44, 25, tzinfo=dt.UTC)
    assert parse_date_time(Reader.from_bytes(b'"1-Jul-1996 02:44:25 +0000"')).day == 1
    assert format_date_time(value.timestamp(), -420) == b'"17-Jul-1996 02:44:25 -0700"'
    assert format_date_time(0) == b'" 1-Jan-1970 00:00:00 +0000"'
    assert format_date(dt.date(1994, 2, 1)) == b"1-Feb-1994"


@pytest.mark.parametrize(
    "wire",
    [b"17-Jul-1996 02:44:25 -0700", b'"17-Jul-1996 24:00:00 +0000"', b'"17-Jul-1996 02:44 +0000"'],
)
def test_bad_date_time(wire):
    with pytest.raises(ParseError):
        parse_date_time(Reader.from_bytes(wire))


def test_mailbox_names():
    assert decode_name(b"iNbOx") == "INBOX"
    assert decode_name(b"inbox/Sub") == "inbox/Sub"
    assert decode_name(b"&ZeVnLIqe-") == "\u65e5\u672c\u8a9e"
    assert encode_name("\u65e5\u672c\u8a9e") == b"&ZeVnLIqe-"
    assert decode_name("K\u00fcche".encode(), utf8=True) == "K\u00fcche"
    for bad in (b"&", b"&AGE-", b"\xff"):
        with pytest.raises(ParseError):
            decode_name(bad)
    assert parse_list_mailbox(Reader.from_bytes(b"foo/%]*")) == "foo/%]*"


def test_flag_list_canonical_and_deduplicated():
    flags = parse_flag_list(Reader.from_bytes(b"(\\SEEN \\seen $Forwarded \\draft)"))
    assert flags == ("\\Seen", "$Forwarded", "\\Draft")
    for bad in (b"(\\Recent)", b"(\\Foo)", b"(a", b"(a  b)"):
        with pytest.raises(ParseError):
            parse_flag_list(Reader.from_bytes(bad))


def test_wire_strings():
    assert astring_bytes(b"INBOX") == b"INBOX"
    assert astring_bytes(b"a]b") == b"a]b"
    assert astring_bytes(b"") == b'""'
    assert astring_bytes(b"NIL") == b'"NIL"'
    assert astring_bytes(b'a "b"\\') == b'"a \\"b\\"\\\\"'
    assert string_bytes(b"a\r\nb") == b"{4}\r\na\r\nb"
    assert string_bytes(b"\xc3\xa9") == b"{2}\r\n\xc3\xa9"
    assert string_bytes(b"x" * 2000).startswith(b"{2000}\r\n")
    assert nstring_bytes(None) == b"NIL"


def test_reader_literal_and_quoted():
    reader = Reader((b"a {3}", b' "q\\"x" NIL'), (b"l i",))
    assert reader.tag() == b"a"
    reader.sp()
    assert reader.astring() == b"l i"
    reader.sp()
    assert reader.astring() == b'q"x'
    reader.sp()
    assert reader.nstring() is None
    assert reader.at_end()
