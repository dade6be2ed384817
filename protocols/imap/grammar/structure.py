"""ENVELOPE and BODY/BODYSTRUCTURE from cached metadata (RFC 3501 7.4.2, 9).

ABNF (RFC 3501 9, abridged)::

    envelope        = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to
                      SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"
    env-from        = "(" 1*address ")" / nil
    address         = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
    body            = "(" (body-type-1part / body-type-mpart) ")"
    body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
    body-type-basic = media-basic SP body-fields
    body-type-msg   = media-message SP body-fields SP envelope SP body SP body-fld-lines
    body-type-text  = media-text SP body-fields SP body-fld-lines
    body-fields     = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
                      body-fld-octets
    body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    body-ext-1part  = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
    body-ext-mpart  = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
    body-fld-param  = "(" string SP string *(SP string SP string) ")" / nil
    body-fld-dsp    = "(" string SP body-fld-param ")" / nil
    body-fld-lang   = nstring / "(" string *(SP string) ")"

Built from ``mailstore.message.BodyPart``/``Envelope`` as cached at save time: nothing is
reparsed. Media type and subtype go out upper-case as in the RFC's examples. Header-derived
strings are UTF-8 with surrogateescape, so their original octets go back on the wire.
"""

from __future__ import annotations

import re

from mailstore.message import Address, BodyPart, Envelope
from protocols.imap.grammar.wire import MAX_QUOTED, nstring_bytes, string_bytes

_EMPTY_BODY = b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)'


def _raw(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def _nstr(value: str | None) -> bytes:
    if value is None:
        return b"NIL"
    if len(value) <= MAX_QUOTED and _PLAIN.match(value):
        return b'"%s"' % value.encode("ascii")  # the common case: no escaping, no literal
    return nstring_bytes(_raw(value))


_PLAIN = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x21\x23-\x5b\x5d-\x7f]*\Z")
"""Text that goes out quoted as it is: 7-bit, no CR, LF, NUL, ``"`` or ``\\``."""


def _str(value: str) -> bytes:
    return string_bytes(_raw(value))


def _address(address: Address) -> bytes:
    name, mailbox, host = address.name, address.mailbox, address.host
    if address.adl is None and mailbox is not None and host is not None:
        # the common shape: one check of the three strings together (each is shorter
        # than their sum, and each is plain if their concatenation is)
        joined = mailbox + host if name is None else name + mailbox + host
        if len(joined) <= MAX_QUOTED and _PLAIN.match(joined):
            if name is None:
                return f'(NIL NIL "{mailbox}" "{host}")'.encode("ascii")
            return f'("{name}" NIL "{mailbox}" "{host}")'.encode("ascii")
    return b"(%s %s %s %s)" % (
        _nstr(address.name),
        _nstr(address.adl),
        _nstr(address.mailbox),
        _nstr(address.host),
    )


def _addresses(addresses: tuple[Address, ...]) -> bytes:
    if not addresses:
        return b"NIL"
    return b"(" + b"".join([_address(a) for a in addresses]) + b")"


def envelope_bytes(envelope: Envelope) -> bytes:
    """``envelope`` (RFC 3501 7.4.2 ENVELOPE)."""
    from_ = envelope.from_
    from_bytes = _addresses(from_)
    sender, reply_to = envelope.sender, envelope.reply_to  # mostly equal to From
    return b"(%s %s %s %s %s %s %s %s %s %s)" % (
        _nstr(envelope.date),
        _nstr(envelope.subject),
        from_bytes,
        from_bytes if sender == from_ else _addresses(sender),
        from_bytes if reply_to == from_ else _addresses(reply_to),
        _addresses(envelope.to),
        _addresses(envelope.cc),
        _addresses(envelope.bcc),
        _nstr(envelope.in_reply_to),
        _nstr(envelope.message_id),
    )


def _params(params: tuple[tuple[str, str], ...]) -> bytes:
    if not params:
        return b"NIL"
    return b"(" + b" ".join(_str(k) + b" " + _str(v) for k, v in params) + b")"


def _disposition(disposition: tuple[str, tuple[tuple[str, str], ...]] | None) -> bytes:
    if disposition is None:
        return b"NIL"
    return b"(" + _str(disposition[0]) + b" " + _params(disposition[1]) + b")"


def _language(language: tuple[str, ...] | None) -> bytes:
    if not language:
        return b"NIL"
    if len(language) == 1:
        return _str(language[0])
    return b"(" + b" ".join(_str(tag) for tag in language) + b")"


def _extension_tail(part: BodyPart) -> list[bytes]:
    return [_disposition(part.disposition), _language(part.language), _nstr(part.location)]


def body_bytes(part: BodyPart, *, extended: bool, depth: int = 0) -> bytes:
    """``body``: BODY (``extended=False``) or BODYSTRUCTURE (with extension data)."""
    if part.type == "multipart":
        if not part.parts or depth > 100:
            return _EMPTY_BODY
        out = b"".join(body_bytes(p, extended=extended, depth=depth + 1) for p in part.parts)
        out += b" " + _str(part.subtype.upper())
        if extended:
            out += b" " + b" ".join([_params(part.params), *_extension_tail(part)])
        return b"(" + out + b")"
    fields = [
        _str(part.type.upper()),
        _str(part.subtype.upper()),
        _params(part.params),
        _nstr(part.content_id),
        _nstr(part.description),
        _str(part.encoding.upper()),
        b"%d" % part.size,
    ]
    is_message = part.type == "message" and part.subtype == "rfc822"
    if is_message and part.envelope is not None and part.message_body is not None and depth < 100:
        fields.append(envelope_bytes(part.envelope))
        fields.append(body_bytes(part.message_body, extended=extended, depth=depth + 1))
        fields.append(b"%d" % part.lines)
    elif part.type == "text":
        fields.append(b"%d" % part.lines)
    if extended:
        fields.append(_nstr(part.md5))
        fields.extend(_extension_tail(part))
    return b"(" + b" ".join(fields) + b")"
