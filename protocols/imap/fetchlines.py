"""FETCH of items the view alone answers, written straight to octets (RFC 3501 6.4.5, 7.4.2).

Why a second path: ``UID FETCH 1:* (FLAGS)`` is what mbsync, Thunderbird and mutt send on
every opening of a mailbox, so it runs over whole mailboxes. The general path
(``fetching.FetchPlanner`` → ``FetchData`` → ``grammar.writer``) makes a plan, a few item
objects and a response object per message, then matches them item by item: ~4 us a message.
When every item comes from the session's view (FLAGS, UID, MODSEQ of RFC 7162 3.1.4.1,
RFC822.SIZE, INTERNALDATE: no body, envelope or structure, so no store call and no implicit
``\\Seen``) the answer is a fixed line with a few values, so it is built column by column
(one ``map`` per item over a batch of messages, FLAGS octets made once per distinct flag set)
and each line is one ``%`` of a template; ``FetchLines`` carries a batch to the writer.

The octets are those of the general path, item for item: the same items in the same order
(UID first, RFC 3501 6.4.8; MODSEQ added as ``FetchPlanner`` adds it), FLAGS from
``SelectedMailbox.flags_with_recent`` (``\\Recent`` included), dates from
``format_date_time``. Tests compare both paths' bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from mailstore.types import MessageInfo
from protocols.imap.grammar.dates import format_date_time
from protocols.imap.grammar.fetch import FetchAttr, FetchItem
from protocols.imap.grammar.flags import format_flag_list
from protocols.imap.selected import SelectedMailbox

VIEW_ATTRS = frozenset(
    {
        FetchAttr.UID,
        FetchAttr.FLAGS,
        FetchAttr.INTERNALDATE,
        FetchAttr.RFC822_SIZE,
        FetchAttr.MODSEQ,
    }
)
"""Items answered from ``SelectedMailbox.info`` alone."""
LINES_PER_BATCH = 2000
"""Messages per ``FetchLines`` (~90 KB of FLAGS lines): the client reads one batch while
the next is made, and a 100,000-message answer is never one buffer."""

_PIECES: dict[FetchAttr, bytes] = {
    FetchAttr.UID: b"UID %d",
    FetchAttr.FLAGS: b"FLAGS %s",
    FetchAttr.INTERNALDATE: b"INTERNALDATE %s",
    FetchAttr.RFC822_SIZE: b"RFC822.SIZE %d",
    FetchAttr.MODSEQ: b"MODSEQ (%d)",
}
"""Each item's place in the line template (the writer's spelling of it)."""
_FLAGS = attrgetter("flags")
_FIELDS = {
    FetchAttr.UID: attrgetter("uid"),
    FetchAttr.INTERNALDATE: attrgetter("internal_date"),
    FetchAttr.RFC822_SIZE: attrgetter("size"),
    FetchAttr.MODSEQ: attrgetter("modseq"),
}


def view_items(
    items: Sequence[FetchItem], *, with_uid: bool, with_modseq: bool
) -> tuple[FetchAttr, ...] | None:
    """The items of each response in wire order, or None if one needs more than the view.

    As ``FetchPlanner`` adds them: UID for UID FETCH (RFC 3501 6.4.8), MODSEQ last for
    CHANGEDSINCE or FLAGS under CONDSTORE (RFC 7162 3.1.4.1); then UID goes first, as the
    writer puts it in every FETCH response.
    """
    attrs: list[FetchAttr] = []
    for item in items:
        if not isinstance(item, FetchAttr) or item not in VIEW_ATTRS:
            return None
        attrs.append(item)
    if with_uid and FetchAttr.UID not in attrs:
        attrs.insert(0, FetchAttr.UID)
    if with_modseq and FetchAttr.MODSEQ not in attrs:
        attrs.append(FetchAttr.MODSEQ)
    attrs.sort(key=lambda attr: attr is not FetchAttr.UID)  # stable: the rest keep order
    return tuple(attrs)


class FetchLineWriter:
    """Makes the ``* n FETCH (...)`` lines of one FETCH whose items are all ``VIEW_ATTRS``."""

    def __init__(self, sel: SelectedMailbox, attrs: Sequence[FetchAttr]) -> None:
        self.sel = sel
        self.attrs = tuple(attrs)
        self.template = b"* %d FETCH (" + b" ".join(_PIECES[a] for a in self.attrs) + b")\r\n"
        self._flags: dict[frozenset[str], bytes] = {}
        """FLAGS octets per stored flag set, for messages without ``\\Recent``."""

    def lines(self, uids: Sequence[int]) -> bytes:
        """The responses for ``uids`` (ascending, all in the view), in that order."""
        if not uids:
            return b""
        sel = self.sel
        infos = list(map(sel.info, uids))
        first = sel.seq_of(uids[0]) or 1
        seqs: Iterable[int | None]
        if sel.uids()[first - 1 : first - 1 + len(uids)] == uids:
            seqs = range(first, first + len(uids))  # a run of the view (1:* in batches)
        else:
            seqs = map(sel.seq_of, uids)
        columns: list[Iterable[Any]] = [seqs]
        for attr in self.attrs:
            if attr is FetchAttr.FLAGS:
                columns.append(self._flag_column(uids, infos))
            elif attr is FetchAttr.INTERNALDATE:
                columns.append(map(format_date_time, map(_FIELDS[attr], infos)))
            else:
                columns.append(map(_FIELDS[attr], infos))
        return b"".join(map(self.template.__mod__, zip(*columns, strict=True)))

    def _flag_column(self, uids: Sequence[int], infos: Sequence[MessageInfo]) -> list[bytes | None]:
        """Each message's flag-list octets: made once per distinct flag set, per message
        only for those holding ``\\Recent`` for this session."""
        sel = self.sel
        sets = list(map(_FLAGS, infos))
        recent: list[int] = []
        if sel.recent_count():
            recent = [i for i, uid in enumerate(uids) if sel.is_recent(uid)]
        known = self._flags
        if not known.keys() >= set(sets):
            if recent:
                skip = {uids[i] for i in recent}
                pairs = [(f, u) for f, u in zip(sets, uids, strict=True) if u not in skip]
                examples = dict(pairs)
            else:
                examples = dict(zip(sets, uids, strict=True))  # a message of each set
            for flags, uid in examples.items():
                if flags not in known:
                    known[flags] = format_flag_list(sel.flags_with_recent(uid))
        column = list(map(known.get, sets))
        for i in recent:
            column[i] = format_flag_list(sel.flags_with_recent(uids[i]))
        return column


__all__ = ["LINES_PER_BATCH", "VIEW_ATTRS", "FetchLineWriter", "view_items"]
