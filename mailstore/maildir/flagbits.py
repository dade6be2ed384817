"""Flags as the index stores them: system flags as bits, keywords as one text column.

``messages.flags`` holds the IMAP system flags as a bit mask (same order as the Maildir
letters D F R S T), ``messages.keywords`` the keywords space separated and sorted. The
frozensets handed out in ``MessageInfo`` are built once per distinct state and shared.
"""

from __future__ import annotations

from mailstore.types import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN

FLAG_BITS: dict[str, int] = {DRAFT: 1, FLAGGED: 2, ANSWERED: 4, SEEN: 8, DELETED: 16}
"""IMAP system flag → bit in ``messages.flags`` (same order as the letters D F R S T)."""
SEEN_BIT = FLAG_BITS[SEEN]
DELETED_BIT = FLAG_BITS[DELETED]
_BIT_FLAGS = tuple(FLAG_BITS.items())
_FLAGSET_CACHE: dict[tuple[int, str], frozenset[str]] = {}


def bits_of(flags: frozenset[str]) -> int:
    """System flags (exact IMAP spelling) → bit mask."""
    return sum(bit for flag, bit in _BIT_FLAGS if flag in flags)


def system_of(bits: int) -> frozenset[str]:
    """Bit mask → system flags."""
    return frozenset(flag for flag, bit in _BIT_FLAGS if bits & bit)


def join_keywords(keywords: frozenset[str]) -> str:
    """Keywords → the ``messages.keywords`` column (space separated, sorted)."""
    return " ".join(sorted(keywords))


def split_keywords(text: str) -> frozenset[str]:
    """The ``messages.keywords`` column → keywords."""
    return frozenset(text.split()) if text else frozenset()


def flagset(bits: int, keywords: str) -> frozenset[str]:
    """System bits + keyword column → the flags of a ``MessageInfo`` (interned, cached)."""
    key = (bits, keywords)
    found = _FLAGSET_CACHE.get(key)
    if found is None:
        if len(_FLAGSET_CACHE) > 4096:
            _FLAGSET_CACHE.clear()
        found = system_of(bits) | split_keywords(keywords)
        _FLAGSET_CACHE[key] = found
    return found


class FlagCache(dict[int | str, frozenset[str]]):
    """``flag_key`` column of ``SNAPSHOT_SQL`` → the flags of a ``MessageInfo``.

    A dictionary lookup per message (in C), the frozenset built once per distinct state.
    """

    def __missing__(self, key: int | str) -> frozenset[str]:
        if isinstance(key, int):
            found = system_of(key)
        else:
            bits, _, keywords = key.partition(" ")
            found = flagset(int(bits), keywords)
        if len(self) > 4096:
            self.clear()
        self[key] = found
        return found
