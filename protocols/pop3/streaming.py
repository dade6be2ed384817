"""Streaming RETR and TOP (RFC 1939 sections 5 and 7) without holding a message whole.

The message is read from the store in ranges (``Mailbox.read(uid, start, length)``), each
range dot-stuffed and written at once. The stream is an ``IPushProducer`` registered on the
transport: when the client reads slowly and the transport's buffer fills, Twisted pauses it
and the next range is only read after ``resumeProducing``, so memory stays at about one range
plus the transport's buffer whatever the message size. A message that fits in the first range
is written in one go without registering a producer at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer  # type: ignore[import-untyped]

from mailstore.api import Mailbox
from protocols.pop3.replies import DotStuffer, TopFilter

__all__ = ["MessageStream", "StreamAborted"]


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

    async def run(self, uid: int, size: int, status: bytes, top_lines: int | None) -> None:
        """Stream message ``uid`` of ``size`` CRLF octets, the whole or its TOP part."""
        top = TopFilter(top_lines) if top_lines is not None else None
        stuffer = DotStuffer()
        chunk = await self._mailbox.read(uid, 0, min(self._chunk, size))
        self._check_stopped()
        self.octets = len(chunk)
        first = status + stuffer.feed(top.feed(chunk) if top is not None else chunk)
        self.started = True
        if self.octets >= size or not chunk or (top is not None and top.done):
            self._consumer.write(first + stuffer.finish())
            return
        self._consumer.registerProducer(self, True)
        try:
            self._consumer.write(first)
            await self._rest(uid, size, stuffer, top)
        finally:
            if not self._stopped:
                self._consumer.unregisterProducer()

    async def _rest(self, uid: int, size: int, stuffer: DotStuffer, top: TopFilter | None) -> None:
        while self.octets < size and not (top is not None and top.done):
            if self._paused is not None:
                await self._paused
            self._check_stopped()
            chunk = await self._mailbox.read(uid, self.octets, min(self._chunk, size - self.octets))
            self._check_stopped()
            if not chunk:
                break
            self.octets += len(chunk)
            self._consumer.write(stuffer.feed(top.feed(chunk) if top is not None else chunk))
            self._progress()
        self._consumer.write(stuffer.finish())

    def _check_stopped(self) -> None:
        if self._stopped:
            raise StreamAborted()
