"""Run blocking work (fsync, hashing, directory scans, SQLite) off the reactor thread.

Every storage call that may wait on the disk goes through ``run_blocking``; the reactor
thread itself never does. Twisted's reactor thread pool is used so that tests with a real
reactor and the server share one mechanism.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from twisted.internet import threads

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in the reactor's thread pool and await its result."""
    return await threads.deferToThread(fn, *args, **kwargs)
