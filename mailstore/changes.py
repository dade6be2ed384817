"""The change feed: every append, flag change and expunge is pushed to every open session.

An in-process hub keyed by (user, mailbox). The store publishes a ``ChangeEvent`` after
each change it makes and after each sync that found changes made by other programs; IMAP
sessions (IDLE, NOOP) subscribe to the mailbox they have selected. Listeners run on the
reactor thread; one that raises is logged and does not keep the others from being called.
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.logger import Logger

from mailstore.api import ChangeListener, Unsubscribe
from mailstore.types import ChangeEvent

log = Logger()


class ChangeHub:
    """Listeners per (user, mailbox); ``publish`` calls the ones of the event's mailbox."""

    def __init__(self) -> None:
        self._listeners: dict[tuple[str, str], list[ChangeListener]] = {}

    def subscribe(self, user: str, mailbox: str, listener: ChangeListener) -> Unsubscribe:
        """Call ``listener`` for every event of ``mailbox`` of ``user``; returns the undo."""
        key = (user, mailbox)
        self._listeners.setdefault(key, []).append(listener)

        def unsubscribe() -> None:
            listeners = self._listeners.get(key)
            if listeners is None:
                return
            for i, known in enumerate(listeners):
                if known is listener:
                    del listeners[i]
                    break
            if not listeners:
                del self._listeners[key]

        return unsubscribe

    def listener_count(self, user: str, mailbox: str) -> int:
        """How many listeners ``mailbox`` of ``user`` has (for tests and diagnostics)."""
        return len(self._listeners.get((user, mailbox), ()))

    def publish(self, event: ChangeEvent) -> None:
        """Deliver ``event`` to the listeners of its mailbox, in subscription order."""
        for listener in list(self._listeners.get((event.user, event.mailbox), ())):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                log.failure(
                    "change listener failed for {user} {mailbox} {kind}",
                    user=event.user,
                    mailbox=event.mailbox,
                    kind=event.kind.value,
                )

    def publish_all(self, events: Iterable[ChangeEvent]) -> None:
        """``publish`` each event in order."""
        for event in events:
            self.publish(event)
