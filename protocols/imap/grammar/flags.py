"""Message flags and keywords (RFC 3501 2.3.2, 9).

ABNF (RFC 3501 9)::

    flag            = "\\Answered" / "\\Flagged" / "\\Deleted" / "\\Seen" / "\\Draft" /
                      flag-keyword / flag-extension
    flag-keyword    = atom
    flag-extension  = "\\" atom
    flag-list       = "(" [flag *(SP flag)] ")"
    flag-fetch      = flag / "\\Recent"
    flag-perm       = flag / "\\*"

Flags are ``str`` in the store's spelling: system flags case-folded to their canonical
form (``\\SEEN`` → ``\\Seen``), keywords as sent (they compare case-insensitively in SEARCH,
but clients expect their spelling back). A client cannot set ``\\Recent`` or an unknown
``\\`` flag: both are refused (as Dovecot does) rather than stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from mailstore.types import SYSTEM_FLAGS
from protocols.imap.grammar.lexer import Reader, parenthesized, syntax_error

RECENT = "\\Recent"
ANY_KEYWORD = "\\*"
_CANONICAL = {flag.upper(): flag for flag in SYSTEM_FLAGS}


def canonical_flag(raw: bytes) -> str:
    """A ``flag`` token as a store flag; raises ``ParseError`` for ``\\Recent``/unknown ``\\x``."""
    text = raw.decode("ascii")
    if text.startswith("\\"):
        flag = _CANONICAL.get(text.upper())
        if flag is None:
            raise syntax_error("Invalid system flag")
        return flag
    return text


def parse_flag(reader: Reader) -> str:
    """``flag`` (a settable flag: no ``\\Recent``)."""
    if reader.try_char(b"\\"):
        return canonical_flag(b"\\" + reader.atom())
    return canonical_flag(reader.atom())


def parse_flag_list(reader: Reader) -> tuple[str, ...]:
    """``flag-list``; duplicates removed, order kept."""
    return tuple(dict.fromkeys(parenthesized(reader, parse_flag)))


def parse_store_flags(reader: Reader) -> tuple[str, ...]:
    """STORE's ``flag-list / (flag *(SP flag))`` (RFC 3501 9 ``store-att-flags``)."""
    if reader.peek() == 0x28:
        return parse_flag_list(reader)
    flags = [parse_flag(reader)]
    while reader.peek() == 0x20:
        reader.sp()
        flags.append(parse_flag(reader))
    return tuple(dict.fromkeys(flags))


def format_flag_list(flags: Iterable[str]) -> bytes:
    """``(\\Seen $Forwarded)`` for a FLAGS response or a flag-list argument."""
    return b"(" + b" ".join(flag.encode("ascii", "replace") for flag in flags) + b")"
