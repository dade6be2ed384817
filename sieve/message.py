"""The message and envelope as Sieve tests see them (RFC 5228 §5, RFC 5173, RFC 5260).

:class:`SieveMessage` is built from the raw message bytes.  Headers are
parsed once (header values unfolded, RFC 2047 decoded, surrounding
whitespace removed: RFC 5228 §2.7.2, §5.7); the body is parsed only when a
``body`` test asks for it.  Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import email.errors
import email.header
import email.message
import email.utils
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser


@dataclass(frozen=True, slots=True)
class SieveEnvelope:
    """The SMTP/LMTP envelope (RFC 5228 §5.4): ``mail_from`` is "" for ``<>``."""

    mail_from: str
    rcpt_to: str
    auth: str | None = None

    def part(self, name: str) -> list[str]:
        """The envelope part ``from``, ``to`` or ``auth`` as a list of addresses."""
        key = name.lower()
        if key == "from":
            return [self.mail_from]
        if key == "to":
            return [self.rcpt_to]
        if key == "auth" and self.auth is not None:
            return [self.auth]
        return []


def decode_header_value(raw: str) -> str:
    """Unfold and RFC 2047-decode one header value; never raises."""
    unfolded = raw.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", "\t")
    unfolded = unfolded.replace("\n", "")
    if "=?" not in unfolded:
        return unfolded.strip()
    try:
        return str(email.header.make_header(email.header.decode_header(unfolded))).strip()
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return unfolded.strip()


def _raw_header_text(value: object) -> str:
    """A compat32 header value as text: raw 8-bit octets are taken as UTF-8."""
    if isinstance(value, email.header.Header):
        return "".join(
            chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk
            for chunk, _charset in email.header.decode_header(value)
        )
    text = str(value)
    try:
        return text.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text


class SieveMessage:
    """A message for Sieve: header lookups, addresses, body parts, size."""

    __slots__ = ("_body_message", "_decoded", "_headers", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        parsed = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        self._headers: list[tuple[str, str]] = [
            (name.lower(), _raw_header_text(value)) for name, value in parsed.items()
        ]
        self._body_message: email.message.Message | None = None
        self._decoded: dict[str, list[str]] = {}

    @property
    def size(self) -> int:
        """RFC 5228 §5.9: the message size in octets."""
        return len(self.raw)

    def has_header(self, name: str) -> bool:
        """RFC 5228 §5.5 ``exists``."""
        key = name.lower()
        return any(n == key for n, _ in self._headers)

    def raw_headers(self, name: str) -> list[str]:
        """The undecoded values of every ``name`` field, in order."""
        key = name.lower()
        return [v for n, v in self._headers if n == key]

    def headers(self, name: str) -> list[str]:
        """Decoded, unfolded values of every ``name`` field (RFC 5228 §5.7)."""
        key = name.lower()
        if key not in self._decoded:
            self._decoded[key] = [decode_header_value(v) for v in self.raw_headers(key)]
        return list(self._decoded[key])

    def addresses(self, name: str) -> list[str]:
        """The addr-specs in every ``name`` field (RFC 5228 §5.1); groups flattened."""
        out: list[str] = []
        for value in self.raw_headers(name):
            out.extend(self.addresses_in(value))
        return out

    @staticmethod
    def addresses_in(value: str) -> list[str]:
        """The addr-specs in one raw address field value."""
        unfolded = value.replace("\r", "").replace("\n", "")
        return [addr for _display, addr in email.utils.getaddresses([unfolded]) if addr]

    # --- body (RFC 5173) ---------------------------------------------------

    def _parsed(self) -> email.message.Message:
        if self._body_message is None:
            self._body_message = BytesParser(policy=policy.compat32).parsebytes(self.raw)
        return self._body_message

    def body_raw(self) -> str:
        """RFC 5173 §5.1 ``:raw``: the body undecoded, as text."""
        head_end = self.raw.find(b"\r\n\r\n")
        sep = 4
        if head_end < 0 or (0 <= self.raw.find(b"\n\n") < head_end):
            head_end, sep = self.raw.find(b"\n\n"), 2
        body = b"" if head_end < 0 else self.raw[head_end + sep :]
        return body.decode("utf-8", "replace")

    def body_content(self, types: tuple[str, ...]) -> list[str]:
        """RFC 5173 §5.2 ``:content``: decoded text of the leaf parts of ``types``.

        ``""`` matches every part; ``"text"`` a whole type; ``"text/html"`` one subtype.
        """
        wanted = [t.lower() for t in types]
        return [
            _part_text(part)
            for part in _leaves(self._parsed())
            if _type_wanted(part.get_content_type(), wanted)
        ]

    def body_text(self) -> list[str]:
        """RFC 5173 §5.3 ``:text``: every text part, decoded."""
        return self.body_content(("text",))


def _leaves(message: email.message.Message) -> Iterator[email.message.Message]:
    for part in message.walk():
        if not part.is_multipart() and part.get_content_maintype() != "message":
            yield part


def _type_wanted(content_type: str, wanted: list[str]) -> bool:
    main = content_type.split("/", 1)[0]
    return any(w in ("", content_type, main) for w in wanted)


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


# --- dates (RFC 5260) ----------------------------------------------------------


def parse_date(value: str) -> dt.datetime | None:
    """An RFC 5322 date-time, or None if it does not parse (RFC 5260 §4)."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


def parse_zone(zone: str) -> dt.timezone | None:
    """A ``+hhmm``/``-hhmm`` zone (RFC 5260 §4.1), or None."""
    if len(zone) != 5 or zone[0] not in "+-" or not zone[1:].isdigit():
        return None
    hours, minutes = int(zone[1:3]), int(zone[3:])
    if minutes > 59:
        return None
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-delta if zone[0] == "-" else delta)


def _zone_text(when: dt.datetime) -> str:
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


DATE_PARTS = frozenset(
    [
        "year",
        "month",
        "day",
        "date",
        "julian",
        "hour",
        "minute",
        "second",
        "time",
        "iso8601",
        "std11",
        "zone",
        "weekday",
    ]
)


def date_part(when: dt.datetime, part: str) -> str:
    """RFC 5260 §4.2: the named part of ``when`` as a string."""
    name = part.lower()
    if name == "julian":
        mjd = when.date().toordinal() - dt.date(1858, 11, 17).toordinal()
        return str(mjd)
    if name == "iso8601":
        return when.isoformat()
    if name == "std11":
        return email.utils.format_datetime(when)
    if name == "zone":
        return _zone_text(when)
    if name == "weekday":
        return str((when.weekday() + 1) % 7)
    formats = {
        "year": "%Y",
        "month": "%m",
        "day": "%d",
        "date": "%Y-%m-%d",
        "hour": "%H",
        "minute": "%M",
        "second": "%S",
        "time": "%H:%M:%S",
    }
    return when.strftime(formats[name]) if name in formats else ""
