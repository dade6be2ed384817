"""Staging an incoming message for delivery: small ones in memory, big ones in the spool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from mailstore.routing import FILTER_VIEW_LIMIT, DeliveryFilter
from mailstore.types import StagedMessage

if TYPE_CHECKING:
    from mailstore.api import SpoolWriter, Store

__all__ = ["MEMORY_STAGING_LIMIT", "MemoryFirstWriter", "StagingOwner"]

MEMORY_STAGING_LIMIT = 256 * 1024
"""Messages up to this size are staged in memory, larger ones stream to the store's spool
(the same bound as the Maildir spool's own in-memory buffer)."""


class StagingOwner(Protocol):
    """What ``MemoryFirstWriter`` needs of the delivery agent that owns it."""

    memory_limit: int
    store: Store
    filter: DeliveryFilter | None

    def stage_in_memory(self, data: bytes) -> StagedMessage:
        """Stage a small message without a spool file."""

    def remember_view(self, staged: StagedMessage, head: bytes) -> None:
        """Keep the filter's view of a message staged in the store's spool."""


class MemoryFirstWriter:
    """A ``SpoolWriter`` that keeps a small message in memory and spills a large one to the
    store's spool as it streams. A small message then costs no spool file and no spool fsync:
    the append's own fsync makes it durable (the 250 still waits for that).

    With a filter configured, a spilled message's first ``2 * FILTER_VIEW_LIMIT`` octets stay
    in memory too (trimmed at ``finish`` to the filter's view): the store's spool cannot be
    read back through the store API."""

    def __init__(self, owner: StagingOwner) -> None:
        self._owner = owner
        self._buffer: list[bytes] | None = []
        self._size = 0
        self._spill: SpoolWriter | None = None
        self._head: list[bytes] | None = None
        self._head_size = 0

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._spill is not None:
            self._keep_head(data)
            self._spill.write(data)
            return
        assert self._buffer is not None
        self._buffer.append(data)
        if self._size > self._owner.memory_limit:
            self._spill = self._owner.store.spool()
            if self._owner.filter is not None:
                self._head = []
            for chunk in self._buffer:
                self._keep_head(chunk)
                self._spill.write(chunk)
            self._buffer = None

    def _keep_head(self, data: bytes) -> None:
        room = 2 * FILTER_VIEW_LIMIT - self._head_size
        if self._head is not None and room > 0:
            self._head.append(data[:room])
            self._head_size += min(room, len(data))

    async def finish(self) -> StagedMessage:
        if self._spill is not None:
            staged = await self._spill.finish()
            if self._head is not None:
                self._owner.remember_view(staged, b"".join(self._head))
            return staged
        assert self._buffer is not None
        return self._owner.stage_in_memory(b"".join(self._buffer))

    def abort(self) -> None:
        if self._spill is not None:
            self._spill.abort()
        self._buffer = None
        self._head = None
