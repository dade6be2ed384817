"""Delivery-time Sieve: run a user's active script on one message (RFC 5228 §2.10).

``SieveFilter.decide`` loads and compiles the active script (compiled scripts are cached
by path and mtime), builds the envelope, message and context, evaluates, and returns a
typed :class:`FilterDecision`; applying it (filing, flags, redirects, replies) is the
caller's job. Any run-time failure — a script that no longer compiles, a limit hit, an
unreadable file — becomes implicit keep (RFC 5228 §2.10.6) and a log line.

History for ``vacation`` (RFC 5230 §4.2) and ``duplicate`` (RFC 7352) is kept per user in
one small SQLite file, ``<home>/sieve/.history.sqlite`` (table ``seen(kind, handle, key,
until)``), pruned as it is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from twisted.logger import Logger

from mailstore.api import Account
from mailstore.blocking import run_blocking
from sieve.actions import (
    Action,
    Discard,
    FileInto,
    Keep,
    Redirect,
    Reject,
    TrackDuplicate,
    Vacation,
)
from sieve.ast import Script, SieveCompileError, SieveLimits, SieveRuntimeError
from sieve.interpreter import SieveContext, evaluate
from sieve.message import SieveEnvelope, SieveMessage
from sieve.storage import SCRIPT_DIR, SieveStorage

__all__ = ["FileTarget", "FilterDecision", "SieveFilter", "SieveHistory"]

log = Logger()

HISTORY_FILE = ".history.sqlite"
_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class FileTarget:
    """File a copy into ``mailbox`` with ``flags``; ``create`` it if missing (RFC 5490)."""

    mailbox: str
    flags: tuple[str, ...] = ()
    create: bool = False


@dataclass(frozen=True, slots=True)
class FilterDecision:
    """What the script decided for one recipient's copy.

    ``targets`` empty and ``reject`` None means discarded. ``reject`` set: refuse the
    message (``ereject``: in-protocol, LMTP 550 5.7.1; else a notice is sent to the sender).
    """

    targets: tuple[FileTarget, ...] = (FileTarget("INBOX"),)
    reject: str | None = None
    ereject: bool = False
    redirects: tuple[str, ...] = ()
    vacations: tuple[Vacation, ...] = ()
    track: tuple[TrackDuplicate, ...] = ()
    failed: bool = False
    """True when the script failed and implicit keep was applied."""


IMPLICIT_KEEP = FilterDecision()


class SieveHistory:
    """Per-user vacation/duplicate memory in ``<home>/sieve/.history.sqlite`` (blocking)."""

    def __init__(self, home: Path) -> None:
        self.path = home / SCRIPT_DIR / HISTORY_FILE

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5)
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS seen (kind TEXT, handle TEXT, key TEXT, "
                "until REAL, PRIMARY KEY (kind, handle, key))"
            )
            with db:
                yield db
        finally:
            db.close()

    def seen(self, kind: str, handle: str, key: str, now: float | None = None) -> bool:
        """Whether ``(kind, handle, key)`` was recorded and has not expired."""
        if not self.path.exists():
            return False
        now = time.time() if now is None else now
        with self._db() as db:
            row = db.execute(
                "SELECT until FROM seen WHERE kind=? AND handle=? AND key=?", (kind, handle, key)
            ).fetchone()
        return row is not None and float(row[0]) > now

    def record(self, kind: str, handle: str, key: str, seconds: int) -> None:
        """Remember ``(kind, handle, key)`` for ``seconds``; drops expired entries."""
        now = time.time()
        with self._db() as db:
            db.execute("DELETE FROM seen WHERE until <= ?", (now,))
            db.execute(
                "INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?)",
                (kind, handle, key.lower(), now + seconds),
            )


class SieveFilter:
    """Runs users' active scripts at delivery; one instance serves every user."""

    def __init__(self, limits: SieveLimits = SieveLimits()) -> None:  # noqa: B008 - frozen
        self.limits = limits
        self._cache: dict[Path, tuple[int, int, Script]] = {}

    def _load(self, home: Path) -> Script | None:
        """The compiled active script, or None (blocking; cached by path and mtime)."""
        storage = SieveStorage(home, limits=self.limits)
        path = storage.active_path()
        if path is None:
            return None
        st = path.stat()
        cached = self._cache.get(path)
        if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        script = storage.compile(path.stem, path.read_bytes())
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[path] = (st.st_mtime_ns, st.st_size, script)
        return script

    async def decide(
        self,
        *,
        user: str,
        home: Path,
        account: Account,
        message: bytes,
        envelope: SieveEnvelope,
        user_addresses: tuple[str, ...] = (),
    ) -> FilterDecision:
        """Run ``user``'s active script on ``message`` (CRLF bytes) for ``envelope``."""
        try:
            script = await run_blocking(self._load, home)
            if script is None:
                return IMPLICIT_KEEP
            mailboxes = {info.name for info in await account.list_mailboxes()}
            history = SieveHistory(home)
            # vacation/duplicate answers are read up front: evaluate() must not do I/O
            context = SieveContext(
                user_addresses=user_addresses,
                mailbox_exists=lambda name: name in mailboxes,
                duplicate_seen=lambda handle, key: history.seen("duplicate", handle, key),
                vacation_replied=lambda sender, handle, _secs: history.seen(
                    "vacation", handle, sender.lower()
                ),
                now=lambda: dt.datetime.now(dt.UTC),
            )
            actions = await run_blocking(
                evaluate, script, envelope, SieveMessage(message), context
            )
        except (SieveCompileError, SieveRuntimeError, OSError, sqlite3.Error) as exc:
            log.warn(
                "sieve failed for {user}, implicit keep: {error}", user=user, error=repr(exc)
            )
            return FilterDecision(failed=True)
        return _decision(actions)

    async def record_vacation(self, home: Path, vacation: Vacation) -> None:
        """Remember a sent reply so the sender is not answered again within its period."""
        history = SieveHistory(home)
        await run_blocking(
            history.record, "vacation", vacation.handle, vacation.recipient, vacation.seconds
        )

    async def record_duplicates(self, home: Path, decision: FilterDecision) -> None:
        """After a successful delivery, remember ``duplicate`` keys (RFC 7352 §3.1)."""
        history = SieveHistory(home)
        for track in decision.track:
            await run_blocking(history.record, "duplicate", track.handle, track.key, track.seconds)


def _decision(actions: Sequence[Action]) -> FilterDecision:
    targets: list[FileTarget] = []
    redirects: list[str] = []
    vacations: list[Vacation] = []
    track: list[TrackDuplicate] = []
    for action in actions:
        match action:
            case Keep(flags=flags):
                targets.append(FileTarget("INBOX", flags))
            case FileInto(mailbox=mailbox, flags=flags, create=create):
                targets.append(FileTarget(mailbox, flags, create))
            case Redirect(address=address):
                redirects.append(address)
            case Reject(reason=reason, extended=extended):
                return FilterDecision(targets=(), reject=reason, ereject=extended)
            case Vacation():
                vacations.append(action)
            case TrackDuplicate():
                track.append(action)
            case Discard():
                pass
    return FilterDecision(
        targets=tuple(targets),
        redirects=tuple(redirects),
        vacations=tuple(vacations),
        track=tuple(track),
    )


