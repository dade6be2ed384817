"""MIME header syntax: header field splitting, Content-Type style values, RFC 2231 params.

Hand-written scanners over the raw header bytes, because the message parser runs on every
delivery and on every message of a mailbox being indexed: ``email.parser`` with its policies
is both slower and more forgiving in ways that lose offsets. The header block is cut into
fields by one compiled regex, and the common simple Content-Type/-Disposition values are
read by regexes too (``*_slow`` functions handle the rest; the tests compare both).
Nothing here raises on malformed input; values that cannot be parsed come back as ``None``
(the caller applies the RFC 2045 defaults).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WANTED_FIELDS: frozenset[bytes] = frozenset(
    {
        b"date", b"subject", b"from", b"sender", b"reply-to", b"to", b"cc", b"bcc",
        b"in-reply-to", b"message-id",
        b"content-type", b"content-transfer-encoding", b"content-id", b"content-description",
        b"content-md5", b"content-disposition", b"content-language", b"content-location",
    }
)  # fmt: skip
"""Lower-case names of the fields ENVELOPE and BODYSTRUCTURE need (RFC 3501 7.4.2)."""

Params = tuple[tuple[str, str], ...]

_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')
_WSP = frozenset(" \t\r\n")
_VALUE_STOP = frozenset(' \t\r\n;("')
_SECTION = re.compile(r"(.+?)\*([0-9]{1,4})(\*?)")
_ATTRIBUTE_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`{|}~"
)


def header_fields(block: bytes) -> dict[bytes, bytes]:
    """The first occurrence of each of ``WANTED_FIELDS`` in a CRLF header block, unfolded.

    Unfolding removes each CRLF that precedes white space (RFC 5322 2.2.3); the value is
    what follows the colon, leading and trailing white space included. Lines that are not
    fields (no colon, a name with white space) are skipped.
    """
    found: dict[bytes, bytes] = {}
    for raw_name, raw in _WANTED_FIELD.findall(b"\r\n" + block):  # every field after a CRLF
        name = raw_name.lower()
        if name not in found:
            # every CRLF in the value precedes white space: removing them unfolds it
            found[name] = raw.replace(b"\r\n", b"") if b"\r" in raw else raw
    return found


def header_texts(block: bytes) -> dict[bytes, str]:
    """``header_fields`` with each value as ``field_text`` gives it (UTF-8 with
    surrogateescape, outer white space stripped): what the message parser reads."""
    found: dict[bytes, str] = {}
    for raw_name, raw in _WANTED_FIELD.findall(b"\r\n" + block):
        name = raw_name.lower()
        if name not in found:
            value = raw.replace(b"\r\n", b"") if b"\r" in raw else raw
            found[name] = value.decode("utf-8", "surrogateescape").strip(" \t")
    return found


def _any_case(name: bytes) -> bytes:
    """A pattern matching ``name`` (lower-case) in any ASCII case, with character classes
    (much faster in ``re`` than ``IGNORECASE``)."""
    return b"".join(
        b"[%c%c]" % (c, c - 32) if 0x61 <= c <= 0x7A else re.escape(bytes([c])) for c in name
    )


_WANTED_FIELD = re.compile(
    b"\r\n(" + b"|".join(_any_case(name) for name in sorted(WANTED_FIELDS)) + b")[ \t]*:"
    b"([^\r]*+(?:\r(?:(?!\n)|\n(?=[ \t]))[^\r]*+)*+)"
)
"""A wanted field: at a line start, its name (in any ASCII case), optional white space,
the colon (a name holds no colon, so it is the first one) and the value with its
continuation lines, up to the CRLF that no white space follows (or the end)."""


def field_text(fields: dict[bytes, bytes], name: bytes) -> str | None:
    """A field's value as ``str`` (UTF-8, surrogateescape), stripped of outer white space."""
    raw = fields.get(name)
    if raw is None:
        return None
    return raw.decode("utf-8", "surrogateescape").strip(" \t")


def skip_cfws(s: str, i: int) -> int:
    """Skip white space and (nested, quoted-pair aware) comments from ``s[i]``."""
    n = len(s)
    while i < n:
        ch = s[i]
        if ch in _WSP:
            i += 1
        elif ch == "(":
            depth = 1
            i += 1
            while i < n and depth:
                ch = s[i]
                if ch == "\\":
                    i += 1
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                i += 1
        else:
            break
    return min(i, n)


def read_token(s: str, i: int) -> tuple[str, int]:
    """An RFC 2045 token at ``s[i]`` (possibly empty) and the index after it."""
    start = i
    n = len(s)
    while i < n:
        ch = s[i]
        if ch in _TSPECIALS or ch in _WSP or ord(ch) < 0x20 or ch == "\x7f":
            break
        i += 1
    return s[start:i], i


def read_quoted(s: str, i: int) -> tuple[str, int]:
    """The content of the quoted-string opening at ``s[i]``, unescaped; unterminated: to end."""
    out: list[str] = []
    i += 1
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < n:
            i += 1
            ch = s[i]
        if ch not in "\r\n":
            out.append(ch)
        i += 1
    return "".join(out), n


def _read_value(s: str, i: int) -> tuple[str, int]:
    if i < len(s) and s[i] == '"':
        return read_quoted(s, i)
    start = i
    n = len(s)
    while i < n and s[i] not in _VALUE_STOP:
        i += 1
    return s[start:i], i


def parse_params(s: str, i: int) -> Params:
    """``*(";" attribute "=" value)`` from ``s[i]`` (RFC 2045 5.1), RFC 2231 sections merged.

    Attributes are lower-cased; values are given unquoted. Unquoted values are read
    leniently (up to ``;``, white space or a comment) since real mail carries ``=`` and
    ``/`` in unquoted boundaries. Garbage up to the next ``;`` is skipped.
    """
    raw: list[tuple[str, str]] = []
    n = len(s)
    while True:
        i = skip_cfws(s, i)
        if i >= n:
            break
        if s[i] != ";":
            semi = s.find(";", i)
            if semi < 0:
                break
            i = semi
        i = skip_cfws(s, i + 1)
        attr, i = read_token(s, i)
        i = skip_cfws(s, i)
        if not attr or i >= n or s[i] != "=":
            continue
        value, i = _read_value(s, skip_cfws(s, i + 1))
        raw.append((attr.lower(), value))
    return merge_rfc2231(raw)


def _pct_escape(value: str) -> str:
    if all(ch in _ATTRIBUTE_CHARS for ch in value):
        return value
    return "".join(
        chr(b) if chr(b) in _ATTRIBUTE_CHARS else f"%{b:02X}"
        for b in value.encode("utf-8", "surrogateescape")
    )


def merge_rfc2231(raw: Iterable[tuple[str, str]]) -> Params:
    """Join RFC 2231 3. continuations ``name*0``, ``name*1*`` ... into one parameter.

    As Dovecot does: if no section is extended the result is ``name`` with the values
    concatenated; otherwise it is ``name*`` = ``charset'language'`` + the extended values,
    with the non-extended sections %-escaped (``''`` stands in for a missing charset
    prefix). Sections are used from 0 up to the first gap; single ``name*`` stays as given.
    """
    items = list(raw)
    if not any("*" in attr for attr, _ in items):
        return tuple(items)
    order: list[tuple[str, str] | str] = []
    sections: dict[str, dict[int, tuple[bool, str]]] = {}
    for attr, value in items:
        m = _SECTION.fullmatch(attr)
        if m is None:
            order.append((attr, value))
            continue
        base = m[1]
        if base not in sections:
            sections[base] = {}
            order.append(base)
        sections[base].setdefault(int(m[2]), (bool(m[3]), value))
    out: list[tuple[str, str]] = []
    for item in order:
        if isinstance(item, tuple):
            out.append(item)
            continue
        found = sections[item]
        parts: list[tuple[bool, str]] = []
        while len(parts) in found:
            parts.append(found[len(parts)])
        if not parts:
            continue
        if any(ext for ext, _ in parts):
            value = "".join(v if ext else _pct_escape(v) for ext, v in parts)
            out.append((item + "*", value if parts[0][0] else "''" + value))
        else:
            out.append((item, "".join(v for _, v in parts)))
    return tuple(out)


_TSPECIAL_FREE = r'[^()<>@,;:\\"/\[\]?=\x00-\x20\x7f]++'
_SIMPLE_TYPE = re.compile(rf"({_TSPECIAL_FREE})[ \t]*+/[ \t]*+({_TSPECIAL_FREE})")
_SIMPLE_DISPOSITION = re.compile(_TSPECIAL_FREE)
_SIMPLE_PARAM = re.compile(
    rf'[ \t]*+;[ \t]*+({_TSPECIAL_FREE})[ \t]*+=[ \t]*+(?:"([^"\\\r\n]*+)"|([^ \t\r\n;("]*+))'
)
"""``; attribute=value`` with a token or a quoted-string without escapes or CR/LF."""
_SIMPLE_END = re.compile(r"[ \t]*+;?[ \t]*+\Z")


def _simple_params(value: str, pos: int) -> Params | None:
    """``parse_params(value, pos)`` when the rest is only ``_SIMPLE_PARAM`` shapes (and an
    optional final ``;``), else None: no comments, escapes, folds or garbage to skip."""
    raw: list[tuple[str, str]] = []
    match = _SIMPLE_PARAM.match
    while (m := match(value, pos)) is not None:
        quoted = m[2]
        raw.append((m[1].lower(), m[3] if quoted is None else quoted))
        pos = m.end()
    if _SIMPLE_END.match(value, pos) is None:
        return None
    return merge_rfc2231(raw) if "*" in value else tuple(raw)


def parse_content_type(value: str | None) -> tuple[str, str, Params] | None:
    """``type "/" subtype *(";" parameter)`` (RFC 2045 5.1), types lower-cased; None if invalid."""
    if value is None:
        return None
    found = _RECENT_TYPES.get(value, _UNSEEN)
    if found is not _UNSEEN:
        return found
    found = None
    m = _SIMPLE_TYPE.match(value)
    if m is not None:
        params = _simple_params(value, m.end())
        if params is not None:
            found = m[1].lower(), m[2].lower(), params
    if found is None:
        found = parse_content_type_slow(value)
    if len(value) <= 256:
        if len(_RECENT_TYPES) >= 1024:
            _RECENT_TYPES.clear()
        _RECENT_TYPES[value] = found
    return found


_UNSEEN: tuple[str, str, Params] = ("", "", ())
_RECENT_TYPES: dict[str, tuple[str, str, Params] | None] = {}
"""Content-Type values parsed lately (few distinct ones recur; the result is immutable)."""


def parse_content_type_slow(value: str) -> tuple[str, str, Params] | None:
    """``parse_content_type`` by the general scanners (comments, folds, garbage)."""
    i = skip_cfws(value, 0)
    mtype, i = read_token(value, i)
    i = skip_cfws(value, i)
    if not mtype or i >= len(value) or value[i] != "/":
        return None
    subtype, i = read_token(value, skip_cfws(value, i + 1))
    if not subtype:
        return None
    return mtype.lower(), subtype.lower(), parse_params(value, i)


def parse_disposition(value: str | None) -> tuple[str, Params] | None:
    """Content-Disposition (RFC 2183): the type as given and its parameters; None if absent."""
    if value is None:
        return None
    m = _SIMPLE_DISPOSITION.match(value)
    if m is not None:
        params = _simple_params(value, m.end())
        if params is not None:
            return m[0], params
    return parse_disposition_slow(value)


def parse_disposition_slow(value: str) -> tuple[str, Params] | None:
    """``parse_disposition`` by the general scanners."""
    dtype, i = read_token(value, skip_cfws(value, 0))
    if not dtype:
        return None
    return dtype, parse_params(value, i)


def parse_token_value(value: str | None) -> str | None:
    """A single-token field such as Content-Transfer-Encoding (RFC 2045 6.1)."""
    if value is None:
        return None
    token, _ = read_token(value, skip_cfws(value, 0))
    return token or None


def parse_language(value: str | None) -> tuple[str, ...] | None:
    """Content-Language (RFC 3282): the language tags, in order; None if absent or empty."""
    if value is None:
        return None
    tags: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        i = skip_cfws(value, i)
        tag, j = read_token(value, i)
        if tag:
            tags.append(tag)
        i = j if j > i else i + 1
    return tuple(tags) or None
