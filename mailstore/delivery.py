"""Local delivery: recipient → quota → filter (Sieve) → store, behind the LMTP server.

``DeliveryAgent`` is what ``protocols.lmtp`` calls; ``LocalDelivery`` implements it over the
account directory and the store. Nothing here knows LMTP: results are neutral values and
storage errors stay ``StoreErrorKind``s, mapped to replies by the protocol.
"""

from __future__ import annotations

import email.utils
import enum
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from twisted.internet import defer
from twisted.logger import Logger

if TYPE_CHECKING:  # runtime import not needed: keeps protocols.lmtp importable on its own
    from mailstore.accounts import AccountDirectory
    from mailstore.aliases import Recipient
    from mailstore.api import Account, Mailbox, SpoolWriter, Store
from mailstore.blocking import run_blocking
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.recent_ids import SeenIds
from mailstore.routing import (
    FILTER_VIEW_LIMIT,
    DeliveryFilter,
    Filing,
    MessageView,
    Routing,
    Stored,
    filter_view,
)
from mailstore.staging import MEMORY_STAGING_LIMIT, MemoryFirstWriter
from mailstore.types import INBOX, AppendResult, QuotaLimits, StagedMessage

__all__ = [
    "FILTER_VIEW_LIMIT",
    "DeliveryAgent",
    "DeliveryEnvelope",
    "DeliveryFilter",
    "DeliveryResult",
    "Filing",
    "LocalDelivery",
    "MessageView",
    "RecipientCheck",
    "RecipientStatus",
    "Routing",
    "Stored",
    "filter_view",
]

log = Logger()
_OPEN_MAILBOXES = 1024
"""Open mailbox handles kept for delivery (an LRU)."""

@dataclass(frozen=True, slots=True)
class DeliveryEnvelope:
    """The SMTP envelope of one transaction (RFC 5321 3.3), shared by its recipients."""

    mail_from: str
    """The reverse-path without brackets; ``""`` for the null sender ``<>``."""
    client_helo: str
    client_address: str
    queue_id: str
    smtputf8: bool
    body_8bit: bool
    message_id: str | None = None
    """The message's Message-ID field, when the header had one (duplicate suppression)."""


class RecipientStatus(enum.Enum):
    """The outcome of checking a recipient at RCPT time."""

    ACCEPTED = "accepted"
    UNKNOWN_USER = "unknown-user"
    OVER_QUOTA = "over-quota"
    TEMPORARY_FAILURE = "temporary-failure"


@dataclass(frozen=True, slots=True)
class RecipientCheck:
    """``recipient`` is set when ``status`` is ``ACCEPTED``.

    An alias can expand to several local users: ``recipient`` is the first, ``also`` the
    others; the LMTP server delivers to each and answers once for the RCPT address.
    """

    status: RecipientStatus
    recipient: Recipient | None
    also: tuple[Recipient, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Where one recipient's copy landed, or why it did not."""

    ok: bool
    mailbox: str | None
    uid: int | None
    error: StoreErrorKind | None
    duplicate: bool = False
    """True when the copy was suppressed as a duplicate (``ok`` is True then)."""
    refusal: str | None = None
    """Set when the recipient's filter refused the message (Sieve ``reject``/``ereject``,
    RFC 5429 2.1): the reason, which LMTP answers as ``550 5.7.1`` for this recipient."""


class DeliveryAgent(Protocol):
    """What the LMTP server calls (RFC 2033: check at RCPT, one result per recipient)."""

    async def check_recipient(self, address: str, size_hint: int | None) -> RecipientCheck:
        """Resolve ``address`` (aliases, ``+detail``) and check quota for ``size_hint`` octets."""

    def spool(self) -> SpoolWriter:
        """A writer that receives the message body as it arrives, with CRLF line ends and
        no bare LF (as LMTP's DATA and BDAT decoders deliver it): it is stored as it is."""

    async def deliver(
        self, staged: StagedMessage, envelope: DeliveryEnvelope, recipient: Recipient
    ) -> DeliveryResult:
        """Store one recipient's copy durably; only then is the result ``ok``."""

    def discard(self, staged: StagedMessage) -> None:
        """Forget the staged message once every recipient has been delivered."""


def _with_quota(
    recipients: list[Recipient], limits: list[QuotaLimits]
) -> tuple[list[Recipient], list[Recipient]]:
    """The recipients, and those of them whose ``limits`` set a quota to check."""
    unlimited = QuotaLimits()
    return recipients, [r for r, q in zip(recipients, limits, strict=True) if q != unlimited]


class LocalDelivery:
    """``DeliveryAgent`` over the account directory and the store (RFC 2033 delivery)."""

    def __init__(
        self,
        accounts: AccountDirectory,
        store: Store,
        *,
        hostname: str,
        quota_at_rcpt: bool = True,
        detail_to_mailbox: bool = True,
        duplicate_window: float = 0.0,
        filter: DeliveryFilter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = accounts
        self.store = store
        self.hostname = hostname
        self.quota_at_rcpt = quota_at_rcpt
        self.detail_to_mailbox = detail_to_mailbox
        self.filter = filter
        self._clock = clock
        self._seen = SeenIds(duplicate_window) if duplicate_window > 0 else None
        self._mailboxes: OrderedDict[tuple[str, str], Mailbox] = OrderedDict()
        self._in_memory: dict[str, bytes] = {}
        self._views: dict[str, bytes] = {}
        self._next_token = 0
        self.memory_limit = MEMORY_STAGING_LIMIT

    async def check_recipient(self, address: str, size_hint: int | None) -> RecipientCheck:
        """Resolve (aliases, ``+detail``) and, if enabled, check quota (RFC 2033 4.2)."""
        try:  # files checked within the last second: no trip to the thread pool
            found = self._resolve_recent(address)
            if found is None:
                found = await run_blocking(self._resolve, address)
            recipients, limited = found
        except StoreError as error:
            log.warn("recipient lookup failed for <{rcpt}>: {e}", rcpt=address, e=error.detail)
            return RecipientCheck(RecipientStatus.TEMPORARY_FAILURE, None)
        if not recipients:
            return RecipientCheck(RecipientStatus.UNKNOWN_USER, None)
        if self.quota_at_rcpt:
            for recipient in limited:
                status = await self._check_quota(recipient, size_hint)
                if status is not None:
                    return RecipientCheck(status, None)
        return RecipientCheck(RecipientStatus.ACCEPTED, recipients[0], tuple(recipients[1:]))

    def _resolve_recent(self, address: str) -> tuple[list[Recipient], list[Recipient]] | None:
        """``_resolve`` from the account files as recently checked, if they were."""
        recent = self.accounts.resolve_recent(address)
        return None if recent is None else _with_quota(*recent)

    def _resolve(self, address: str) -> tuple[list[Recipient], list[Recipient]]:
        """The recipients, and those of them that have a quota to check (blocking)."""
        recipients = self.accounts.resolve(address)
        return _with_quota(recipients, [self.accounts.quota_limits(r.user) for r in recipients])

    async def _check_quota(
        self, recipient: Recipient, size_hint: int | None
    ) -> RecipientStatus | None:
        try:
            account = await self.store.account(recipient.user)
            await account.check_quota(size_hint or 0)
        except StoreError as error:
            if error.kind is StoreErrorKind.OVER_QUOTA:
                return RecipientStatus.OVER_QUOTA
            log.warn("quota check failed for {user}: {e}", user=recipient.user, e=error.detail)
            return RecipientStatus.TEMPORARY_FAILURE
        return None

    def spool(self) -> SpoolWriter:
        """A writer that keeps messages up to ``memory_limit`` in memory, else the store's spool."""
        return MemoryFirstWriter(self)

    def stage_in_memory(self, data: bytes) -> StagedMessage:
        """Stage a small message without a spool file (see ``MemoryFirstWriter``)."""
        self._next_token += 1
        token = f"memory-{self._next_token}"
        self._in_memory[token] = data
        return StagedMessage(token, len(data))

    def remember_view(self, staged: StagedMessage, head: bytes) -> None:
        """Keep the filter's view of a message staged in the store's spool."""
        self._views[staged.token] = filter_view(head, staged.size)

    def view(self, staged: StagedMessage) -> MessageView:
        """What the filter reads of ``staged`` (see ``FILTER_VIEW_LIMIT``)."""
        data = self._in_memory.get(staged.token)
        if data is None:
            data = self._views.get(staged.token, b"")
        data = filter_view(data, staged.size)
        return MessageView(staged, data, complete=len(data) == staged.size)

    def discard(self, staged: StagedMessage) -> None:
        """Forget the staged message (the unlink runs in the thread pool, not on the reactor)."""
        self._views.pop(staged.token, None)
        if self._in_memory.pop(staged.token, None) is not None:
            return
        done = defer.Deferred.fromCoroutine(run_blocking(self.store.discard, staged))
        done.addErrback(lambda failure: log.failure("discarding a staged message", failure))

    async def deliver(
        self, staged: StagedMessage, envelope: DeliveryEnvelope, recipient: Recipient
    ) -> DeliveryResult:
        """File one recipient's copy with its own trace headers; OVER_QUOTA and the like
        come back as ``DeliveryResult(ok=False, error=kind)``, never as exceptions; a filter's
        refusal as ``DeliveryResult(ok=False, refusal=reason)``."""
        try:
            account = await self.store.account(recipient.user)
            default = await self._default_mailbox(account, recipient)
            routing = Routing((Filing(default),))
            if self.filter is not None:
                routing = await self._route(staged, envelope, recipient, default)
            if routing.refusal is not None:
                return DeliveryResult(False, None, None, None, refusal=routing.refusal)
            prefix = self.trace_headers(envelope, recipient)
            plan: dict[str, tuple[str, ...]] = {}  # mailbox -> flags, in filing order
            for target in routing.targets:  # a missing mailbox may fall back to a planned one
                name = await self._target_mailbox(account, target)
                known = plan.get(name, ())
                plan[name] = known + tuple(f for f in target.flags if f not in known)
            results: list[DeliveryResult] = []
            for name, flags in plan.items():
                result = await self._append(
                    account, Filing(name, flags), staged, prefix=prefix,
                    message_id=envelope.message_id,
                )
                results.append(result)
        except StoreError as error:
            log.warn("delivery to {user} failed: {kind} {e}", user=recipient.user,
                     kind=error.kind.value, e=error.detail)
            return DeliveryResult(ok=False, mailbox=None, uid=None, error=error.kind)
        if routing.after is not None:
            await self._after(routing.after, account, results, len(prefix), recipient)
        if not results:
            return DeliveryResult(ok=True, mailbox=None, uid=None, error=None)
        return results[-1]

    async def _route(
        self,
        staged: StagedMessage,
        envelope: DeliveryEnvelope,
        recipient: Recipient,
        default: str,
    ) -> Routing:
        """Ask the filter; a failing filter means the default mailbox (RFC 5228 2.10.6)."""
        assert self.filter is not None
        try:
            answer = await self.filter(self.view(staged), envelope, recipient, default)
        except Exception:  # noqa: BLE001 - a broken filter must not lose mail
            log.failure("filter failed for {user}, filing into {mailbox}",
                        user=recipient.user, mailbox=default)
            return Routing((Filing(default),))
        if isinstance(answer, Routing):
            return answer
        return Routing(tuple(Filing(name) for name in answer))

    async def _after(
        self,
        after: Callable[[Stored], Awaitable[None]],
        account: Account,
        results: list[DeliveryResult],
        prefix_size: int,
        recipient: Recipient,
    ) -> None:
        async def read() -> bytes | None:
            for result in results:
                if result.mailbox is not None and result.uid is not None:
                    box = await self._open(account, result.mailbox)
                    return await box.read(result.uid, start=prefix_size)
            return None

        try:
            await after(Stored(tuple(results), read))
        except Exception:  # noqa: BLE001 - the mail is stored: log and answer 250
            log.failure("after-delivery actions failed for {user}", user=recipient.user)

    async def _default_mailbox(self, account: Account, recipient: Recipient) -> str:
        detail = recipient.detail
        if self.detail_to_mailbox and detail and await account.mailbox_exists(detail):
            return detail
        return INBOX

    async def _append(
        self,
        account: Account,
        target: Filing,
        staged: StagedMessage,
        *,
        prefix: bytes,
        message_id: str | None,
    ) -> DeliveryResult:
        name = target.mailbox
        key = (account.user, name, message_id or "")
        now = self._clock()
        check = self._seen is not None and message_id is not None
        if check and self._seen is not None and self._seen.is_duplicate(key, now):
            return DeliveryResult(True, name, None, None, duplicate=True)
        appended = await self._append_to(account, name, staged, prefix, target.flags)
        if check and self._seen is not None:
            self._seen.remember(key, now)
        return DeliveryResult(ok=True, mailbox=name, uid=appended.uid, error=None)

    async def _target_mailbox(self, account: Account, target: Filing) -> str:
        """``target.mailbox``, created if asked (RFC 5490 ``:create``); INBOX when it is
        missing or cannot be created (RFC 5228 4.1 leaves the error to the implementation:
        the mail is kept)."""
        name = target.mailbox
        if name == INBOX or await account.mailbox_exists(name):
            return name
        if target.create:
            try:
                await account.create_mailbox(name)
                return name
            except StoreError as error:
                if error.kind is StoreErrorKind.ALREADY_EXISTS:
                    return name
                log.warn("cannot create {mailbox} for {user}: {kind}", mailbox=name,
                         user=account.user, kind=error.kind.value)
        return INBOX

    async def _append_to(
        self,
        account: Account,
        name: str,
        staged: StagedMessage,
        prefix: bytes,
        flags: tuple[str, ...] = (),
    ) -> AppendResult:
        """Append through a cached open mailbox: opening syncs (and commits) the index, which
        costs more than the append itself; a stale handle is reopened once."""
        key = (account.user, name)
        mailbox = self._mailboxes.get(key)
        if mailbox is not None:
            self._mailboxes.move_to_end(key)
            try:
                return await mailbox.append(
                    self._message(staged), prefix=prefix, flags=flags, crlf=True
                )
            except StoreError as error:
                if error.kind is not StoreErrorKind.NOT_FOUND:
                    raise
                del self._mailboxes[key]
        mailbox = await self._open(account, name)
        return await mailbox.append(
                    self._message(staged), prefix=prefix, flags=flags, crlf=True
                )

    async def _open(self, account: Account, name: str) -> Mailbox:
        key = (account.user, name)
        mailbox = self._mailboxes.get(key)
        if mailbox is not None:
            return mailbox
        mailbox = await account.open_mailbox(name)
        self._mailboxes[key] = mailbox
        while len(self._mailboxes) > _OPEN_MAILBOXES:
            self._mailboxes.popitem(last=False)
        return mailbox

    def _message(self, staged: StagedMessage) -> bytes | StagedMessage:
        return self._in_memory.get(staged.token, staged)

    def trace_headers(self, envelope: DeliveryEnvelope, recipient: Recipient) -> bytes:
        """``Return-Path``, ``Delivered-To`` and this hop's ``Received`` (RFC 5321 4.4)."""
        protocol = "UTF8LMTP" if envelope.smtputf8 else "LMTP"  # RFC 6531 3.7.3
        date = email.utils.formatdate(self._clock(), localtime=True)
        lines = [
            f"Return-Path: <{envelope.mail_from}>",
            f"Delivered-To: {recipient.address}",
            f"Received: from {envelope.client_helo} ({envelope.client_address})",
            f"\tby {self.hostname} (mailstack) with {protocol} id {envelope.queue_id}",
            f"\tfor <{recipient.address}>; {date}",
        ]
        return "".join(line + "\r\n" for line in lines).encode("utf-8")
