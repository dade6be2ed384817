"""Message text for SEARCH BODY/TEXT and header keys, decoded for matching (RFC 3501 6.4.4).

What a search string is matched against: a message's raw octets first, and only when those
may hide the text (transfer encodings, charsets, RFC 2047 encoded-words) its decoded MIME
text parts; and header field values as sent and RFC 2047-decoded. Kept apart from
``searching`` (key evaluation and batching) because this is decoding, not search logic, and
it runs in the thread pool on message text.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.message
import email.policy
import re

from protocols.imap.fetching import header_fields

_CHARSET = re.compile(rb'charset\s*=\s*"?([^\s";]+)')
_PLAIN_CHARSETS = frozenset({b"us-ascii", b"utf-8", b"utf8"})


def decode_header_value(text: str) -> str:
    """``text`` with RFC 2047 encoded-words decoded (unknown charsets as UTF-8)."""
    if "=?" not in text:
        return text
    try:
        pieces = email.header.decode_header(text)
    except (ValueError, email.errors.HeaderParseError):
        return text
    out: list[str] = []
    for piece, charset in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        try:
            out.append(piece.decode(charset or "utf-8", "replace"))
        except LookupError:
            out.append(piece.decode("utf-8", "replace"))
    return "".join(out)


def _payload_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


class MessageText:
    """A message read for BODY/TEXT: raw octets first, decoded MIME text only if needed."""

    __slots__ = ("_decoded", "_lowered", "data", "header_end")

    def __init__(self, data: bytes, header_end: int | None = None) -> None:
        self.data = data
        if header_end is None:
            blank = data.find(b"\r\n\r\n")
            header_end = len(data) if blank < 0 else blank + 4
        self.header_end = header_end
        self._decoded: tuple[str, str] | None = None
        self._lowered: bytes | None = None

    def contains(self, needle: str, *, with_header: bool) -> bool:
        """Case-insensitive substring (``needle`` casefolded) in the body (and header)."""
        if self._lowered is None:
            self._lowered = self.data.lower()
        lowered = self._lowered
        raw = lowered if with_header else lowered[self.header_end :]
        if needle.encode("utf-8") in raw:
            return True
        if needle.isascii() and not self._encoded(lowered):
            return False
        header, body = self._decode()
        return needle in body or (with_header and needle in header)

    def _encoded(self, lowered: bytes) -> bool:
        """True if the raw octets may hide text (transfer encodings, charsets, 2047)."""
        if b"base64" in lowered or b"quoted-printable" in lowered or b"=?" in lowered:
            return True
        return any(cs not in _PLAIN_CHARSETS for cs in _CHARSET.findall(lowered))

    def _decode(self) -> tuple[str, str]:
        if self._decoded is None:
            self._decoded = _decode_message(self.data, self.header_end)
        return self._decoded


def _decode_message(data: bytes, header_end: int) -> tuple[str, str]:
    """(header text, body text), decoded and casefolded (blocking: run in a thread)."""
    header = "\n".join(
        v for _, raw in header_fields(data[:header_end]) for v in field_values(raw, name=True)
    )
    texts: list[str] = []
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
        for part in message.walk():
            if part.get_content_maintype() == "text":
                texts.append(_payload_text(part))
            elif part is not message and part.get_content_type() == "message/rfc822":
                for inner in part.get_payload():
                    pairs = inner.items() if isinstance(inner, email.message.Message) else []
                    texts.extend(decode_header_value(str(v)) for _, v in pairs)
    except Exception:  # noqa: BLE001 - malformed MIME: fall back to the raw octets
        texts = [data[header_end:].decode("utf-8", "replace")]
    return header.casefold(), "\n".join(texts).casefold()


def field_values(raw: bytes, *, name: bool = False) -> list[str]:
    """A field's value, unfolded and casefolded: as sent, and RFC 2047-decoded if different."""
    value = raw if name or b":" not in raw else raw.split(b":", 1)[1]
    text = value.replace(b"\r\n", b"").strip(b" \t").decode("utf-8", "replace")
    decoded = decode_header_value(text)
    return [text.casefold()] if decoded == text else [text.casefold(), decoded.casefold()]
