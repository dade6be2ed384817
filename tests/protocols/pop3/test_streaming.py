"""MessageStream and ReadAhead with a store whose reads finish when the test says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport

from mailstore.errors import StoreError, StoreErrorKind
from protocols.pop3.readahead import ReadAhead
from protocols.pop3.streaming import FirstRange, MessageStream, StreamAborted

MESSAGE = b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\nline\r\n.\r\nend\r\n"
STUFFED = b"Subject: dots\r\n\r\n..leading dot\r\n...two\r\nline\r\n..\r\nend\r\n.\r\n"


class SlowMailbox:
    """``read``/``read_many`` return Deferreds that the test fires (``finish``)."""

    def __init__(self, messages: dict[int, bytes]) -> None:
        self.messages = messages
        self.pending: list[tuple[Any, Deferred[Any]]] = []

    async def read(self, uid: int, start: int = 0, length: int | None = None) -> bytes:
        d: Deferred[bytes] = Deferred()
        self.pending.append(((uid, start, length), d))
        return await d

    async def read_many(self, ranges: Sequence[tuple[int, int, int | None]]) -> Any:
        d: Deferred[Any] = Deferred()
        self.pending.append((list(ranges), d))
        return await d

    def _range(self, uid: int, start: int, length: int | None) -> bytes | None:
        data = self.messages.get(uid)
        if data is None:
            return None
        return data[start:] if length is None else data[start : start + length]

    def finish(self) -> None:
        """Complete the oldest outstanding call."""
        request, d = self.pending.pop(0)
        if isinstance(request, list):
            d.callback([self._range(*r) for r in request])
        else:
            data = self._range(*request)
            if data is None:
                d.errback(StoreError(StoreErrorKind.NOT_FOUND, "gone"))
            else:
                d.callback(data)

    def fail(self) -> None:
        _request, d = self.pending.pop(0)
        d.errback(StoreError(StoreErrorKind.TEMPORARY, "injected"))


def start(stream: MessageStream, first: Any = None) -> Deferred[None]:
    run = stream.run(3, len(MESSAGE), b"+OK\r\n", None, first)
    return Deferred.fromCoroutine(run)


def test_next_range_is_read_while_the_previous_one_is_sent() -> None:
    box = SlowMailbox({3: MESSAGE})
    out = StringTransport()
    stream = MessageStream(out, box, chunk_size=20, progress=lambda: None)  # type: ignore[arg-type]
    done = start(stream)
    assert [r for r, _ in box.pending] == [(3, 0, 20)]
    box.finish()
    # the first range is out, and the second is already being read
    assert out.value() == b"+OK\r\n" + STUFFED[:21]
    assert [r for r, _ in box.pending] == [(3, 20, 20)]
    stream.pauseProducing()  # the transport's buffer is full
    box.finish()
    assert out.value() == b"+OK\r\n" + STUFFED[:21]  # held until the transport drains
    assert box.pending == []  # and nothing more is read meanwhile
    stream.resumeProducing()
    assert out.value() == b"+OK\r\n" + STUFFED[:42]
    assert [r for r, _ in box.pending] == [(3, 40, 12)]
    box.finish()
    assert out.value() == b"+OK\r\n" + STUFFED
    assert done.called and out.producer is None


def test_stopped_with_a_read_in_flight() -> None:
    box = SlowMailbox({3: MESSAGE})
    out = StringTransport()
    stream = MessageStream(out, box, chunk_size=20, progress=lambda: None)  # type: ignore[arg-type]
    done = start(stream)
    box.finish()
    stream.stopProducing()  # while the second range is being read
    failures: list[Any] = []
    done.addErrback(failures.append)
    assert not failures
    box.fail()  # the read fails afterwards: the stream ends as aborted, nothing more written
    assert failures and failures[0].check(StreamAborted)
    assert out.value() == b"+OK\r\n" + STUFFED[:21]


def test_stopped_while_paused() -> None:
    box = SlowMailbox({3: MESSAGE})
    out = StringTransport()
    stream = MessageStream(out, box, chunk_size=20, progress=lambda: None)  # type: ignore[arg-type]
    done = start(stream)
    box.finish()
    stream.pauseProducing()
    box.finish()
    stream.stopProducing()
    failures: list[Any] = []
    done.addErrback(failures.append)
    assert failures and failures[0].check(StreamAborted)
    assert out.value() == b"+OK\r\n" + STUFFED[:21] and box.pending == []


def test_first_range_read_ahead_keeps_its_stuffing_state() -> None:
    box = SlowMailbox({3: MESSAGE})
    out = StringTransport()
    stream = MessageStream(out, box, chunk_size=17, progress=lambda: None)  # type: ignore[arg-type]
    first: Deferred[FirstRange | None] = Deferred()
    done = start(stream, first)
    assert box.pending == []
    first.callback(FirstRange.of(MESSAGE[:17]))  # ends at a line start
    while box.pending:
        box.finish()
    assert out.value() == b"+OK\r\n" + STUFFED
    assert done.called


def test_read_ahead_that_failed_is_read_again() -> None:
    box = SlowMailbox({3: MESSAGE})
    out = StringTransport()
    stream = MessageStream(out, box, chunk_size=100, progress=lambda: None)  # type: ignore[arg-type]
    first: Deferred[FirstRange | None] = Deferred()
    done = start(stream, first)
    first.callback(None)
    assert [r for r, _ in box.pending] == [(3, 0, 52)]
    box.finish()
    assert out.value() == b"+OK\r\n" + STUFFED and done.called


# -- ReadAhead ----------------------------------------------------------------------------


def ahead(budget: int = 100) -> tuple[SlowMailbox, ReadAhead]:
    box = SlowMailbox({uid: bytes([64 + uid]) * 10 for uid in range(1, 20)})
    return box, ReadAhead(box, budget)  # type: ignore[arg-type]


def test_one_call_within_budget() -> None:
    box, ra = ahead(budget=35)
    ra.start([(u, 10) for u in range(2, 10)])
    assert [r for r, _ in box.pending] == [[(2, 0, 10), (3, 0, 10), (4, 0, 10)]]
    assert ra.uids() == [2, 3, 4]


def test_one_call_in_flight_and_refill_at_half() -> None:
    box, ra = ahead()
    ra.start([(u, 10) for u in range(2, 6)])
    ra.start([(u, 10) for u in range(3, 7)])  # 3..5 held or in flight: no new call
    assert len(box.pending) == 1
    box.finish()
    taken = ra.take(3, 10)  # RETR of the next message, then read ahead of it
    assert taken is not None and taken.called
    ra.start([(u, 10) for u in range(4, 8)])  # 2 of 4 held: no more than half, refill
    assert [r for r, _ in box.pending] == [[(6, 0, 10), (7, 0, 10)]]
    assert ra.uids() == [4, 5, 6, 7]  # 2 was skipped by the client: dropped
    box.finish()
    assert ra.take(4, 10) is not None
    ra.start([(u, 10) for u in range(5, 9)])  # 3 of 4 held: more than half, nothing read
    assert box.pending == []
    assert ra.take(5, 10) is not None
    ra.start([(u, 10) for u in range(6, 10)])  # 2 of 4 held: refill the rest in one call
    assert [r for r, _ in box.pending] == [[(8, 0, 10), (9, 0, 10)]]


def test_take_needs_the_same_range_and_skipped_entries_go() -> None:
    box, ra = ahead()
    ra.start([(2, 10), (3, 10)])
    box.finish()
    assert ra.take(2, 5) is None  # another length: not this entry
    ra.start([(3, 10), (4, 10)])
    assert 2 not in ra.uids()


@pytest.mark.parametrize("outcome", ["fail", "gone"])
def test_unreadable_ranges_give_none(outcome: str) -> None:
    box, ra = ahead()
    ra.start([(2, 10), (99, 10)])
    if outcome == "fail":
        box.fail()
    else:
        box.finish()
    results: list[Any] = []
    for uid in (2, 99):
        taken = ra.take(uid, 10)
        assert taken is not None
        taken.addCallback(results.append)
    if outcome == "fail":
        assert results == [None, None]
    else:
        assert results[0].data == bytes([66]) * 10 and results[1] is None


def test_forget() -> None:
    box, ra = ahead(budget=30)
    ra.start([(2, 10), (3, 10), (4, 10)])
    box.finish()
    ra.forget([3])
    assert ra.uids() == [2, 4]
    ra.forget()
    assert ra.uids() == []
    assert ra.take(2, 10) is None
