"""Read-ahead for RETR/TOP: the next messages' first ranges, read before the client asks.

Why: POP3 clients collect mail in order, one command at a time (fetchmail, getmail, the
phones; RFC 1939 section 3 lets them pipeline, few do). Without read-ahead every RETR waits
for a thread-pool hop to the store before its first byte goes out, and that round trip was
most of the cost of a small message. Reading message n+1 while message n is written hides
it: when RETR n+1 arrives the bytes are usually there already.

Reads are batched: up to ``read_ahead_messages`` messages are asked for in one
``Mailbox.read_many`` call (one thread hop), and the next batch only once half of them
have been used, so a thread hop costs a fraction of a message instead of one each (measured
with ``bench/pop3.py``: the hop, not the disk, was the cost). Each range is dot-stuffed as it
arrives, while the reactor would otherwise wait for the client's next command.

Bounded: at most ``budget`` octets are asked for (each entry is one range of at most
``read_chunk`` octets, the part the stream would have read first anyway); a range with
lines to stuff is held twice (as read, for TOP, and stuffed), so memory stays under twice
the budget. Entries are dropped when they cannot be used any more: on DELE of that
message, on RSET and QUIT (the session says so with ``ForgetReadAhead``), when the client
asks for a message out of order (entries it skipped), when another session expunges the
message (the store's change feed, so a message removed by IMAP between LIST and RETR is
answered ``-ERR`` exactly as without read-ahead), and when the connection ends. Reads stay
in the store's thread pool (``read_many``); a range that could not be read is forgotten,
and the stream then reads the message itself and reports the store's error as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial

from twisted.internet.defer import Deferred

from mailstore.api import Mailbox
from protocols.pop3.streaming import FirstRange

__all__ = ["ReadAhead"]

Ranged = Deferred[FirstRange | None]
"""One entry: fires with the range, or None if it could not be read."""


class ReadAhead:
    """First ranges of messages the client is expected to ask for next, keyed by UID."""

    __slots__ = ("_budget", "_entries", "_held", "_mailbox", "_reading")

    def __init__(self, mailbox: Mailbox, budget: int) -> None:
        self._mailbox = mailbox
        self._budget = budget
        self._entries: dict[int, tuple[int, Deferred[FirstRange | None]]] = {}
        self._held = 0
        self._reading = False
        """A ``read_many`` is in flight: no second one (forgotten entries still take memory
        until their batch arrives, so this keeps the total under twice the budget)."""

    def start(self, wanted: Sequence[tuple[int, int]]) -> None:
        """Read ahead ``(uid, length)`` ranges at offset 0: the messages expected next, in order.

        Entries for other messages are dropped (the client went elsewhere). New reads are
        only started once no more than half of ``wanted`` is held, and then as many as the
        budget allows in one ``read_many``: one thread hop for several messages.
        """
        keep = {uid for uid, _length in wanted}
        self.forget([uid for uid in self._entries if uid not in keep])
        if self._reading or len(self._entries) > len(wanted) // 2:
            return
        batch: list[tuple[int, int]] = []
        for uid, length in wanted:
            if uid in self._entries:
                continue
            if self._held + length > self._budget:
                break
            batch.append((uid, length))
            self._held += length
        if not batch:
            return
        results: list[Deferred[FirstRange | None]] = [Deferred() for _ in batch]
        for (uid, length), result in zip(batch, results, strict=True):
            self._entries[uid] = (length, result)
        self._reading = True
        read = Deferred.fromCoroutine(
            self._mailbox.read_many([(uid, 0, length) for uid, length in batch])
        )
        read.addCallbacks(partial(self._arrived, results), partial(self._failed, results))

    def _arrived(self, results: list[Ranged], data: list[bytes | None]) -> None:
        """Stuff each range now (the reactor is usually waiting for the client meanwhile)."""
        self._reading = False
        for result, chunk in zip(results, data, strict=True):
            result.callback(None if chunk is None else FirstRange.of(chunk))

    def _failed(self, results: list[Ranged], _failure: object) -> None:
        """A failed read-ahead is not an error yet: the stream will read (and report) again."""
        self._reading = False
        for result in results:
            result.callback(None)

    def take(self, uid: int, length: int) -> Deferred[FirstRange | None] | None:
        """The read started for ``uid`` if it covers exactly ``length`` octets (None: none).

        The entry leaves the read-ahead; its Deferred fires with the range (stuffed as it
        arrived), or None if the read failed.
        """
        entry = self._entries.get(uid)
        if entry is None or entry[0] != length:
            return None
        self.forget((uid,))
        return entry[1]

    def forget(self, uids: Iterable[int] | None = None) -> None:
        """Drop the entries of ``uids`` (all of them if None); reads in flight are ignored."""
        if uids is None:
            self._entries.clear()
            self._held = 0
            return
        for uid in uids:
            entry = self._entries.pop(uid, None)
            if entry is not None:
                self._held -= entry[0]

    def uids(self) -> list[int]:
        """The UIDs read ahead (or being read), in the order they were started."""
        return list(self._entries)
