"""Storage errors as one neutral enum, mapped to a reply by each protocol.

The store never formats a message for a client: it raises ``StoreError(kind)``
and each protocol has a table from kind to its own reply (IMAP ``[OVERQUOTA]``,
LMTP ``552 5.2.2``, POP3 ``-ERR [IN-USE]`` ...). The ``detail`` is for the log only.
"""

from __future__ import annotations

import enum


class StoreErrorKind(enum.Enum):
    """Why a storage operation failed, independent of any protocol."""

    NOT_FOUND = "not-found"
    """The mailbox, message or user does not exist."""
    ALREADY_EXISTS = "already-exists"
    """A mailbox of that name exists already."""
    INVALID_NAME = "invalid-name"
    """A mailbox name is malformed, hostile or too long."""
    NOT_ALLOWED = "not-allowed"
    """The operation is not allowed on this object (e.g. deleting INBOX)."""
    HAS_CHILDREN = "has-children"
    """The mailbox has inferior mailboxes that prevent the operation."""
    OVER_QUOTA = "over-quota"
    """The operation would exceed the user's storage or message quota."""
    IN_USE = "in-use"
    """The object is locked by another session (e.g. a POP3 maildrop)."""
    TOO_LARGE = "too-large"
    """The message is larger than the store accepts."""
    TEMPORARY = "temporary"
    """A transient failure (disk full, lock timeout): retrying may succeed."""
    INTERNAL = "internal"
    """A bug or an unexpected state; the log has the detail."""


class StoreError(Exception):
    """A storage failure of a given kind. ``detail`` goes to the log, never to a client."""

    def __init__(self, kind: StoreErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail
