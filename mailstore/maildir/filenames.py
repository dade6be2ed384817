"""Maildir and Maildir++ file names: unique base names, info flags, size fields.

Follows cr.yp.to/proto/maildir.html and the Dovecot/Courier conventions:

``<base>:2,<letters>`` where the base is ``<sec>.M<usec>P<pid>Q<n>R<random>.<host>``
optionally followed by ``,S=<size>`` (bytes on disk) and ``,W=<vsize>`` (bytes with CRLF
line ends). The letters after ``:2,`` are in ASCII order: uppercase ones are the system
flags (``D F R S T``, plus ones we do not know such as ``P`` that are kept as they are),
lowercase ones ``a``..``z`` are keywords numbered by ``dovecot-keywords``.

Parsing never raises: a name that does not look like a Maildir name is its own base
with no flags, so any file found in ``cur/`` can still be served.
"""

from __future__ import annotations

import itertools
import os
import socket
import string
import threading
import time
from dataclasses import dataclass

from mailstore.types import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN

INFO_SEPARATOR = ":2,"
"""Separates the base name from the info letters (maildir.html, "info semantics")."""

FLAG_LETTERS: dict[str, str] = {
    "D": DRAFT,
    "F": FLAGGED,
    "R": ANSWERED,
    "S": SEEN,
    "T": DELETED,
}
"""Maildir info letter → IMAP system flag."""

_LETTER_OF_FLAG: dict[str, str] = {flag.lower(): letter for letter, flag in FLAG_LETTERS.items()}
KEYWORD_LETTERS = string.ascii_lowercase
"""The 26 keyword letters; ``a`` is index 0 in ``dovecot-keywords``."""

_UPPER = frozenset(string.ascii_uppercase)
_LOWER = frozenset(string.ascii_lowercase)
_LETTERS = _UPPER | _LOWER
_counter = itertools.count(1)
_counter_lock = threading.Lock()


def _hostname() -> str:
    """The host name with ``/``, ``:`` and ``,`` escaped as Dovecot and Courier do."""
    host = socket.gethostname() or "localhost"
    return host.replace("/", "\\057").replace(":", "\\072").replace(",", "\\054")


def new_basename(size: int | None = None, vsize: int | None = None) -> str:
    """A base name unique across processes and hosts (maildir.html, "Unique names").

    ``<sec>.M<usec>P<pid>Q<n>R<16 hex random>.<host>[,S=<size>][,W=<vsize>]``: the time,
    the process id, a per-process counter and 8 random bytes, so two calls never collide
    even across a fork, a pid reuse or a clock step back.
    """
    now = time.time_ns() // 1000
    sec, usec = divmod(now, 1_000_000)
    with _counter_lock:
        n = next(_counter)
    name = f"{sec}.M{usec}P{os.getpid()}Q{n}R{os.urandom(8).hex()}.{_hostname()}"
    if size is not None:
        name += f",S={size}"
    if vsize is not None:
        name += f",W={vsize}"
    return name


@dataclass(frozen=True, slots=True)
class ParsedName:
    """A Maildir file name taken apart."""

    base: str
    """The part before ``:2,`` (the whole name if there is none): stable across flag changes."""
    letters: str
    """Info letters after ``:2,``, sorted and unique; ``""`` if none."""
    size: int | None
    """From ``,S=<size>`` in the base, if present."""
    vsize: int | None
    """From ``,W=<vsize>`` in the base, if present."""


def _size_field(fields: list[str], key: str) -> int | None:
    for field in fields:
        if field.startswith(key):
            digits = field[len(key) :]
            if digits.isascii() and digits.isdigit():
                return int(digits)
    return None


def parse_name(name: str) -> ParsedName:
    """Split ``name`` into base, info letters and size fields; never raises.

    The base ends at the first ``:2,``. Only ASCII letters count as info letters; any
    other character after ``:2,`` is dropped (it would be lost on the next flag change,
    as Dovecot does too).
    """
    base, sep, info = name.partition(INFO_SEPARATOR)
    letters = "".join(sorted({c for c in info if c in _LETTERS})) if sep else ""
    fields = base.split(",")[1:]
    return ParsedName(
        base=base,
        letters=letters,
        size=_size_field(fields, "S="),
        vsize=_size_field(fields, "W="),
    )


def format_name(base: str, letters: str) -> str:
    """``base + ":2," + letters`` with the letters sorted and unique (maildir.html)."""
    return base + INFO_SEPARATOR + "".join(sorted(set(letters)))


def split_letters(letters: str) -> tuple[frozenset[str], str]:
    """Info letters → (IMAP system flags, keyword letters ``a``-``z`` sorted).

    Uppercase letters that are not system flags (e.g. Dovecot's ``P``, "passed") are in
    neither part: get them with ``preserved_letters`` and hand them back to
    ``flags_to_letters`` so a flag change keeps them.
    """
    system = frozenset(FLAG_LETTERS[c] for c in letters if c in FLAG_LETTERS)
    keywords = "".join(sorted({c for c in letters if c in _LOWER}))
    return system, keywords


def preserved_letters(letters: str) -> str:
    """The uppercase info letters that are not IMAP system flags (``P`` ...), sorted."""
    return "".join(sorted({c for c in letters if c in _UPPER and c not in FLAG_LETTERS}))


def flags_to_letters(system: frozenset[str], keyword_letters: str, preserved: str = "") -> str:
    """IMAP system flags + keyword letters + preserved letters → sorted unique info letters.

    Flags are matched case-insensitively; ``\\Recent`` and unknown flags have no letter and
    are ignored, as are characters of ``keyword_letters``/``preserved`` that are not letters.
    """
    out = {_LETTER_OF_FLAG[f.lower()] for f in system if f.lower() in _LETTER_OF_FLAG}
    out.update(c for c in keyword_letters if c in _LOWER)
    out.update(c for c in preserved if c in _UPPER)
    return "".join(sorted(out))
