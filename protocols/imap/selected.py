"""The selected-mailbox view of one IMAP session (RFC 3501 5.2, 7.3, 7.4.1; RFC 7162 3.2.10).

Why it is shaped this way: sequence numbers are a per-session illusion. The store only knows
UIDs, and other sessions change the mailbox at any time, but a client may only learn about
those changes at points the RFC allows (no EXPUNGE during FETCH, STORE or SEARCH; EXISTS before
the tagged reply that relies on it). So the session keeps its own list of UIDs (sequence
number n is ``uids()[n-1]``) and per-UID ``MessageInfo`` as it last told the client, and
``sync()`` diffs a fresh store snapshot against that view. What differs becomes *pending*:
``pending_updates(allow_expunge=...)`` turns pending changes into untagged responses and only
then applies them to the view, so sequence numbers move exactly when the client is told.

A message that another session expunged stays in the view (``is_expunged`` true) until its
EXPUNGE has been sent; handlers must cope with the store no longer having it (RFC 2180 4.1).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Sequence
from operator import attrgetter

from mailstore.api import Mailbox, Unsubscribe
from mailstore.types import (
    SYSTEM_FLAGS,
    ChangeEvent,
    ChangeKind,
    FlagUpdate,
    MailboxSnapshot,
    MessageInfo,
)
from protocols.imap.grammar.sequence import SequenceSet
from protocols.imap.responses import (
    AtomsCode,
    CodeKind,
    Condition,
    ExistsData,
    ExpungeData,
    FetchData,
    FetchValue,
    FlagsData,
    FlagsItem,
    ModSeqItem,
    RecentData,
    Response,
    StatusResponse,
    UidItem,
    VanishedData,
)
from protocols.imap.snapview import view_of

RECENT = "\\Recent"
SYSTEM_ORDER = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_OWN_ECHOES = frozenset({ChangeKind.FLAGS, ChangeKind.EXPUNGED})
_FLAG_LISTS: dict[tuple[frozenset[str], bool], tuple[str, ...]] = {}
"""FLAGS values by (stored flags, recent): a mailbox has few distinct ones."""


class InvalidSequence(Exception):
    """A message sequence number beyond the mailbox (RFC 3501 6.4.8): answered with BAD."""


class SessionToken:
    """The opaque ``origin`` a session passes to the store so it can skip its own echoes."""

    __slots__ = ("label",)

    def __init__(self, label: str = "") -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<SessionToken {self.label}>"


class SelectedMailbox:
    """THE selected-mailbox view one session has (RFC 3501 5.2).

    Handlers read ``uids()``/``info()``/``resolve()``; the session calls ``sync()`` and
    ``pending_updates()`` at the points where untagged updates are allowed.
    """

    def __init__(
        self,
        mailbox: Mailbox,
        snapshot: MailboxSnapshot,
        *,
        name: str,
        readonly: bool,
        origin: object,
        enabled: frozenset[str] = frozenset(),
        condstore: bool = False,
    ) -> None:
        self.mailbox = mailbox
        self.name = name
        """The mailbox name as the store knows it (``/`` separator, not UTF-7)."""
        self.readonly = readonly
        self.uidvalidity = snapshot.uidvalidity
        self.origin = origin
        self.enabled = enabled
        self.condstore = condstore or "CONDSTORE" in enabled or "QRESYNC" in enabled
        """Report MODSEQ in unsolicited FETCH (CONDSTORE enabled or SELECT (CONDSTORE))."""
        self.uidnext = snapshot.uidnext
        self.highestmodseq = snapshot.highestmodseq
        view = view_of(snapshot.messages)
        self._uids: list[int] = view.uids
        """Shared with other views of the same snapshot until the first append (copy on
        write, as ``_info``: copying and freeing 100,000 UIDs was most of a warm SELECT)."""
        self._uids_shared = True
        self._info: dict[int, MessageInfo] = view.info
        """Shared with other views of the same snapshot until the first change (``_own``)."""
        self._info_shared = True
        self._keywords: set[str] = set(view.keywords)
        """Keywords the client was told of in FLAGS (the list only grows, RFC 3501 7.2.6)."""
        self._recent: set[int] = set()
        self._claim_recent(snapshot)
        self._expunged: set[int] = set()
        """In the view, gone from the store, EXPUNGE not yet sent."""
        self._changed: set[int] = set()
        """Flags changed by someone else, FETCH not yet sent."""
        self._new: list[MessageInfo] = []
        """Appended by someone else, EXISTS not yet sent."""
        self._dirty = False
        self._waiters: list[Callable[[], None]] = []
        self._unsubscribe: Unsubscribe | None = None
        self.send: Callable[[list[Response]], Awaitable[None]] | None = None
        """Writes untagged responses now (the session's output), for handlers that answer
        many messages batch by batch (FETCH); None: they return them all at the end."""
        self.closed = False
        """Deselected, or the connection is gone: a long handler may stop early."""

    # -- the interface handlers use ---------------------------------------------------

    def uids(self) -> Sequence[int]:
        """UIDs in the view, ascending; sequence number n is ``uids()[n-1]``."""
        return self._uids

    def exists(self) -> int:
        """The message count the client knows."""
        return len(self._uids)

    def info(self, uid: int) -> MessageInfo:
        """Flags/modseq/size/internal date as this session knows them (KeyError if unknown)."""
        return self._info[uid]

    def seq_of(self, uid: int) -> int | None:
        """The sequence number of ``uid`` in the view, or None."""
        i = bisect_left(self._uids, uid)
        if i < len(self._uids) and self._uids[i] == uid:
            return i + 1
        return None

    def resolve(self, seqset: SequenceSet, *, uid: bool) -> list[int]:
        """A sequence set as UIDs ascending (RFC 3501 6.4.8, 9).

        UID sets: ``*`` is the highest UID, and UIDs not in the mailbox are skipped.
        Sequence sets: ``*`` is the message count; a number above it raises
        ``InvalidSequence`` (``1:*`` on an empty mailbox gives no messages).
        """
        if not self._uids:
            if not uid and any(a > 0 or b > 0 for a, b in seqset.ranges):
                raise InvalidSequence()
            return []
        if uid:
            return seqset.resolve(self._uids[-1]).select(self._uids)
        count = len(self._uids)
        if any(max(a, b) > count for a, b in seqset.ranges):
            raise InvalidSequence()
        resolved = seqset.resolve(count)
        return [self._uids[i] for i in resolved.positions(range(1, count + 1))]

    def recent_count(self) -> int:
        """How many messages of the view hold ``\\Recent`` for this session."""
        return len(self._recent)

    def first_unseen(self, snapshot: MailboxSnapshot) -> int:
        """Sequence number of the first message of ``snapshot`` without ``\\Seen`` (0: none)."""
        return view_of(snapshot.messages).first_unseen

    def is_recent(self, uid: int) -> bool:
        """True if this session holds ``\\Recent`` for ``uid`` (RFC 3501 2.3.2)."""
        return uid in self._recent

    def is_expunged(self, uid: int) -> bool:
        """True if the store removed ``uid`` but the client has not been told yet."""
        return uid in self._expunged

    def flags_with_recent(self, uid: int) -> tuple[str, ...]:
        """The FLAGS fetch value: stored flags plus ``\\Recent`` when ours."""
        key = (self._info[uid].flags, uid in self._recent)
        found = _FLAG_LISTS.get(key)
        if found is None:
            flags = sorted(key[0])
            if key[1]:
                flags.append(RECENT)
            if len(_FLAG_LISTS) >= 4096:
                _FLAG_LISTS.clear()
            found = _FLAG_LISTS[key] = tuple(flags)
        return found

    def apply_flags(self, updates: Iterable[FlagUpdate]) -> None:
        """Record our own STORE results so they are not reported again as others' changes."""
        info = self._own()
        for update in updates:
            old = info.get(update.uid)
            if old is None:
                continue
            info[update.uid] = MessageInfo(
                uid=old.uid,
                flags=update.flags,
                modseq=update.modseq,
                size=old.size,
                internal_date=old.internal_date,
            )
            self.highestmodseq = max(self.highestmodseq, update.modseq)

    def flags_responses(self) -> list[Response]:
        """``* FLAGS`` and ``* OK [PERMANENTFLAGS]`` for the keywords known (RFC 3501 7.2.6,
        7.1; read-only mailboxes permit none)."""
        flags = SYSTEM_ORDER + tuple(sorted(self._keywords))
        permanent = () if self.readonly else (*flags, "\\*")
        code = AtomsCode(CodeKind.PERMANENTFLAGS, permanent)
        return [FlagsData(flags), StatusResponse(Condition.OK, "Flags permitted", code=code)]

    def keyword_updates(self, flag_sets: Iterable[frozenset[str]]) -> list[Response]:
        """FLAGS/PERMANENTFLAGS again if ``flag_sets`` hold a keyword the client was not told
        of; to go before the FETCH responses that show it (RFC 3501 7.2.6, as Dovecot does)."""
        known = {keyword.lower() for keyword in self._keywords}  # keywords ignore case
        fresh = {k for k in set().union(*flag_sets) - SYSTEM_FLAGS if k.lower() not in known}
        if not fresh:
            return []
        self._keywords |= fresh
        return self.flags_responses()

    def remove(self, uids: Iterable[int]) -> list[Response]:
        """Drop UIDs we expunged/moved ourselves; the EXPUNGE (or VANISHED) responses."""
        gone = sorted(set(uids) & self._info.keys())
        return self._remove(gone)

    # -- change feed and sync (the session's side) ------------------------------------

    def attach(self) -> None:
        """Subscribe to the store's change feed (after SELECT)."""
        if self._unsubscribe is None:
            self._unsubscribe = self.mailbox.subscribe(self._on_change)

    def detach(self) -> None:
        """Unsubscribe (CLOSE, UNSELECT, another SELECT, logout)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._waiters.clear()
        self.closed = True

    def on_wake(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when another session changes the mailbox (IDLE); returns a cancel."""
        self._waiters.append(callback)

        def cancel() -> None:
            if callback in self._waiters:
                self._waiters.remove(callback)

        return cancel

    def mark_dirty(self) -> None:
        """Force the next allowed point to sync (after APPEND/COPY into this mailbox)."""
        self._dirty = True

    @property
    def dirty(self) -> bool:
        """True when the change feed said the store changed since the last ``sync()``."""
        return self._dirty

    def _on_change(self, event: ChangeEvent) -> None:
        # Our own flag changes and expunges are already in the view; our own appends and
        # copies into this mailbox are not, so those still make the view dirty.
        if event.origin is self.origin and event.kind in _OWN_ECHOES:
            return
        self._dirty = True
        for waiter in list(self._waiters):
            waiter()

    async def sync(self) -> None:
        """Take a store snapshot and record what differs from the view as pending."""
        self._dirty = False
        snapshot = await self.mailbox.snapshot(claim_recent=not self.readonly)
        self.absorb(snapshot)

    def absorb(self, snapshot: MailboxSnapshot) -> None:
        """Diff ``snapshot`` against the view (pure; ``sync`` without the store call)."""
        current = view_of(snapshot.messages).info
        for uid in self._uids:
            fresh = current.get(uid)
            if fresh is None:
                self._expunged.add(uid)
                self._changed.discard(uid)
            elif uid not in self._expunged and _differs(self._info[uid], fresh):
                self._own()[uid] = fresh
                self._changed.add(uid)
        known = self._uids[-1] if self._uids else 0
        if self._new:
            known = max(known, self._new[-1].uid)
        self._new.extend(m for m in snapshot.messages if m.uid > known)
        self._new = [m for m in self._new if m.uid in current]
        self._claim_recent(snapshot)
        self.uidnext = max(self.uidnext, snapshot.uidnext)
        self.highestmodseq = max(self.highestmodseq, snapshot.highestmodseq)

    def pending_updates(self, *, allow_expunge: bool) -> list[Response]:
        """Untagged responses for pending changes, applied to the view as they are made.

        With ``allow_expunge`` False (during FETCH, STORE, SEARCH: RFC 3501 7.4.1) removed
        messages stay in the view and keep their sequence numbers.
        """
        out: list[Response] = []
        if allow_expunge and self._expunged:
            out.extend(self._remove(sorted(self._expunged)))
        changed = [self._info[uid].flags for uid in self._changed if uid in self._info]
        out.extend(self.keyword_updates([*changed, *(m.flags for m in self._new)]))
        if self._new:
            info = self._own()
            if self._uids_shared:
                self._uids, self._uids_shared = list(self._uids), False
            for message in self._new:
                self._uids.append(message.uid)
                info[message.uid] = message
            self._new = []
            out.append(ExistsData(len(self._uids)))
            out.append(RecentData(len(self._recent)))
        for uid in sorted(self._changed):
            seq = self.seq_of(uid)
            if seq is not None:
                out.append(FetchData(seq, self._flag_items(uid)))
        self._changed.clear()
        return out

    # -- internals ---------------------------------------------------------------------

    def _flag_items(self, uid: int) -> tuple[FetchValue, ...]:
        items: list[FetchValue] = [UidItem(uid), FlagsItem(self.flags_with_recent(uid))]
        if self.condstore:
            items.append(ModSeqItem(self._info[uid].modseq))
        return tuple(items)

    def _own(self) -> dict[int, MessageInfo]:
        """``_info``, copied first if it is still shared with other views (copy on write)."""
        if self._info_shared:
            self._info = dict(self._info)
            self._info_shared = False
        return self._info

    def _claim_recent(self, snapshot: MailboxSnapshot) -> None:
        if snapshot.first_recent_uid and not self.readonly:
            messages = snapshot.messages
            start = bisect_left(messages, snapshot.first_recent_uid, key=attrgetter("uid"))
            self._recent.update(m.uid for m in messages[start:])

    def _remove(self, gone: list[int]) -> list[Response]:
        if not gone:
            return []
        out: list[Response] = []
        qresync = "QRESYNC" in self.enabled
        seqs = [seq for seq in map(self.seq_of, gone) if seq is not None]
        if not qresync:
            # Ascending, each number as it is once the earlier ones are gone (RFC 3501 6.4.3).
            out.extend(ExpungeData(seq - i) for i, seq in enumerate(seqs))
        dropped = set(gone)
        self._uids = [uid for uid in self._uids if uid not in dropped]
        self._uids_shared = False
        info = self._own()
        for uid in gone:
            info.pop(uid, None)
            self._recent.discard(uid)
            self._expunged.discard(uid)
            self._changed.discard(uid)
        if qresync:
            out.append(VanishedData(tuple(gone)))
        return out


def _differs(old: MessageInfo, new: MessageInfo) -> bool:
    return old.flags != new.flags or old.modseq != new.modseq


__all__ = ["InvalidSequence", "SelectedMailbox", "SessionToken"]
