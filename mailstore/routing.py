"""The filter hook of local delivery: what a filter sees of a message and what it answers.

``LocalDelivery`` (``mailstore.delivery``) calls a ``DeliveryFilter`` once per recipient with a
``MessageView`` and files the copy as the returned ``Routing`` says. ``sieve.delivery`` is the
filter that runs users' Sieve scripts; nothing here knows Sieve.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mailstore.types import StagedMessage

if TYPE_CHECKING:
    from mailstore.aliases import Recipient
    from mailstore.delivery import DeliveryEnvelope, DeliveryResult

FILTER_VIEW_LIMIT = 1024 * 1024
"""The filter sees whole messages up to this size; of a larger one, the header block (itself
cut at this size) and the first ``FILTER_VIEW_LIMIT`` octets of the body: Sieve ``body``
tests on a bigger message see only its first MiB."""


@dataclass(frozen=True, slots=True)
class MessageView:
    """What a filter may read of a staged message: all of it when ``complete``, else the
    header block and the first ``FILTER_VIEW_LIMIT`` octets of the body (CRLF line ends)."""

    staged: StagedMessage
    data: bytes
    complete: bool


@dataclass(frozen=True, slots=True)
class Filing:
    """File one copy into ``mailbox`` with ``flags``; ``create`` the mailbox if missing."""

    mailbox: str
    flags: tuple[str, ...] = ()
    create: bool = False


@dataclass(frozen=True, slots=True)
class Stored:
    """The copies a delivery made, handed to ``Routing.after``.

    ``read()`` returns the whole original message (without this hop's trace headers),
    read back from the first stored copy, or None when nothing was stored.
    """

    results: tuple[DeliveryResult, ...]
    read: Callable[[], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class Routing:
    """A filter's answer for one recipient.

    ``targets`` empty and ``refusal`` None: discarded (counts as delivered). ``refusal``:
    the recipient refuses the message (nothing is filed). ``after`` runs once every target
    is filed (redirects of large messages, vacation replies, history); its failures are
    logged and never undo the delivery.
    """

    targets: tuple[Filing, ...]
    refusal: str | None = None
    after: Callable[[Stored], Awaitable[None]] | None = None


class DeliveryFilter(Protocol):
    """THE SIEVE HOOK: decides where one recipient's copy goes (``sieve.delivery``).

    Called once per recipient with the mailbox the default rule chose (INBOX, or the
    ``+detail`` mailbox). Returns a ``Routing``, or simply the mailbox names to file into
    (an empty sequence discards). A mailbox that does not exist (and is not to be created)
    falls back to INBOX. An exception means: file into the default mailbox, and log.
    """

    async def __call__(
        self,
        message: MessageView,
        envelope: DeliveryEnvelope,
        recipient: Recipient,
        default_mailbox: str,
    ) -> Routing | Sequence[str]: ...


def filter_view(head: bytes, size: int) -> bytes:
    """The part of a message (whose first octets are ``head``) a filter sees: the header
    block, cut at ``FILTER_VIEW_LIMIT``, then up to ``FILTER_VIEW_LIMIT`` body octets."""
    if size <= FILTER_VIEW_LIMIT:
        return head[:size]
    end = head.find(b"\r\n\r\n", 0, FILTER_VIEW_LIMIT + 4)
    header_end = FILTER_VIEW_LIMIT if end < 0 else end + 4
    return head[: header_end + FILTER_VIEW_LIMIT]
