"""What our own changes cost the next sync, and that other programs' changes are still seen.

Drives the synchronous layer (``messages``, ``flagops``, ``transfer``) on a real Maildir in
``tmp_path``; listings are counted by wrapping ``sync._names``. Time is faked by replacing
``sync.time`` (no sleeps); a file system with coarse timestamps is imitated by putting a
directory's mtime back with ``os.utime`` after a change.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from mailstore.maildir import flagops, index, manage, messagerows, messages, sync, transfer
from mailstore.maildir.boxes import Ctx
from mailstore.maildir.layout import mailbox_path
from mailstore.maildir.sync import SyncChanges
from mailstore.testing import sample_message
from mailstore.types import (
    DELETED,
    FLAGGED,
    INBOX,
    SEEN,
    FlagMode,
    MailboxSnapshot,
    QuotaLimits,
    StoreFlagsResult,
)

NO_LIMITS = QuotaLimits(0, 0)


class Env:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        root.mkdir()
        self.conn = index.connect(root / index.INDEX_FILE)
        self.ctx = Ctx(self.conn, root, "u")
        manage.open_account(self.ctx)
        self.listed: list[str] = []
        self.offset = 0
        real_names, real_ns = sync._names, time.time_ns

        def names(path: Path, sub: str) -> list[str]:
            self.listed.append(sub)
            return real_names(path, sub)

        monkeypatch.setattr(sync, "_names", names)
        monkeypatch.setattr(sync, "time", SimpleNamespace(time_ns=lambda: real_ns() + self.offset))

    def later(self) -> None:
        """Let the dirty window pass (as if DIRTY_WINDOW_NS had gone by)."""
        self.offset += sync.DIRTY_WINDOW_NS + 1

    def append(self, n: int, flags: frozenset[str] = frozenset()) -> int:
        prepared = messages.write_message(
            mailbox_path(self.ctx.root, INBOX), sample_message(n), prefix=b"", system=flags,
            keywords=frozenset(), internal_date=None,
        )
        return messages.commit_append(self.ctx, INBOX, prepared, NO_LIMITS)[1]

    def snapshot(
        self, claim_recent: bool = False, box: str = INBOX
    ) -> tuple[MailboxSnapshot, SyncChanges]:
        return messages.snapshot(self.ctx, box, claim_recent)

    def store(
        self, uids: list[int], mode: FlagMode, flags: list[str]
    ) -> tuple[StoreFlagsResult, SyncChanges, list[int]]:
        return flagops.store_flags(self.ctx, INBOX, uids, mode, flags, unchanged_since=None)

    def settled(self) -> list[int]:
        """Append a few messages, take them into cur/ and let every window pass."""
        uids = [self.append(i) for i in range(4)]
        self.snapshot(claim_recent=True)
        self.later()
        self.snapshot()
        self.snapshot(box="Trash")
        self.listed.clear()
        self.offset = 0  # back to the real clock: the listing above was clean
        return uids

    def hide_mtime_change(self, sub: str, mtime_ns: int) -> None:
        """Imitate a coarse file system: the change did not move the mtime."""
        os.utime(self.root / sub, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    e = Env(tmp_path / "Maildir", monkeypatch)
    yield e
    e.conn.close()


def _cur_name(env: Env, uid: int) -> str:
    (row,) = messagerows.message_rows(env.conn, index.get_mailbox(env.conn, INBOX).id, [uid])  # type: ignore[union-attr]
    return row.name


def test_store_returns_and_bumps_only_changed_messages(env: Env) -> None:
    uids = env.settled()
    env.store(uids[:2], FlagMode.ADD, [SEEN])
    before = env.snapshot()[0]
    result, _, changed = env.store(uids, FlagMode.ADD, [SEEN])
    assert [u.uid for u in result.updated] == uids[2:] == changed
    after = env.snapshot()[0]
    assert [m.modseq for m in after.messages[:2]] == [m.modseq for m in before.messages[:2]]
    assert all(m.modseq > before.highestmodseq for m in after.messages[2:])
    # nothing changes at all: no MODSEQ taken, nothing reported
    result, _, changed = env.store(uids, FlagMode.ADD, [SEEN])
    assert result.updated == () and changed == []
    assert env.snapshot()[0].highestmodseq == after.highestmodseq


@pytest.mark.parametrize(
    "operation",
    ["store", "expunge", "flagged_append", "append", "copy", "move"],
)
def test_own_change_needs_no_listing_until_the_window_passes(env: Env, operation: str) -> None:
    uids = env.settled()
    box = "Trash" if operation == "copy" else INBOX
    if operation == "store":
        env.store(uids, FlagMode.ADD, [FLAGGED])
    elif operation == "expunge":
        env.store(uids[:2], FlagMode.ADD, [DELETED])
        env.listed.clear()
        assert flagops.expunge(env.ctx, INBOX, None)[0] == uids[:2]
    elif operation == "flagged_append":
        env.append(9, frozenset({SEEN}))
    elif operation == "append":
        env.append(9)
    else:
        transfer.copy(env.ctx, INBOX, "Trash", uids[:2], NO_LIMITS)
        env.listed.clear()
        if operation == "move":
            transfer.move(env.ctx, "Trash", INBOX, [1, 2])
    listed_by_change = list(env.listed)
    env.listed.clear()
    snap, changes = env.snapshot(box=box)
    assert env.listed == [] and not changes, listed_by_change
    # the one verification listing after the window, then quiet again
    env.later()
    env.snapshot(box=box)
    assert env.listed
    env.listed.clear()
    env.later()
    env.snapshot(box=box)
    assert env.listed == []
    folder = env.root / (".Trash" if box == "Trash" else "")
    files = os.listdir(folder / "cur") + os.listdir(folder / "new")
    assert len(files) == len(snap.messages)


def test_external_change_right_after_our_own_is_seen_at_once(env: Env) -> None:
    uids = env.settled()
    env.store([uids[0]], FlagMode.ADD, [FLAGGED])
    # another program, in the same second: flags a message and delivers one into cur/
    name = _cur_name(env, uids[1])
    os.rename(env.root / "cur" / name, env.root / "cur" / (name.split(":2,")[0] + ":2,RS"))
    (env.root / "cur" / "1700000000.ext.host:2,S").write_bytes(b"Subject: x\r\n\r\nx\r\n")
    snap, changes = env.snapshot()
    assert changes.flags == [uids[1]] and len(changes.appended) == 1
    assert snap.messages[1].flags == {SEEN, "\\Answered"}


def test_external_change_hidden_by_timestamp_granularity_is_seen_after_the_window(
    env: Env,
) -> None:
    uids = env.settled()
    env.store([uids[0]], FlagMode.ADD, [FLAGGED])
    ours = os.stat(env.root / "cur").st_mtime_ns
    name = _cur_name(env, uids[1])
    os.rename(env.root / "cur" / name, env.root / "cur" / (name.split(":2,")[0] + ":2,S"))
    env.hide_mtime_change("cur", ours)
    env.later()
    snap, changes = env.snapshot()
    assert changes.flags == [uids[1]]
    assert snap.messages[1].flags == {SEEN}


def test_change_before_ours_that_moved_the_mtime_is_not_hidden_by_our_record(
    env: Env,
) -> None:
    env.settled()
    row = index.get_mailbox(env.conn, INBOX)
    assert row is not None
    before = sync.dir_mtimes(env.root)
    (env.root / "cur" / "1700000000.ext.host:2,").write_bytes(b"Subject: x\r\n\r\nx\r\n")
    stale_before = (before[0], before[1] - 1)  # as if the dir had changed before our own change
    with index.write_transaction(env.conn):
        sync.record_own_change(env.conn, row, env.root, stale_before)
    _, changes = env.snapshot()
    assert len(changes.appended) == 1


def test_dirty_listing_of_an_external_change_is_repeated_until_clean(env: Env) -> None:
    env.settled()
    (env.root / "cur" / "1700000000.a.host:2,").write_bytes(b"Subject: a\r\n\r\nx\r\n")
    assert len(env.snapshot()[1].appended) == 1
    mtime = os.stat(env.root / "cur").st_mtime_ns
    (env.root / "cur" / "1700000000.b.host:2,").write_bytes(b"Subject: b\r\n\r\nx\r\n")
    env.hide_mtime_change("cur", mtime)
    assert len(env.snapshot()[1].appended) == 1  # at once: no deferral for others' changes


def test_stream_of_own_changes_lists_once_per_window(env: Env) -> None:
    uids = env.settled()
    for i in range(5):
        env.append(20 + i, frozenset({SEEN}))
        env.store([uids[i % 4]], FlagMode.ADD, [FLAGGED])
    assert "cur" not in env.listed
    env.later()
    for i in range(5):
        env.append(30 + i, frozenset({SEEN}))
    assert env.listed.count("cur") == 1
    env.later()
    snap, changes = env.snapshot()
    assert not changes
    assert len(snap.messages) == 14 == len(os.listdir(env.root / "cur"))
