"""A remembered snapshot answers a second SELECT without a thread trip, briefly and safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailstore.maildir import core, messages
from mailstore.maildir.store import MaildirStore
from mailstore.testing import USER, FakeUsers, sample_message
from mailstore.types import INBOX, SEEN, FlagMode


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(core, "_now", lambda: now[0])
    return now


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = messages.snapshot

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append("snapshot")
        return real(*args, **kwargs)

    monkeypatch.setattr(messages, "snapshot", counting)
    return seen


def test_second_snapshot_is_remembered_until_anything_changes(
    tmp_path: Path, reactor_thread: Any, clock: list[float], calls: list[str]
) -> None:
    store = MaildirStore(FakeUsers(tmp_path / "home"), tmp_path / "spool")

    async def go() -> None:
        account = await store.account(USER)
        box = await account.open_mailbox(INBOX)
        uid = (await box.append(sample_message(1))).uid
        first = await box.snapshot(claim_recent=True)
        assert first.first_recent_uid == uid
        again = await box.snapshot(claim_recent=True)  # another session's SELECT
        assert again.messages is first.messages and again.first_recent_uid > uid
        examine = await box.snapshot()
        assert examine.first_recent_uid == 0 and examine.messages is first.messages
        assert calls == ["snapshot"]  # one trip for three snapshots
        await box.store_flags([uid], FlagMode.ADD, [SEEN])  # a change in this process
        assert SEEN in (await box.snapshot()).messages[0].flags
        assert len(calls) == 2
        uid2 = (await box.append(sample_message(2))).uid
        latest = await box.snapshot(claim_recent=True)
        assert [m.uid for m in latest.messages] == [uid, uid2]
        assert latest.first_recent_uid == uid2
        await store.close()

    reactor_thread.run(go)


def test_examine_does_not_answer_a_claim(
    tmp_path: Path, reactor_thread: Any, clock: list[float], calls: list[str]
) -> None:
    store = MaildirStore(FakeUsers(tmp_path / "home"), tmp_path / "spool")

    async def go() -> None:
        box = await (await store.account(USER)).open_mailbox(INBOX)
        uid = (await box.append(sample_message(1))).uid
        await box.snapshot()  # EXAMINE: claims nothing
        claimed = await box.snapshot(claim_recent=True)
        assert claimed.first_recent_uid == uid  # not hidden by the remembered EXAMINE
        assert len(calls) == 2
        await store.close()

    reactor_thread.run(go)


def test_another_process_shows_after_the_window(
    tmp_path: Path, reactor_thread: Any, clock: list[float]
) -> None:
    users = FakeUsers(tmp_path / "home")
    ours, theirs = MaildirStore(users, tmp_path / "s1"), MaildirStore(users, tmp_path / "s2")

    async def go() -> None:
        box = await (await ours.account(USER)).open_mailbox(INBOX)
        other = await (await theirs.account(USER)).open_mailbox(INBOX)
        uid = (await box.append(sample_message(1))).uid
        await box.snapshot()
        await other.store_flags([uid], FlagMode.ADD, [SEEN])
        clock[0] += core.FRESH_SECONDS / 2
        assert SEEN not in (await box.snapshot()).messages[0].flags  # inside the window
        clock[0] += core.FRESH_SECONDS
        assert SEEN in (await box.snapshot()).messages[0].flags
        await ours.close()
        await theirs.close()

    reactor_thread.run(go)
