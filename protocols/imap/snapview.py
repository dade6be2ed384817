"""Per-snapshot starting points for selected-mailbox views (RFC 3501 6.3.1 SELECT data).

The store hands out the same message tuple while a mailbox is unchanged; what every view of
that tuple needs first (UID list, UID → info map, keywords in use, first unseen message) is
built once and remembered here, so a second SELECT of a big unchanged mailbox (or another
session's) copies a list instead of walking every message.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from operator import attrgetter

from mailstore.types import SEEN, SYSTEM_FLAGS, MessageInfo


@dataclass(frozen=True, slots=True)
class SnapshotView:
    """What every view of one snapshot's message list starts from, built once per list.

    The store hands out the same message tuple while a mailbox is unchanged, so a second
    SELECT (or another session's) of a big unchanged mailbox copies a list instead of
    building a list, a dict and the SELECT data message by message.
    """

    messages: tuple[MessageInfo, ...]
    uids: list[int]
    """Never changed: views share it until their first change (copy on write)."""
    info: dict[int, MessageInfo]
    """Never changed: views copy it before their first change."""
    keywords: frozenset[str]
    """Flags other than the system flags in use (for the SELECT FLAGS response)."""
    first_unseen: int
    """Sequence number of the first message without ``\\Seen`` (0: none)."""


_VIEWS: OrderedDict[int, SnapshotView] = OrderedDict()
_VIEW_CACHE = 8
"""Message lists remembered (the most recently used): one or two per busy mailbox."""
_VIEW_MIN = 1000
"""Smaller lists are rebuilt each time: cheap, and not worth holding."""
_UID = attrgetter("uid")
_FLAGS = attrgetter("flags")


def view_of(messages: tuple[MessageInfo, ...]) -> SnapshotView:
    """The ``SnapshotView`` of ``messages`` (by identity), from the cache or built now."""
    key = id(messages)
    view = _VIEWS.get(key)
    if view is not None and view.messages is messages:
        _VIEWS.move_to_end(key)
        return view
    uids = list(map(_UID, messages))
    flag_sets = list(map(_FLAGS, messages))
    distinct = set(flag_sets)
    keywords = frozenset[str]().union(*distinct) - SYSTEM_FLAGS
    unseen = [flag_sets.index(f) for f in distinct if SEEN not in f]
    first_unseen = min(unseen) + 1 if unseen else 0
    info = dict(zip(uids, messages, strict=True))
    view = SnapshotView(messages, uids, info, keywords, first_unseen)
    if len(messages) >= _VIEW_MIN:
        _VIEWS[key] = view
        while len(_VIEWS) > _VIEW_CACHE:
            _VIEWS.popitem(last=False)
    return view


__all__ = ["SnapshotView", "view_of"]
