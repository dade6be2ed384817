"""The group commit of appends: ordering of the syncs, failures that stay with their append,
and appends of several accounts through the store, on real directories."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import groupcommit, index, messages
from mailstore.maildir.boxes import Ctx
from mailstore.maildir.groupcommit import GroupAppend, commit_group, sync_serially
from mailstore.maildir.layout import mailbox_path
from mailstore.maildir.store import MaildirStore, _open_ctx
from mailstore.testing import FakeUsers
from mailstore.types import DELETED, INBOX, SEEN, FlagMode, QuotaLimits

MESSAGE = b"Subject: group\r\n\r\nbody\r\n"


@pytest.fixture
def ctxs(tmp_path: Path) -> Iterator[list[Ctx]]:
    opened = [_open_ctx(f"user{n}", tmp_path / f"user{n}") for n in range(3)]
    yield opened
    for ctx in opened:
        ctx.conn.close()


def _job(ctx: Ctx, body: bytes = MESSAGE, mailbox: str = INBOX, **limits: int) -> GroupAppend:
    write = partial(
        messages.write_message,
        mailbox_path(ctx.root, mailbox),
        body,
        prefix=b"",
        system=frozenset(),
        keywords=frozenset(),
        internal_date=None,
        crlf=True,
        sync=False,
    )
    return GroupAppend(ctx, mailbox, write, QuotaLimits(**limits))


def _names(ctx: Ctx, sub: str) -> list[str]:
    return sorted(os.listdir(ctx.root / sub))


def _stored_uids(ctx: Ctx) -> list[int]:
    with sqlite3.connect(ctx.root / index.INDEX_FILE) as other:  # what another reader sees
        return [uid for (uid,) in other.execute("SELECT uid FROM messages ORDER BY uid")]


def test_files_are_synced_before_their_rename_and_names_before_the_answer(
    ctxs: list[Ctx],
) -> None:
    calls: list[tuple[list[Path], list[bool]]] = []

    def recording_sync(paths: list[Path]) -> dict[Path, OSError]:
        calls.append((list(paths), [p.exists() for p in paths]))
        return sync_serially(paths)

    jobs = [_job(ctx) for ctx in ctxs]
    commit_group(jobs, recording_sync)

    (files, existed), (after, _) = calls
    assert all(path.parent.name == "tmp" for path in files) and all(existed)
    assert len(files) == 3  # one sync call for the whole group: no file renamed before it
    assert {p.name for p in after} == {"new", index.INDEX_FILE + "-wal"}
    assert len(after) == 6  # each account's new/ and WAL, once each
    for job, ctx in zip(jobs, ctxs, strict=True):
        assert isinstance(job.outcome, tuple)
        _row, uid, _changes, size = job.outcome
        assert (uid, size) == (1, len(MESSAGE))
        assert _names(ctx, "tmp") == [] and len(_names(ctx, "new")) == 1
        assert _stored_uids(ctx) == [1]
        assert ctx.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again


def test_a_failed_write_fails_only_its_own_append(ctxs: list[Ctx]) -> None:
    good, missing = _job(ctxs[0]), _job(ctxs[1], mailbox="Nowhere")
    commit_group([good, missing], sync_serially)

    assert isinstance(good.outcome, tuple)
    assert isinstance(missing.outcome, StoreError)
    assert missing.outcome.kind is StoreErrorKind.NOT_FOUND
    assert _stored_uids(ctxs[1]) == []


def test_a_file_that_cannot_be_synced_is_not_committed_and_not_left_behind(
    ctxs: list[Ctx],
) -> None:
    def failing_first(paths: list[Path]) -> dict[Path, OSError]:
        failures = sync_serially(paths)
        if paths and paths[0].parent.name == "tmp":
            failures[paths[0]] = OSError(5, "Input/output error")
        return failures

    jobs = [_job(ctx) for ctx in ctxs[:2]]
    commit_group(jobs, failing_first)

    failed, fine = jobs
    assert isinstance(failed.outcome, StoreError)
    assert failed.outcome.kind is StoreErrorKind.TEMPORARY
    assert _names(ctxs[0], "tmp") == [] and _names(ctxs[0], "new") == []
    assert _stored_uids(ctxs[0]) == []
    assert isinstance(fine.outcome, tuple) and _stored_uids(ctxs[1]) == [1]


def test_a_directory_that_cannot_be_synced_fails_its_appends_temporarily(
    ctxs: list[Ctx],
) -> None:
    broken = ctxs[0].root / "new"

    def failing_dir(paths: list[Path]) -> dict[Path, OSError]:
        failures = sync_serially(paths)
        if broken in paths:
            failures[broken] = OSError(5, "Input/output error")
        return failures

    jobs = [_job(ctx) for ctx in ctxs[:2]]
    commit_group(jobs, failing_dir)

    assert isinstance(jobs[0].outcome, StoreError)
    assert jobs[0].outcome.kind is StoreErrorKind.TEMPORARY
    assert "sync after commit" in str(jobs[0].outcome)
    assert len(_names(ctxs[0], "new")) == 1  # committed: kept (a retry may store it twice)
    assert isinstance(jobs[1].outcome, tuple)


def test_quota_is_checked_per_append_inside_the_group(ctxs: list[Ctx]) -> None:
    over, within = _job(ctxs[0], messages=1), _job(ctxs[1], messages=1)
    commit_group([_job(ctxs[0])], sync_serially)  # user0 is now at its one message
    commit_group([over, within], sync_serially)

    assert isinstance(over.outcome, StoreError)
    assert over.outcome.kind is StoreErrorKind.OVER_QUOTA
    assert _names(ctxs[0], "tmp") == [] and len(_names(ctxs[0], "new")) == 1
    assert ctxs[0].conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL after a failure
    assert isinstance(within.outcome, tuple)


def test_appends_of_many_accounts_through_the_store_share_groups(
    tmp_path: Path, reactor_thread: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    threads: set[str] = set()
    real = groupcommit.commit_group

    def counting(jobs: list[GroupAppend], sync_all: groupcommit.SyncAll) -> None:
        sizes.append(len(jobs))
        threads.add(threading.current_thread().name)
        real(jobs, sync_all)

    monkeypatch.setattr(groupcommit, "commit_group", counting)
    users = [f"user{n}" for n in range(8)]

    async def deliver() -> list[list[int]]:
        from twisted.internet import defer

        store = MaildirStore(FakeUsers(tmp_path / "home"), tmp_path / "spool")
        boxes = [await (await store.account(u)).open_mailbox(INBOX) for u in users]
        appends = [
            defer.Deferred.fromCoroutine(box.append(MESSAGE + b"%d\r\n" % n, crlf=True))
            for n in range(5)
            for box in boxes
        ]
        await defer.gatherResults(appends, consumeErrors=True)
        uids = [[m.uid for m in (await box.snapshot()).messages] for box in boxes]
        await store.close()
        return uids

    uids = reactor_thread.run(deliver)

    assert uids == [[1, 2, 3, 4, 5]] * len(users)
    assert sum(sizes) == 40 and max(sizes) > 1  # several accounts made durable together
    assert threads == {"mailstack-commit"}


def test_a_stopped_committer_finishes_and_starts_again(
    ctxs: list[Ctx], reactor_thread: Any
) -> None:
    own = groupcommit.GroupCommitter(sync_threads=2, max_group=2)

    async def append_one(ctx: Ctx) -> int:
        return (await own.append(_job(ctx)))[1]

    assert reactor_thread.run(append_one, ctxs[0]) == 1
    reactor_thread.call(own.stop)
    reactor_thread.call(own.stop)  # twice: nothing left to stop
    assert reactor_thread.run(append_one, ctxs[0]) == 2
    reactor_thread.call(own.stop)


def test_appends_interleaved_with_flag_changes_and_expunges_lose_nothing(
    tmp_path: Path, reactor_thread: Any
) -> None:
    """Group commits and storage-pool calls on the same accounts, all at once: every append
    that was answered is there once, with its contents, and UIDs keep ascending."""
    users = [f"user{n}" for n in range(4)]

    Result = tuple[list[dict[int, bytes]], list[list[int]], list[set[int]], list[dict[int, bytes]]]

    async def churn() -> Result:
        from twisted.internet import defer

        store = MaildirStore(FakeUsers(tmp_path / "home"), tmp_path / "spool")
        boxes = [await (await store.account(u)).open_mailbox(INBOX) for u in users]
        stored: list[dict[int, bytes]] = [{} for _ in users]
        expunged: list[set[int]] = [set() for _ in users]

        async def deliver(i: int, n: int) -> None:
            body = MESSAGE + b"%d-%d\r\n" % (i, n)
            result = await boxes[i].append(body, crlf=True, flags=[SEEN] if n % 3 else [])
            stored[i][result.uid] = body

        async def tidy(i: int) -> None:
            from twisted.internet import reactor, task

            for _ in range(5):
                await task.deferLater(reactor, 0.005, lambda: None)  # let appends land
                uids = sorted(stored[i])[::2]
                await boxes[i].store_flags(uids, FlagMode.ADD, [DELETED])
                expunged[i].update(await boxes[i].expunge(uids))

        work = [deliver(i, n) for n in range(25) for i in range(len(users))]
        work += [tidy(i) for i in range(len(users))]
        await defer.gatherResults(
            [defer.Deferred.fromCoroutine(w) for w in work], consumeErrors=True
        )
        seen = []
        for box in boxes:
            snap = await box.snapshot()
            seen.append([m.uid for m in snap.messages])
        contents = []
        for box, uids in zip(boxes, seen, strict=True):
            contents.append({uid: await box.read(uid) for uid in uids})
        await store.close()
        return contents, seen, expunged, stored

    contents, seen, expunged, answered = reactor_thread.run(churn)

    for got, uids, gone, sent in zip(contents, seen, expunged, answered, strict=True):
        assert uids == sorted(uids) and len(set(uids)) == len(uids)
        assert len(uids) + len(gone) == 25 and not gone & set(uids)
        assert sorted(sent) == sorted(set(uids) | gone)
        assert all(got[uid] == sent[uid] for uid in uids)
    assert sum(map(len, expunged)) > 0  # the expunges really ran between the appends
