"""Dovecot's ``dovecot-keywords`` file: which keyword each info letter ``a``..``z`` means.

Each maildir (INBOX root or a ``.Folder``) has its own file of lines ``<index> <keyword>``,
index 0..25 standing for the letters ``a``..``z`` in file names (``:2,Sab``). Only 26
keywords fit in file names; more are kept by the index alone.

An index, once given to a keyword, is never given to another: other processes (another
mailstack, Dovecot, a backup tool) read the same file names. So new indexes are taken
under an ``fcntl`` lock after re-reading the file, and merged with what others added.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from mailstore.maildir.durable import FILE_MODE, atomic_replace
from mailstore.maildir.filenames import KEYWORD_LETTERS

KEYWORDS_FILE = "dovecot-keywords"
LOCK_FILE = "mailstack-keywords.lock"
"""Our own lock file (Dovecot's dot-lock names are left alone)."""
MAX_KEYWORDS = len(KEYWORD_LETTERS)


def parse_keywords(data: bytes) -> dict[int, str]:
    """``dovecot-keywords`` contents → index → keyword; bad lines and duplicates skipped."""
    names: dict[int, str] = {}
    seen: set[str] = set()
    for raw in data.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", "surrogateescape")
        index_text, _, keyword = line.partition(" ")
        if not (index_text.isascii() and index_text.isdigit()) or not valid_keyword(keyword):
            continue
        index = int(index_text)
        if index >= MAX_KEYWORDS or index in names or keyword.lower() in seen:
            continue
        names[index] = keyword
        seen.add(keyword.lower())
    return names


def format_keywords(names: Mapping[int, str]) -> bytes:
    """Index → keyword map → ``dovecot-keywords`` contents, in index order."""
    lines = (f"{i} {names[i]}\n" for i in sorted(names))
    return "".join(lines).encode("utf-8", "surrogateescape")


def valid_keyword(keyword: str) -> bool:
    """Whether ``keyword`` can be stored: an IMAP atom-ish word, not a ``\\`` system flag."""
    return (
        bool(keyword)
        and not keyword.startswith("\\")
        and all(c.isprintable() and not c.isspace() for c in keyword)
    )


@contextlib.contextmanager
def _locked(maildir: Path) -> Iterator[None]:
    fd = os.open(maildir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read(maildir: Path) -> dict[int, str]:
    try:
        return parse_keywords((maildir / KEYWORDS_FILE).read_bytes())
    except FileNotFoundError:
        return {}


class KeywordMap:
    """Keyword ↔ letter map of one maildir (Dovecot ``dovecot-keywords`` compatible).

    Keywords are matched case-insensitively (RFC 9051 2.3.2) and stored as first spelled.
    """

    def __init__(self, names: Mapping[int, str] | None = None, maildir: Path | None = None) -> None:
        self._names: dict[int, str] = {}
        self._by_lower: dict[str, int] = {}
        self._maildir = maildir
        self._dirty = False
        for index, keyword in (names or {}).items():
            self._put(index, keyword)

    @classmethod
    def load(cls, maildir: Path) -> KeywordMap:
        """Read ``maildir/dovecot-keywords``; a missing file gives an empty map."""
        return cls(_read(maildir), maildir)

    @property
    def names(self) -> dict[int, str]:
        """A copy of the index → keyword map."""
        return dict(self._names)

    def _put(self, index: int, keyword: str) -> None:
        self._names[index] = keyword
        self._by_lower[keyword.lower()] = index

    def _free_index(self) -> int | None:
        return next((i for i in range(MAX_KEYWORDS) if i not in self._names), None)

    def _merge(self, disk: Mapping[int, str]) -> bool:
        """Take ``disk`` as the truth and re-add ours; True if the result differs from it.

        A keyword of ours missing on disk keeps its index if that is still free, else
        gets the lowest free one (or none if all 26 are taken).
        """
        ours = dict(self._names)
        self._names, self._by_lower = {}, {}
        for index, keyword in disk.items():
            self._put(index, keyword)
        pending = [(i, k) for i, k in sorted(ours.items()) if k.lower() not in self._by_lower]
        moved = []
        for index, keyword in pending:
            if index in self._names:
                moved.append(keyword)
            else:
                self._put(index, keyword)
        for keyword in moved:
            free = self._free_index()
            if free is None:
                break
            self._put(free, keyword)
        return bool(pending)

    def _assign(self, keywords: list[str]) -> None:
        for keyword in keywords:
            if keyword.lower() in self._by_lower:
                continue
            free = self._free_index()
            if free is None:
                return
            self._put(free, keyword)
            self._dirty = True

    def letters_for(self, keywords: Iterable[str]) -> str:
        """The sorted keyword letters for ``keywords``, giving new ones an index as needed.

        Keywords beyond the 26 that fit, and invalid ones, get no letter (the index keeps
        them). When the map was loaded from a maildir, new indexes are taken at once under
        the lock after re-reading the file and written back, so the letters returned are
        final even if another process adds keywords concurrently; ``save`` is then a no-op.
        """
        wanted = [k for k in dict.fromkeys(keywords) if valid_keyword(k)]
        missing = [k for k in wanted if k.lower() not in self._by_lower]
        if missing and self._free_index() is not None:
            if self._maildir is not None:
                with _locked(self._maildir):
                    self._merge(_read(self._maildir))
                    self._assign(missing)
                    if self._dirty:
                        atomic_replace(self._maildir / KEYWORDS_FILE, format_keywords(self._names))
                        self._dirty = False
            else:
                self._assign(missing)
        indexes = {self._by_lower[k.lower()] for k in wanted if k.lower() in self._by_lower}
        return "".join(sorted(KEYWORD_LETTERS[i] for i in indexes))

    def keywords_for(self, letters: str) -> frozenset[str]:
        """The keywords named by the letters ``a``..``z`` in ``letters``; unknown ones skipped."""
        out = set()
        for c in letters:
            index = KEYWORD_LETTERS.find(c)
            if index >= 0 and index in self._names:
                out.add(self._names[index])
        return frozenset(out)

    def save(self, maildir: Path) -> None:
        """Write ``maildir/dovecot-keywords`` if this map has unsaved indexes.

        Under the lock the file is re-read and merged: indexes already on disk win; a
        keyword of ours whose index was taken meanwhile gets a free one. Written with
        ``atomic_replace`` (tmp + fsync + rename + fsync dir).
        """
        if not self._dirty:
            return
        with _locked(maildir):
            disk = _read(maildir)
            if self._merge(disk):
                atomic_replace(maildir / KEYWORDS_FILE, format_keywords(self._names))
        self._dirty = False
        self._maildir = maildir
