"""Message-IDs delivered recently: LMTP's optional duplicate suppression (Cyrus-style)."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["SeenIds"]


class SeenIds:
    """Message-IDs delivered recently, per (user, mailbox): an in-memory LRU.

    Limit: per process and lost on restart. The store API has no ``seen_message_ids``
    facility yet; with one, suppression would survive restarts and span processes.
    """

    def __init__(self, window: float, capacity: int = 50_000) -> None:
        self.window = window
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def is_duplicate(self, key: tuple[str, str, str], now: float) -> bool:
        seen = self._seen.get(key)
        return seen is not None and now - seen <= self.window

    def remember(self, key: tuple[str, str, str], now: float) -> None:
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
