"""Group commit: small appends to many accounts made durable together.

Ten LMTP sessions delivering at once used to be ten thread-pool jobs, each waiting on its
own three syncs (message file, directory, index WAL) and each handing the GIL back and
forth with the reactor thread at every system call; more threads only meant more of that
(``bench/lmtp.py``: 2-4 threads or 1, the same ~580 msg/s at 1 KB, and 2.1 ms of CPU per
message instead of 1.5). Here one committer thread takes every append that is waiting
(``MAX_GROUP`` at most) and, for the whole group:

1. writes each message into its ``tmp/`` (``write_message(sync=False)``);
2. fsyncs all those files at once (``SYNC_THREADS`` threads that only call ``fsync``);
3. for each: renames it into ``new/``/``cur/`` and commits its index transaction without
   syncing the WAL (``index.unsynced_commits``);
4. fsyncs every directory that received a file and every WAL written, at once;

and only then answers each append. Per message the guarantees of ``durable`` stay: its
contents are durable before its name can be (2 before 3), and nothing is reported before
its name and its UID are durable (4). Each caller holds its account lock until answered,
so no other call of this process sees an index commit before its WAL is synced.

A failure costs only the appends it touches: a file that cannot be written or synced
fails its own append (nothing is left in ``tmp/``); a directory or WAL that cannot be
synced fails the appends that wrote into it, as ``TEMPORARY``. Those messages were
committed and may survive: the sender retries, as it does when any sync fails, and may
deliver twice (never lose one).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.logger import Logger

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import index
from mailstore.maildir.boxes import Ctx
from mailstore.maildir.core import map_errors
from mailstore.maildir.durable import fsync_path
from mailstore.maildir.index import MailboxRow
from mailstore.maildir.messages import Prepared, commit_append
from mailstore.maildir.sync import SyncChanges
from mailstore.types import QuotaLimits

MAX_GROUP = 32
"""Appends taken into one group at most (more wait for the next one)."""
SYNC_THREADS = 8
"""Threads that run a group's fsyncs side by side (the file system batches their commits).
``bench/lmtp.py``, 1 KB, 10 sessions: 2 threads ~600-650 msg/s, 4 ~670-720, 8-16 ~740-780
(a group of 5-10 appends has up to 20 paths to sync in its last step)."""

T = TypeVar("T")
log = Logger()

Committed = tuple[MailboxRow, int, SyncChanges, int]
"""What an append gives back: mailbox row, UID, what the sync found, stored size."""
SyncAll = Callable[[list[Path]], dict[Path, OSError]]
"""fsync every path of a list; the failures by path."""


@dataclass
class GroupAppend:
    """One append waiting for a group: the account, mailbox, a ``write_message`` call that
    must not sync (``sync=False``) and the quota limits (or their lookup)."""

    ctx: Ctx
    mailbox: str
    write: Callable[[], Prepared]
    limits: QuotaLimits | Callable[[], QuotaLimits]
    prepared: Prepared | None = field(default=None, init=False)
    outcome: Committed | StoreError | None = field(default=None, init=False)
    synced: list[Path] = field(default_factory=list, init=False)
    """What must be durable before it is answered: its directory and its WAL."""

    def run(self, fn: Callable[[], T]) -> T | None:
        """``fn()``, or None after recording its failure (as ``map_errors`` words it)."""
        try:
            return map_errors(fn)
        except StoreError as exc:
            self.fail(exc)
            return None

    def fail(self, exc: StoreError) -> None:
        """Record the failure; a file still in ``tmp/`` (never renamed) is removed."""
        self.outcome = exc
        if self.prepared is not None:
            self.prepared.path.unlink(missing_ok=True)


def sync_serially(paths: list[Path]) -> dict[Path, OSError]:
    """``SyncAll`` in the calling thread (a group of one, and tests)."""
    failures: dict[Path, OSError] = {}
    for path in paths:
        try:
            fsync_path(path)
        except OSError as exc:
            failures[path] = exc
    return failures


def commit_group(jobs: list[GroupAppend], sync_all: SyncAll) -> None:
    """Make every append of ``jobs`` durable (steps 1-4 above); each gets its ``outcome``.

    The ``ctx`` of every job is used by this thread alone: its caller holds the lock of
    that account, and no two jobs of one group share an account.
    """
    for job in jobs:
        job.prepared = job.run(job.write)
    written = [job for job in jobs if job.prepared is not None]
    failed = sync_all([job.prepared.path for job in written if job.prepared is not None])
    for job in written:
        prepared = job.prepared
        assert prepared is not None
        if prepared.path in failed:
            job.fail(_temporary("message sync", failed[prepared.path]))
            continue
        with index.unsynced_commits(job.ctx.conn):
            committed = job.run(
                partial(commit_append, job.ctx, job.mailbox, prepared, job.limits, job.synced)
            )
        if committed is not None:  # renamed and committed: nothing to remove any more
            job.prepared = None
            job.synced.append(index.wal_path(job.ctx.root / index.INDEX_FILE))
            job.outcome = (*committed, prepared.size)
    done = [job for job in jobs if isinstance(job.outcome, tuple)]
    failed = sync_all(list(dict.fromkeys(path for job in done for path in job.synced)))
    for job in done:
        for path in job.synced:
            if path in failed:
                job.fail(_temporary("sync after commit", failed[path]))
                break


def _temporary(what: str, exc: OSError) -> StoreError:
    return StoreError(StoreErrorKind.TEMPORARY, f"{what}: {exc}")


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class GroupCommitter:
    """The committer thread and its sync threads, started on first use and stopped when the
    reactor shuts down (the group in progress is finished first)."""

    def __init__(self, sync_threads: int = SYNC_THREADS, max_group: int = MAX_GROUP) -> None:
        self.sync_threads = sync_threads
        self.max_group = max_group
        self._queue: queue.SimpleQueue[tuple[GroupAppend, defer.Deferred[Committed]] | None]
        self._queue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._syncer: ThreadPoolExecutor | None = None

    async def append(self, job: GroupAppend) -> Committed:
        """Queue ``job`` for the next group and wait until it is durable (or failed)."""
        if self._thread is None:
            self._start()
        done: defer.Deferred[Committed] = defer.Deferred()
        self._queue.put((job, done))
        return await done

    def _start(self) -> None:
        self._syncer = ThreadPoolExecutor(self.sync_threads, "mailstack-sync")
        self._thread = threading.Thread(target=self._run, name="mailstack-commit", daemon=True)
        self._thread.start()
        _reactor().addSystemEventTrigger("during", "shutdown", self.stop)

    def stop(self) -> None:
        """Finish what is queued, then end the threads (a later ``append`` starts anew)."""
        thread, syncer = self._thread, self._syncer
        if thread is None or syncer is None:
            return
        self._queue.put(None)
        thread.join()
        syncer.shutdown()
        self._thread = self._syncer = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            waiting = [first]
            while len(waiting) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this group
                    break
                waiting.append(item)
            jobs = [job for job, _ in waiting]
            try:
                commit_group(jobs, self._sync_all)
            except BaseException as exc:  # noqa: BLE001 - a bug must not kill the thread
                log.failure("group commit failed")
                for job in jobs:
                    if job.outcome is None or isinstance(job.outcome, tuple):
                        job.outcome = StoreError(StoreErrorKind.INTERNAL, f"group commit: {exc}")
            _reactor().callFromThread(_answer, waiting)

    def _sync_all(self, paths: list[Path]) -> dict[Path, OSError]:
        if len(paths) < 2 or self._syncer is None:
            return sync_serially(paths)
        results = self._syncer.map(sync_serially, [[path] for path in paths])
        return {path: exc for failures in results for path, exc in failures.items()}


def _answer(waiting: list[tuple[GroupAppend, defer.Deferred[Committed]]]) -> None:
    for job, done in waiting:
        outcome = job.outcome
        if isinstance(outcome, tuple):
            done.callback(outcome)
        else:
            done.errback(outcome or StoreError(StoreErrorKind.INTERNAL, "not committed"))


_COMMITTER = GroupCommitter()


def committer() -> GroupCommitter:
    """The process's group committer (one for every account, as the storage pool is)."""
    return _COMMITTER
