"""Values that cross the storage boundary: frozen, slotted, protocol-neutral.

Flags are plain strings in their IMAP spelling (``\\Seen``, ``\\Answered``,
``\\Flagged``, ``\\Deleted``, ``\\Draft``) and keywords as clients name them
(``$Forwarded``, ``Junk``); how they are kept on disk is the backend's business.
``\\Recent`` is not a stored flag: a snapshot says which UIDs are recent.
Mailbox names are ``str`` with ``/`` as the hierarchy separator, ``INBOX`` for the inbox;
modified UTF-7 exists only at the IMAP edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

SEEN = "\\Seen"
ANSWERED = "\\Answered"
FLAGGED = "\\Flagged"
DELETED = "\\Deleted"
DRAFT = "\\Draft"
SYSTEM_FLAGS: frozenset[str] = frozenset({SEEN, ANSWERED, FLAGGED, DELETED, DRAFT})

HIERARCHY_SEPARATOR = "/"
INBOX = "INBOX"


class SpecialUse(enum.Enum):
    """RFC 6154 special-use attributes the store creates and reports."""

    SENT = "\\Sent"
    DRAFTS = "\\Drafts"
    TRASH = "\\Trash"
    JUNK = "\\Junk"
    ARCHIVE = "\\Archive"


class FlagMode(enum.Enum):
    """How ``Mailbox.store_flags`` combines the given flags with the current ones."""

    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    """One entry of ``Account.list_mailboxes``."""

    name: str
    special_use: SpecialUse | None = None
    selectable: bool = True
    """False for a parent that exists only because it has children (``\\Noselect``)."""
    has_children: bool = False
    subscribed: bool = False


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """Per-message state in a snapshot: everything a session tracks per UID."""

    uid: int
    flags: frozenset[str]
    modseq: int
    size: int
    """RFC 822 size: octets with CRLF line ends, what IMAP and POP3 report."""
    internal_date: float
    """Seconds since the epoch (UTC)."""


@dataclass(frozen=True, slots=True)
class MailboxSnapshot:
    """A consistent view of a mailbox at one moment (``Mailbox.snapshot``)."""

    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    messages: tuple[MessageInfo, ...]
    """In ascending UID order; the position + 1 is the IMAP sequence number."""
    first_recent_uid: int = 0
    """UIDs >= this are ``\\Recent`` for the session that claimed them (0: none claimed)."""


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """Counters for IMAP STATUS / LIST-STATUS, cheaper than a snapshot."""

    messages: int
    recent: int
    unseen: int
    uidnext: int
    uidvalidity: int
    highestmodseq: int
    size: int


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an appended or copied message landed (UIDPLUS APPENDUID)."""

    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class CopyResult:
    """UIDPLUS COPYUID data: source UIDs and the UIDs they got in the destination."""

    uidvalidity: int
    source_uids: tuple[int, ...]
    dest_uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlagUpdate:
    """The new state of one message after a flag change."""

    uid: int
    flags: frozenset[str]
    modseq: int


@dataclass(frozen=True, slots=True)
class StoreFlagsResult:
    """Outcome of ``Mailbox.store_flags``."""

    updated: tuple[FlagUpdate, ...]
    """Messages whose flags changed (or were touched), in UID order."""
    modified: tuple[int, ...] = ()
    """UIDs refused by the ``unchanged_since`` guard (CONDSTORE MODIFIED)."""


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """A user's limits; 0 means unlimited."""

    storage_bytes: int = 0
    messages: int = 0


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    """A user's usage beside the limits (RFC 9208 STORAGE is reported in KiB by IMAP)."""

    storage_bytes: int
    messages: int
    limits: QuotaLimits = field(default_factory=QuotaLimits)


@dataclass(frozen=True, slots=True)
class StagedMessage:
    """A message spooled to disk and fsynced, ready to be appended to any number of mailboxes.

    Produced by ``Store.spool()``; opaque to protocols (no path leaks out of the store).
    """

    token: str
    size: int
    """Octets, CRLF line ends."""


class ChangeKind(enum.Enum):
    """What happened in a mailbox (change feed for IDLE and NOOP)."""

    APPENDED = "appended"
    FLAGS = "flags"
    EXPUNGED = "expunged"
    DELETED = "deleted"
    """The mailbox itself was deleted or renamed away."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change in one mailbox of one user, pushed to every subscriber."""

    user: str
    mailbox: str
    kind: ChangeKind
    uids: tuple[int, ...] = ()
    origin: object | None = None
    """Who made the change (an opaque session token), so a session can skip its own echoes."""
