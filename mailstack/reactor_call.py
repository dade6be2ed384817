"""Run one coroutine to completion from synchronous code (``mailstack-admin``).

The store's API is asynchronous and its disk work goes to a thread pool of the reactor, so a
command-line tool needs a running reactor. If one is already running in another thread
(the test suite's), the call is handed to it; otherwise the reactor runs just for this call.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from twisted.internet import defer, threads
from twisted.python.failure import Failure

T = TypeVar("T")


def run_coroutine(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Return ``await fn()``, raising what it raises."""
    from twisted.internet import reactor

    r = cast(Any, reactor)

    def start() -> defer.Deferred[T]:
        return defer.Deferred.fromCoroutine(fn())

    if r.running:
        result: T = threads.blockingCallFromThread(r, cast(Any, start))
        return result
    outcome: list[object] = []

    def go() -> None:
        d = start()
        d.addBoth(outcome.append)
        d.addBoth(lambda _: r.stop())

    r.callWhenRunning(go)
    r.run(installSignalHandlers=False)
    if not outcome:
        raise RuntimeError("the reactor stopped before the call finished")
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return cast(T, outcome[0])
