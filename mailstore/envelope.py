"""IMAP ENVELOPE from a header block: RFC 5322 address lists parsed the way Dovecot does.

The address parser is a tolerant tokenizer plus a small state machine: it never raises,
and like Dovecot's (``lib-mail/message-address.c``, used with "fill missing") it writes
``MISSING_MAILBOX`` / ``MISSING_DOMAIN`` where an address lacks a part, so that a NIL host
only ever means group syntax (RFC 3501 7.4.2). Encoded-words are left as they are.
"""

from __future__ import annotations

import re

from mailstore.message import Address, Envelope
from mailstore.mime import read_quoted

MISSING_MAILBOX = "MISSING_MAILBOX"
MISSING_DOMAIN = "MISSING_DOMAIN"

_Token = tuple[str, str]
"""(kind, text): kind ``a`` atom, ``q`` quoted-string content, ``d`` domain literal,
``c`` comment content, or one of the specials ``<>@,;:`` standing for itself."""

_SPECIALS = frozenset("<>@,;:")
_ATOM_STOP = frozenset(' \t\r\n()<>@,;:"[]')
_GROUP_END = Address(None, None, None, None)


def _read_comment(s: str, i: int) -> tuple[str, int]:
    depth = 0
    start = i + 1
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == "\\":
            i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return s[start:i], i + 1
        i += 1
    return s[start:], n


def _tokenize(s: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "(":
            text, i = _read_comment(s, i)
            tokens.append(("c", text))
        elif ch == '"':
            text, i = read_quoted(s, i)
            tokens.append(("q", text))
        elif ch == "[":
            end = s.find("]", i)
            end = n if end < 0 else end + 1
            tokens.append(("d", s[i:end]))
            i = end
        elif ch in _SPECIALS:
            tokens.append((ch, ch))
            i += 1
        else:
            start = i
            while i < n and s[i] not in _ATOM_STOP:
                i += 1
            if i == start:  # a stray "]" or ")"
                i += 1
            tokens.append(("a", s[start:i]))
    return tokens


def _phrase(tokens: list[_Token]) -> str:
    out: list[str] = []
    glue = True
    for kind, text in tokens:
        if kind in ("a", "q", "d"):
            if not glue:
                out.append(" ")
            out.append(text)
            glue = False
        elif kind != "c":
            out.append(text)
            glue = True
    return "".join(out)


def _addr_spec(tokens: list[_Token]) -> tuple[str, str]:
    at = next((k for k, (kind, _) in enumerate(tokens) if kind == "@"), len(tokens))
    local = "".join(text for kind, text in tokens[:at] if kind in ("a", "q", "d"))
    domain = "".join(text for kind, text in tokens[at + 1 :] if kind in ("a", "q", "d"))
    return local or MISSING_MAILBOX, domain or MISSING_DOMAIN


def _route(tokens: list[_Token]) -> tuple[str | None, list[_Token]]:
    """Split ``@a,@b:`` (obs-route, RFC 5322 4.4) off the front of an angle-addr."""
    if not tokens or tokens[0][0] != "@":
        return None, tokens
    colon = next((k for k, (kind, _) in enumerate(tokens) if kind == ":"), -1)
    if colon < 0:
        return None, tokens
    hops: list[str] = []
    for kind, text in tokens[:colon]:
        if kind == "@":
            hops.append("@")
        elif kind in ("a", "d") and hops:
            hops[-1] += text
    return ",".join(hops), tokens[colon + 1 :]


class _ListParser:
    """Accumulates one mailbox at a time; ``,``, ``;`` and the end finish it."""

    def __init__(self) -> None:
        self.out: list[Address] = []
        self.words: list[_Token] = []
        self.angle: list[_Token] | None = None
        self.in_angle = False
        self.in_group = False

    def finish_mailbox(self) -> None:
        words, angle = self.words, self.angle
        self.words, self.angle, self.in_angle = [], None, False
        if angle is not None:
            name = _phrase(words) or None
            route, spec = _route(angle)
        elif any(kind != "c" for kind, _ in words):
            comments = [text for kind, text in words if kind == "c"]
            name = comments[-1] if comments else None
            route, spec = None, words
        else:
            return
        mailbox, host = _addr_spec(spec)
        self.out.append(Address(name, route, mailbox, host))

    def feed(self, kind: str, text: str) -> None:
        if self.in_angle:
            if kind == ">":
                self.in_angle = False
            elif self.angle is not None:
                self.angle.append((kind, text))
        elif kind == "<" and self.angle is None:
            self.angle, self.in_angle = [], True
        elif kind == ":" and not self.in_group and self.angle is None:
            self.out.append(Address(None, None, _phrase(self.words), None))
            self.words, self.in_group = [], True
        elif kind in (",", ";"):
            self.finish_mailbox()
            if kind == ";" and self.in_group:
                self.out.append(_GROUP_END)
                self.in_group = False
        elif self.angle is None or kind == "c":
            self.words.append((kind, text))

    def close(self) -> tuple[Address, ...]:
        self.finish_mailbox()
        if self.in_group:
            self.out.append(_GROUP_END)
        return tuple(self.out)


def parse_address_list(value: str | None) -> tuple[Address, ...]:
    """An RFC 5322 3.4 address-list as RFC 3501 ENVELOPE addresses (groups included).

    ``name`` is the display name (quoted-strings unquoted, words joined by one space) or,
    for a bare addr-spec, its last comment; ``adl`` the obsolete source route ``@a,@b``.
    A group is framed by ``(NIL NIL group-name NIL)`` and ``(NIL NIL NIL NIL)``.
    """
    if not value:
        return ()
    found = _RECENT.get(value)
    if found is None:
        found = _simple_list(value)
        if found is None:
            found = parse_address_list_slow(value)
        if len(value) <= _RECENT_LENGTH:
            if len(_RECENT) >= _RECENT_MAX:
                _RECENT.clear()
            _RECENT[value] = found
    return found


_RECENT: dict[str, tuple[Address, ...]] = {}
"""Address lists parsed lately, by field value: a mailbox repeats the same To, From and
Cc lines over and over, and the result is immutable, so it is shared. Bounded in entries
and in the length of the values kept."""
_RECENT_MAX = 4096
_RECENT_LENGTH = 256


_WS = r"[ \t\r\n]*+"
_ATOM = r'[^ \t\r\n()<>@,;:"\[\]]++'
_QUOTED = r'"[^"\\\r\n]*+"'
_SIMPLE_MAILBOX = re.compile(
    rf"{_WS}(?:(?P<local>{_ATOM}){_WS}@{_WS}(?P<domain>{_ATOM})"
    rf"|(?P<phrase>(?:(?:{_ATOM}|{_QUOTED}){_WS})*+)"
    rf"<{_WS}(?P<alocal>{_ATOM}){_WS}@{_WS}(?P<adomain>{_ATOM}){_WS}>)"
    rf"{_WS}(?:,|\Z)"
)
"""One mailbox of the common shapes, up to its comma: ``local@domain`` or
``[phrase] <local@domain>`` with a phrase of atoms and quoted-strings without escapes;
no comments, routes, groups, domain literals or quoted local parts."""
_PHRASE_WORD = re.compile(r'"([^"]*)"|[^ \t\r\n"]+')
_NOT_WS = re.compile(r"[^ \t\r\n]+")


def _simple_list(value: str) -> tuple[Address, ...] | None:
    """``parse_address_list`` of a list made only of ``_SIMPLE_MAILBOX`` shapes, else None.

    The same result as the general parser (the tests compare both), without its
    per-character tokenizer: almost every From, To and Cc is of these shapes.
    """
    out: list[Address] = []
    pos, end = 0, len(value)
    match = _SIMPLE_MAILBOX.match
    while pos < end:
        m = match(value, pos)
        if m is None:
            return None
        pos = m.end()
        local, domain, phrase, angle_local, angle_domain = m.groups()
        if local is not None:
            out.append(Address(None, None, local, domain))
            continue
        if not phrase:
            name = None
        elif '"' in phrase:
            words = _PHRASE_WORD.finditer(phrase)
            name = " ".join([w[0] if w[1] is None else w[1] for w in words]) or None
        else:
            name = " ".join(_NOT_WS.findall(phrase))
        out.append(Address(name, None, angle_local, angle_domain))
    return tuple(out)


def parse_address_list_slow(value: str) -> tuple[Address, ...]:
    """``parse_address_list`` by the general tokenizer and state machine (any input)."""
    if not value:
        return ()
    parser = _ListParser()
    for kind, text in _tokenize(value):
        parser.feed(kind, text)
    return parser.close()


def build_envelope(fields: dict[bytes, str]) -> Envelope:
    """RFC 3501 7.4.2 ENVELOPE from ``mime.header_texts`` output.

    Absent fields are None or ``()``; Sender and Reply-To default to From when absent or
    empty. Strings are the unfolded raw values (UTF-8, surrogateescape).
    """
    get = fields.get
    from_ = parse_address_list(get(b"from"))
    return Envelope(
        get(b"date"),
        get(b"subject"),
        from_,
        parse_address_list(get(b"sender")) or from_,
        parse_address_list(get(b"reply-to")) or from_,
        parse_address_list(get(b"to")),
        parse_address_list(get(b"cc")),
        parse_address_list(get(b"bcc")),
        get(b"in-reply-to"),
        get(b"message-id"),
    )
