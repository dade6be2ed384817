"""Mailbox names and LIST patterns on the wire (RFC 3501 5.1, 5.1.3, 9; RFC 6855 3).

ABNF (RFC 3501 9)::

    mailbox         = "INBOX" / astring
                        ; INBOX is case-insensitive.  All case variants of INBOX (e.g.,
                        ; "iNbOx") MUST be interpreted as INBOX not as an astring.
    list-mailbox    = 1*list-char / string
    list-char       = ATOM-CHAR / list-wildcards / resp-specials

Names travel in modified UTF-7 and are decoded strictly with ``mailstore.names``; once the
client has enabled UTF8=ACCEPT (RFC 6855) they travel as raw UTF-8 instead. The store gets
``str`` names with ``/`` as separator; validating a name is the store's job
(``normalize_name``), this module only decodes.
"""

from __future__ import annotations

from mailstore.names import MUTF7Error, decode_mutf7, encode_mutf7
from mailstore.types import INBOX
from protocols.imap.grammar.lexer import Reader, syntax_error


def decode_name(raw: bytes, *, utf8: bool = False) -> str:
    """Wire octets → name: INBOX in any case → ``INBOX``; mUTF-7 (or UTF-8 with ``utf8``)."""
    if raw.upper() == b"INBOX":
        return INBOX
    try:
        if utf8:
            return raw.decode("utf-8")
        return decode_mutf7(raw)
    except (MUTF7Error, UnicodeDecodeError):
        raise syntax_error("Invalid mailbox name") from None


def encode_name(name: str, *, utf8: bool = False) -> bytes:
    """Name → wire octets (mUTF-7, or UTF-8 with ``utf8``)."""
    if utf8:
        return name.encode("utf-8", "surrogateescape")
    return encode_mutf7(name)


def parse_mailbox(reader: Reader, *, utf8: bool = False) -> str:
    """``mailbox``."""
    return decode_name(reader.astring(), utf8=utf8)


def parse_list_mailbox(reader: Reader, *, utf8: bool = False) -> str:
    """``list-mailbox``: a pattern that may hold ``%`` and ``*``, decoded like a name."""
    quoted = reader.at_literal() or reader.peek() == 0x22
    raw = reader.string() if quoted else reader.list_chars()
    if not raw:
        return ""
    try:
        return raw.decode("utf-8") if utf8 else decode_mutf7(raw)
    except (MUTF7Error, UnicodeDecodeError):
        raise syntax_error("Invalid mailbox name") from None
