"""SEARCH evaluation over the session's view and cached metadata (RFC 3501 6.4.4).

Keys are evaluated per message with three-valued logic: flag, size, date, set and MODSEQ
keys (RFC 7162 3.1.5) are answered from the view; header keys (FROM, TO, CC, BCC,
SUBJECT, HEADER, SENT*) from the cached header block and envelope, fetched in batches;
BODY and TEXT answer "unknown" in that first pass. Only the messages still unknown are
read, and their text is matched in the thread pool (``run_blocking``), so ``UNSEEN TEXT x``
reads the unseen messages only. A full-text index (SQLite FTS5 in the per-user index)
would plug in at ``_resolve_unknown``: ask it for the candidate UIDs of each BODY/TEXT
string before reading any message.

Matching follows RFC 3501: strings are case-insensitive substrings; header values are
matched both as sent and with RFC 2047 encoded-words decoded; dates compare by day
(INTERNALDATE in UTC, as FETCH INTERNALDATE reports it; the Date: header in its own
zone, falling back to INTERNALDATE when missing or unparsable). The decoding of message
text and header values for matching lives in ``searchtext``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mailstore.blocking import run_blocking
from mailstore.message import MessageMeta
from mailstore.types import SEEN, MessageInfo
from protocols.imap import commands as c
from protocols.imap.fetching import header_fields
from protocols.imap.grammar.search import (
    DateField,
    DateOp,
    ReturnOpt,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchSize,
    SearchText,
    SimpleKey,
    TextField,
)
from protocols.imap.grammar.sequence import ResolvedSet
from protocols.imap.responses import ESearchData, Response, SearchData
from protocols.imap.searchtext import MessageText, field_values
from protocols.imap.selected import SelectedMailbox

META_BATCH = 500
READ_BATCH = 256
"""Most messages read for BODY/TEXT with one ``Mailbox.read_many``."""
READ_BUDGET = 4 * 1024 * 1024
"""Octets read with one ``Mailbox.read_many`` (a bigger message is read alone)."""
_BODY_FIELDS = frozenset({TextField.BODY, TextField.TEXT})

Tri = bool | None
"""Three-valued: None while the message text has not been read."""


@dataclass(slots=True)
class Candidate:
    """One message under evaluation and what has been loaded for it."""

    seq: int
    info: MessageInfo
    recent: bool
    meta: MessageMeta | None = None
    text: MessageText | None = None
    _headers: dict[bytes, list[str]] | None = None

    def header(self, name: str) -> list[str]:
        """The values of header field ``name`` (unfolded; raw and RFC 2047-decoded)."""
        if self.meta is None:
            return []
        if self._headers is None:
            self._headers = {}
            for key, raw in header_fields(self.meta.header):
                self._headers.setdefault(key, []).extend(field_values(raw))
        return self._headers.get(name.lower().encode("utf-8", "replace"), [])


@dataclass(slots=True)
class _Context:
    """Per-search state: the view's extent and resolved sets, computed once."""

    exists: int
    max_uid: int
    sets: dict[int, ResolvedSet] = field(default_factory=dict)
    """By ``id`` of the key: hashing a long set per message would cost O(ranges) each time."""

    def resolved(self, key: SearchSet) -> ResolvedSet:
        found = self.sets.get(id(key))
        if found is None:
            found = key.numbers.resolve(self.max_uid if key.uid else self.exists)
            self.sets[id(key)] = found
        return found


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Matching UIDs ascending; ``modseq`` the highest among them when MODSEQ was used."""

    uids: tuple[int, ...]
    uses_modseq: bool = False
    modseq: int | None = None


def _walk(key: SearchKey) -> Iterator[SearchKey]:
    yield key
    match key:
        case SearchNot(inner):
            yield from _walk(inner)
        case SearchOr(left, right):
            yield from _walk(left)
            yield from _walk(right)
        case SearchAnd(keys):
            for inner in keys:
                yield from _walk(inner)


def needs_meta(key: SearchKey) -> bool:
    """True if ``key`` looks at header fields or the Date: header."""
    return any(
        isinstance(k, SearchHeader)
        or (isinstance(k, SearchText) and k.field not in _BODY_FIELDS)
        or (isinstance(k, SearchDate) and k.field is DateField.SENT)
        for k in _walk(key)
    )


def _needs_body_start(key: SearchKey) -> bool:
    """True if ``key`` has a BODY key: where the header ends must be exact (metadata);
    for TEXT the header and body are searched alike (the blank line found is enough)."""
    return any(isinstance(k, SearchText) and k.field is TextField.BODY for k in _walk(key))


def _all(values: Iterator[Tri]) -> Tri:
    result: Tri = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _any(values: Iterator[Tri]) -> Tri:
    result: Tri = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _has_flag(info: MessageInfo, flag: str) -> bool:
    if flag.startswith("\\"):
        return flag in info.flags
    folded = flag.casefold()
    return any(f.casefold() == folded for f in info.flags)


def _compare(day: dt.date, op: DateOp, date: dt.date) -> bool:
    if op is DateOp.BEFORE:
        return day < date
    if op is DateOp.ON:
        return day == date
    return day >= date


def internal_day(info: MessageInfo) -> dt.date:
    """The INTERNALDATE's day, in UTC as FETCH INTERNALDATE reports it."""
    return dt.datetime.fromtimestamp(info.internal_date, dt.UTC).date()


def sent_day(cand: Candidate) -> dt.date:
    """The Date: header's day in its own zone (RFC 3501 6.4.4), else the internal date's."""
    value = cand.meta.envelope.date if cand.meta is not None else None
    parsed = email.utils.parsedate_tz(value) if value else None
    if parsed is not None:
        try:
            return dt.date(parsed[0], parsed[1], parsed[2])
        except ValueError:
            pass
    return internal_day(cand.info)


_ADDRESS_FIELDS = {
    TextField.FROM: "from",
    TextField.TO: "to",
    TextField.CC: "cc",
    TextField.BCC: "bcc",
    TextField.SUBJECT: "subject",
}


def _text(cand: Candidate, key: SearchText) -> Tri:
    needle = key.value.casefold()
    if key.field in _BODY_FIELDS:
        if cand.text is None:
            return None
        return cand.text.contains(needle, with_header=key.field is TextField.TEXT)
    return any(needle in value for value in cand.header(_ADDRESS_FIELDS[key.field]))


def _header(cand: Candidate, key: SearchHeader) -> bool:
    values = cand.header(key.name)
    if not key.value:
        return bool(values)
    needle = key.value.casefold()
    return any(needle in value for value in values)


def evaluate(key: SearchKey, cand: Candidate, ctx: _Context) -> Tri:
    """Does ``cand`` match ``key``? None when that depends on text not read yet."""
    match key:
        case SearchAnd(keys):
            return _all(evaluate(k, cand, ctx) for k in keys)
        case SearchOr(left, right):
            return _any(evaluate(k, cand, ctx) for k in (left, right))
        case SearchNot(inner):
            value = evaluate(inner, cand, ctx)
            return None if value is None else not value
        case SearchSimple(kind):
            return _simple(kind, cand)
        case SearchFlag(flag, present):
            return _has_flag(cand.info, flag) == present
        case SearchSize(larger, size):
            return cand.info.size > size if larger else cand.info.size < size
        case SearchSet(_, uid):
            return (cand.info.uid if uid else cand.seq) in ctx.resolved(key)
        case SearchModSeq(modseq):
            return cand.info.modseq >= modseq
        case SearchDate(date_field, op, date):
            day = internal_day(cand.info) if date_field is DateField.INTERNAL else sent_day(cand)
            return _compare(day, op, date)
        case SearchText():
            return _text(cand, key)
        case SearchHeader():
            return _header(cand, key)
    raise TypeError(key)


def _simple(kind: SimpleKey, cand: Candidate) -> bool:
    if kind is SimpleKey.ALL:
        return True
    if kind is SimpleKey.RECENT:
        return cand.recent
    if kind is SimpleKey.OLD:
        return not cand.recent
    return cand.recent and SEEN not in cand.info.flags


async def _resolve_unknown(
    sel: SelectedMailbox, key: SearchKey, ctx: _Context, unknown: list[Candidate]
) -> list[int]:
    """Read the messages BODY/TEXT depends on and finish their evaluation in a thread.

    Messages are read in batches (one ``read_many``: one trip to the store for many
    messages) and each batch is matched in the thread pool, where the case folding and
    MIME decoding cost no reactor time.
    """
    matched: list[int] = []
    for batch in _read_batches(unknown):
        got = await sel.mailbox.read_many([(cand.info.uid, 0, None) for cand in batch])
        readable: list[Candidate] = []
        for cand, data in zip(batch, got, strict=True):
            if data is None:
                continue  # gone from the store (RFC 2180 4.3): it matches no text
            header_end = cand.meta.body.body_start if cand.meta is not None else None
            cand.text = MessageText(data, header_end)
            readable.append(cand)
        matched.extend(await run_blocking(_finish, key, ctx, readable))
        for cand in readable:
            cand.text = None  # only one batch of message text is held at a time
    return matched


def _read_batches(cands: list[Candidate]) -> Iterator[list[Candidate]]:
    """``cands`` in batches of at most ``READ_BATCH`` messages and about ``READ_BUDGET`` octets."""
    batch: list[Candidate] = []
    octets = 0
    for cand in cands:
        if batch and (len(batch) >= READ_BATCH or octets + cand.info.size > READ_BUDGET):
            yield batch
            batch, octets = [], 0
        batch.append(cand)
        octets += cand.info.size
    if batch:
        yield batch


def _finish(key: SearchKey, ctx: _Context, cands: list[Candidate]) -> list[int]:
    """Evaluate with text loaded (in the thread pool: decoding is CPU work)."""
    return [cand.info.uid for cand in cands if evaluate(key, cand, ctx)]


async def search(sel: SelectedMailbox, key: SearchKey) -> SearchResult:
    """Evaluate ``key`` over every message of the view (RFC 3501 6.4.4)."""
    uids = list(sel.uids())
    ctx = _Context(len(uids), uids[-1] if uids else 0)
    with_meta = needs_meta(key)
    matched: list[int] = []
    unknown: list[Candidate] = []
    for start in range(0, len(uids), META_BATCH):
        batch = uids[start : start + META_BATCH]
        metas: dict[int, MessageMeta] = {}
        if with_meta:
            metas = await sel.mailbox.metadata([u for u in batch if not sel.is_expunged(u)])
        for offset, uid in enumerate(batch):
            cand = Candidate(start + offset + 1, sel.info(uid), sel.is_recent(uid), metas.get(uid))
            value = evaluate(key, cand, ctx)
            if value is None:
                unknown.append(cand)
            elif value:
                matched.append(uid)
    if unknown:
        if not with_meta and _needs_body_start(key):
            await _load_meta(sel, unknown)
        matched.extend(await _resolve_unknown(sel, key, ctx, unknown))
        matched.sort()
    uses_modseq = any(isinstance(k, SearchModSeq) for k in _walk(key))
    modseq = None
    if uses_modseq and matched:
        modseq = max(sel.info(uid).modseq for uid in matched)
    return SearchResult(tuple(matched), uses_modseq, modseq)


async def _load_meta(sel: SelectedMailbox, cands: list[Candidate]) -> None:
    """Metadata for messages about to be read (for where the header ends)."""
    for start in range(0, len(cands), META_BATCH):
        batch = cands[start : start + META_BATCH]
        metas = await sel.mailbox.metadata([cand.info.uid for cand in batch])
        for cand in batch:
            cand.meta = metas.get(cand.info.uid)


def search_responses(cmd: c.Search, sel: SelectedMailbox, result: SearchResult) -> list[Response]:
    """``* SEARCH`` (RFC 3501 7.2.5) or ``* ESEARCH`` for RETURN (RFC 4731 3.1)."""
    to_number: Callable[[int], int | None] = (lambda u: u) if cmd.uid else sel.seq_of
    numbers = tuple(n for n in (to_number(u) for u in result.uids) if n is not None)
    if cmd.returns is None:
        return [SearchData(numbers, result.modseq)]
    opts = cmd.returns
    return [
        ESearchData(
            cmd.tag,
            uid=cmd.uid,
            min=numbers[0] if numbers and ReturnOpt.MIN in opts else None,
            max=numbers[-1] if numbers and ReturnOpt.MAX in opts else None,
            count=len(numbers) if ReturnOpt.COUNT in opts else None,
            all=numbers if numbers and ReturnOpt.ALL in opts else None,
            modseq=result.modseq,
        )
    ]
