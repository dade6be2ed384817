"""``mailstore.api.Account`` over one user's Maildir++ (RFC 3501 6.3, RFC 6154, RFC 9208)."""

from __future__ import annotations

from twisted.logger import Logger

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import index, manage, messages, transfer
from mailstore.maildir.boxes import Ctx, resolve
from mailstore.maildir.core import AccountCore
from mailstore.maildir.mailbox import MaildirMailbox
from mailstore.maildir.sync import SyncChanges
from mailstore.names import normalize_name
from mailstore.types import (
    INBOX,
    ChangeKind,
    MailboxInfo,
    MailboxSnapshot,
    QuotaUsage,
    SpecialUse,
)

log = Logger()


def _all_uids(ctx: Ctx, name: str) -> list[int]:
    snap, _ = messages.snapshot(ctx, name, False)
    return [m.uid for m in snap.messages]


class MaildirAccount:
    """One user's mailboxes, subscriptions and quota (implements ``mailstore.api.Account``)."""

    def __init__(self, core: AccountCore) -> None:
        self._core = core

    @property
    def user(self) -> str:
        return self._core.user

    async def list_mailboxes(self) -> list[MailboxInfo]:
        """LIST (RFC 3501 6.3.8, RFC 5258 attributes, RFC 6154 special use)."""
        return await self._core.call(manage.list_mailboxes)

    async def create_mailbox(self, name: str, special_use: SpecialUse | None = None) -> None:
        """CREATE (RFC 3501 6.3.3; RFC 6154 5.3 USE): missing parents are created too."""
        created = await self._core.call(manage.create_mailbox, name, special_use)
        log.info("created mailbox {user} {mailbox}", user=self.user, mailbox=created)

    async def delete_mailbox(self, name: str) -> None:
        """DELETE (RFC 3501 6.3.4); with children the name stays as a ``\\Noselect`` parent."""
        for gone in await self._core.call(manage.delete_mailbox, name):
            self._core.publish(gone, ChangeKind.DELETED, ())
        log.info("deleted mailbox {user} {mailbox}", user=self.user, mailbox=name)

    async def rename_mailbox(self, old: str, new: str) -> None:
        """RENAME (RFC 3501 6.3.5): children move along; INBOX's messages move, INBOX stays."""
        if normalize_name(old) == INBOX:
            await self._rename_inbox(new)
            return
        for gone in await self._core.call(manage.rename_mailbox, old, new):
            self._core.publish(gone, ChangeKind.DELETED, ())
        log.info("renamed mailbox {user} {old} {new}", user=self.user, old=old, new=new)

    async def _rename_inbox(self, new: str) -> None:
        new = await self._core.call(manage.create_mailbox, new, None)
        uids = await self._core.call(_all_uids, INBOX)
        if uids:
            _, src_uids, dest_uids, sc, _dc = await self._core.call(
                transfer.move, INBOX, new, uids
            )
            self._core.publish_sync(INBOX, sc)
            self._core.publish(INBOX, ChangeKind.EXPUNGED, src_uids)
            self._core.publish(new, ChangeKind.APPENDED, dest_uids)
        log.info("renamed INBOX of {user} to {new}", user=self.user, new=new)

    async def subscribe_mailbox(self, name: str) -> None:
        """SUBSCRIBE (RFC 3501 6.3.6)."""
        await self._core.call(manage.set_subscribed, name, True)

    async def unsubscribe_mailbox(self, name: str) -> None:
        """UNSUBSCRIBE (RFC 3501 6.3.7)."""
        await self._core.call(manage.set_subscribed, name, False)

    async def subscriptions(self) -> list[str]:
        """LSUB (RFC 3501 6.3.9): subscribed names, existing or not."""
        return await self._core.call(manage.subscriptions)

    async def mailbox_exists(self, name: str) -> bool:
        try:
            return await self._core.call(manage.mailbox_exists, name)
        except StoreError as exc:
            if exc.kind is StoreErrorKind.INVALID_NAME:
                return False
            raise

    async def open_mailbox(self, name: str) -> MaildirMailbox:
        """An existing mailbox (``NOT_FOUND`` otherwise); synced once to check it."""
        name = normalize_name(name)
        changes: SyncChanges = await self._core.call(_open, name)
        self._core.publish_sync(name, changes)
        return MaildirMailbox(self._core, name)

    async def select(
        self, name: str, *, claim_recent: bool = False
    ) -> tuple[MaildirMailbox, MailboxSnapshot]:
        """``open_mailbox`` + ``snapshot`` in one trip to the thread pool: the snapshot
        checks that the mailbox exists and syncs it anyway (a warm SELECT of a big
        unchanged mailbox is then one cached lookup, not two hops)."""
        mailbox = MaildirMailbox(self._core, normalize_name(name))
        return mailbox, await mailbox.snapshot(claim_recent=claim_recent)

    async def quota(self) -> QuotaUsage:
        """Usage and limits (RFC 9208 GETQUOTAROOT)."""
        used = await self._core.call(_usage)
        limits = await self._core.limits()
        return QuotaUsage(used[0], used[1], limits)

    async def check_quota(self, size: int, count: int = 1) -> None:
        """``OVER_QUOTA`` if ``count`` messages of ``size`` octets would not fit."""
        limits = await self._core.limits()
        await self._core.call(messages.check_quota, limits, size, count)

    async def recalculate_quota(self) -> QuotaUsage:
        """Recount usage from the Maildir (``mailstack-admin quota recalc``)."""
        used = await self._core.call(manage.recalculate_quota)
        limits = await self._core.limits()
        log.info(
            "quota recalculated for {user}: {bytes} bytes {count} messages",
            user=self.user,
            bytes=used.storage_bytes,
            count=used.messages,
        )
        return QuotaUsage(used.storage_bytes, used.messages, limits)


def _open(ctx: Ctx, name: str) -> SyncChanges:
    with index.write_transaction(ctx.conn):
        return resolve(ctx, name)[2]


def _usage(ctx: Ctx) -> tuple[int, int]:
    return index.usage(ctx.conn)
