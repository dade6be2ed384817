"""FETCH, STORE, SEARCH, COPY and MOVE, each with its UID form (RFC 3501 6.4.4-6.4.8).

Also CONDSTORE's CHANGEDSINCE / UNCHANGEDSINCE / MODIFIED (RFC 7162 3.1), UIDPLUS COPYUID
(RFC 4315 3) and MOVE (RFC 6851 3.3: untagged ``OK [COPYUID ...]`` then the EXPUNGEs).
Each handler resolves the client's set against the session's view, calls the store with
the view's ``origin`` and describes the answer; it never sends EXPUNGE except for its
own MOVE. ``InvalidSequence`` and unexpected ``StoreError`` escape to the session, which
answers BAD / maps them with ``storemap``.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet import defer
from twisted.logger import Logger

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.message import MessageMeta
from mailstore.names import normalize_name
from mailstore.types import SEEN, FlagMode
from protocols.imap import commands as c
from protocols.imap.fetching import STREAM_THRESHOLD, Need, fetch_message, needs, unseen
from protocols.imap.grammar.fetch import BodySection, FetchAttr
from protocols.imap.handlers import HandlerResult, bad, no, ok
from protocols.imap.responses import (
    CodeKind,
    Condition,
    CopyUidCode,
    FetchData,
    FetchValue,
    FlagsItem,
    ModifiedCode,
    ModSeqItem,
    Response,
    SectionItem,
    SimpleCode,
    StatusResponse,
    UidItem,
    VanishedData,
)
from protocols.imap.searching import search, search_responses
from protocols.imap.selected import SelectedMailbox

log = Logger()

META_BATCH = 500
"""Messages whose metadata is asked of the store at once."""
VANISHED_LIMIT = 1_000_000
"""Most UIDs one VANISHED (EARLIER) response names."""
READ_CONCURRENCY = 32
"""Messages whose sections are read at the same time."""
INLINE_BUDGET = 1024 * 1024
"""Section octets a FETCH reads itself; past that every section is streamed."""
_READS = frozenset({FetchAttr.RFC822, FetchAttr.RFC822_TEXT})
_EXPUNGE_ISSUED = SimpleCode(CodeKind.EXPUNGEISSUED)
_GONE = "Some of the requested messages no longer exist"
_READ_ONLY = "Mailbox is read-only"


def _section_size(value: FetchValue) -> int:
    if isinstance(value, SectionItem) and isinstance(value.data, bytes):
        return len(value.data)
    return 0


async def _mark_seen(sel: SelectedMailbox, uids: Sequence[int]) -> set[int]:
    """Set ``\\Seen`` for a non-PEEK body fetch (RFC 3501 6.4.5); the UIDs that changed."""
    targets = unseen(sel, uids)
    if not targets:
        return set()
    result = await sel.mailbox.store_flags(targets, FlagMode.ADD, [SEEN], origin=sel.origin)
    sel.apply_flags(result.updated)
    return {update.uid for update in result.updated}


async def handle_fetch(cmd: c.Fetch, sel: SelectedMailbox) -> HandlerResult:
    """FETCH / UID FETCH (RFC 3501 6.4.5, 6.4.8; CHANGEDSINCE RFC 7162 3.1.4).

    Responses go out in sequence order, UID first in UID FETCH.
    """
    if cmd.modifiers.vanished and "QRESYNC" not in sel.enabled:
        return bad("VANISHED needs ENABLE QRESYNC")
    uids = sel.resolve(cmd.sequence_set, uid=cmd.uid)
    changed_since = cmd.modifiers.changed_since
    if changed_since is not None or FetchAttr.MODSEQ in cmd.items:
        sel.condstore = True  # a CONDSTORE enabling command (RFC 7162 3.1)
    if changed_since is not None:
        uids = [u for u in uids if sel.info(u).modseq > changed_since]
    need = needs(cmd.items)
    seen_now = set()
    if Need.SEEN in need and not sel.readonly:
        seen_now = await _mark_seen(sel, uids)
    fetch = _Fetch(cmd, sel, seen_now)
    out: list[Response] = _vanished(cmd, sel) if cmd.modifiers.vanished else []
    step = (
        READ_CONCURRENCY if any(i in _READS or isinstance(i, BodySection) for i in cmd.items) else 1
    )
    for start in range(0, len(uids), META_BATCH):
        batch = uids[start : start + META_BATCH]
        if Need.META in need:
            fetch.metas = await sel.mailbox.metadata([u for u in batch if not sel.is_expunged(u)])
        for first in range(0, len(batch), step):
            out.extend(await fetch.some(batch[first : first + step]))
    log.debug(
        "fetch {mailbox}: {count} messages, {inline} octets inline",
        mailbox=sel.name,
        count=len(out),
        inline=fetch.inline,
    )
    if fetch.missing:
        return no(_GONE, code=_EXPUNGE_ISSUED, untagged=out)
    return ok("Fetch completed", untagged=out)


class _Fetch:
    """One FETCH command's progress: metadata of the current batch, octets read, misses."""

    def __init__(self, cmd: c.Fetch, sel: SelectedMailbox, seen_now: set[int]) -> None:
        self.cmd = cmd
        self.sel = sel
        self.seen_now = seen_now
        self.metas: dict[int, MessageMeta] = {}
        self.inline = 0
        self.missing = 0
        self.wants_flags = FetchAttr.FLAGS in cmd.items

    async def some(self, uids: list[int]) -> list[FetchData]:
        """FETCH responses for ``uids`` (read concurrently), in order; misses counted."""
        threshold = STREAM_THRESHOLD if self.inline < INLINE_BUDGET else 1
        if len(uids) == 1:
            results = [await self.one(uids[0], threshold)]
        else:
            calls = [defer.Deferred.fromCoroutine(self.one(u, threshold)) for u in uids]
            try:
                results = await defer.gatherResults(calls, consumeErrors=True)
            except defer.FirstError as exc:
                exc.subFailure.raiseException()
        out = [data for data in results if data is not None]
        self.missing += len(results) - len(out)
        self.inline += sum(_section_size(v) for data in out for v in data.items)
        return out

    async def one(self, uid: int, threshold: int) -> FetchData | None:
        """The FETCH response for ``uid``; None if the message left the store."""
        flagged = uid in self.seen_now
        changed_since = self.cmd.modifiers.changed_since is not None
        try:
            return await fetch_message(
                self.sel,
                uid,
                self.cmd.items,
                self.metas.get(uid),
                with_uid=self.cmd.uid,
                with_flags=flagged,
                with_modseq=changed_since or (self.sel.condstore and (self.wants_flags or flagged)),
                threshold=threshold,
            )
        except LookupError:
            return None
        except StoreError as exc:
            if exc.kind is not StoreErrorKind.NOT_FOUND:
                raise
            return None


def _vanished(cmd: c.Fetch, sel: SelectedMailbox) -> list[Response]:
    """``VANISHED (EARLIER)`` before the FETCHes (RFC 7162 3.2.6).

    The store keeps no expunge history by modseq, so every UID of the set below UIDNEXT that
    is not in the mailbox is reported (a superset, as clients must accept).
    """
    top = sel.uidnext - 1
    if top < 1:
        return []
    wanted = cmd.sequence_set.resolve(top)
    present = set(sel.uids())
    gone: list[int] = []
    for first, last in zip(wanted.starts, wanted.ends, strict=True):
        for uid in range(first, min(last, top) + 1):
            if uid not in present:
                gone.append(uid)
                if len(gone) >= VANISHED_LIMIT:
                    return [VanishedData(tuple(gone), earlier=True)]
    return [VanishedData(tuple(gone), earlier=True)] if gone else []


def _store_fetch(sel: SelectedMailbox, uid: int, cmd: c.Store, touched: bool) -> FetchData | None:
    """The FETCH a STORE answers with for ``uid`` (RFC 3501 6.4.6; RFC 7162 3.1.3)."""
    seq = sel.seq_of(uid)
    if seq is None:
        return None
    items: list[FetchValue] = []
    if cmd.uid:
        items.append(UidItem(uid))
    if not cmd.silent:
        items.append(FlagsItem(sel.flags_with_recent(uid)))
    if sel.condstore and (touched or not cmd.silent):
        items.append(ModSeqItem(sel.info(uid).modseq))
    if cmd.silent and not (sel.condstore and touched):
        return None
    return FetchData(seq, tuple(items))


async def handle_store(cmd: c.Store, sel: SelectedMailbox) -> HandlerResult:
    """STORE / UID STORE with .SILENT and UNCHANGEDSINCE (RFC 3501 6.4.6, RFC 7162 3.1.3)."""
    uids = sel.resolve(cmd.sequence_set, uid=cmd.uid)
    if sel.readonly:
        return no(_READ_ONLY)
    if cmd.unchanged_since is not None:
        sel.condstore = True
    live = [u for u in uids if not sel.is_expunged(u)]
    touched: set[int] = set()
    modified: set[int] = set()
    if live:
        result = await sel.mailbox.store_flags(
            live,
            cmd.mode,
            cmd.flags,
            unchanged_since=cmd.unchanged_since,
            origin=sel.origin,
        )
        sel.apply_flags(result.updated)
        touched = {update.uid for update in result.updated}
        modified = set(result.modified)
    out: list[Response] = []
    for uid in live:
        if uid not in modified:
            data = _store_fetch(sel, uid, cmd, uid in touched)
            if data is not None:
                out.append(data)
    if len(live) < len(uids):
        return no(_GONE, code=_EXPUNGE_ISSUED, untagged=out)
    if modified:
        numbers = sorted(modified) if cmd.uid else _seqs(sel, modified)
        return ok("Conditional store completed", code=ModifiedCode(tuple(numbers)), untagged=out)
    return ok("Store completed", untagged=out)


def _seqs(sel: SelectedMailbox, uids: set[int]) -> list[int]:
    return sorted(s for s in (sel.seq_of(u) for u in uids) if s is not None)


def _same_mailbox(sel: SelectedMailbox, name: str) -> bool:
    try:
        return normalize_name(name) == normalize_name(sel.name)
    except StoreError:
        return False


async def _transfer_checks(
    cmd: c.Copy | c.Move, sel: SelectedMailbox
) -> tuple[list[int], HandlerResult | None]:
    uids = sel.resolve(cmd.sequence_set, uid=cmd.uid)
    if any(sel.is_expunged(u) for u in uids):
        return uids, no(_GONE, code=_EXPUNGE_ISSUED)
    if not uids:
        return uids, ok("No messages")
    return uids, None


def _trycreate() -> HandlerResult:
    return no("Mailbox does not exist", code=SimpleCode(CodeKind.TRYCREATE))


async def handle_copy(cmd: c.Copy, sel: SelectedMailbox) -> HandlerResult:
    """COPY / UID COPY with UIDPLUS ``[COPYUID ...]`` (RFC 3501 6.4.7, RFC 4315 3)."""
    uids, early = await _transfer_checks(cmd, sel)
    if early is not None:
        return early
    try:
        result = await sel.mailbox.copy(uids, cmd.mailbox, origin=sel.origin)
    except StoreError as exc:
        if exc.kind is StoreErrorKind.NOT_FOUND:
            return _trycreate()
        raise
    if _same_mailbox(sel, cmd.mailbox):
        await sel.sync()  # our own APPENDED echo is skipped by the feed: pick it up here
    code = CopyUidCode(result.uidvalidity, result.source_uids, result.dest_uids)
    return ok("Copy completed", code=code)


async def handle_move(cmd: c.Move, sel: SelectedMailbox) -> HandlerResult:
    """MOVE / UID MOVE (RFC 6851 3.3): ``* OK [COPYUID ...]``, the EXPUNGEs, tagged OK."""
    if sel.readonly:
        sel.resolve(cmd.sequence_set, uid=cmd.uid)
        return no(_READ_ONLY)
    uids, early = await _transfer_checks(cmd, sel)
    if early is not None:
        return early
    try:
        result = await sel.mailbox.move(uids, cmd.mailbox, origin=sel.origin)
    except StoreError as exc:
        if exc.kind is StoreErrorKind.NOT_FOUND:
            return _trycreate()
        raise
    code = CopyUidCode(result.uidvalidity, result.source_uids, result.dest_uids)
    out: list[Response] = [StatusResponse(Condition.OK, "Moved", code=code)]
    out.extend(sel.remove(result.source_uids))
    if _same_mailbox(sel, cmd.mailbox):
        await sel.sync()
    return ok("Move completed", untagged=out)


async def handle_search(cmd: c.Search, sel: SelectedMailbox) -> HandlerResult:
    """SEARCH / UID SEARCH, ESEARCH with RETURN (RFC 3501 6.4.4, RFC 4731, RFC 7162 3.1.5)."""
    result = await search(sel, cmd.key)
    if result.uses_modseq:
        sel.condstore = True
    return ok("Search completed", untagged=search_responses(cmd, sel, result))


__all__ = ["handle_copy", "handle_fetch", "handle_move", "handle_search", "handle_store"]
