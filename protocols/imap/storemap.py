"""Storage errors → IMAP tagged replies (RFC 5530 response codes, RFC 9208 OVERQUOTA).

The store raises ``StoreError(kind)`` and never words anything for a client; this table is
the only place that decides what an IMAP client sees. Texts are fixed; the detail of the
error goes to the log only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailstore.errors import StoreError, StoreErrorKind
from protocols.imap.responses import CodeKind, SimpleCode


@dataclass(frozen=True, slots=True)
class StoreReply:
    """How one storage error kind is answered."""

    status: Literal["NO", "BAD"]
    code: CodeKind | None
    text: str


_TABLE: dict[StoreErrorKind, StoreReply] = {
    StoreErrorKind.NOT_FOUND: StoreReply("NO", CodeKind.NONEXISTENT, "No such mailbox"),
    StoreErrorKind.ALREADY_EXISTS: StoreReply(
        "NO", CodeKind.ALREADYEXISTS, "Mailbox already exists"
    ),
    StoreErrorKind.INVALID_NAME: StoreReply("NO", CodeKind.CANNOT, "Invalid mailbox name"),
    StoreErrorKind.NOT_ALLOWED: StoreReply("NO", CodeKind.CANNOT, "Operation not allowed"),
    StoreErrorKind.HAS_CHILDREN: StoreReply(
        "NO", CodeKind.INUSE, "Mailbox has inferior hierarchical names"
    ),
    StoreErrorKind.OVER_QUOTA: StoreReply("NO", CodeKind.OVERQUOTA, "Quota exceeded"),
    StoreErrorKind.IN_USE: StoreReply("NO", CodeKind.INUSE, "Mailbox is in use"),
    StoreErrorKind.TOO_LARGE: StoreReply("NO", CodeKind.TOOBIG, "Message too large"),
    StoreErrorKind.TEMPORARY: StoreReply(
        "NO", CodeKind.UNAVAILABLE, "Temporary failure, try again later"
    ),
    StoreErrorKind.INTERNAL: StoreReply("NO", CodeKind.SERVERBUG, "Internal server error"),
}


def store_reply(error: StoreError, *, trycreate: bool = False) -> StoreReply:
    """The reply for ``error``; ``trycreate`` turns NOT_FOUND into ``[TRYCREATE]``.

    RFC 3501 6.3.11 / 6.4.7: APPEND and COPY to a missing mailbox answer ``NO [TRYCREATE]``.
    """
    if trycreate and error.kind is StoreErrorKind.NOT_FOUND:
        return StoreReply("NO", CodeKind.TRYCREATE, "Mailbox does not exist")
    return _TABLE[error.kind]


def store_code(reply: StoreReply) -> SimpleCode | None:
    """The response code of ``reply`` as a response value."""
    return None if reply.code is None else SimpleCode(reply.code)


__all__ = ["StoreReply", "store_code", "store_reply"]
