"""Typed IMAP commands: one frozen dataclass per command, with the states it is valid in.

RFC 3501 3 (states) and 6 (commands), plus the extensions mailstack serves: IDLE (2177),
UIDPLUS (4315: UID EXPUNGE), MOVE (6851), NAMESPACE (2342), ID (2971), ENABLE (5161),
UNSELECT (3691), QUOTA (9208), CONDSTORE/QRESYNC (7162), ESEARCH (4731), LIST-EXTENDED
(5258), LIST-STATUS (5819), SPECIAL-USE (6154), SASL-IR (4959).

The grammar (``protocols.imap.grammar.commands``) builds these; handlers check
``valid_in`` against the session state before doing anything. The UID forms of FETCH,
STORE, COPY, MOVE, SEARCH and EXPUNGE are the same class with ``uid=True``.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import ClassVar

from mailstore.types import FlagMode
from protocols.imap.framing import StreamedLiteral
from protocols.imap.grammar.fetch import FetchItem, FetchModifiers
from protocols.imap.grammar.search import ReturnOpt, SearchKey
from protocols.imap.grammar.sequence import SequenceSet


class SessionState(enum.Enum):
    """RFC 3501 3."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY_STATE = frozenset(
    {SessionState.NOT_AUTHENTICATED, SessionState.AUTHENTICATED, SessionState.SELECTED}
)
NOT_AUTHENTICATED = frozenset({SessionState.NOT_AUTHENTICATED})
AUTHENTICATED = frozenset({SessionState.AUTHENTICATED, SessionState.SELECTED})
SELECTED = frozenset({SessionState.SELECTED})


class StatusItem(enum.Enum):
    """STATUS data items (RFC 3501 6.3.10, RFC 7162 3.1.6 HIGHESTMODSEQ, RFC 8438 SIZE)."""

    MESSAGES = "MESSAGES"
    RECENT = "RECENT"
    UIDNEXT = "UIDNEXT"
    UIDVALIDITY = "UIDVALIDITY"
    UNSEEN = "UNSEEN"
    HIGHESTMODSEQ = "HIGHESTMODSEQ"
    SIZE = "SIZE"


class ListSelect(enum.Enum):
    """LIST selection options (RFC 5258 3.1, RFC 6154 5.1)."""

    SUBSCRIBED = "SUBSCRIBED"
    REMOTE = "REMOTE"
    RECURSIVEMATCH = "RECURSIVEMATCH"
    SPECIAL_USE = "SPECIAL-USE"


class ListReturn(enum.Enum):
    """LIST return options (RFC 5258 3.2, RFC 5819, RFC 6154 5.1)."""

    SUBSCRIBED = "SUBSCRIBED"
    CHILDREN = "CHILDREN"
    SPECIAL_USE = "SPECIAL-USE"
    STATUS = "STATUS"


@dataclass(frozen=True, slots=True)
class QResync:
    """SELECT/EXAMINE ``(QRESYNC (uidvalidity modseq [known-uids [seq-match]]))`` (7162 3.2.5)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    known_sequence: SequenceSet | None = None
    known_sequence_uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Capability:
    """CAPABILITY (RFC 3501 6.1.1)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = ANY_STATE


@dataclass(frozen=True, slots=True)
class Noop:
    """NOOP (RFC 3501 6.1.2)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = ANY_STATE


@dataclass(frozen=True, slots=True)
class Logout:
    """LOGOUT (RFC 3501 6.1.3)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = ANY_STATE


@dataclass(frozen=True, slots=True)
class Id:
    """ID (RFC 2971): field/value pairs, or None for ``ID NIL``."""

    tag: bytes
    params: tuple[tuple[str, str | None], ...] | None
    valid_in: ClassVar[frozenset[SessionState]] = ANY_STATE


@dataclass(frozen=True, slots=True)
class StartTls:
    """STARTTLS (RFC 3501 6.2.1)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = NOT_AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Authenticate:
    """AUTHENTICATE (RFC 3501 6.2.2); ``initial_response`` is the SASL-IR base64 text (4959)."""

    tag: bytes
    mechanism: str
    initial_response: bytes | None = field(default=None, repr=False)
    valid_in: ClassVar[frozenset[SessionState]] = NOT_AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Login:
    """LOGIN (RFC 3501 6.2.3); the password never appears in a repr."""

    tag: bytes
    username: str
    password: bytes = field(repr=False)
    valid_in: ClassVar[frozenset[SessionState]] = NOT_AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Enable:
    """ENABLE (RFC 5161), capability names upper-cased."""

    tag: bytes
    capabilities: tuple[str, ...]
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Select:
    """SELECT (RFC 3501 6.3.1) with CONDSTORE / QRESYNC parameters (RFC 7162)."""

    tag: bytes
    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Examine:
    """EXAMINE (RFC 3501 6.3.2): SELECT, read-only."""

    tag: bytes
    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Create:
    """CREATE (RFC 3501 6.3.3), with ``USE (...)`` special-use attributes (RFC 6154 3)."""

    tag: bytes
    mailbox: str
    special_use: tuple[str, ...] = ()
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Delete:
    """DELETE (RFC 3501 6.3.4)."""

    tag: bytes
    mailbox: str
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Rename:
    """RENAME (RFC 3501 6.3.5)."""

    tag: bytes
    mailbox: str
    new_name: str
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Subscribe:
    """SUBSCRIBE (RFC 3501 6.3.6)."""

    tag: bytes
    mailbox: str
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """UNSUBSCRIBE (RFC 3501 6.3.7)."""

    tag: bytes
    mailbox: str
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class List:
    """LIST (RFC 3501 6.3.8; RFC 5258 extended form; RFC 5819 RETURN (STATUS ...))."""

    tag: bytes
    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[ListSelect] = frozenset()
    returns: frozenset[ListReturn] = frozenset()
    status_items: tuple[StatusItem, ...] = ()
    extended: bool = False
    """The client used the RFC 5258 syntax (selection or return options, or a pattern list)."""
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Lsub:
    """LSUB (RFC 3501 6.3.9)."""

    tag: bytes
    reference: str
    pattern: str
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Status:
    """STATUS (RFC 3501 6.3.10)."""

    tag: bytes
    mailbox: str
    items: tuple[StatusItem, ...]
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Append:
    """APPEND (RFC 3501 6.3.11); ``message`` is a placeholder when the literal was streamed."""

    tag: bytes
    mailbox: str
    flags: tuple[str, ...]
    date: dt.datetime | None
    message: bytes | StreamedLiteral = field(repr=False)
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Namespace:
    """NAMESPACE (RFC 2342)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Idle:
    """IDLE (RFC 2177)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class GetQuota:
    """GETQUOTA (RFC 9208 4.2)."""

    tag: bytes
    root: str
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class GetQuotaRoot:
    """GETQUOTAROOT (RFC 9208 4.3)."""

    tag: bytes
    mailbox: str
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class SetQuota:
    """SETQUOTA (RFC 9208 4.1): resource names upper-cased with their limits."""

    tag: bytes
    root: str
    limits: tuple[tuple[str, int], ...]
    valid_in: ClassVar[frozenset[SessionState]] = AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Check:
    """CHECK (RFC 3501 6.4.1)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Close:
    """CLOSE (RFC 3501 6.4.2)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Unselect:
    """UNSELECT (RFC 3691)."""

    tag: bytes
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Expunge:
    """EXPUNGE (RFC 3501 6.4.3); UID EXPUNGE with ``uids`` (RFC 4315 2.1)."""

    tag: bytes
    uid: bool = False
    uids: SequenceSet | None = None
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Search:
    """SEARCH / UID SEARCH (RFC 3501 6.4.4); ``returns`` set for ESEARCH (RFC 4731)."""

    tag: bytes
    key: SearchKey
    uid: bool = False
    charset: str | None = None
    returns: frozenset[ReturnOpt] | None = None
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Fetch:
    """FETCH / UID FETCH (RFC 3501 6.4.5, 6.4.8; RFC 7162 modifiers)."""

    tag: bytes
    sequence_set: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    modifiers: FetchModifiers = field(default_factory=FetchModifiers)
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Store:
    """STORE / UID STORE (RFC 3501 6.4.6; UNCHANGEDSINCE, RFC 7162 3.1.3)."""

    tag: bytes
    sequence_set: SequenceSet
    mode: FlagMode
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchanged_since: int | None = None
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Copy:
    """COPY / UID COPY (RFC 3501 6.4.7)."""

    tag: bytes
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


@dataclass(frozen=True, slots=True)
class Move:
    """MOVE / UID MOVE (RFC 6851)."""

    tag: bytes
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False
    valid_in: ClassVar[frozenset[SessionState]] = SELECTED


Command = (
    Capability
    | Noop
    | Logout
    | Id
    | StartTls
    | Authenticate
    | Login
    | Enable
    | Select
    | Examine
    | Create
    | Delete
    | Rename
    | Subscribe
    | Unsubscribe
    | List
    | Lsub
    | Status
    | Append
    | Namespace
    | Idle
    | GetQuota
    | GetQuotaRoot
    | SetQuota
    | Check
    | Close
    | Unselect
    | Expunge
    | Search
    | Fetch
    | Store
    | Copy
    | Move
)
