"""STORE, COPY and MOVE over a real MaildirStore (RFC 3501 6.4.6-7, RFC 4315, 6851, 7162)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailstore.types import DELETED, FLAGGED, SEEN
from protocols.imap.responses import CodeKind, CopyUidCode, ModifiedCode, SimpleCode
from protocols.imap.selected import InvalidSequence
from tests.protocols.imap.messages_env import Env, message


@pytest.fixture
def env(tmp_path: Path, reactor_thread: Any) -> Iterator[Env]:
    e = Env(tmp_path, reactor_thread)
    yield e
    e.close()


def three(env: Env, **kwargs: Any) -> Any:
    return env.select([message(1), message(2), message(3)], **kwargs)


def test_store_add_remove_replace(env: Env) -> None:
    sel = three(env)
    out, result = env.lines(sel, b"a STORE 1:2 +FLAGS (\\Flagged $Todo)")
    assert result.status == "OK"
    assert out == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo \\*)]"
        b" Flags permitted\r\n"
        b"* 1 FETCH (FLAGS ($Todo \\Flagged \\Recent))\r\n"
        b"* 2 FETCH (FLAGS ($Todo \\Flagged \\Recent))\r\n"
    )
    out, _ = env.lines(sel, b"a STORE 2 -FLAGS ($TODO)")
    assert out == b"* 2 FETCH (FLAGS (\\Flagged \\Recent))\r\n"
    out, _ = env.lines(sel, b"a STORE 1 FLAGS \\Seen")
    assert out == b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n"
    assert sel.info(1).flags == frozenset({SEEN})
    assert sel.info(2).flags == frozenset({FLAGGED})
    env.sync(sel)
    assert sel.pending_updates(allow_expunge=True) == []


def test_store_silent_and_uid_store(env: Env) -> None:
    sel = three(env)
    out, _ = env.lines(sel, b"a STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert out == b""
    assert DELETED in sel.info(1).flags
    out, _ = env.lines(sel, b"a UID STORE 2:99 +FLAGS (\\Answered)")
    assert out == (
        b"* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent))\r\n"
        b"* 3 FETCH (UID 3 FLAGS (\\Answered \\Recent))\r\n"
    )


def test_store_unchangedsince_reports_modified(env: Env) -> None:
    sel = three(env)
    since = max(sel.info(u).modseq for u in (1, 2, 3))
    env.command(sel, b"a STORE 2 +FLAGS.SILENT (\\Seen)")
    assert sel.info(2).modseq > since
    out, result = env.lines(sel, b"a STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % since)
    assert result.tagged == ModifiedCode((2,))
    assert b"* 2 FETCH" not in out
    assert out.startswith(b"* 1 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (")
    assert FLAGGED not in sel.info(2).flags and FLAGGED in sel.info(3).flags
    # with CONDSTORE on, .SILENT still reports the new MODSEQ (RFC 7162 3.1.3)
    out, _ = env.lines(sel, b"a UID STORE 1 +FLAGS.SILENT (\\Seen)")
    assert out == b"* 1 FETCH (UID 1 MODSEQ (%d))\r\n" % sel.info(1).modseq


def test_store_on_examined_mailbox_is_refused(env: Env) -> None:
    sel = three(env, readonly=True)
    result = env.command(sel, b"a STORE 1 +FLAGS (\\Seen)")
    assert result.status == "NO" and not result.untagged
    with pytest.raises(InvalidSequence):
        env.command(sel, b"a STORE 9 +FLAGS (\\Seen)")


def test_copy_returns_copyuid_and_keeps_flags(env: Env) -> None:
    sel = three(env, flags=[[SEEN], [], [FLAGGED]])
    env.rt.run(_create, env, "Saved")
    result = env.command(sel, b"a COPY 1,3 Saved")
    assert result.status == "OK"
    assert isinstance(result.tagged, CopyUidCode)
    assert result.tagged.source == (1, 3) and result.tagged.dest == (1, 2)
    flags = env.rt.run(_flags_in, env, "Saved")
    assert flags == [frozenset({SEEN}), frozenset({FLAGGED})]
    assert sel.exists() == 3


def test_copy_to_missing_mailbox_says_trycreate(env: Env) -> None:
    sel = three(env)
    result = env.command(sel, b"a COPY 1 Nowhere")
    assert result.status == "NO" and result.tagged == SimpleCode(CodeKind.TRYCREATE)
    result = env.command(sel, b"a MOVE 1 Nowhere")
    assert result.status == "NO" and result.tagged == SimpleCode(CodeKind.TRYCREATE)
    assert sel.exists() == 3


def test_uid_copy_of_nothing_is_ok(env: Env) -> None:
    sel = three(env)
    result = env.command(sel, b"a UID COPY 50:60 INBOX")
    assert result.status == "OK" and result.tagged is None


def test_copy_into_the_selected_mailbox_shows_up_as_exists(env: Env) -> None:
    sel = three(env)
    result = env.command(sel, b"a COPY 2 INBOX")
    assert isinstance(result.tagged, CopyUidCode) and result.tagged.dest == (4,)
    updates = sel.pending_updates(allow_expunge=True)
    assert env.wire(updates).startswith(b"* 4 EXISTS\r\n")


def test_move_sends_copyuid_then_expunges(env: Env) -> None:
    sel = three(env)
    env.rt.run(_create, env, "Bin")
    out, result = env.lines(sel, b"a MOVE 1:2 Bin")
    assert result.status == "OK"
    validity = env.rt.run(_uidvalidity, env, "Bin")
    head = b"* OK [COPYUID %d 1:2 1:2] Moved\r\n" % validity
    assert out in (head + b"* 1 EXPUNGE\r\n" * 2, head + b"* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n")
    assert list(sel.uids()) == [3]
    out, _ = env.lines(sel, b"a UID MOVE 3 Bin")
    assert out.endswith(b"* 1 EXPUNGE\r\n")
    assert sel.exists() == 0
    env.sync(sel)
    assert sel.pending_updates(allow_expunge=True) == []
    assert len(env.rt.run(_flags_in, env, "Bin")) == 3


def test_move_in_examined_mailbox_is_refused(env: Env) -> None:
    sel = three(env, readonly=True)
    result = env.command(sel, b"a MOVE 1 INBOX")
    assert result.status == "NO"
    assert sel.exists() == 3


def test_copy_of_message_expunged_elsewhere(env: Env) -> None:
    sel = three(env)
    env.rt.run(_expunge_elsewhere, env, 2)
    env.sync(sel)
    result = env.command(sel, b"a COPY 1:3 INBOX")
    assert result.status == "NO" and result.tagged == SimpleCode(CodeKind.EXPUNGEISSUED)
    result = env.command(sel, b"a STORE 1:3 +FLAGS (\\Seen)")
    assert result.status == "NO" and len(result.untagged) == 2


async def _create(env: Env, name: str) -> None:
    await (await env.account()).create_mailbox(name)


async def _flags_in(env: Env, name: str) -> list[frozenset[str]]:
    box = await (await env.account()).open_mailbox(name)
    return [m.flags for m in (await box.snapshot()).messages]


async def _uidvalidity(env: Env, name: str) -> int:
    box = await (await env.account()).open_mailbox(name)
    return (await box.snapshot()).uidvalidity


async def _expunge_elsewhere(env: Env, uid: int) -> None:
    from mailstore.types import FlagMode

    box = await (await env.account()).open_mailbox("INBOX")
    await box.store_flags([uid], FlagMode.ADD, [DELETED])
    await box.expunge()
