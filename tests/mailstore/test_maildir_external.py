"""MaildirStore with other programs at work: deliveries, flag renames, deletions, lost index,
a Dovecot-made Maildir with ``dovecot-uidlist``, hostile names on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir import core
from mailstore.maildir.index import INDEX_FILE
from mailstore.maildir.store import MaildirStore
from mailstore.testing import USER, FakeUsers, sample_message
from mailstore.types import DELETED, FLAGGED, INBOX, SEEN, ChangeEvent, ChangeKind, FlagMode


@pytest.fixture(autouse=True)
def no_fresh_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the sync finding other programs' changes at once; the short
    window in which a remembered snapshot answers is tested in test_maildir_fresh.py."""
    monkeypatch.setattr(core, "FRESH_SECONDS", 0.0)


@pytest.fixture
def env(tmp_path: Path, reactor_thread):
    users = FakeUsers(tmp_path / "home")
    stores: list[MaildirStore] = []

    class Env:
        maildir = tmp_path / "home" / USER / "Maildir"

        def store(self) -> MaildirStore:
            s = MaildirStore(users, tmp_path / "spool")
            stores.append(s)
            return s

        def run(self, fn, *args):
            return reactor_thread.run(fn, *args)

        def close(self) -> None:
            async def close_all() -> None:
                while stores:
                    await stores.pop().close()

            reactor_thread.run(close_all)

    e = Env()
    yield e
    e.close()


async def _inbox(store: MaildirStore, name: str = INBOX):
    account = await store.account(USER)
    return account, await account.open_mailbox(name)


def test_external_delivery_rename_and_delete(env) -> None:
    events: list[ChangeEvent] = []

    async def setup():
        _, box = await _inbox(env.store())
        box.subscribe(events.append)
        uids = [(await box.append(sample_message(i))).uid for i in range(2)]
        assert len(os.listdir(env.maildir / "new")) == 2
        return box, uids, await box.snapshot(claim_recent=True)

    box, uids, snap = env.run(setup)
    cur = env.maildir / "cur"
    assert len(os.listdir(env.maildir / "new")) == 0 and len(os.listdir(cur)) == 2
    # another program delivers one message (LF line ends) and flags another
    (env.maildir / "tmp" / "ext1").write_bytes(b"Subject: ext\n\nhi\n")
    os.rename(env.maildir / "tmp" / "ext1", env.maildir / "new" / "1700000000.ext1.host")
    first = sorted(os.listdir(cur))[0]
    os.rename(cur / first, cur / (first.split(":2,")[0] + ":2,FS"))
    events.clear()

    async def after():
        return await box.snapshot(claim_recent=True)

    snap2 = env.run(after)
    assert snap2.uidvalidity == snap.uidvalidity
    assert [m.uid for m in snap2.messages][:2] == uids
    new_uid = snap2.messages[2].uid
    assert new_uid > uids[-1] and new_uid >= snap.uidnext
    assert snap2.messages[0].flags == {FLAGGED, SEEN}
    assert snap2.messages[0].modseq > snap.messages[0].modseq
    assert snap2.messages[2].size == len(b"Subject: ext\r\n\r\nhi\r\n")
    assert os.listdir(env.maildir / "new") == []
    kinds = {e.kind: e.uids for e in events}
    assert kinds[ChangeKind.APPENDED] == (new_uid,) and kinds[ChangeKind.FLAGS] == (uids[0],)

    async def read_new():
        return await box.read(new_uid), await box.metadata([new_uid])

    data, meta = env.run(read_new)
    assert data == b"Subject: ext\r\n\r\nhi\r\n"
    assert meta[new_uid].envelope.subject == "ext"
    # another program deletes a message: an expunge, same UIDVALIDITY
    for name in os.listdir(cur):
        if name.startswith("1700000000.ext1"):
            os.unlink(cur / name)
    snap3 = env.run(after)
    assert [m.uid for m in snap3.messages] == uids
    assert snap3.uidvalidity == snap.uidvalidity
    assert snap3.highestmodseq > snap2.highestmodseq


def test_renamed_file_found_on_read_and_flag_change(env) -> None:
    async def setup():
        _, box = await _inbox(env.store())
        uid = (await box.append(sample_message(1), flags=[SEEN])).uid
        await box.snapshot()
        return box, uid

    box, uid = env.run(setup)
    cur = env.maildir / "cur"
    (name,) = os.listdir(cur)
    os.rename(cur / name, cur / (name.split(":2,")[0] + ":2,RS"))

    async def work():
        data = await box.read(uid)
        await box.store_flags([uid], FlagMode.ADD, [DELETED])
        return data, await box.snapshot()

    data, snap = env.run(work)
    assert data == sample_message(1)
    assert snap.messages[0].flags == {SEEN, "\\Answered", DELETED}
    assert os.listdir(cur)[0].endswith(":2,RST")


def test_read_after_external_rename_of_lf_file_in_ranges(env) -> None:
    """The lock-free read misses a file renamed by another program, then syncs and finds it."""
    events: list[ChangeEvent] = []
    cur = env.maildir / "cur"
    _, box = env.run(_inbox, env.store())
    box.subscribe(events.append)
    (env.maildir / "tmp" / "ext").write_bytes(b"Subject: lf\n\nline one\nline two\n")
    os.rename(env.maildir / "tmp" / "ext", cur / "1700000001.ext.host:2,")

    async def setup():
        snap = await box.snapshot()
        uid = snap.messages[0].uid
        return uid, await box.read(uid, 3, 6)

    uid, first = env.run(setup)
    crlf = b"Subject: lf\r\n\r\nline one\r\nline two\r\n"
    assert first == crlf[3:9]
    events.clear()
    os.rename(cur / "1700000001.ext.host:2,", cur / "1700000001.ext.host:2,S")

    async def reads():
        return [await box.read(uid, s, n) for s, n in ((0, None), (13, 4), (30, 100), (5, 0))]

    assert env.run(reads) == [crlf, crlf[13:17], crlf[30:], b""]
    assert [(e.kind, e.uids) for e in events] == [(ChangeKind.FLAGS, (uid,))]
    os.unlink(cur / "1700000001.ext.host:2,S")

    async def gone():
        with pytest.raises(StoreError) as info:
            await box.read(uid)
        return info.value.kind

    assert env.run(gone) is StoreErrorKind.NOT_FOUND


def test_read_needs_no_account_lock(env) -> None:
    """Reads go through the read-only index view, so a held account lock does not stop them."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    async def work():
        _, box = await _inbox(env.store())
        uid = (await box.append(sample_message(7))).uid
        core = box._core
        await core.lock.acquire()
        try:
            d = Deferred.fromCoroutine(box.read(uid))
            d.addTimeout(60, reactor)  # a deadlock guard only, never hit when reads skip the lock
            return await d
        finally:
            core.lock.release()

    assert env.run(work) == sample_message(7)


def test_lost_index_gets_new_uidvalidity(env) -> None:
    async def first():
        _, box = await _inbox(env.store())
        for i in range(3):
            await box.append(sample_message(i))
        return await box.snapshot()

    snap = env.run(first)
    env.close()
    for suffix in ("", "-wal", "-shm"):
        (env.maildir / (INDEX_FILE + suffix)).unlink(missing_ok=True)

    async def again():
        _, box = await _inbox(env.store())
        return await box.snapshot()

    snap2 = env.run(again)
    assert snap2.uidvalidity != snap.uidvalidity
    assert len(snap2.messages) == 3


UIDLIST = b"""3 V1234567 N11 G0123456789abcdef0123456789abcdef
5 W64 S60 :1700000000.M1P2.host,S=60,W=64
7 :1700000001.M1P2.host,S=60,W=64
9 G0123 W64 :1700000002.M1P2.host,S=60,W=64
"""


def _dovecot_message(n: int) -> bytes:
    data = (
        b"From: a@example.org\nSubject: dovecot " + str(n).encode() + b"\n\nbody line\n"
    )
    return data + b"x" * (60 - len(data) - 1) + b"\n"


def _make_dovecot_maildir(maildir: Path) -> None:
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    for i, letters in enumerate(["S", "FS", ""]):
        name = f"{1700000000 + i}.M1P2.host,S=60,W=64:2,{letters}"
        (maildir / "cur" / name).write_bytes(_dovecot_message(i))
    (maildir / "new" / "1700000009.M9P9.host").write_bytes(_dovecot_message(9))
    (maildir / "dovecot-uidlist").write_bytes(UIDLIST)
    folder = maildir / ".Lists.Python"
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True)
    (folder / "maildirfolder").touch()
    (maildir / "subscriptions").write_text("INBOX.Lists\nLists.Python\n")


def test_dovecot_maildir_with_uidlist(env) -> None:
    _make_dovecot_maildir(env.maildir)

    async def open_it():
        account, box = await _inbox(env.store())
        snap = await box.snapshot()
        data = await box.read(snap.messages[0].uid)
        return snap, data, await account.list_mailboxes(), await account.subscriptions()

    snap, data, listed, subs = env.run(open_it)
    assert snap.uidvalidity == 1234567
    assert [m.uid for m in snap.messages] == [5, 7, 9, 11]
    assert snap.uidnext == 12
    assert [m.size for m in snap.messages[:3]] == [64, 64, 64]
    assert snap.messages[1].flags == {FLAGGED, SEEN}
    assert data == _dovecot_message(0).replace(b"\n", b"\r\n")
    names = [m.name for m in listed]
    assert names.index("Lists") < names.index("Lists/Python")
    assert {m.name: m.selectable for m in listed}["Lists"] is False
    assert {"Lists", "Lists/Python"} <= set(subs)
    # the index lost: the uidlist still gives the same UIDs and UIDVALIDITY
    env.close()
    for suffix in ("", "-wal", "-shm"):
        (env.maildir / (INDEX_FILE + suffix)).unlink(missing_ok=True)

    async def reopen():
        _, box = await _inbox(env.store())
        return await box.snapshot()

    snap2 = env.run(reopen)
    assert snap2.uidvalidity == 1234567
    assert [m.uid for m in snap2.messages][:3] == [5, 7, 9]


def test_hostile_folders_on_disk_and_nothing_outside(env, tmp_path: Path) -> None:
    async def make():
        account = await env.store().account(USER)
        for name in ("../../escape", "a/../../b", "..", ".x", "a\0b"):
            with pytest.raises(StoreError) as info:
                await account.create_mailbox(name)
            assert info.value.kind is StoreErrorKind.INVALID_NAME
        await account.create_mailbox("Entwürfe")
        return account

    account = env.run(make)
    (env.maildir / ".bad&name").mkdir()
    (env.maildir / ".bad&name" / "cur").mkdir()

    async def listing():
        return [m.name for m in await account.list_mailboxes()]

    names = env.run(listing)
    assert "Entwürfe" in names and not any("bad" in n for n in names)
    assert (env.maildir / ".Entw&APw-rfe" / "maildirfolder").exists()
    outside = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*")}
    assert outside <= {"home", "spool"}
    assert [p.name for p in (tmp_path / "home").iterdir()] == [USER]
    assert [p.name for p in (tmp_path / "home" / USER).iterdir()] == ["Maildir"]


def test_many_keywords_beyond_letters(env) -> None:
    keywords = [f"kw{i}" for i in range(30)]

    async def work():
        _, box = await _inbox(env.store())
        uid = (await box.append(sample_message(1))).uid
        await box.store_flags([uid], FlagMode.ADD, keywords)
        return await box.snapshot()

    snap = env.run(work)
    assert snap.messages[0].flags == set(keywords)
    (name,) = os.listdir(env.maildir / "cur")
    assert len(name.split(":2,")[1]) == 26
    env.close()

    async def reopen():
        _, box = await _inbox(env.store())
        return await box.snapshot()

    assert env.run(reopen).messages[0].flags == set(keywords)


def test_new_only_sync_and_its_escalation(env) -> None:
    async def setup():
        _, box = await _inbox(env.store())
        uid = (await box.append(sample_message(1))).uid
        await box.snapshot()
        return box, uid

    box, uid = env.run(setup)
    new = env.maildir / "new"
    (new / "1700000000.drop.host").write_bytes(b"Subject: dropped\r\n\r\nx\r\n")

    async def status():
        return await box.status(), await box.snapshot()

    st, snap = env.run(status)
    assert st.messages == 2 and st.recent == 2
    assert [m.uid for m in snap.messages] == [uid, uid + 1]
    assert len(os.listdir(new)) == 2
    # a file the index knows in new/ vanishes: the cheap scan hands over to a full one
    (new / "1700000000.drop.host").unlink()
    _, snap2 = env.run(status)
    assert [m.uid for m in snap2.messages] == [uid]
