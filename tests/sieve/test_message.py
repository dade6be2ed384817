"""SieveMessage: header decoding, addresses, body extraction, dates."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sieve.message import SieveEnvelope, SieveMessage, date_part, parse_date, parse_zone

RAW = (
    b"Subject: =?iso-8859-1?q?caf=E9?=\r\n =?utf-8?b?w6k=?= folded\r\n"
    b'From: "Doe, John" <john@example.com>, jane@example.com\r\n'
    b"To: friends: a@example.com, b@example.com;\r\n"
    b"X-Raw: h\xc3\xa9llo\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=E9 au lait\r\n"
)


def test_headers_are_unfolded_and_decoded() -> None:
    msg = SieveMessage(RAW)
    assert msg.headers("subject") == ["caféé folded"]  # RFC 2047 §6.2: no space between words
    assert msg.headers("X-RAW") == ["héllo"]
    assert msg.has_header("x-raw") and not msg.has_header("x-none")
    assert msg.size == len(RAW)


def test_addresses() -> None:
    msg = SieveMessage(RAW)
    assert msg.addresses("from") == ["john@example.com", "jane@example.com"]
    assert msg.addresses("to") == ["a@example.com", "b@example.com"]
    assert msg.addresses("cc") == []


def test_body_transforms() -> None:
    msg = SieveMessage(RAW)
    assert msg.body_raw() == "caf=E9 au lait\r\n"
    assert msg.body_text() == ["café au lait\r\n"]
    assert msg.body_content(("image",)) == []


def test_envelope_parts() -> None:
    env = SieveEnvelope("", "u@example.com", auth="u")
    assert env.part("FROM") == [""]
    assert env.part("to") == ["u@example.com"]
    assert env.part("auth") == ["u"]
    assert SieveEnvelope("a", "b").part("auth") == []


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("year", "1997"), ("month", "04"), ("day", "01"), ("date", "1997-04-01"),
        ("julian", "50539"), ("hour", "09"), ("minute", "06"), ("second", "31"),
        ("time", "09:06:31"), ("iso8601", "1997-04-01T09:06:31-08:00"),
        ("std11", "Tue, 01 Apr 1997 09:06:31 -0800"), ("zone", "-0800"), ("weekday", "2"),
    ],
)  # fmt: skip
def test_date_parts_rfc5260(part: str, value: str) -> None:
    when = parse_date("Tue, 1 Apr 1997 09:06:31 -0800 (PST)")
    assert when is not None
    assert date_part(when, part) == value


def test_dates_and_zones() -> None:
    assert parse_date("not a date") is None
    assert parse_zone("+0130") == dt.timezone(dt.timedelta(hours=1, minutes=30))
    assert parse_zone("0130") is None and parse_zone("+0199") is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_make_a_message(raw: bytes) -> None:
    msg = SieveMessage(raw)
    for name in ("subject", "from", "to"):
        msg.headers(name)
        msg.addresses(name)
    msg.body_raw()
    msg.body_text()
    msg.body_content(("",))
