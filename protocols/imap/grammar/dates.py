"""Dates and date-times (RFC 3501 9: SEARCH dates, APPEND and INTERNALDATE).

ABNF (RFC 3501 9)::

    date            = date-text / DQUOTE date-text DQUOTE
    date-text       = date-day "-" date-month "-" date-year
    date-day        = 1*2DIGIT
    date-month      = "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" /
                      "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
    date-year       = 4DIGIT
    date-time       = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
    date-day-fixed  = (SP DIGIT) / 2DIGIT
    time            = 2DIGIT ":" 2DIGIT ":" 2DIGIT
    zone            = ("+" / "-") 4DIGIT

Month names match case-insensitively; a one-digit day is accepted in a date-time too
(clients send ``"1-Jan-2024 ..."``), as most servers do.
"""

from __future__ import annotations

import datetime as dt
import re

from protocols.imap.grammar.lexer import Reader, syntax_error

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.upper().encode(): i + 1 for i, name in enumerate(MONTHS)}
_DATE_TEXT = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})\Z")
_DATE_ATOM = re.compile(rb"[0-9A-Za-z-]+")
_DATE_TIME = re.compile(
    rb" ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})"
    rb" ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})\Z"
)


def _date(day: bytes, month: bytes, year: bytes) -> dt.date:
    number = _MONTH_NUMBER.get(month.upper())
    if number is None:
        raise syntax_error("Invalid date")
    try:
        return dt.date(int(year), number, int(day))
    except ValueError as exc:
        raise syntax_error("Invalid date", detail=str(exc)) from None


def parse_date(reader: Reader) -> dt.date:
    """``date`` (SEARCH BEFORE/ON/SINCE/SENT*)."""
    text = reader.quoted() if reader.peek() == 0x22 else reader.take(_DATE_ATOM)
    match = _DATE_TEXT.match(text)
    if match is None:
        raise syntax_error("Invalid date")
    return _date(match.group(1), match.group(2), match.group(3))


def parse_date_time(reader: Reader) -> dt.datetime:
    """``date-time`` (APPEND), as an aware datetime."""
    if reader.peek() != 0x22:
        raise syntax_error("Invalid date-time")
    match = _DATE_TIME.match(reader.quoted())
    if match is None:
        raise syntax_error("Invalid date-time")
    day, month, year, hh, mm, ss, sign, zh, zm = match.groups()
    date = _date(day, month, year)
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 60 or int(zh) > 23 or int(zm) > 59:
        raise syntax_error("Invalid date-time")
    offset = dt.timedelta(hours=int(zh), minutes=int(zm))
    tz = dt.timezone(-offset if sign == b"-" else offset)
    return dt.datetime(
        date.year, date.month, date.day, int(hh), int(mm), min(int(ss), 59), tzinfo=tz
    )


def format_date(date: dt.date) -> bytes:
    """``date-text`` (``1-Feb-1994``)."""
    return f"{date.day}-{MONTHS[date.month - 1]}-{date.year:04d}".encode()


def format_date_time(timestamp: float, utc_offset_minutes: int = 0) -> bytes:
    """``date-time`` with quotes (``"17-Jul-1996 02:44:25 -0700"``) for INTERNALDATE."""
    tz = dt.timezone(dt.timedelta(minutes=utc_offset_minutes))
    when = dt.datetime.fromtimestamp(int(timestamp), tz)
    sign = "-" if utc_offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(utc_offset_minutes), 60)
    return (
        f'"{when.day:2d}-{MONTHS[when.month - 1]}-{when.year:04d} '
        f'{when:%H:%M:%S} {sign}{hours:02d}{minutes:02d}"'
    ).encode()
