"""Cached message metadata (envelope, body structure) as JSON text in the index.

JSON rather than pickle: the index lies in the user's Maildir, and loading it must never
run code whatever its contents. Strings keep surrogate escapes (``json`` writes them as
``\\udcXX`` escapes and reads them back unchanged). A row that does not decode is treated
as missing and recomputed from the message file.
"""

from __future__ import annotations

import json
from typing import Any

from mailstore.message import Address, BodyPart, Envelope


class MetaCodecError(ValueError):
    """Stored metadata does not decode (corrupt or from another version)."""


def _addrs(addrs: tuple[Address, ...]) -> list[list[str | None]]:
    return [[a.name, a.adl, a.mailbox, a.host] for a in addrs]


def _envelope(env: Envelope) -> list[Any]:
    from_ = _addrs(env.from_)
    return [
        env.date,
        env.subject,
        from_,
        from_ if env.sender is env.from_ else _addrs(env.sender),  # the parser shares them
        from_ if env.reply_to is env.from_ else _addrs(env.reply_to),
        _addrs(env.to),
        _addrs(env.cc),
        _addrs(env.bcc),
        env.in_reply_to,
        env.message_id,
    ]


def _part(p: BodyPart) -> list[Any]:
    return [
        p.type,
        p.subtype,
        p.params,  # tuples encode as JSON arrays
        p.content_id,
        p.description,
        p.encoding,
        p.size,
        p.lines,
        p.md5,
        p.disposition,
        p.language,
        p.location,
        p.header_start,
        p.body_start,
        p.body_end,
        [_part(c) for c in p.parts],
        None if p.envelope is None else _envelope(p.envelope),
        None if p.message_body is None else _part(p.message_body),
    ]


def encode(envelope: Envelope, body: BodyPart) -> str:
    """Envelope and body structure → JSON text."""
    return _ENCODER.encode([1, _envelope(envelope), _part(body)])


_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)
"""One encoder for every call (``json.dumps`` with options builds a new one each time);
the structure is a tree by construction, so the check for cycles is skipped."""


def _to_addrs(data: list[Any]) -> tuple[Address, ...]:
    return tuple([Address(*item) for item in data])


def _to_envelope(d: list[Any]) -> Envelope:
    from_ = _to_addrs(d[2])
    return Envelope(
        date=d[0],
        subject=d[1],
        from_=from_,
        sender=from_ if d[3] == d[2] else _to_addrs(d[3]),  # mostly a copy of From
        reply_to=from_ if d[4] == d[2] else _to_addrs(d[4]),
        to=_to_addrs(d[5]),
        cc=_to_addrs(d[6]),
        bcc=_to_addrs(d[7]),
        in_reply_to=d[8],
        message_id=d[9],
    )


def _pairs(data: list[Any]) -> tuple[tuple[str, str], ...]:
    return tuple([(str(k), str(v)) for k, v in data])


def _to_part(d: list[Any]) -> BodyPart:
    return BodyPart(
        type=d[0],
        subtype=d[1],
        params=_pairs(d[2]),
        content_id=d[3],
        description=d[4],
        encoding=d[5],
        size=d[6],
        lines=d[7],
        md5=d[8],
        disposition=None if d[9] is None else (d[9][0], _pairs(d[9][1])),
        language=None if d[10] is None else tuple(d[10]),
        location=d[11],
        header_start=d[12],
        body_start=d[13],
        body_end=d[14],
        parts=tuple(_to_part(c) for c in d[15]),
        envelope=None if d[16] is None else _to_envelope(d[16]),
        message_body=None if d[17] is None else _to_part(d[17]),
    )


def decode(text: str) -> tuple[Envelope, BodyPart]:
    """JSON text → envelope and body structure; ``MetaCodecError`` if it does not decode."""
    try:
        version, envelope, body = json.loads(text)
        if version != 1:
            raise MetaCodecError("unknown metadata version")
        return _to_envelope(envelope), _to_part(body)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise MetaCodecError(str(exc)) from exc
