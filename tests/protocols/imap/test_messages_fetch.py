"""FETCH / UID FETCH over a real MaildirStore (RFC 3501 6.4.5, 6.4.8, 7.4.2; RFC 7162)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailstore.types import SEEN, FlagMode
from protocols.imap.handlers import messages as handlers
from protocols.imap.responses import ExternalLiteral, FetchData, Response, SectionItem
from protocols.imap.selected import InvalidSequence
from tests.protocols.imap.messages_env import Env, message
from tests.protocols.imap.test_fetching import NESTED


@pytest.fixture
def env(tmp_path: Path, reactor_thread: Any) -> Iterator[Env]:
    e = Env(tmp_path, reactor_thread)
    yield e
    e.close()


def test_fetch_flags_uid_size_in_sequence_order(env: Env) -> None:
    sel = env.select([message(1), message(2), message(3)], flags=[[SEEN], [], ["$Work"]])
    out, result = env.lines(sel, b"a FETCH 1:* (FLAGS RFC822.SIZE)")
    size = len(message(1))
    assert result.status == "OK"
    assert out == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822.SIZE %d)\r\n"
        b"* 2 FETCH (FLAGS (\\Recent) RFC822.SIZE %d)\r\n"
        b"* 3 FETCH (FLAGS ($Work \\Recent) RFC822.SIZE %d)\r\n" % (size, size, size)
    )


def test_uid_fetch_puts_uid_first_and_skips_missing_uids(env: Env) -> None:
    sel = env.select([message(1), message(2)])
    out, result = env.lines(sel, b"a UID FETCH 2:10 (INTERNALDATE)")
    assert result.status == "OK"
    assert out == b'* 2 FETCH (UID 2 INTERNALDATE "15-Nov-2023 22:13:20 +0000")\r\n'


def test_sequence_number_beyond_mailbox_is_invalid(env: Env) -> None:
    sel = env.select([message(1)])
    with pytest.raises(InvalidSequence):
        env.command(sel, b"a FETCH 2 FLAGS")


def test_envelope_and_bodystructure_come_from_metadata(env: Env) -> None:
    sel = env.select([message(7)])
    out, _ = env.lines(sel, b"a FETCH 1 (ENVELOPE BODY)")
    assert out.startswith(
        b'* 1 FETCH (ENVELOPE ("Mon, 6 Nov 2023 10:00:00 +0000" "message 7" '
        b'(("Bob" NIL "bob" "example.org"))'
    )
    assert b' BODY ("TEXT" "PLAIN" ("charset" "us-ascii") NIL NIL "7BIT" 14 1))\r\n' in out


def test_body_fetch_sets_seen_and_reports_flags(env: Env) -> None:
    sel = env.select([message(1), message(2)])
    out, _ = env.lines(sel, b"a FETCH 1 BODY[TEXT]")
    assert out == b"* 1 FETCH (BODY[TEXT] {14}\r\nHello there.\r\n FLAGS (\\Seen \\Recent))\r\n"
    assert SEEN in sel.info(1).flags
    out, _ = env.lines(sel, b"a FETCH 1 BODY[TEXT]")
    assert b"FLAGS" not in out  # already seen: nothing changed
    env.sync(sel)
    assert sel.pending_updates(allow_expunge=True) == []  # our own change is no news


def test_peek_and_rfc822_header_leave_seen_alone(env: Env) -> None:
    sel = env.select([message(1)])
    out, _ = env.lines(sel, b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject)] RFC822.HEADER)")
    header = message(1)[: message(1).index(b"\r\n\r\n") + 4]
    assert out == (
        b"* 1 FETCH (BODY[HEADER.FIELDS (subject)] {22}\r\nSubject: message 1\r\n\r\n"
        b" RFC822.HEADER {%d}\r\n%s)\r\n" % (len(header), header)
    )
    assert SEEN not in sel.info(1).flags


def test_rfc822_sets_seen(env: Env) -> None:
    sel = env.select([message(1)])
    out, _ = env.lines(sel, b"a UID FETCH 1 RFC822")
    data = message(1)
    assert out == b"* 1 FETCH (UID 1 RFC822 {%d}\r\n%s FLAGS (\\Seen \\Recent))\r\n" % (
        len(data),
        data,
    )


def test_examine_never_sets_seen(env: Env) -> None:
    sel = env.select([message(1)], readonly=True)
    out, _ = env.lines(sel, b"a FETCH 1 BODY[]")
    assert b"FLAGS" not in out
    assert SEEN not in sel.info(1).flags


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (b"BODY.PEEK[TEXT]<0.5>", b"BODY[TEXT]<0> {5}\r\nHello"),
        (b"BODY.PEEK[TEXT]<6.100>", b"BODY[TEXT]<6> {8}\r\nthere.\r\n"),
        (b"BODY.PEEK[TEXT]<99.5>", b"BODY[TEXT]<99> {0}\r\n"),
        (b"BODY.PEEK[1]", b"BODY[1] {14}\r\nHello there.\r\n"),
        (b"BODY.PEEK[2]", b"BODY[2] NIL"),
        (b"BODY.PEEK[1.MIME]<0.4>", b"BODY[1.MIME]<0> {4}\r\nFrom"),
    ],
)
def test_partial_and_missing_sections(env: Env, item: bytes, expected: bytes) -> None:
    sel = env.select([message(1)])
    out, _ = env.lines(sel, b"a FETCH 1 " + item)
    assert out == b"* 1 FETCH (" + expected + b")\r\n"


def test_nested_sections_through_the_store(env: Env) -> None:
    sel = env.select([NESTED])
    out, _ = env.lines(sel, b"a FETCH 1 (BODY.PEEK[2.2] BODY.PEEK[2.HEADER.FIELDS (From)])")
    assert out == (
        b"* 1 FETCH (BODY[2.2] {17}\r\n<p>inner html</p>"
        b" BODY[2.HEADER.FIELDS (From)] {35}\r\nFrom: Carol <carol@example.net>\r\n\r\n)\r\n"
    )


def test_big_sections_are_streamed(env: Env) -> None:
    body = b"".join(b"line %06d of a big body\r\n" % i for i in range(10000))
    sel = env.select([message(1, body)])
    result = env.command(sel, b"a FETCH 1 (BODY.PEEK[TEXT] BODY.PEEK[]<10.100000>)")
    data = result.untagged[0]
    assert isinstance(data, FetchData)
    literals = [i.data for i in data.items if isinstance(i, SectionItem)]
    assert all(isinstance(lit, ExternalLiteral) for lit in literals)
    out = env.wire(result.untagged)
    whole = message(1, body)
    assert out == b"* 1 FETCH (BODY[TEXT] {%d}\r\n%s BODY[]<10> {100000}\r\n%s)\r\n" % (
        len(body),
        body,
        whole[10:100010],
    )


def test_responses_are_sent_batch_by_batch(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "READ_BUDGET", 100)  # every message fills a batch
    sel = env.select([message(i) for i in range(1, 4)])
    sent: list[list[Response]] = []

    async def send(responses: list[Response]) -> None:
        sent.append(responses)

    sel.send = send
    result = env.command(sel, b"a FETCH 1:3 BODY.PEEK[]")
    assert result.status == "OK" and result.untagged == []
    assert [[r.sequence for r in batch] for batch in sent] == [[1], [2], [3]]  # type: ignore[union-attr]
    wire = env.wire(r for batch in sent for r in batch)
    assert wire.count(b"Hello there.") == 3
    assert wire.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(message(1)))


def test_message_expunged_by_another_session_during_fetch(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 3501 7.4.1 / RFC 2180 4.1.2: the other messages are answered in order, the
    vanished one is left out, no EXPUNGE is sent, and the tagged answer is NO."""
    monkeypatch.setattr(handlers, "META_BATCH", 4)
    sel = env.select([message(i) for i in range(1, 13)])
    sent: list[Response] = []

    async def send(responses: list[Response]) -> None:
        if not sent:  # after the first batch, another session expunges 2 later messages
            await _expunge_elsewhere(env, [7, 10])
        sent.extend(responses)

    sel.send = send
    result = env.command(sel, b"a FETCH 1:* (UID ENVELOPE BODY.PEEK[TEXT])")
    assert result.status == "NO" and result.tagged is not None
    assert [r.sequence for r in sent] == [1, 2, 3, 4, 5, 6, 8, 9, 11, 12]  # type: ignore[attr-defined]
    assert all(isinstance(r, FetchData) for r in sent)
    assert env.wire(sent).count(b"Hello there.") == 10
    assert sel.dirty and sel.exists() == 12  # the session tells at the next allowed point
    env.sync(sel)
    assert sel.is_expunged(7) and sel.is_expunged(10)


def test_changedsince_filters_and_adds_modseq(env: Env) -> None:
    sel = env.select([message(1), message(2), message(3)])
    env.command(sel, b"a STORE 2 +FLAGS.SILENT (\\Flagged)")
    modseq = sel.info(2).modseq
    assert modseq > sel.info(1).modseq
    out, _ = env.lines(sel, b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % (modseq - 1))
    assert out == b"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ (%d))\r\n" % modseq
    assert sel.condstore


def test_message_expunged_elsewhere_gives_expungeissued(env: Env) -> None:
    sel = env.select([message(1), message(2)])

    async def expunge_elsewhere() -> None:
        box = await (await env.account()).open_mailbox("INBOX")
        await box.store_flags([1], FlagMode.ADD, ["\\Deleted"])
        await box.expunge()

    env.rt.run(expunge_elsewhere)
    env.sync(sel)
    assert sel.is_expunged(1)
    out, result = env.lines(sel, b"a FETCH 1:2 (FLAGS ENVELOPE)")
    assert result.status == "NO" and result.tagged is not None
    assert out.startswith(b"* 2 FETCH (FLAGS (\\Recent) ENVELOPE (")
    out, result = env.lines(sel, b"a FETCH 1 (UID FLAGS)")  # the view can still answer
    assert result.status == "OK" and out == b"* 1 FETCH (UID 1 FLAGS (\\Recent))\r\n"


def test_vanished_earlier_before_the_fetches(env: Env) -> None:
    sel = env.select([message(1), message(2), message(3), message(4)])
    result = env.command(sel, b"a UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)")
    assert result.status == "BAD"  # QRESYNC not enabled
    env.rt.run(_expunge_elsewhere, env, [2, 3])
    sel.enabled = frozenset({"CONDSTORE", "QRESYNC"})
    env.sync(sel)
    sel.pending_updates(allow_expunge=True)
    out, result = env.lines(sel, b"a UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)")
    assert result.status == "OK"
    assert out.startswith(b"* VANISHED (EARLIER) 2:3\r\n* 1 FETCH (UID 1 FLAGS")


async def _expunge_elsewhere(env: Env, uids: list[int]) -> None:
    box = await (await env.account()).open_mailbox("INBOX")
    await box.store_flags(uids, FlagMode.ADD, ["\\Deleted"])
    await box.expunge()


def test_concurrent_reads_keep_sequence_order(env: Env) -> None:
    sel = env.select([message(i, b"body %d\r\n" % i) for i in range(1, 41)])
    out, result = env.lines(sel, b"a UID FETCH 1:* (BODY.PEEK[TEXT])")
    assert result.status == "OK"
    assert out == b"".join(
        b"* %d FETCH (UID %d BODY[TEXT] {%d}\r\nbody %d\r\n)\r\n"
        % (i, i, len(b"body %d\r\n" % i), i)
        for i in range(1, 41)
    )
