"""Run blocking work (fsync, directory scans, SQLite, password hashing) off the reactor thread.

Every storage call that may wait on the disk goes through ``run_blocking``; the reactor
thread itself never does. Storage work has a thread pool of its own (Twisted's
``ThreadPool`` through ``deferToThreadPool``), ``STORE_THREADS`` threads by default
(``store_threads`` in the config): few on purpose. Every extra thread that can run at the
same time competes for the GIL, and each system call hands the GIL back and forth with a
busy reactor thread (``bench/lmtp.py`` when deliveries still ran here, 1 KB, 10 sessions:
2-4 threads ~535-560 msg/s, Twisted's default of 10 ~490-505). Small appends (LMTP
deliveries, most IMAP APPENDs) no longer run in this pool: ``mailstore.maildir.groupcommit``
makes them durable in groups. More threads help where each fsync waits long (rotating disks).

Password verification (bcrypt: ~250 ms of CPU) runs in the reactor's own pool through
``run_hashing``, so a burst of logins cannot hold up deliveries and mailbox reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

P = ParamSpec("P")
T = TypeVar("T")

STORE_THREADS = 4
"""Default size of the storage pool."""


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class _StoragePool:
    """The storage pool, started on first use and stopped when the reactor shuts down
    (as Twisted's own pool is: running jobs finish, the threads are joined)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool: ThreadPool | None = None

    def resize(self, size: int) -> None:
        if size < 1:
            raise ValueError("at least one storage thread")
        self.size = size
        if self._pool is not None:
            self._pool.adjustPoolsize(minthreads=0, maxthreads=size)

    def get(self) -> ThreadPool:
        if self._pool is None:
            pool = ThreadPool(0, self.size, name="mailstack-store")
            pool.start()
            _reactor().addSystemEventTrigger("during", "shutdown", self._stop, pool)
            self._pool = pool
        return self._pool

    def _stop(self, pool: ThreadPool) -> None:
        if self._pool is pool:
            self._pool = None
        pool.stop()


_STORAGE = _StoragePool(STORE_THREADS)


def set_store_threads(count: int) -> None:
    """Size the storage pool (at start-up; a running pool is resized)."""
    _STORAGE.resize(count)


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in the storage pool and await its result."""
    result: T = await threads.deferToThreadPool(
        _reactor(), _STORAGE.get(), fn, *args, **kwargs
    )
    return result


async def run_hashing(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run CPU-heavy ``fn`` (password hashing) in the reactor's thread pool."""
    return await threads.deferToThread(fn, *args, **kwargs)
