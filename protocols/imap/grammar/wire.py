"""Writing IMAP strings (RFC 3501 4.2, 4.3, 9): atom, quoted or literal, and NIL.

A string is sent quoted when every octet may appear in ``quoted`` (7-bit, no CR, LF or NUL;
``"`` and ``\\`` escaped) and it is not too long, else as a synchronising-looking literal
``{n}CRLF`` + octets (from a server a literal needs no continuation). ``astring`` output uses
an atom when the value is a non-empty run of ASTRING-CHAR other than ``NIL``.
"""

from __future__ import annotations

import re

MAX_QUOTED = 1024
"""Longer strings go out as literals."""

_QUOTED_SAFE = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*\Z")
_ASTRING_SAFE = re.compile(rb'[^(){ \x00-\x1f\x7f-\xff%*"\\]+\Z')


def literal_header(size: int) -> bytes:
    """``{size}`` CRLF."""
    return b"{%d}\r\n" % size


def is_quotable(data: bytes) -> bool:
    """True if ``data`` may be sent as a quoted string."""
    return len(data) <= MAX_QUOTED and _QUOTED_SAFE.match(data) is not None


def quote(data: bytes) -> bytes:
    """``"..."`` with ``\\`` and ``"`` escaped (call ``is_quotable`` first)."""
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def string_bytes(data: bytes) -> bytes:
    """``string``: quoted if possible, else literal."""
    if is_quotable(data):
        return quote(data)
    return literal_header(len(data)) + data


def nstring_bytes(data: bytes | None) -> bytes:
    """``nstring``: NIL for None."""
    return b"NIL" if data is None else string_bytes(data)


def astring_bytes(data: bytes) -> bytes:
    """``astring``: an atom when safe, else a string."""
    if _ASTRING_SAFE.match(data) and data.upper() != b"NIL":
        return data
    return string_bytes(data)
