"""``MaildirMailbox.read_many`` when other programs renamed or removed files since the index
last saw them, and the warm snapshot when another process changed the mailbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mailstore.maildir import core
from mailstore.maildir.store import MaildirStore
from mailstore.testing import USER, FakeUsers, sample_message
from mailstore.types import FLAGGED, INBOX, SEEN, FlagMode


def test_read_many_after_external_rename_and_delete(tmp_path: Path, reactor_thread: Any) -> None:
    store = MaildirStore(FakeUsers(tmp_path / "home"), tmp_path / "spool")
    maildir = tmp_path / "home" / USER / "Maildir"
    msgs = [sample_message(i, b"body %d\r\n" % i) for i in range(3)]

    async def go() -> None:
        box = await (await store.account(USER)).open_mailbox(INBOX)
        uids = [(await box.append(m, flags=[FLAGGED])).uid for m in msgs]
        snap = await box.snapshot()
        cur = maildir / "cur"
        names = {(cur / n).read_bytes(): n for n in os.listdir(cur)}  # file of each message
        os.rename(cur / names[msgs[0]], cur / (names[msgs[0]] + "S"))  # now :2,FS
        os.unlink(cur / names[msgs[2]])
        got = await box.read_many([(u, 0, None) for u in uids] + [(uids[0], 2, 5)])
        assert got == [msgs[0], msgs[1], None, msgs[0][2:7]]
        fresh = await box.snapshot()  # the sync read_many did is seen by the next snapshot
        assert [m.uid for m in fresh.messages] == uids[:2]
        assert SEEN in fresh.messages[0].flags and fresh.highestmodseq > snap.highestmodseq
        await store.close()

    reactor_thread.run(go)


def test_warm_snapshot_sees_another_process(
    tmp_path: Path, reactor_thread: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "FRESH_SECONDS", 0.0)  # the sync, not the fresh window
    users = FakeUsers(tmp_path / "home")
    ours, theirs = MaildirStore(users, tmp_path / "s1"), MaildirStore(users, tmp_path / "s2")

    async def go() -> None:
        box = await (await ours.account(USER)).open_mailbox(INBOX)
        other = await (await theirs.account(USER)).open_mailbox(INBOX)
        uid = (await box.append(sample_message(1))).uid
        first = await box.snapshot()
        assert (await box.snapshot()).messages is first.messages  # unchanged: reused
        await other.store_flags([uid], FlagMode.ADD, [SEEN])
        assert SEEN in (await box.snapshot()).messages[0].flags
        await ours.close()
        await theirs.close()

    reactor_thread.run(go)
