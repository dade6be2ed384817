"""FETCH, STORE, SEARCH, COPY and MOVE, each with its UID form (RFC 3501 6.4.4-6.4.8).

Also CONDSTORE's CHANGEDSINCE / UNCHANGEDSINCE / MODIFIED (RFC 7162 3.1), UIDPLUS COPYUID
(RFC 4315 3) and MOVE (RFC 6851 3.3: untagged ``OK [COPYUID ...]`` then the EXPUNGEs).
Each handler resolves the client's set against the session's view, calls the store with
the view's ``origin`` and describes the answer; it never sends EXPUNGE except for its
own MOVE. ``InvalidSequence`` and unexpected ``StoreError`` escape to the session, which
answers BAD / maps them with ``storemap``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from mailstore.api import ReadRange
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.message import MessageMeta
from mailstore.names import normalize_name
from mailstore.types import SEEN, FlagMode
from protocols.imap import commands as c
from protocols.imap.fetching import FetchPlanner, Need, PlannedFetch, needs, unseen
from protocols.imap.fetchlines import LINES_PER_BATCH, FetchLineWriter, view_items
from protocols.imap.grammar.fetch import FetchAttr
from protocols.imap.handlers import HandlerResult, bad, no, ok
from protocols.imap.responses import (
    CodeKind,
    Condition,
    CopyUidCode,
    FetchData,
    FetchLines,
    FetchValue,
    FlagsItem,
    ModifiedCode,
    ModSeqItem,
    Response,
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
READ_BUDGET = 2 * 1024 * 1024
"""Section octets read with one ``Mailbox.read_many`` and sent before the next read."""
_EXPUNGE_ISSUED = SimpleCode(CodeKind.EXPUNGEISSUED)
_GONE = "Some of the requested messages no longer exist"
_READ_ONLY = "Mailbox is read-only"


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

    Responses go out in sequence order, UID first in UID FETCH, batch by batch as they are
    ready (``SelectedMailbox.send``): the client starts reading while later messages are
    read, and only one batch's octets are held at a time. No EXPUNGE is sent meanwhile
    (RFC 3501 7.4.1): a message that vanishes is left out and the answer is
    ``NO [EXPUNGEISSUED]`` (RFC 2180 4.1.2). Items the view alone answers (FLAGS, UID,
    MODSEQ, RFC822.SIZE, INTERNALDATE) are written by ``fetchlines``, batch by batch too.
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
    out = _Output(sel)
    if cmd.modifiers.vanished:
        await out.send(_vanished(cmd, sel))
    attrs = view_items(cmd.items, with_uid=cmd.uid, with_modseq=_with_modseq(cmd, sel))
    if attrs is not None:
        return await _fetch_view_items(sel, uids, FetchLineWriter(sel, attrs), out)
    fetch = _Fetch(cmd, sel, seen_now)
    batches = [uids[start : start + META_BATCH] for start in range(0, len(uids), META_BATCH)]
    metas = _Metadata(sel, batches if Need.META in need else [])
    try:
        for number, batch in enumerate(batches):
            async with aclosing(fetch.batch(batch, await metas.get(number))) as groups:
                async for responses in groups:
                    await out.send(responses)
                    if sel.closed:
                        return no("Connection closed")  # nobody reads the rest
    finally:
        metas.abandon()
    log.debug(
        "fetch {mailbox}: {count} messages, {octets} octets read",
        mailbox=sel.name,
        count=fetch.count,
        octets=fetch.octets,
    )
    if fetch.missing:
        return no(_GONE, code=_EXPUNGE_ISSUED, untagged=out.held)
    return ok("Fetch completed", untagged=out.held)


async def _fetch_view_items(
    sel: SelectedMailbox, uids: list[int], writer: FetchLineWriter, out: _Output
) -> HandlerResult:
    """FETCH of items the view answers alone (``fetchlines``): no store call, no ``\\Seen``
    change, no message can be missing; same octets as the general path, made in batches."""
    for start in range(0, len(uids), LINES_PER_BATCH):
        await out.send([FetchLines(writer.lines(uids[start : start + LINES_PER_BATCH]))])
        if sel.closed:
            return no("Connection closed")  # nobody reads the rest
    log.debug("fetch {mailbox}: {count} messages from the view", mailbox=sel.name, count=len(uids))
    return ok("Fetch completed", untagged=out.held)


def _with_modseq(cmd: c.Fetch, sel: SelectedMailbox) -> bool:
    """MODSEQ in every response: CHANGEDSINCE, or FLAGS under CONDSTORE (RFC 7162 3.1.4.1)."""
    wants_flags = FetchAttr.FLAGS in cmd.items
    return cmd.modifiers.changed_since is not None or (sel.condstore and wants_flags)


class _Metadata:
    """The metadata of each batch of a FETCH, the next one asked for while the current one
    is answered (the store parses messages it has no metadata for yet meanwhile)."""

    def __init__(self, sel: SelectedMailbox, batches: list[list[int]]) -> None:
        self._sel = sel
        self._batches = batches
        self._next: Deferred[dict[int, MessageMeta]] | None = None

    def _ask(self, number: int) -> Deferred[dict[int, MessageMeta]] | None:
        if number >= len(self._batches):
            return None
        live = [u for u in self._batches[number] if not self._sel.is_expunged(u)]
        return Deferred.fromCoroutine(self._sel.mailbox.metadata(live))

    async def get(self, number: int) -> dict[int, MessageMeta]:
        """Batch ``number``'s metadata (empty when the FETCH needs none)."""
        current = self._next if self._next is not None else self._ask(number)
        self._next = self._ask(number + 1)
        return {} if current is None else await current

    def abandon(self) -> None:
        """Nobody will wait for the batch asked in advance: drop its result or failure."""
        if self._next is not None:
            self._next.addErrback(lambda _: None)
            self._next = None


class _Output:
    """Untagged responses of a command that sends them as it goes (``SelectedMailbox.send``);
    without a transport (a handler called directly) they are held for the ``HandlerResult``."""

    def __init__(self, sel: SelectedMailbox) -> None:
        self._send = sel.send
        self.held: list[Response] = []

    async def send(self, responses: Sequence[Response]) -> None:
        if not responses:
            return
        if self._send is None:
            self.held.extend(responses)
        else:
            await self._send(list(responses))


class _Fetch:
    """One FETCH command's progress: planning, batched reads, counts and misses."""

    def __init__(self, cmd: c.Fetch, sel: SelectedMailbox, seen_now: set[int]) -> None:
        self.sel = sel
        self.seen_now = seen_now
        self.planner = FetchPlanner(
            sel,
            cmd.items,
            with_uid=cmd.uid,
            with_modseq=_with_modseq(cmd, sel),
            modseq_if_flagged=sel.condstore,
        )
        self.count = 0
        self.octets = 0
        self.missing = 0

    async def batch(
        self, uids: Sequence[int], metas: dict[int, MessageMeta]
    ) -> AsyncGenerator[list[FetchData], None]:
        """The responses for ``uids`` in order, in groups of about ``READ_BUDGET`` octets
        read (one ``read_many`` each); messages that left the store are counted missing.

        A group's read starts before the previous group is handed out, so the disk reads
        of one overlap the sending of the other (two groups in memory at most).
        """
        plans: list[PlannedFetch] = []
        pending = 0
        plan = self.planner.plan
        seen_now = self.seen_now
        reading: Deferred[list[FetchData]] | None = None
        try:
            for uid in uids:
                try:
                    planned = plan(uid, metas.get(uid), flagged=uid in seen_now)
                except LookupError:
                    self.missing += 1
                    continue
                plans.append(planned)
                if planned.reads:
                    pending += planned.octets
                    if pending >= READ_BUDGET:
                        done, reading = reading, Deferred.fromCoroutine(self._complete(plans))
                        plans, pending = [], 0
                        if done is not None:
                            yield await done
            done, reading = reading, None
            if done is not None:
                yield await done
            if plans:
                yield await self._complete(plans)
        finally:
            if reading is not None:  # abandoned (connection gone): nobody wants its result
                reading.addErrback(lambda _: None)

    async def _complete(self, plans: list[PlannedFetch]) -> list[FetchData]:
        ranges: list[ReadRange] = [(p.uid, r.start, r.length) for p in plans for r in p.reads]
        if not ranges:
            self.count += len(plans)
            return [p.complete(()) for p in plans]
        got = await self.sel.mailbox.read_many(ranges)
        out: list[FetchData] = []
        i = 0
        for p in plans:
            data = got[i : i + len(p.reads)]
            i += len(p.reads)
            if any(d is None for d in data):
                self.missing += 1  # gone from the store (RFC 2180 4.1.2)
                continue
            present = [d for d in data if d is not None]
            self.octets += sum(map(len, present))
            out.append(p.complete(present))
        self.count += len(out)
        return out


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
    out: list[Response] = []
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
        # A keyword new to this mailbox: FLAGS before the FETCHes (RFC 3501 7.2.6), .SILENT too.
        out += sel.keyword_updates(update.flags for update in result.updated)
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
