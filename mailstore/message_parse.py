"""Message metadata at save time: header block, ENVELOPE and the MIME tree with offsets.

One pass of ``bytes.find`` over the message: the header block ends at the first empty line
(none: the whole entity is header and the body is empty); a multipart body is cut at its
delimiter lines (RFC 2046 5.1.1: ``--boundary`` at a line start, optional ``--`` and
trailing white space; the CRLF before a delimiter belongs to it; preamble and epilogue
belong to no part; a missing close delimiter ends the last part at the end of the
container); message/rfc822 bodies are parsed as messages (RFC 2046 5.2.1). Containers
nest to ``MAX_DEPTH``; deeper ones, multiparts without a boundary and encoded
message/rfc822 bodies become text/plain leaves, and a multipart in which no delimiter is
found gets one empty text/plain part (as Dovecot reports it), so every multipart has a
part and every message/rfc822 has an envelope and a body.

Offsets are over the message with CRLF line ends. Input with bare LF line ends is
converted first (``to_crlf``) and the offsets and header returned are over that form, so
callers that read byte ranges later should normalise with ``to_crlf`` themselves.
``parse_stored`` reads a message file as stored and, for the common LF-only single-part
file, counts the body's CRLF size and lines without converting it (issue #7: indexing a
mailbox that was written directly parses every file once).
"""

from __future__ import annotations

from typing import BinaryIO

from twisted.logger import Logger

from mailstore.envelope import build_envelope
from mailstore.message import BodyPart, Envelope
from mailstore.mime import (
    Params,
    header_texts,
    parse_content_type,
    parse_disposition,
    parse_language,
    parse_token_value,
)

MAX_DEPTH = 20
"""Deepest nesting of multipart and message/rfc822 containers that is parsed."""

_Type = tuple[str, str, Params]
"""(type, subtype, params) of a Content-Type."""
_TEXT_PLAIN: _Type = ("text", "plain", (("charset", "us-ascii"),))
_MESSAGE_RFC822: _Type = ("message", "rfc822", ())
_IDENTITY_ENCODINGS = frozenset({"7BIT", "8BIT", "BINARY"})

_log = Logger()


def to_crlf(data: bytes) -> bytes:
    """``data`` with every bare LF turned into CRLF (existing CRLF and bare CR untouched)."""
    if b"\n" not in data or data.count(b"\n") == data.count(b"\r\n"):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def parse_message(data: bytes, *, crlf: bool = False) -> tuple[bytes, Envelope, BodyPart]:
    """Header block (with its empty line), ENVELOPE and body structure (RFC 3501 7.4.2).

    Never raises: malformed MIME is parsed as well as it can be. Bare-LF input is
    converted with ``to_crlf`` first (skipped when the caller passes ``crlf=True``: it
    has just converted, and the check reads a big message twice); all offsets are over
    the CRLF form.
    """
    if not crlf:
        data = to_crlf(data)
    try:
        return parse_crlf(data)
    except Exception:  # noqa: BLE001 - a parser bug must not fail a delivery
        _log.failure("message parser failed on a {size}-octet message", size=len(data))
        return _fallback(data)


def parse_stored(raw: bytes) -> tuple[bytes, Envelope, BodyPart]:
    """``parse_message`` of a message file's octets as stored (offsets over the CRLF form).

    A file with LF line ends (what most MDAs write) whose body is a single part is parsed
    without converting its body: each LF becomes one CRLF, so the body's CRLF size and
    lines are counted on the LF form. Anything else is converted and parsed in full.
    """
    if b"\r" not in raw:
        try:
            found = _parse_lf_leaf(raw)
        except Exception:  # noqa: BLE001 - the full parse below has the safety net
            found = None
        if found is not None:
            return found
        return parse_message(raw.replace(b"\n", b"\r\n"), crlf=True)
    return parse_message(raw)


def _parse_lf_leaf(raw: bytes) -> tuple[bytes, Envelope, BodyPart] | None:
    """``parse_stored`` of ``raw`` (LF line ends, no CR at all) if its body is one part."""
    if raw.startswith(b"\n"):
        header_end = 1
    else:
        blank = raw.find(b"\n\n")
        header_end = len(raw) if blank < 0 else blank + 2
    header = raw[:header_end].replace(b"\n", b"\r\n")
    fields = header_texts(header)
    ctype = parse_content_type(fields.get(b"content-type"))
    if ctype is not None and (ctype[0] == "multipart" or ctype[:2] == _MESSAGE_RFC822[:2]):
        return None  # a container: its parts' offsets need the CRLF form
    newlines = raw.count(b"\n", header_end)
    size = len(raw) - header_end + newlines
    lines = 0 if size == 0 else newlines if raw.endswith(b"\n") else newlines + 1
    body = _body_part(
        b"", fields, header_start=0, body_start=len(header), body_end=len(header) + size,
        depth=0, default=_TEXT_PLAIN, lines=lines, ctype=ctype,
    )  # fmt: skip
    return header, build_envelope(fields), body


def parse_message_file(fp: BinaryIO) -> tuple[bytes, Envelope, BodyPart]:
    """``parse_message`` of a whole file (blocking: run it in a thread)."""
    return parse_message(fp.read())


def parse_crlf(data: bytes) -> tuple[bytes, Envelope, BodyPart]:
    """``parse_message`` without the CRLF conversion and without the safety net."""
    body, fields = _entity(data, 0, len(data), 0, _TEXT_PLAIN)
    return data[: body.body_start], build_envelope(fields), body


def _fallback(data: bytes) -> tuple[bytes, Envelope, BodyPart]:
    start = _body_start(data, 0, len(data))
    envelope = Envelope(None, None, (), (), (), (), (), (), None, None)
    mtype, subtype, params = _TEXT_PLAIN
    body = BodyPart(
        mtype, subtype, params, None, None, "7BIT", len(data) - start,
        _count_lines(data, start, len(data)), None, None, None, None, 0, start, len(data),
    )  # fmt: skip
    return data[:start], envelope, body


def _body_start(data: bytes, start: int, end: int) -> int:
    """Offset after the empty line ending the header at ``start``; ``end`` if there is none."""
    if data.startswith(b"\r\n", start, end):
        return start + 2
    blank = data.find(b"\r\n\r\n", start, end)
    return end if blank < 0 else blank + 4


def _count_lines(data: bytes, start: int, end: int) -> int:
    """CRLF-terminated lines in ``data[start:end]``, plus a final unterminated one.

    ``data`` is the CRLF form (no bare LF), so counting LF counts CRLF: a one-byte search,
    twice as fast on a big body as the two-byte one.
    """
    if end <= start:
        return 0
    lines = data.count(b"\n", start, end)
    return lines if data.endswith(b"\r\n", start, end) else lines + 1


def _entity(
    data: bytes, start: int, end: int, depth: int, default: _Type
) -> tuple[BodyPart, dict[bytes, str]]:
    """The entity (header + body) in ``data[start:end]`` and its wanted header fields."""
    body_start = _body_start(data, start, end)
    fields = header_texts(data[start:body_start])
    part = _body_part(
        data, fields, header_start=start, body_start=body_start, body_end=end, depth=depth,
        default=default,
    )  # fmt: skip
    return part, fields


def _boundary(params: Params) -> bytes | None:
    for attr, value in params:
        if attr == "boundary":
            return value.encode("utf-8", "surrogateescape") or None
    return None


def _body_part(
    data: bytes,
    fields: dict[bytes, str],
    *,
    header_start: int,
    body_start: int,
    body_end: int,
    depth: int,
    default: _Type,
    lines: int | None = None,
    ctype: _Type | None = None,
) -> BodyPart:
    """The part whose fields and offsets are given; ``lines`` when counted already (then
    ``data`` is not read unless the part is a container), ``ctype`` when parsed already."""
    get = fields.get
    if ctype is None:
        ctype = parse_content_type(get(b"content-type"))
    mtype, subtype, params = ctype or default
    encoding = parse_token_value(get(b"content-transfer-encoding")) or "7BIT"
    encoding = encoding.upper()
    parts: tuple[BodyPart, ...] = ()
    envelope: Envelope | None = None
    message_body: BodyPart | None = None
    if mtype == "multipart":
        boundary = _boundary(params)
        if boundary is not None and depth < MAX_DEPTH:
            child = _MESSAGE_RFC822 if subtype == "digest" else _TEXT_PLAIN
            parts = _multipart(data, body_start, body_end, boundary, depth + 1, child)
        else:
            mtype, subtype, params = _TEXT_PLAIN
    elif mtype == "message" and subtype == "rfc822":
        if depth < MAX_DEPTH and encoding in _IDENTITY_ENCODINGS:
            message_body, inner = _entity(data, body_start, body_end, depth + 1, _TEXT_PLAIN)
            envelope = build_envelope(inner)
        else:
            mtype, subtype, params = _TEXT_PLAIN
    return BodyPart(
        type=mtype,
        subtype=subtype,
        params=params,
        content_id=get(b"content-id"),
        description=get(b"content-description"),
        encoding=encoding,
        size=body_end - body_start,
        lines=_count_lines(data, body_start, body_end) if lines is None else lines,
        md5=get(b"content-md5"),
        disposition=parse_disposition(get(b"content-disposition")),
        language=parse_language(get(b"content-language")),
        location=get(b"content-location"),
        header_start=header_start,
        body_start=body_start,
        body_end=body_end,
        parts=parts,
        envelope=envelope,
        message_body=message_body,
    )


def _delimiter_end(data: bytes, at: int, end: int) -> tuple[int, bool] | None:
    """If a delimiter line's transport padding and CRLF follow ``at``: (line end, is close)."""
    close = data.startswith(b"--", at, end)
    if close:
        at += 2
    while at < end and data[at] in b" \t":
        at += 1
    if at >= end:
        return end, close
    if data.startswith(b"\r\n", at, end):
        return at + 2, close
    return None


def _multipart(  # noqa: PLR0917
    data: bytes, start: int, end: int, boundary: bytes, depth: int, default: _Type
) -> tuple[BodyPart, ...]:
    """The body parts of a multipart body ``data[start:end]`` (RFC 2046 5.1.1)."""
    delimiter = b"--" + boundary
    parts: list[BodyPart] = []
    part_start = -1
    pos = start
    while True:
        at = data.find(delimiter, pos, end)
        if at < 0:
            break
        pos = at + 1
        if at != start and (at - 2 < start or not data.startswith(b"\r\n", at - 2, at)):
            continue
        found = _delimiter_end(data, at + len(delimiter), end)
        if found is None:
            continue
        line_end, close = found
        if part_start >= 0:
            part_end = max(part_start, at - 2 if at > start else at)
            parts.append(_entity(data, part_start, part_end, depth, default)[0])
        part_start = -1 if close else line_end
        if close:
            break
        pos = line_end
    if part_start >= 0:
        parts.append(_entity(data, part_start, end, depth, default)[0])
    if not parts:
        mtype, subtype, params = _TEXT_PLAIN
        empty = BodyPart(
            mtype, subtype, params, None, None, "7BIT", 0, 0, None, None, None, None,
            start, start, start,
        )  # fmt: skip
        parts.append(empty)
    return tuple(parts)
