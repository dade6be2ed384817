"""IMAP command handlers, grouped by the state they run in (RFC 3501 6).

Every handler is ``async def handle_x(cmd, ...) -> HandlerResult``: it checks nothing about
the session state (the session did, from ``cmd.valid_in``), calls the store, and describes
the answer. The session sends ``untagged`` in order, then the tagged ``status [tagged] text``.
Storage errors are mapped through ``protocols.imap.storemap``; a handler may also simply let
``StoreError`` escape and the session maps it (with a fixed text). ``InvalidSequence`` from
``SelectedMailbox.resolve`` escaping a handler becomes ``BAD Invalid sequence set``.

Large literals: a ``SectionItem`` may carry ``ExternalLiteral(size, source)`` whose
``source`` implements ``LiteralSource``; the session streams its chunks to the transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from mailstore.errors import StoreError
from protocols.imap.responses import Response, ResponseCode
from protocols.imap.storemap import store_code, store_reply


class LiteralSource(Protocol):
    """The ``source`` of an ``ExternalLiteral``: yields exactly ``size`` octets in chunks."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The literal's octets, in order, in chunks of any size."""
        ...


@dataclass(slots=True)
class HandlerResult:
    """What a handler answers: untagged responses, then the tagged status (RFC 3501 7.1)."""

    untagged: list[Response] = field(default_factory=list)
    tagged: ResponseCode | None = None
    """The response code of the tagged reply (``[APPENDUID ...]``, ``[TRYCREATE]``)."""
    status: Literal["OK", "NO", "BAD"] = "OK"
    text: str = "completed"


def ok(
    text: str = "completed",
    *,
    code: ResponseCode | None = None,
    untagged: list[Response] | None = None,
) -> HandlerResult:
    """A tagged OK with optional code and untagged responses."""
    return HandlerResult(untagged or [], code, "OK", text)


def no(
    text: str, *, code: ResponseCode | None = None, untagged: list[Response] | None = None
) -> HandlerResult:
    """A tagged NO with a fixed text."""
    return HandlerResult(untagged or [], code, "NO", text)


def bad(text: str, *, code: ResponseCode | None = None) -> HandlerResult:
    """A tagged BAD with a fixed text."""
    return HandlerResult([], code, "BAD", text)


def from_store_error(error: StoreError, *, trycreate: bool = False) -> HandlerResult:
    """The tagged NO for a storage error, through the ``storemap`` table (fixed texts)."""
    reply = store_reply(error, trycreate=trycreate)
    return HandlerResult([], store_code(reply), reply.status, reply.text)


__all__ = ["HandlerResult", "LiteralSource", "bad", "from_store_error", "no", "ok"]
