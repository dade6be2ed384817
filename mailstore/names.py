"""Mailbox names: what clients may call a mailbox, and how Maildir++ stores it.

Names in the store API are ``str`` with ``/`` as the hierarchy separator; the first
component ``INBOX`` is case-insensitive (RFC 3501 5.1). On disk (Maildir++, as Dovecot and
Courier keep it) INBOX is the Maildir root and every other mailbox is one directory
``.A.B`` whose components are in modified UTF-7 (RFC 3501 5.1.3), so ``.`` cannot occur
inside a component. Children of INBOX are stored the way Dovecot does with
``LAYOUT=maildir++``, separator ``/`` and namespace prefix ``""``: ``INBOX/x`` becomes the
folder ``.INBOX.x`` (Dovecot upper-cases ``inbox/`` to ``INBOX/`` before mapping).

This module is pure: no file system access.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.types import HIERARCHY_SEPARATOR, INBOX

MAX_COMPONENT_BYTES = 200
"""Longest component, in octets of its modified UTF-7 form."""
MAX_NAME_BYTES = 900
"""Longest name, in octets of its modified UTF-7 form (components and separators)."""
MAX_LEVELS = 32
"""Deepest hierarchy."""
MAX_FOLDER_BYTES = 255
"""NAME_MAX of the file systems we run on: a Maildir++ folder is one directory name."""

_FORBIDDEN = frozenset("\\%*.")
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


class MUTF7Error(ValueError):
    """Input that is not valid, canonical modified UTF-7 (RFC 3501 5.1.3)."""


def _invalid(detail: str) -> StoreError:
    return StoreError(StoreErrorKind.INVALID_NAME, detail)


# -- modified UTF-7 (RFC 3501 5.1.3) ---------------------------------------------------------


def _encode_run(run: str) -> bytes:
    try:
        utf16 = run.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise MUTF7Error("lone surrogate in name") from exc
    return b"&" + base64.b64encode(utf16).rstrip(b"=").replace(b"/", b",") + b"-"


def encode_mutf7(name: str) -> bytes:
    """Encode ``name`` in modified UTF-7 (RFC 3501 5.1.3).

    Printable US-ASCII (0x20-0x7e) stands for itself, ``&`` becomes ``&-``, every other run
    of characters is UTF-16 (surrogate pairs beyond the BMP) in modified BASE64 between ``&``
    and ``-``. Raises ``MUTF7Error`` for a string holding lone surrogates.
    """
    out: list[bytes] = []
    run_start = -1
    for i, ch in enumerate(name):
        if " " <= ch <= "~":
            if run_start >= 0:
                out.append(_encode_run(name[run_start:i]))
                run_start = -1
            out.append(b"&-" if ch == "&" else ch.encode("ascii"))
        elif run_start < 0:
            run_start = i
    if run_start >= 0:
        out.append(_encode_run(name[run_start:]))
    return b"".join(out)


def _decode_run(b64: bytes) -> str:
    if not b64 or not set(b64) <= _B64_ALPHABET:
        raise MUTF7Error("bad modified BASE64")
    bits = len(b64) * 6
    if bits % 16 >= 6:
        raise MUTF7Error("modified BASE64 of a partial UTF-16 unit")
    std = b64.replace(b",", b"/")
    try:
        raw = base64.b64decode(std + b"=" * (-len(std) % 4), validate=True)
    except binascii.Error as exc:
        raise MUTF7Error("bad modified BASE64") from exc
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise MUTF7Error("bad UTF-16 (lone surrogate)") from exc
    if any(" " <= ch <= "~" for ch in text):
        raise MUTF7Error("printable US-ASCII in modified BASE64")
    return text


def decode_mutf7(data: bytes) -> str:
    """Decode modified UTF-7 strictly (RFC 3501 5.1.3).

    Refuses, with ``MUTF7Error``: octets outside printable US-ASCII, an ``&`` not closed by
    ``-``, bad BASE64 or non-zero padding bits, printable US-ASCII or lone surrogates
    encoded in BASE64, and any input that is not the shortest (canonical) encoding, e.g.
    two adjacent BASE64 runs. So ``encode_mutf7(decode_mutf7(b)) == b`` whenever it returns.
    """
    if any(b < 0x20 or b > 0x7E for b in data):
        raise MUTF7Error("octet outside printable US-ASCII")
    if b"&" not in data:
        return data.decode("ascii")
    out: list[str] = []
    pos = 0
    while True:
        amp = data.find(b"&", pos)
        if amp < 0:
            out.append(data[pos:].decode("ascii"))
            break
        out.append(data[pos:amp].decode("ascii"))
        end = data.find(b"-", amp + 1)
        if end < 0:
            raise MUTF7Error("'&' not closed by '-'")
        out.append("&" if end == amp + 1 else _decode_run(data[amp + 1 : end]))
        pos = end + 1
    text = "".join(out)
    if encode_mutf7(text) != data:
        raise MUTF7Error("not the shortest encoding")
    return text


# -- names --------------------------------------------------------------------------------------


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


def _check_component(component: str) -> None:
    if not component:
        raise _invalid("empty component")
    if component[0] == ".":
        raise _invalid("component starts with '.'")
    for ch in component:
        if ch in _FORBIDDEN or _is_control(ch):
            raise _invalid(f"forbidden character U+{ord(ch):04X}")
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise _invalid("lone surrogate")
    if len(encode_mutf7(component)) > MAX_COMPONENT_BYTES:
        raise _invalid("component too long")


def normalize_name(name: str) -> str:
    """Return the canonical form of a mailbox name or raise ``StoreError(INVALID_NAME)``.

    NFC-normalised; a first component equal to ``inbox`` in any case becomes ``INBOX``
    (RFC 3501 5.1). Refused: empty names or components (``a//b``, leading or trailing
    ``/``), components starting with ``.`` (so ``.`` and ``..``), any ``.`` (the Maildir++
    separator), ``\\``, ``%``, ``*``, control characters (C0, DEL, C1), a component over
    200 octets or a name over 900 octets in modified UTF-7, more than 32 levels.
    """
    if not name:
        raise _invalid("empty name")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise _invalid("lone surrogate")
    name = unicodedata.normalize("NFC", name)
    components = name.split(HIERARCHY_SEPARATOR)
    if len(components) > MAX_LEVELS:
        raise _invalid("too many levels")
    if components[0].upper() == INBOX:
        components[0] = INBOX
    total = len(components) - 1
    for component in components:
        _check_component(component)
        total += len(encode_mutf7(component))
    if total > MAX_NAME_BYTES:
        raise _invalid("name too long")
    return HIERARCHY_SEPARATOR.join(components)


def is_inbox(name: str) -> bool:
    """True if ``name`` is INBOX in any case (RFC 3501 5.1); children of INBOX are not."""
    return name.upper() == INBOX


def parent_names(name: str) -> list[str]:
    """The names of the ancestors of ``name``, outermost first: ``a/b/c`` → ``[a, a/b]``."""
    components = name.split(HIERARCHY_SEPARATOR)
    return [HIERARCHY_SEPARATOR.join(components[:i]) for i in range(1, len(components))]


def to_maildir_folder(name: str) -> str:
    """The Maildir++ folder of a mailbox: ``INBOX`` → ``""``, ``A/B`` → ``.A.B``.

    Each component is in modified UTF-7 (``Entwürfe`` → ``.Entw&APw-rfe``); ``INBOX/x`` →
    ``.INBOX.x`` as Dovecot stores it. The name is normalised first; raises
    ``StoreError(INVALID_NAME)`` for an invalid name or a folder name over 255 octets.
    """
    name = normalize_name(name)
    if name == INBOX:
        return ""
    folder = "".join(
        "." + encode_mutf7(component).decode("ascii")
        for component in name.split(HIERARCHY_SEPARATOR)
    )
    if len(folder) > MAX_FOLDER_BYTES:
        raise _invalid("folder name too long for the file system")
    return folder


def from_maildir_folder(folder: str) -> str:
    """The mailbox name of a Maildir++ folder: ``""`` → ``INBOX``, ``.A.B`` → ``A/B``.

    Raises ``StoreError(INVALID_NAME)`` for folder names that are not ``.``-prefixed, do
    not decode as canonical modified UTF-7, give an invalid name, or would not map back
    to the same folder (``.inbox``, ``.INBOX``, ``.a/b`` ...).
    """
    if folder == "":
        return INBOX
    if not folder.startswith("."):
        raise _invalid("folder does not start with '.'")
    try:
        raw = folder.encode("ascii")
    except UnicodeEncodeError as exc:
        raise _invalid("non-ASCII folder name") from exc
    if b"/" in raw:
        raise _invalid("'/' in folder name")
    try:
        components = [decode_mutf7(part) for part in raw[1:].split(b".")]
    except MUTF7Error as exc:
        raise _invalid(f"folder not in modified UTF-7: {exc}") from exc
    name = HIERARCHY_SEPARATOR.join(components)
    if normalize_name(name) != name or to_maildir_folder(name) != folder:
        raise _invalid("folder name does not round-trip")
    return name
