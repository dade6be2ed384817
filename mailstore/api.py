"""The storage API every protocol calls: Store → Account → Mailbox.

It is asynchronous (``async def``, usable from Twisted through ``Deferred.fromCoroutine``)
so that a networked backend can replace the Maildir one without touching protocols.
Nothing here names a path; errors are ``StoreError(kind)`` (``mailstore.errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from mailstore.message import MessageMeta
from mailstore.types import (
    AppendResult,
    ChangeEvent,
    CopyResult,
    FlagMode,
    MailboxInfo,
    MailboxSnapshot,
    MailboxStatus,
    QuotaLimits,
    QuotaUsage,
    SpecialUse,
    StagedMessage,
    StoreFlagsResult,
)

ChangeListener = Callable[[ChangeEvent], None]
Unsubscribe = Callable[[], None]
ReadRange = tuple[int, int, int | None]
"""``(uid, start, length)``: octets ``[start, start+length)`` of a message's CRLF form
(``length`` None: to its end), one request of ``Mailbox.read_many``."""


class UserDirectory(Protocol):
    """What the store needs to know about users (implemented by ``mailstore.accounts``)."""

    def home(self, user: str) -> Path:
        """The user's home directory; the Maildir and the index live under it."""

    def quota_limits(self, user: str) -> QuotaLimits:
        """The user's current quota limits."""


class SpoolWriter(Protocol):
    """Receives a message as it arrives (LMTP DATA/BDAT, IMAP APPEND literal)."""

    def write(self, data: bytes) -> None:
        """Add bytes (CRLF line ends) to the spooled message."""

    async def finish(self) -> StagedMessage:
        """Flush and fsync; the staged message is then durable."""

    def abort(self) -> None:
        """Drop what was written; nothing remains on disk."""


class Mailbox(Protocol):
    """An open mailbox of one account. Cheap to hold; every call syncs with the disk as needed."""

    @property
    def name(self) -> str: ...

    async def snapshot(self, *, claim_recent: bool = False) -> MailboxSnapshot:
        """Sync with the disk (new/removed/renamed files) and return the current state.

        With ``claim_recent`` the messages nobody has claimed yet become recent for this
        caller (IMAP SELECT); ``first_recent_uid`` tells which.
        """

    async def status(self) -> MailboxStatus:
        """Counters for STATUS; syncs like ``snapshot``."""

    async def append(
        self,
        message: bytes | StagedMessage,
        *,
        flags: Iterable[str] = (),
        internal_date: float | None = None,
        prefix: bytes = b"",
        origin: object | None = None,
        crlf: bool = False,
    ) -> AppendResult:
        """Store a message durably (fsync file and directory) and give it the next UID.

        ``prefix`` (e.g. ``Return-Path``/``Delivered-To`` lines) is written before the message.
        ``crlf``: the caller vouches that the (in-memory) message has no bare LF, as LMTP's
        DATA decoder guarantees, so the store need not check it again.
        Raises ``OVER_QUOTA`` when the user's quota would be exceeded.
        """

    async def metadata(self, uids: Sequence[int]) -> dict[int, MessageMeta]:
        """Cached per-message metadata (envelope, body structure, header block, sizes)."""

    async def read(self, uid: int, start: int = 0, length: int | None = None) -> bytes:
        """The message (CRLF line ends) or the byte range ``[start, start+length)`` of it."""

    async def read_many(self, ranges: Sequence[ReadRange]) -> list[bytes | None]:
        """``read`` of each range, in order, as one call (one trip to the backend).

        None where the message is no longer in the store (RFC 2180 4.1: the caller decides
        what a vanished message means). Meant for many small reads (FETCH and SEARCH of
        many messages); the caller bounds the octets asked for at once.
        """

    async def store_flags(
        self,
        uids: Sequence[int],
        mode: FlagMode,
        flags: Iterable[str],
        *,
        unchanged_since: int | None = None,
        origin: object | None = None,
    ) -> StoreFlagsResult:
        """Change flags; messages whose modseq is above ``unchanged_since`` are left alone."""

    async def expunge(
        self, uids: Sequence[int] | None = None, *, origin: object | None = None
    ) -> tuple[int, ...]:
        """Remove ``\\Deleted`` messages (only those among ``uids`` if given); the removed UIDs."""

    async def copy(
        self, uids: Sequence[int], dest: str, *, origin: object | None = None
    ) -> CopyResult:
        """Copy messages (flags kept) to mailbox ``dest``; all or nothing."""

    async def move(
        self, uids: Sequence[int], dest: str, *, origin: object | None = None
    ) -> CopyResult:
        """Copy then expunge the sources; the client never sees a half-moved state."""

    def subscribe(self, listener: ChangeListener) -> Unsubscribe:
        """Call ``listener`` for every change to this mailbox made in this process."""


class Account(Protocol):
    """One user's mail: mailboxes, subscriptions, quota."""

    @property
    def user(self) -> str: ...

    async def list_mailboxes(self) -> list[MailboxInfo]:
        """Every mailbox, INBOX first, parents before children."""

    async def create_mailbox(self, name: str, special_use: SpecialUse | None = None) -> None:
        """Create a mailbox (and missing parents). ``ALREADY_EXISTS``, ``INVALID_NAME``."""

    async def delete_mailbox(self, name: str) -> None:
        """Delete a mailbox and its messages. INBOX cannot be deleted."""

    async def rename_mailbox(self, old: str, new: str) -> None:
        """Rename with its children; renaming INBOX moves its messages (RFC 3501 6.3.5)."""

    async def subscribe_mailbox(self, name: str) -> None: ...

    async def unsubscribe_mailbox(self, name: str) -> None: ...

    async def subscriptions(self) -> list[str]: ...

    async def mailbox_exists(self, name: str) -> bool: ...

    async def open_mailbox(self, name: str) -> Mailbox:
        """Open an existing mailbox (``NOT_FOUND`` otherwise); ``INBOX`` always exists."""

    async def select(
        self, name: str, *, claim_recent: bool = False
    ) -> tuple[Mailbox, MailboxSnapshot]:
        """``open_mailbox`` and its ``snapshot`` in one store call (IMAP SELECT/EXAMINE)."""

    async def quota(self) -> QuotaUsage:
        """Current usage and limits."""

    async def check_quota(self, size: int, count: int = 1) -> None:
        """Raise ``OVER_QUOTA`` if adding ``count`` messages of ``size`` octets would exceed it."""

    async def recalculate_quota(self) -> QuotaUsage:
        """Recount usage from the mailboxes (``mailstack-admin quota recalc``)."""


class Store(Protocol):
    """The storage layer as a whole."""

    async def account(self, user: str) -> Account:
        """Open (and on first use create) the store of ``user``, a canonical account name."""

    def spool(self) -> SpoolWriter:
        """Start receiving a message that will be appended to one or more mailboxes."""

    def discard(self, staged: StagedMessage) -> None:
        """Forget a staged message once every append of it is done."""

    async def close(self) -> None:
        """Close indexes and wait for pending disk work."""
