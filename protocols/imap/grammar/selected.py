"""Arguments of the selected-state commands that have a UID form (RFC 3501 6.4, 6.4.8).

FETCH, STORE, COPY, SEARCH and EXPUNGE (RFC 3501), MOVE (RFC 6851), UID EXPUNGE (RFC 4315),
with the CONDSTORE/QRESYNC modifiers (RFC 7162) and ESEARCH RETURN options (RFC 4731).
Each parser receives the reader after the verb and whether ``UID`` preceded it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mailstore.types import FlagMode
from protocols.imap import commands as c
from protocols.imap.grammar.fetch import FetchModifiers, parse_fetch_items, parse_fetch_modifiers
from protocols.imap.grammar.flags import parse_store_flags
from protocols.imap.grammar.lexer import MAX_NUMBER64, Reader, syntax_error
from protocols.imap.grammar.mailbox import parse_mailbox
from protocols.imap.grammar.search import parse_charset, parse_return_opts, parse_search_keys
from protocols.imap.grammar.sequence import parse_sequence_set

_STORE_ATT = re.compile(rb"[+-]?[Ff][Ll][Aa][Gg][Ss](?:\.[Ss][Ii][Ll][Ee][Nn][Tt])?")

UidParser = Callable[[Reader, bytes, bool, bool], c.Command]


def _search(r: Reader, tag: bytes, _utf8: bool, uid: bool) -> c.Search:
    """``"SEARCH" [SP "RETURN" SP ...] [SP "CHARSET" SP astring] 1*(SP search-key)``."""
    r.sp()
    returns = None
    charset = None
    if r.try_keyword(b"RETURN"):
        r.sp()
        returns = parse_return_opts(r)
        r.sp()
    if r.try_keyword(b"CHARSET"):
        r.sp()
        charset = parse_charset(r)
        r.sp()
    key = parse_search_keys(r, charset or "US-ASCII")
    return c.Search(tag, key, uid, charset, returns)


def _fetch(r: Reader, tag: bytes, _utf8: bool, uid: bool) -> c.Fetch:
    """``"FETCH" SP sequence-set SP (macro / fetch-att / list) [fetch-modifiers]``."""
    r.sp()
    numbers = parse_sequence_set(r)
    r.sp()
    items = parse_fetch_items(r)
    modifiers = FetchModifiers()
    if not r.at_end():
        r.sp()
        modifiers = parse_fetch_modifiers(r)
    if modifiers.vanished and not uid:
        raise syntax_error("VANISHED needs UID FETCH")
    return c.Fetch(tag, numbers, items, uid, modifiers)


def _store(r: Reader, tag: bytes, _utf8: bool, uid: bool) -> c.Store:
    """``"STORE" SP sequence-set [SP store-modifiers] SP store-att-flags`` (RFC 7162)."""
    r.sp()
    numbers = parse_sequence_set(r)
    r.sp()
    unchanged_since = None
    if r.peek() == 0x28:
        r.char(b"(")
        if not r.try_keyword(b"UNCHANGEDSINCE"):
            raise syntax_error("Unknown STORE modifier")
        r.sp()
        unchanged_since = r.number(MAX_NUMBER64)
        r.char(b")")
        r.sp()
    att = r.take(_STORE_ATT).upper()
    mode = {b"+": FlagMode.ADD, b"-": FlagMode.REMOVE}.get(att[:1], FlagMode.REPLACE)
    r.sp()
    flags = parse_store_flags(r)
    return c.Store(tag, numbers, mode, flags, att.endswith(b".SILENT"), uid, unchanged_since)


def _copy_or_move(cls: type[c.Copy | c.Move]) -> UidParser:
    def parse(r: Reader, tag: bytes, utf8: bool, uid: bool) -> c.Command:
        r.sp()
        numbers = parse_sequence_set(r)
        r.sp()
        return cls(tag, numbers, parse_mailbox(r, utf8=utf8), uid)

    return parse


def _expunge(r: Reader, tag: bytes, _utf8: bool, uid: bool) -> c.Expunge:
    """``"EXPUNGE"`` / ``"UID" SP "EXPUNGE" SP sequence-set`` (RFC 4315)."""
    if not uid:
        return c.Expunge(tag)
    r.sp()
    return c.Expunge(tag, True, parse_sequence_set(r))


UID_VERBS: dict[bytes, UidParser] = {
    b"SEARCH": _search,
    b"FETCH": _fetch,
    b"STORE": _store,
    b"COPY": _copy_or_move(c.Copy),
    b"MOVE": _copy_or_move(c.Move),
    b"EXPUNGE": _expunge,
}
