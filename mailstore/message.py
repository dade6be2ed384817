"""Per-message metadata computed once at save time and cached in the index.

Strings that come from header fields are the raw header bytes decoded as UTF-8 with
``surrogateescape`` (RFC 2047 encoded-words are left encoded, as IMAP ENVELOPE wants them),
so ``value.encode("utf-8", "surrogateescape")`` gives the wire bytes back.
Offsets are into the message with CRLF line ends, so that a section of a part
(IMAP ``BODY[1.2.TEXT]``) is a byte range read, not a reparse.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Address:
    """An RFC 3501 envelope address: (name adl mailbox host); group syntax uses host=None."""

    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None


@dataclass(frozen=True, slots=True)
class Envelope:
    """RFC 3501 ENVELOPE fields (7.4.2)."""

    date: str | None
    subject: str | None
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    in_reply_to: str | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One node of the MIME tree, with what BODY/BODYSTRUCTURE need and where it lies."""

    type: str
    """Lower-case media type, e.g. ``text``; ``multipart`` for containers."""
    subtype: str
    params: tuple[tuple[str, str], ...]
    content_id: str | None
    description: str | None
    encoding: str
    """Content-Transfer-Encoding, upper-case, ``7BIT`` by default."""
    size: int
    """Octets of the body (CRLF)."""
    lines: int
    """Lines of the body (reported for text/* and message/rfc822)."""
    md5: str | None
    disposition: tuple[str, tuple[tuple[str, str], ...]] | None
    language: tuple[str, ...] | None
    location: str | None
    header_start: int
    """Offset of this part's header block (for a MIME section: ``BODY[n.MIME]``)."""
    body_start: int
    """Offset of the first body octet (after the empty line)."""
    body_end: int
    parts: tuple[BodyPart, ...] = ()
    """Children of a multipart."""
    envelope: Envelope | None = None
    """The enclosed message's envelope, for message/rfc822."""
    message_body: BodyPart | None = None
    """The enclosed message's body structure, for message/rfc822."""


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """Everything cached per message (``Mailbox.metadata``)."""

    uid: int
    size: int
    """RFC 822 size, CRLF."""
    internal_date: float
    header: bytes
    """The header block, CRLF, including the blank line that ends it."""
    envelope: Envelope
    body: BodyPart
