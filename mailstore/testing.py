"""The store contract: behaviour every ``mailstore.api.Store`` backend must show.

Backend-neutral: a test module subclasses ``StoreContract`` and provides a ``harness``
pytest fixture returning a ``StoreHarness`` (how to open a store over some storage, how
to run a coroutine on the reactor). Every test opens stores through the harness, so
"restart" means closing a store and opening a new one over the same storage.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet import defer

from mailstore.api import Account, Mailbox, Store
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.types import (
    DELETED,
    FLAGGED,
    INBOX,
    SEEN,
    ChangeEvent,
    ChangeKind,
    FlagMode,
    QuotaLimits,
    SpecialUse,
)

T = TypeVar("T")
USER = "alice"


def sample_message(n: int, body: bytes = b"Hello there.\r\n") -> bytes:
    """A small, realistic CRLF message numbered ``n``."""
    return (
        b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\n"
        b"Subject: message " + str(n).encode() + b"\r\n"
        b"Message-ID: <" + str(n).encode() + b"@example.org>\r\n"
        b"Date: Mon, 6 Nov 2023 10:00:00 +0000\r\n\r\n" + body
    )


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeUsers:
    """A ``UserDirectory`` for tests: homes under ``base``, limits set per user."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.limits: dict[str, QuotaLimits] = {}

    def home(self, user: str) -> Path:
        return self.base / user

    def quota_limits(self, user: str) -> QuotaLimits:
        return self.limits.get(user, QuotaLimits())


class StoreHarness:
    """How the contract reaches a backend: open stores, run coroutines."""

    def __init__(
        self,
        users: FakeUsers,
        factory: Callable[[FakeUsers], Store],
        runner: Callable[..., Any],
    ) -> None:
        self.users = users
        self._factory = factory
        self._runner = runner
        self._open: list[Store] = []

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        result: T = self._runner(fn, *args)
        return result

    def open(self) -> Store:
        store = self._factory(self.users)
        self._open.append(store)
        return store

    async def close(self, store: Store) -> None:
        await store.close()
        if store in self._open:
            self._open.remove(store)

    async def close_all(self) -> None:
        while self._open:
            await self._open.pop().close()


async def _inbox(store: Store, name: str = INBOX) -> tuple[Account, Mailbox]:
    account = await store.account(USER)
    return account, await account.open_mailbox(name)


async def _gather(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``calls`` concurrently (appends racing for the account's index)."""
    return await defer.gatherResults([defer.Deferred.fromCoroutine(c) for c in calls])


async def _expect(kind: StoreErrorKind, awaitable: Awaitable[object]) -> None:
    try:
        await awaitable
    except StoreError as exc:
        assert exc.kind is kind, f"expected {kind}, got {exc.kind}"
    else:
        raise AssertionError(f"expected StoreError({kind})")


HOSTILE_NAMES = (
    "..",
    "../evil",
    "a/../../evil",
    "/abs",
    "a//b",
    "a/",
    ".hidden",
    "a/.b",
    "a.b",
    "nul\0byte",
    "tab\there",
    "x" * 300,
    "/".join(["d"] * 40),
    "wild*",
    "back\\slash",
    "",
)
"""Names every backend must refuse with ``INVALID_NAME``."""


class StoreContract:
    """Backend-neutral tests; subclass and provide a ``harness`` fixture."""

    def test_append_read_snapshot(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            msgs = [sample_message(i) for i in range(3)]
            results = [await box.append(m) for m in msgs]
            uids = [r.uid for r in results]
            assert uids == sorted(uids) and len(set(uids)) == 3
            snap = await box.snapshot()
            assert [m.uid for m in snap.messages] == uids
            assert snap.uidnext > uids[-1]
            assert 0 < snap.uidvalidity < 2**32
            assert all(r.uidvalidity == snap.uidvalidity for r in results)
            assert [m.size for m in snap.messages] == [len(m) for m in msgs]
            for uid, msg in zip(uids, msgs, strict=True):
                assert await box.read(uid) == msg
            assert await box.read(uids[0], 6, 3) == msgs[0][6:9]
            await _expect(StoreErrorKind.NOT_FOUND, box.read(uids[-1] + 100))
            await harness.close_all()

        harness.run(body)

    def test_append_of_a_message_vouched_crlf(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            message = sample_message(7)
            uid = (await box.append(message, prefix=b"X-Trace: 1\r\n", crlf=True)).uid
            assert await box.read(uid) == b"X-Trace: 1\r\n" + message
            snap = await box.snapshot()
            assert snap.messages[-1].size == len(message) + 12
            await harness.close_all()

        harness.run(body)

    def test_concurrent_appends_get_distinct_uids(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            msgs = [sample_message(i) for i in range(12)]
            results = await _gather(
                [box.append(m, flags=[SEEN] if i % 3 else []) for i, m in enumerate(msgs)]
            )
            uids = [r.uid for r in results]
            assert len(set(uids)) == len(msgs)
            snap = await box.snapshot()
            assert sorted(m.uid for m in snap.messages) == sorted(uids)
            for uid, msg in zip(uids, msgs, strict=True):
                assert await box.read(uid) == msg
            await harness.close_all()

        harness.run(body)

    def test_read_many(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            msgs = [sample_message(i) for i in range(4)]
            uids = [(await box.append(m)).uid for m in msgs]
            assert await box.read_many([]) == []
            got = await box.read_many([(u, 0, None) for u in reversed(uids)])
            assert got == list(reversed(msgs))  # in the order asked
            ranges = [(uids[1], 6, 3), (uids[1], 0, 4), (uids[2], 10, None), (uids[0], 0, 0)]
            assert await box.read_many(ranges) == [msgs[1][6:9], msgs[1][:4], msgs[2][10:], b""]
            await box.store_flags([uids[1]], FlagMode.ADD, [DELETED])
            await box.expunge()
            missing = uids[-1] + 100
            got = await box.read_many([(uids[0], 0, None), (uids[1], 0, None), (missing, 0, 5)])
            assert got == [msgs[0], None, None]  # gone or never there: None, no error
            await harness.close_all()

        harness.run(body)

    def test_snapshot_follows_every_change(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            uids = [(await box.append(sample_message(i))).uid for i in range(3)]
            first = await box.snapshot(claim_recent=True)
            assert await box.snapshot(claim_recent=True) == dataclasses.replace(
                first, first_recent_uid=first.uidnext
            )  # unchanged, and nothing left to claim
            await box.store_flags([uids[0]], FlagMode.ADD, [FLAGGED])
            assert FLAGGED in (await box.snapshot()).messages[0].flags
            await box.store_flags([uids[1]], FlagMode.ADD, [DELETED])
            await box.expunge()
            assert [m.uid for m in (await box.snapshot()).messages] == [uids[0], uids[2]]
            new = (await box.append(sample_message(9))).uid
            snap = await box.snapshot(claim_recent=True)
            assert [m.uid for m in snap.messages] == [uids[0], uids[2], new]
            assert snap.first_recent_uid == new
            await harness.close_all()

        harness.run(body)

    def test_uids_never_reused_across_restarts(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            first = [(await box.append(sample_message(i))).uid for i in range(3)]
            validity = (await box.snapshot()).uidvalidity
            await box.store_flags([first[-1]], FlagMode.ADD, [DELETED])
            assert await box.expunge() == (first[-1],)
            await harness.close(store)
            store = harness.open()
            _, box = await _inbox(store)
            snap = await box.snapshot()
            assert snap.uidvalidity == validity
            assert [m.uid for m in snap.messages] == first[:2]
            again = await box.append(sample_message(9))
            assert again.uid > first[-1]
            await harness.close_all()

        harness.run(body)

    def test_flags_and_modseq(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            uid = (await box.append(sample_message(1), flags=[SEEN])).uid
            snap = await box.snapshot()
            assert snap.messages[0].flags == {SEEN}
            before = snap.messages[0].modseq
            result = await box.store_flags([uid], FlagMode.ADD, [FLAGGED, "$Forwarded"])
            assert result.updated[0].flags == {SEEN, FLAGGED, "$Forwarded"}
            assert result.updated[0].modseq > before
            result = await box.store_flags([uid], FlagMode.REMOVE, [SEEN, "$forwarded"])
            assert result.updated[0].flags == {FLAGGED}
            result = await box.store_flags([uid], FlagMode.REPLACE, ["\\seen", "Junk"])
            assert result.updated[0].flags == {SEEN, "Junk"}
            snap = await box.snapshot()
            assert snap.messages[0].flags == {SEEN, "Junk"}
            assert snap.highestmodseq >= snap.messages[0].modseq > before
            guarded = await box.store_flags(
                [uid], FlagMode.ADD, [FLAGGED], unchanged_since=before
            )
            assert guarded.modified == (uid,) and guarded.updated == ()
            await harness.close_all()

        harness.run(body)

    def test_recent_is_claimed_once(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            uid = (await box.append(sample_message(1))).uid
            first = await box.snapshot(claim_recent=True)
            assert first.first_recent_uid == uid
            second = await box.snapshot(claim_recent=True)
            assert second.first_recent_uid > uid
            uid2 = (await box.append(sample_message(2))).uid
            assert (await box.status()).recent == 1
            third = await box.snapshot(claim_recent=True)
            assert third.first_recent_uid == uid2
            await harness.close_all()

        harness.run(body)

    def test_select_opens_and_snapshots_in_one_call(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            account, box = await _inbox(store)
            uid = (await box.append(sample_message(1))).uid
            selected, snap = await account.select("inbox", claim_recent=True)
            assert selected.name == INBOX
            assert [m.uid for m in snap.messages] == [uid]
            assert snap.first_recent_uid == uid
            _, again = await account.select(INBOX)
            assert again.first_recent_uid == 0 and again.messages == snap.messages
            assert (await selected.read(uid)) == sample_message(1)
            await _expect(StoreErrorKind.NOT_FOUND, account.select("Missing"))
            await harness.close_all()

        harness.run(body)

    def test_expunge_only_deleted(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            uids = [(await box.append(sample_message(i))).uid for i in range(4)]
            await box.store_flags(uids[:3], FlagMode.ADD, [DELETED])
            assert await box.expunge([uids[0], uids[3]]) == (uids[0],)
            assert await box.expunge() == tuple(uids[1:3])
            snap = await box.snapshot()
            assert [m.uid for m in snap.messages] == [uids[3]]
            status = await box.status()
            assert status.messages == 1 and status.unseen == 1
            await harness.close_all()

        harness.run(body)

    def test_copy_and_move(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            account, box = await _inbox(store)
            await account.create_mailbox("Work")
            msgs = [sample_message(i) for i in range(3)]
            uids = [(await box.append(m)).uid for m in msgs]
            await box.store_flags([uids[1]], FlagMode.ADD, [FLAGGED, "Todo"])
            copied = await box.copy([uids[2], uids[0], uids[1]], "Work")
            assert copied.source_uids == tuple(uids)
            assert list(copied.dest_uids) == sorted(copied.dest_uids)
            work = await account.open_mailbox("Work")
            snap = await work.snapshot()
            assert copied.uidvalidity == snap.uidvalidity
            assert [m.flags for m in snap.messages][1] == {FLAGGED, "Todo"}
            for uid, msg in zip(copied.dest_uids, msgs, strict=True):
                assert await work.read(uid) == msg
            moved = await box.move(uids[:2], "Work")
            assert moved.source_uids == tuple(uids[:2])
            assert min(moved.dest_uids) > max(copied.dest_uids)
            assert [m.uid for m in (await box.snapshot()).messages] == [uids[2]]
            assert await work.read(moved.dest_uids[1]) == msgs[1]
            assert (await work.snapshot()).messages[-1].flags == {FLAGGED, "Todo"}
            await _expect(StoreErrorKind.NOT_FOUND, box.copy([uids[2]], "Nowhere"))
            usage = await account.quota()
            assert usage.messages == 6
            await harness.close_all()

        harness.run(body)

    def test_quota(self, harness: StoreHarness) -> None:
        async def body() -> None:
            msg = sample_message(1)
            harness.users.limits[USER] = QuotaLimits(storage_bytes=len(msg) * 3, messages=10)
            store = harness.open()
            account, box = await _inbox(store)
            await account.create_mailbox("Other")
            uids = [(await box.append(msg)).uid for _ in range(2)]
            usage = await account.quota()
            assert (usage.storage_bytes, usage.messages) == (2 * len(msg), 2)
            assert usage.limits.storage_bytes == len(msg) * 3
            await account.check_quota(len(msg))
            await _expect(StoreErrorKind.OVER_QUOTA, account.check_quota(len(msg) + 1))
            await _expect(StoreErrorKind.OVER_QUOTA, box.copy(uids, "Other"))
            assert (await (await account.open_mailbox("Other")).snapshot()).messages == ()
            await box.append(msg)
            await _expect(StoreErrorKind.OVER_QUOTA, box.append(msg))
            await box.store_flags(uids, FlagMode.ADD, [DELETED])
            await box.expunge()
            assert (await account.quota()).messages == 1
            recalc = await account.recalculate_quota()
            assert (recalc.storage_bytes, recalc.messages) == (len(msg), 1)
            await harness.close_all()

        harness.run(body)

    def test_mailbox_management(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            account = await store.account(USER)
            listed = await account.list_mailboxes()
            assert listed[0].name == INBOX
            uses = {m.special_use for m in listed}
            assert set(SpecialUse) <= uses
            await account.create_mailbox("Projects/2024/Q1")
            await _expect(StoreErrorKind.ALREADY_EXISTS, account.create_mailbox("Projects"))
            await _expect(StoreErrorKind.ALREADY_EXISTS, account.create_mailbox("inbox"))
            names = [m.name for m in await account.list_mailboxes()]
            assert names.index("Projects") < names.index("Projects/2024")
            assert names.index("Projects/2024") < names.index("Projects/2024/Q1")
            box = await account.open_mailbox("Projects/2024")
            await box.append(sample_message(1))
            await account.rename_mailbox("Projects", "Old/Projects")
            assert not await account.mailbox_exists("Projects/2024")
            renamed = await account.open_mailbox("Old/Projects/2024")
            assert len((await renamed.snapshot()).messages) == 1
            assert await account.mailbox_exists("Old/Projects/2024/Q1")
            await account.delete_mailbox("Old/Projects/2024")
            info = {m.name: m for m in await account.list_mailboxes()}
            assert not info["Old/Projects/2024"].selectable
            assert info["Old/Projects/2024"].has_children
            await _expect(StoreErrorKind.NOT_FOUND, account.open_mailbox("Old/Projects/2024"))
            await _expect(
                StoreErrorKind.HAS_CHILDREN, account.delete_mailbox("Old/Projects/2024")
            )
            await _expect(StoreErrorKind.NOT_ALLOWED, account.delete_mailbox("INBOX"))
            await _expect(StoreErrorKind.NOT_FOUND, account.delete_mailbox("Missing"))
            await _expect(StoreErrorKind.NOT_FOUND, account.open_mailbox("Missing"))
            await account.subscribe_mailbox("Old/Projects")
            assert "Old/Projects" in await account.subscriptions()
            await account.unsubscribe_mailbox("Old/Projects")
            assert "Old/Projects" not in await account.subscriptions()
            await harness.close_all()

        harness.run(body)

    def test_rename_inbox(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            account, inbox = await _inbox(store)
            msgs = [sample_message(i) for i in range(2)]
            for m in msgs:
                await inbox.append(m, flags=[SEEN])
            await account.rename_mailbox("INBOX", "Saved")
            assert (await inbox.snapshot()).messages == ()
            saved = await account.open_mailbox("Saved")
            snap = await saved.snapshot()
            assert [await saved.read(m.uid) for m in snap.messages] == msgs
            assert all(m.flags == {SEEN} for m in snap.messages)
            assert await account.mailbox_exists("INBOX")
            await harness.close_all()

        harness.run(body)

    def test_hostile_names_refused(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            account = await store.account(USER)
            before = [m.name for m in await account.list_mailboxes()]
            for name in HOSTILE_NAMES:
                await _expect(StoreErrorKind.INVALID_NAME, account.create_mailbox(name))
                await _expect(StoreErrorKind.INVALID_NAME, account.open_mailbox(name))
                await _expect(
                    StoreErrorKind.INVALID_NAME, account.rename_mailbox("Trash", name)
                )
            assert [m.name for m in await account.list_mailboxes()] == before
            await harness.close_all()

        harness.run(body)

    def test_change_feed_reaches_other_mailbox_objects(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            account, writer = await _inbox(store)
            reader = await account.open_mailbox("INBOX")
            seen: list[ChangeEvent] = []
            unsubscribe = reader.subscribe(seen.append)
            uid = (await writer.append(sample_message(1), origin="w")).uid
            await writer.store_flags([uid], FlagMode.ADD, [DELETED], origin="w")
            await writer.expunge(origin="w")
            kinds = [(e.kind, e.uids, e.origin) for e in seen]
            assert kinds == [
                (ChangeKind.APPENDED, (uid,), "w"),
                (ChangeKind.FLAGS, (uid,), "w"),
                (ChangeKind.EXPUNGED, (uid,), "w"),
            ]
            unsubscribe()
            await writer.append(sample_message(2))
            assert len(seen) == 3
            await harness.close_all()

        harness.run(body)

    def test_metadata_and_staged_append(self, harness: StoreHarness) -> None:
        async def body() -> None:
            store = harness.open()
            _, box = await _inbox(store)
            writer = store.spool()
            msg = sample_message(7, b"x" * 300_000 + b"\r\n")
            for i in range(0, len(msg), 65536):
                writer.write(msg[i : i + 65536])
            staged = await writer.finish()
            prefix = b"Delivered-To: alice@example.com\r\n"
            uid = (await box.append(staged, prefix=prefix, internal_date=1_600_000_000.0)).uid
            store.discard(staged)
            assert digest(await box.read(uid)) == digest(prefix + msg)
            meta = (await box.metadata([uid]))[uid]
            assert meta.size == len(prefix) + len(msg)
            assert meta.envelope.subject == "message 7"
            assert meta.header.startswith(prefix) and meta.header.endswith(b"\r\n\r\n")
            assert abs(meta.internal_date - 1_600_000_000.0) < 1
            assert (await box.snapshot()).messages[0].internal_date == meta.internal_date
            await harness.close_all()

        harness.run(body)
