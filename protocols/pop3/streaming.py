"""Streaming RETR and TOP (RFC 1939 sections 5 and 7) without holding a message whole.

The message is read from the store in ranges (``Mailbox.read(uid, start, length)``), each
range dot-stuffed and written at once; the first range usually comes from the read-ahead
(``protocols.pop3.readahead``), already stuffed. The stream is an ``IPushProducer``
registered on the transport: when the client reads slowly and the transport's buffer fills,
Twisted pauses it. The read of the next range is started as soon as a range is written, so
the thread-pool hop overlaps with sending; it is written only after ``resumeProducing``, so
memory stays at about two ranges plus the transport's buffer whatever the message size. A
message that fits in the first range is written in one go (status line, body and terminator
as one buffer) without registering a producer at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer  # type: ignore[import-untyped]

from mailstore.api import Mailbox
from protocols.pop3.replies import DotStuffer, TopFilter

__all__ = ["FirstRange", "MessageStream", "StreamAborted"]


@dataclass(frozen=True, slots=True)
class FirstRange:
    """The first range of a message, read ahead and dot-stuffed for RETR when it arrived.

    Stuffing it on arrival, usually while the client is still busy with the message
    before, takes that work off the path between a RETR and its first byte. ``stuffer``
    holds the stuffing state after ``stuffed``; a ``FirstRange`` is used once. TOP uses
    ``data`` (stuffing follows the cut). When the range has no line starting with a dot,
    ``stuffed`` is ``data`` itself, so nothing is held twice.
    """

    data: bytes
    stuffed: bytes
    stuffer: DotStuffer

    @classmethod
    def of(cls, data: bytes) -> FirstRange:
        """Stuff ``data``, the first range of a message."""
        stuffer = DotStuffer()
        return cls(data, stuffer.feed(data), stuffer)


class StreamAborted(Exception):
    """The transport stopped the stream (the connection went away)."""


@implementer(IPushProducer)
class MessageStream:
    """Send one message (status line, stuffed body, terminator) to ``consumer``.

    Store errors raised before anything was written propagate with ``started`` False; the
    caller can still answer ``-ERR``. Later ones propagate with ``started`` True.
    """

    def __init__(
        self,
        consumer: Any,
        mailbox: Mailbox,
        *,
        chunk_size: int,
        progress: Callable[[], None],
    ) -> None:
        self._consumer = consumer
        self._mailbox = mailbox
        self._chunk = chunk_size
        self._progress = progress
        self._paused: Deferred[None] | None = None
        self._stopped = False
        self.started = False
        self.octets = 0
        """Message octets read so far (before stuffing), for the log."""

    def pauseProducing(self) -> None:
        """The transport's buffer is full: wait before reading the next range."""
        if self._paused is None:
            self._paused = Deferred()

    def resumeProducing(self) -> None:
        """The transport drained: continue."""
        waiter, self._paused = self._paused, None
        if waiter is not None:
            waiter.callback(None)

    def stopProducing(self) -> None:
        """The connection is gone: stop after the current read."""
        self._stopped = True
        self.resumeProducing()

    async def run(
        self,
        uid: int,
        size: int,
        status: bytes,
        top_lines: int | None,
        first: Deferred[FirstRange | None] | None = None,
    ) -> None:
        """Stream message ``uid`` of ``size`` CRLF octets, the whole or its TOP part.

        ``first`` is a read of the first range started earlier (``ReadAhead``); if it
        failed (None) the range is read again here, so that the store's error surfaces.
        """
        top = TopFilter(top_lines) if top_lines is not None else None
        prepared = await first if first is not None else None
        if prepared is None:
            chunk = await self._mailbox.read(uid, 0, min(self._chunk, size))
        else:
            chunk = prepared.data
        self._check_stopped()
        self.octets = len(chunk)
        if prepared is not None and top is None:
            body, stuffer = prepared.stuffed, prepared.stuffer
        else:
            stuffer = DotStuffer()
            body = stuffer.feed(top.feed(chunk) if top is not None else chunk)
        self.started = True
        if self.octets >= size or not chunk or (top is not None and top.done):
            self._consumer.write(b"".join((status, body, stuffer.finish())))
            return
        pending = self._read_next(uid, size)  # overlaps with sending the first range
        self._consumer.registerProducer(self, True)
        try:
            self._consumer.write(status + body)
            await self._rest(uid, size, stuffer, top, pending)
        finally:
            if not self._stopped:
                self._consumer.unregisterProducer()

    def _read_next(self, uid: int, size: int) -> Deferred[bytes]:
        length = min(self._chunk, size - self.octets)
        return Deferred.fromCoroutine(self._mailbox.read(uid, self.octets, length))

    async def _rest(
        self,
        uid: int,
        size: int,
        stuffer: DotStuffer,
        top: TopFilter | None,
        pending: Deferred[bytes],
    ) -> None:
        """The ranges after the first; each is read while the one before it is being sent,
        and written once the transport has room (``resumeProducing``)."""
        next_read: Deferred[bytes] | None = pending
        try:
            while next_read is not None:
                reading, next_read = next_read, None
                try:
                    chunk = await reading
                except Exception:
                    self._check_stopped()  # the connection went away meanwhile: that is the news
                    raise
                if self._paused is not None:
                    await self._paused
                self._check_stopped()
                if not chunk:
                    break
                self.octets += len(chunk)
                data = stuffer.feed(top.feed(chunk) if top is not None else chunk)
                if self.octets < size and not (top is not None and top.done):
                    next_read = self._read_next(uid, size)
                self._consumer.write(data)
                self._progress()
        finally:
            if next_read is not None:  # abandoned: its outcome no longer matters
                next_read.addErrback(lambda _failure: None)
        self._consumer.write(stuffer.finish())

    def _check_stopped(self) -> None:
        if self._stopped:
            raise StreamAborted()
