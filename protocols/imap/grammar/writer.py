"""The response serializer: typed responses → octets (RFC 3501 7, 9 ``response``).

ABNF (RFC 3501 9, abridged)::

    response-tagged = tag SP resp-cond-state CRLF
    resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
    resp-text       = ["[" resp-text-code "]" SP] text
    continue-req    = "+" SP (resp-text / base64) CRLF
    mailbox-data    = "FLAGS" SP flag-list / "LIST" SP mailbox-list / "LSUB" SP mailbox-list /
                      "SEARCH" *(SP nz-number) / "STATUS" SP mailbox SP "(" [status-att-list] ")" /
                      number SP "EXISTS" / number SP "RECENT"
    mailbox-list    = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
                      [SP mbox-list-extended]
    message-data    = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))

``serialize_chunks`` returns octets in pieces: literal data is its own piece (never copied into
a bigger buffer) and an ``ExternalLiteral`` is passed through for the transport to stream.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from typing import Any

from protocols.imap import responses as r
from protocols.imap.grammar.dates import format_date_time
from protocols.imap.grammar.flags import format_flag_list
from protocols.imap.grammar.mailbox import encode_name
from protocols.imap.grammar.sequence import format_numbers
from protocols.imap.grammar.structure import body_bytes, envelope_bytes
from protocols.imap.grammar.wire import astring_bytes, literal_header, quote, string_bytes

Chunk = bytes | r.ExternalLiteral
_UNSAFE_TEXT = re.compile(r"[^\x20-\x7e]")
_PAREN_CODES = frozenset({r.CodeKind.PERMANENTFLAGS, r.CodeKind.BADCHARSET})


def _text(text: str) -> bytes:
    """``text``: printable ASCII only (fixed texts; anything else is replaced)."""
    return _UNSAFE_TEXT.sub("?", text).encode("ascii") or b"Done"


def _atoms(values: Iterable[str]) -> bytes:
    return b" ".join(v.encode("ascii", "replace") for v in values)


def _code(code: r.ResponseCode) -> bytes:
    match code:
        case r.SimpleCode(kind):
            return kind.value.encode()
        case r.NumberCode(kind, value):
            return b"%s %d" % (kind.value.encode(), value)
        case r.AtomsCode(kind, values):
            body = _atoms(values)
            if kind in _PAREN_CODES:
                body = b"(" + body + b")"
            return kind.value.encode() + (b" " + body if body else b"")
        case r.AppendUidCode(uidvalidity, uids):
            return b"APPENDUID %d %s" % (uidvalidity, _uid_list(uids))
        case r.CopyUidCode(uidvalidity, source, dest):
            return b"COPYUID %d %s %s" % (uidvalidity, _uid_list(source), _uid_list(dest))
        case r.ModifiedCode(numbers):
            return b"MODIFIED " + format_numbers(numbers)
    raise TypeError(code)


def _uid_list(uids: tuple[int, ...]) -> bytes:
    """A uid-set keeping the given order (COPYUID source and dest must correspond)."""
    if list(uids) == sorted(set(uids)):
        return format_numbers(uids)
    return b",".join(b"%d" % uid for uid in uids)


def _status(resp: r.StatusResponse) -> bytes:
    tag = b"*" if resp.tag is None else resp.tag
    code = b"" if resp.code is None else b"[" + _code(resp.code) + b"] "
    return b"%s %s %s%s\r\n" % (tag, resp.condition.value.encode(), code, _text(resp.text))


def _mailbox(name: str, utf8: bool) -> bytes:
    try:
        return astring_bytes(encode_name(name, utf8=utf8))
    except ValueError:
        return astring_bytes(name.encode("utf-8", "replace"))


def _list(resp: r.ListData) -> bytes:
    verb = b"LSUB" if resp.lsub else b"LIST"
    sep = b"NIL" if resp.separator is None else quote(resp.separator.encode("ascii"))
    out = b"* %s (%s) %s %s" % (verb, _atoms(resp.attributes), sep, _mailbox(resp.name, resp.utf8))
    extended: list[bytes] = []
    if resp.childinfo:
        opts = b" ".join(quote(o.encode("ascii", "replace")) for o in resp.childinfo)
        extended.append(b'"CHILDINFO" (' + opts + b")")
    if resp.old_name is not None:
        extended.append(b'"OLDNAME" (' + _mailbox(resp.old_name, resp.utf8) + b")")
    if extended:
        out += b" (" + b" ".join(extended) + b")"
    return out + b"\r\n"


def _esearch(resp: r.ESearchData) -> bytes:
    out = b"* ESEARCH"
    if resp.tag is not None:
        out += b" (TAG " + quote(resp.tag) + b")"
    if resp.uid:
        out += b" UID"
    for name, value in (("MIN", resp.min), ("MAX", resp.max), ("COUNT", resp.count)):
        if value is not None:
            out += b" %s %d" % (name.encode(), value)
    if resp.all:
        out += b" ALL " + format_numbers(resp.all)
    if resp.modseq is not None:
        out += b" MODSEQ %d" % resp.modseq
    return out + b"\r\n"


def _pairs(params: tuple[tuple[str, str | None], ...] | None) -> bytes:
    if params is None:
        return b"NIL"
    out = []
    for key, value in params:
        out.append(string_bytes(key.encode("utf-8")))
        out.append(b"NIL" if value is None else string_bytes(value.encode("utf-8")))
    return b"(" + b" ".join(out) + b")" if out else b"NIL"


def _namespace(entries: tuple[tuple[str, str | None], ...]) -> bytes:
    if not entries:
        return b"NIL"
    parts = [
        b"(%s %s)"
        % (
            quote(encode_name(prefix)),
            b"NIL" if sep is None else quote(sep.encode("ascii")),
        )
        for prefix, sep in entries
    ]
    return b"(" + b"".join(parts) + b")"


def _fetch_item(item: r.FetchValue) -> list[Chunk]:
    match item:
        case r.UidItem(uid):
            return [b"UID %d" % uid]
        case r.FlagsItem(flags):
            return [b"FLAGS " + format_flag_list(flags)]
        case r.InternalDateItem(timestamp, offset):
            return [b"INTERNALDATE " + format_date_time(timestamp, offset)]
        case r.SizeItem(size):
            return [b"RFC822.SIZE %d" % size]
        case r.EnvelopeItem(envelope):
            return [b"ENVELOPE " + envelope_bytes(envelope)]
        case r.BodyStructureItem(body, extended):
            name = b"BODYSTRUCTURE " if extended else b"BODY "
            return [name + body_bytes(body, extended=extended)]
        case r.ModSeqItem(modseq):
            return [b"MODSEQ (%d)" % modseq]
        case r.SectionItem(name, None):
            return [name + b" NIL"]
        case r.SectionItem(name, bytes() as data):
            return [name + b" " + literal_header(len(data)), data]
        case r.SectionItem(name, r.ExternalLiteral() as ext):
            return [name + b" " + literal_header(ext.size), ext]
    raise TypeError(item)


def _flags(item: r.FlagsItem) -> bytes:
    """``FLAGS (...)``, remembered per flag list (FETCH of a whole mailbox repeats few)."""
    done = _FLAGS_DONE.get(item.flags)
    if done is None:
        if len(_FLAGS_DONE) >= 4096:
            _FLAGS_DONE.clear()
        done = _FLAGS_DONE[item.flags] = b"FLAGS " + format_flag_list(item.flags)
    return done


_FLAGS_DONE: dict[tuple[str, ...], bytes] = {}
_SMALL_ITEMS: dict[type, Callable[[Any], bytes]] = {
    r.UidItem: lambda item: b"UID %d" % item.uid,
    r.FlagsItem: _flags,
    r.SizeItem: lambda item: b"RFC822.SIZE %d" % item.size,
    r.ModSeqItem: lambda item: b"MODSEQ (%d)" % item.modseq,
    r.EnvelopeItem: lambda item: b"ENVELOPE " + envelope_bytes(item.envelope),
}
"""Items that are one short piece of octets, by type (a dict look-up, not a ``match``)."""


def _fetch(resp: r.FetchData) -> list[Chunk]:
    items = resp.items
    if any(type(item) is r.UidItem for item in items[1:]):
        items = tuple(sorted(items, key=lambda item: not isinstance(item, r.UidItem)))
    small = _SMALL_ITEMS
    if all(type(item) in small for item in items):
        body = b" ".join([small[type(item)](item) for item in items])
        return [b"* %d FETCH (%s)\r\n" % (resp.sequence, body)]
    chunks: list[Chunk] = [b"* %d FETCH (" % resp.sequence]
    for i, item in enumerate(items):
        if i:
            chunks.append(b" ")
        chunks.extend(_fetch_item(item))
    chunks.append(b")\r\n")
    return _merge(chunks)


def _merge(chunks: list[Chunk]) -> list[Chunk]:
    """Join adjacent small byte pieces; big literals (4 KiB and more) stay separate pieces."""
    out: list[Chunk] = []
    for chunk in chunks:
        last = out[-1] if out else None
        if (
            isinstance(chunk, bytes)
            and len(chunk) < 4096
            and isinstance(last, bytes)
            and len(last) < 4096
        ):
            out[-1] = last + chunk
        else:
            out.append(chunk)
    return out


def _line(resp: r.Response) -> bytes:
    match resp:
        case r.StatusResponse():
            return _status(resp)
        case r.Continuation(text, None):
            return b"+ " + _text(text) + b"\r\n"
        case r.Continuation(_, bytes() as challenge):
            return b"+ " + base64.b64encode(challenge) + b"\r\n"
        case r.CapabilityData(caps):
            return b"* CAPABILITY " + _atoms(caps) + b"\r\n"
        case r.ListData():
            return _list(resp)
        case r.StatusData(mailbox, items, utf8):
            body = b" ".join(b"%s %d" % (k.value.encode(), v) for k, v in items)
            return b"* STATUS %s (%s)\r\n" % (_mailbox(mailbox, utf8), body)
        case r.SearchData(numbers, modseq):
            out = b"* SEARCH" + b"".join(b" %d" % n for n in numbers)
            if modseq is not None:
                out += b" (MODSEQ %d)" % modseq
            return out + b"\r\n"
        case r.ESearchData():
            return _esearch(resp)
        case r.FlagsData(flags):
            return b"* FLAGS " + format_flag_list(flags) + b"\r\n"
        case r.ExistsData(count):
            return b"* %d EXISTS\r\n" % count
        case r.RecentData(count):
            return b"* %d RECENT\r\n" % count
        case r.ExpungeData(sequence):
            return b"* %d EXPUNGE\r\n" % sequence
        case r.VanishedData(uids, earlier):
            prefix = b"* VANISHED (EARLIER) " if earlier else b"* VANISHED "
            return prefix + format_numbers(uids) + b"\r\n"
        case r.NamespaceData(personal, other, shared):
            spaces = b" ".join(_namespace(n) for n in (personal, other, shared))
            return b"* NAMESPACE " + spaces + b"\r\n"
        case r.IdData(params):
            return b"* ID " + _pairs(params) + b"\r\n"
        case r.EnabledData(caps):
            return b"* ENABLED" + b"".join(b" " + a for a in _atoms(caps).split()) + b"\r\n"
        case r.QuotaData(root, resources):
            body = b" ".join(
                b"%s %d %d" % (q.name.encode("ascii", "replace"), q.usage, q.limit)
                for q in resources
            )
            return b"* QUOTA %s (%s)\r\n" % (astring_bytes(root.encode("utf-8")), body)
        case r.QuotaRootData(mailbox, roots, utf8):
            names = b"".join(b" " + astring_bytes(root.encode("utf-8")) for root in roots)
            return b"* QUOTAROOT " + _mailbox(mailbox, utf8) + names + b"\r\n"
    raise TypeError(resp)


def serialize_chunks(response: r.Response) -> list[Chunk]:
    """One response as octet pieces (and ``ExternalLiteral`` placeholders), CRLF included."""
    if isinstance(response, r.FetchData):
        return _fetch(response)
    if isinstance(response, r.FetchLines):
        return [response.data]
    return [_line(response)]
