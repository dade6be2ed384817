"""Read Dovecot's ``dovecot-uidlist`` so that the UIDs clients already know are kept.

Two formats exist (Dovecot ``maildir-uidlist.c``):

- version 1: header ``1 <uidvalidity> <nextuid>``, lines ``<uid> <filename>``;
- version 3: header ``3 V<uidvalidity> N<nextuid> [G<guid>] [...]``, lines
  ``<uid> [<ext> ...] :<filename>`` where the extension fields (``W<vsize>``, ``S<size>``,
  ``G<guid>`` ...) come before the colon.

File names may carry ``:2,<flags>``; they are reduced to the base name
(``filenames.parse_name``), the key that survives flag changes. A bad header is an
error; a bad line is skipped, as are UIDs that do not ascend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailstore.maildir.filenames import parse_name

UIDLIST_FILE = "dovecot-uidlist"


class UidListError(ValueError):
    """The uidlist header is missing or malformed, or the version is unknown."""


@dataclass(frozen=True, slots=True)
class UidList:
    """What a ``dovecot-uidlist`` says about one maildir."""

    uidvalidity: int
    next_uid: int
    """At least one above the highest UID listed."""
    uids: dict[str, int]
    """Message base name (the part before ``:2,``) → UID."""


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _header(line: str) -> tuple[int, int, int]:
    """(version, uidvalidity, next uid) from the first line."""
    fields = line.split()
    if not fields:
        raise UidListError("empty uidlist header")
    version = _number(fields[0])
    if version == 1:
        if len(fields) < 3:
            raise UidListError("short version 1 header")
        validity, next_uid = _number(fields[1]), _number(fields[2])
    elif version == 3:
        keys = {f[0]: f[1:] for f in reversed(fields[1:])}
        validity, next_uid = _number(keys.get("V", "")), _number(keys.get("N", ""))
    else:
        raise UidListError("unsupported uidlist version")
    if not validity or next_uid is None:
        raise UidListError("bad uidvalidity or next uid in uidlist header")
    return version, validity, next_uid


def _entry(line: str, version: int) -> tuple[int, str] | None:
    """(uid, base name) from a record line, or None if it is malformed."""
    uid_text, _, rest = line.partition(" ")
    uid = _number(uid_text)
    if not uid:
        return None
    if version == 3:
        _, colon, filename = rest.partition(":")
        if not colon:
            return None
    else:
        filename = rest.lstrip(" ")
    if not filename or "/" in filename or "\0" in filename:
        return None
    base = parse_name(filename).base
    return (uid, base) if base else None


def parse_uidlist(data: bytes) -> UidList:
    """Parse a ``dovecot-uidlist`` (versions 1 and 3); pure, bytes in, value out.

    Names are decoded as UTF-8 with ``surrogateescape``, as ``os.listdir`` does, so they
    match the names found on disk. Raises ``UidListError`` for a bad header only.
    """
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    version, validity, next_uid = _header(lines[0].rstrip("\r"))
    uids: dict[str, int] = {}
    last = 0
    for raw in lines[1:]:
        entry = _entry(raw.rstrip("\r"), version)
        if entry is None:
            continue
        uid, base = entry
        if uid <= last or base in uids:
            continue
        uids[base] = uid
        last = uid
    return UidList(uidvalidity=validity, next_uid=max(next_uid, last + 1), uids=uids)


def load_uidlist(maildir: Path) -> UidList | None:
    """``maildir/dovecot-uidlist`` parsed; None if the file is missing or its header is bad."""
    try:
        return parse_uidlist((maildir / UIDLIST_FILE).read_bytes())
    except (FileNotFoundError, UidListError):
        return None
