"""Typed IMAP server responses and the one serializer (RFC 3501 7, 9).

Handlers build these values; ``serialize_chunks`` (or ``serialize``) is the only place where
response octets are made, so quoting, literals and NIL are decided once. Response codes are
those of RFC 3501 7.1, RFC 5530 (the error codes), RFC 4315 (APPENDUID, COPYUID,
UIDNOTSTICKY), RFC 7162 (HIGHESTMODSEQ, NOMODSEQ, MODIFIED, CLOSED), RFC 9208 (OVERQUOTA),
RFC 6154 (USEATTR) and RFC 4469 (TOOBIG).

Untagged data: CAPABILITY, LIST/LSUB, STATUS, SEARCH, ESEARCH (4731), FLAGS, EXISTS,
RECENT, EXPUNGE, VANISHED (7162), FETCH, NAMESPACE (2342), ID (2971), ENABLED (5161),
QUOTA and QUOTAROOT (9208). FETCH data items are typed too; ``UID`` always goes first.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailstore.message import BodyPart, Envelope
from protocols.imap.commands import StatusItem


class Condition(enum.Enum):
    """Status response conditions (RFC 3501 7.1)."""

    OK = "OK"
    NO = "NO"
    BAD = "BAD"
    PREAUTH = "PREAUTH"
    BYE = "BYE"


class CodeKind(enum.Enum):
    """Response codes (RFC 3501 7.1, 5530, 4315, 7162, 9208, 6154, 4469)."""

    ALERT = "ALERT"
    BADCHARSET = "BADCHARSET"
    CAPABILITY = "CAPABILITY"
    PARSE = "PARSE"
    PERMANENTFLAGS = "PERMANENTFLAGS"
    READ_ONLY = "READ-ONLY"
    READ_WRITE = "READ-WRITE"
    TRYCREATE = "TRYCREATE"
    UIDNEXT = "UIDNEXT"
    UIDVALIDITY = "UIDVALIDITY"
    UNSEEN = "UNSEEN"
    APPENDUID = "APPENDUID"
    COPYUID = "COPYUID"
    UIDNOTSTICKY = "UIDNOTSTICKY"
    HIGHESTMODSEQ = "HIGHESTMODSEQ"
    NOMODSEQ = "NOMODSEQ"
    MODIFIED = "MODIFIED"
    CLOSED = "CLOSED"
    OVERQUOTA = "OVERQUOTA"
    NONEXISTENT = "NONEXISTENT"
    ALREADYEXISTS = "ALREADYEXISTS"
    CANNOT = "CANNOT"
    LIMIT = "LIMIT"
    INUSE = "INUSE"
    SERVERBUG = "SERVERBUG"
    CLIENTBUG = "CLIENTBUG"
    AUTHENTICATIONFAILED = "AUTHENTICATIONFAILED"
    AUTHORIZATIONFAILED = "AUTHORIZATIONFAILED"
    EXPIRED = "EXPIRED"
    PRIVACYREQUIRED = "PRIVACYREQUIRED"
    UNAVAILABLE = "UNAVAILABLE"
    CONTACTADMIN = "CONTACTADMIN"
    NOPERM = "NOPERM"
    EXPUNGEISSUED = "EXPUNGEISSUED"
    CORRUPTION = "CORRUPTION"
    USEATTR = "USEATTR"
    TOOBIG = "TOOBIG"


@dataclass(frozen=True, slots=True)
class SimpleCode:
    """A code without data: ``[ALERT]``, ``[TRYCREATE]``, ``[OVERQUOTA]`` ..."""

    kind: CodeKind


@dataclass(frozen=True, slots=True)
class NumberCode:
    """``[UIDNEXT n]``, ``[UIDVALIDITY n]``, ``[UNSEEN n]``, ``[HIGHESTMODSEQ n]``."""

    kind: CodeKind
    value: int


@dataclass(frozen=True, slots=True)
class AtomsCode:
    """``[CAPABILITY a b]``, ``[PERMANENTFLAGS (a b)]``, ``[BADCHARSET (a b)]``."""

    kind: CodeKind
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppendUidCode:
    """``[APPENDUID uidvalidity uid-set]`` (RFC 4315 3)."""

    uidvalidity: int
    uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CopyUidCode:
    """``[COPYUID uidvalidity source-set dest-set]`` (RFC 4315 3), sets in matching order."""

    uidvalidity: int
    source: tuple[int, ...]
    dest: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ModifiedCode:
    """``[MODIFIED set]`` (RFC 7162 3.1.3): messages STORE did not change."""

    numbers: tuple[int, ...]


ResponseCode = SimpleCode | NumberCode | AtomsCode | AppendUidCode | CopyUidCode | ModifiedCode


@dataclass(frozen=True, slots=True)
class StatusResponse:
    """``tag OK/NO/BAD [code] text`` or untagged (``tag=None``) OK/NO/BAD/PREAUTH/BYE."""

    condition: Condition
    text: str
    tag: bytes | None = None
    code: ResponseCode | None = None


@dataclass(frozen=True, slots=True)
class Continuation:
    """``+ text``, or ``+ base64`` for an AUTHENTICATE ``challenge`` (RFC 3501 7.5)."""

    text: str = "Ready"
    challenge: bytes | None = None


@dataclass(frozen=True, slots=True)
class CapabilityData:
    """``* CAPABILITY IMAP4rev1 ...`` (RFC 3501 7.2.1)."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListData:
    """``* LIST (attrs) "/" name [extended]`` (RFC 3501 7.2.2, RFC 5258 3, RFC 6154).

    ``childinfo`` gives the ``CHILDINFO`` extended item (RFC 5258 3.5); ``old_name`` the
    ``OLDNAME`` item (RFC 5465); ``lsub`` makes it an LSUB line.
    """

    name: str
    attributes: tuple[str, ...] = ()
    separator: str | None = "/"
    lsub: bool = False
    childinfo: tuple[str, ...] = ()
    old_name: str | None = None
    utf8: bool = False


@dataclass(frozen=True, slots=True)
class StatusData:
    """``* STATUS name (MESSAGES n ...)`` (RFC 3501 7.2.4)."""

    mailbox: str
    items: tuple[tuple[StatusItem, int], ...]
    utf8: bool = False


@dataclass(frozen=True, slots=True)
class SearchData:
    """``* SEARCH n ...`` with ``(MODSEQ n)`` under CONDSTORE (RFC 3501 7.2.5, 7162 3.1.5)."""

    numbers: tuple[int, ...]
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class ESearchData:
    """``* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]`` (RFC 4731 3.1)."""

    tag: bytes | None
    uid: bool = False
    min: int | None = None
    max: int | None = None
    count: int | None = None
    all: tuple[int, ...] | None = None
    modseq: int | None = None


@dataclass(frozen=True, slots=True)
class FlagsData:
    """``* FLAGS (...)`` (RFC 3501 7.2.6)."""

    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExistsData:
    """``* n EXISTS`` (RFC 3501 7.3.1)."""

    count: int


@dataclass(frozen=True, slots=True)
class RecentData:
    """``* n RECENT`` (RFC 3501 7.3.2)."""

    count: int


@dataclass(frozen=True, slots=True)
class ExpungeData:
    """``* n EXPUNGE`` (RFC 3501 7.4.1)."""

    sequence: int


@dataclass(frozen=True, slots=True)
class VanishedData:
    """``* VANISHED [(EARLIER)] uid-set`` (RFC 7162 3.2.10)."""

    uids: tuple[int, ...]
    earlier: bool = False


@dataclass(frozen=True, slots=True)
class UidItem:
    """FETCH ``UID n``."""

    uid: int


@dataclass(frozen=True, slots=True)
class FlagsItem:
    """FETCH ``FLAGS (...)`` (the session adds ``\\Recent``)."""

    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InternalDateItem:
    """FETCH ``INTERNALDATE "dd-Mon-yyyy hh:mm:ss +zzzz"``."""

    timestamp: float
    utc_offset_minutes: int = 0


@dataclass(frozen=True, slots=True)
class SizeItem:
    """FETCH ``RFC822.SIZE n``."""

    size: int


@dataclass(frozen=True, slots=True)
class EnvelopeItem:
    """FETCH ``ENVELOPE (...)``."""

    envelope: Envelope


@dataclass(frozen=True, slots=True)
class BodyStructureItem:
    """FETCH ``BODY (...)`` or, with ``extended``, ``BODYSTRUCTURE (...)``."""

    body: BodyPart
    extended: bool = True


@dataclass(frozen=True, slots=True)
class ExternalLiteral:
    """Literal data the transport streams itself (``source`` is opaque to the serializer)."""

    size: int
    source: object


@dataclass(frozen=True, slots=True)
class SectionItem:
    """FETCH body data: ``name`` is ``BODY[...]<origin>``, ``RFC822``, ``RFC822.TEXT`` ...

    ``data`` is sent as a literal (NIL for None); ``BodySection.response_name()`` gives the
    name for a BODY[section] request.
    """

    name: bytes
    data: bytes | ExternalLiteral | None


@dataclass(frozen=True, slots=True)
class ModSeqItem:
    """FETCH ``MODSEQ (n)`` (RFC 7162 3.1.4.1)."""

    modseq: int


FetchValue = (
    UidItem
    | FlagsItem
    | InternalDateItem
    | SizeItem
    | EnvelopeItem
    | BodyStructureItem
    | SectionItem
    | ModSeqItem
)


@dataclass(frozen=True, slots=True)
class FetchData:
    """``* n FETCH (...)`` (RFC 3501 7.4.2)."""

    sequence: int
    items: tuple[FetchValue, ...]


@dataclass(frozen=True, slots=True)
class FetchLines:
    """Untagged ``* n FETCH (...)`` lines already made, CRLF included (``fetchlines``: the
    FETCH of view-only items writes a batch of messages at once)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class NamespaceData:
    """``* NAMESPACE personal other shared`` (RFC 2342 5); each ``(prefix, separator)``."""

    personal: tuple[tuple[str, str | None], ...] = (("", "/"),)
    other: tuple[tuple[str, str | None], ...] = ()
    shared: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class IdData:
    """``* ID (...)`` or ``* ID NIL`` (RFC 2971 3.2)."""

    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True, slots=True)
class EnabledData:
    """``* ENABLED ...`` (RFC 5161 3.2)."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuotaResource:
    """One resource of a QUOTA response: STORAGE in KiB, MESSAGE in messages."""

    name: str
    usage: int
    limit: int


@dataclass(frozen=True, slots=True)
class QuotaData:
    """``* QUOTA root (STORAGE used limit ...)`` (RFC 9208 5.1)."""

    root: str
    resources: tuple[QuotaResource, ...]


@dataclass(frozen=True, slots=True)
class QuotaRootData:
    """``* QUOTAROOT mailbox root ...`` (RFC 9208 5.2)."""

    mailbox: str
    roots: tuple[str, ...]
    utf8: bool = False


Response = (
    StatusResponse
    | Continuation
    | CapabilityData
    | ListData
    | StatusData
    | SearchData
    | ESearchData
    | FlagsData
    | ExistsData
    | RecentData
    | ExpungeData
    | VanishedData
    | FetchData
    | FetchLines
    | NamespaceData
    | IdData
    | EnabledData
    | QuotaData
    | QuotaRootData
)


def serialize(response: Response) -> bytes:
    """The octets of one response, CRLF included (no ``ExternalLiteral`` allowed)."""
    from protocols.imap.grammar.writer import serialize_chunks  # import cycle

    chunks = serialize_chunks(response)
    if any(isinstance(chunk, ExternalLiteral) for chunk in chunks):
        raise ValueError("response holds an external literal: use serialize_chunks")
    return b"".join(chunk for chunk in chunks if isinstance(chunk, bytes))
