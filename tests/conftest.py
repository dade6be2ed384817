"""Shared pytest fixtures.

Tests that need a real reactor (real sockets, the thread pool behind
``mailstore.blocking.run_blocking``) use the ``reactor_thread`` fixture: the global
reactor runs in one background thread for the whole session, and ``run`` calls a
coroutine function in it and blocks the test thread until it finishes. Blocking
clients (imaplib, poplib, smtplib, subprocesses) can then be used from the test
thread against servers that live in the reactor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from twisted.internet import defer, threads
from twisted.internet import reactor as _reactor

T = TypeVar("T")


class ReactorThread:
    """Handle on the reactor running in a background thread."""

    def __init__(self) -> None:
        self.reactor: Any = _reactor
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self.reactor.run,
            kwargs={"installSignalHandlers": False},
            name="reactor",
            daemon=True,
        )
        self._thread.start()

    def run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` in the reactor thread; return its result or raise."""

        def call() -> defer.Deferred[T]:
            return defer.Deferred.fromCoroutine(fn(*args, **kwargs))

        result: T = threads.blockingCallFromThread(self.reactor, call)
        return result

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a plain function in the reactor thread and return what it returns."""

        def wrapped() -> defer.Deferred[T]:
            return defer.maybeDeferred(fn, *args, **kwargs)

        result: T = threads.blockingCallFromThread(self.reactor, wrapped)
        return result

    def stop(self) -> None:
        if self._thread is None:
            return
        self.reactor.callFromThread(self.reactor.stop)
        self._thread.join(timeout=30)
        self._thread = None


_REACTOR_THREAD = ReactorThread()


@pytest.fixture(scope="session")
def reactor_thread() -> Iterator[ReactorThread]:
    """The global reactor, running in a background thread for the whole test session."""
    _REACTOR_THREAD.start()
    yield _REACTOR_THREAD


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _REACTOR_THREAD.stop()
