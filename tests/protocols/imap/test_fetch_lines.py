"""FETCH of view-only items (``fetchlines``): the same octets as the general path (pure).

Each case runs the FETCH handler twice on equal views, once as it is and once with the
fast path switched off (``view_items`` answering None), and compares the untagged octets and
the tagged result.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore.types import MailboxSnapshot, MessageInfo
from protocols.imap import commands as c
from protocols.imap import fetchlines
from protocols.imap.grammar.commands import parse_command_bytes
from protocols.imap.grammar.fetch import FetchAttr
from protocols.imap.grammar.writer import serialize_chunks
from protocols.imap.handlers import HandlerResult
from protocols.imap.handlers import messages as handlers
from protocols.imap.responses import FetchLines, Response
from protocols.imap.selected import SelectedMailbox, SessionToken

FLAG_SETS = [
    (),
    ("\\Seen",),
    ("\\Seen", "\\Answered"),
    ("\\Flagged", "\\Deleted", "\\Draft", "\\Seen", "\\Answered"),
    ("$Forwarded",),
    ("\\Seen", "$Forwarded", "Junk"),
    ("$label1", "NonJunk", "\\Flagged"),
    ("MixedCase", "mixedcase"),
]
ITEMS = [
    b"FLAGS",
    b"(FLAGS)",
    b"(UID FLAGS)",
    b"(FLAGS UID)",
    b"(FLAGS RFC822.SIZE INTERNALDATE)",
    b"FAST",
    b"(MODSEQ FLAGS)",
    b"(RFC822.SIZE)",
    b"(INTERNALDATE UID MODSEQ)",
    b"(FLAGS FLAGS UID)",
    b"UID",
]


class _FakeMailbox:
    name = "INBOX"

    def subscribe(self, listener: Any) -> Any:
        return lambda: None


def _snapshot(
    flag_sets: Sequence[Sequence[str]], *, gap: int = 3, recent: int = 0
) -> MailboxSnapshot:
    messages = tuple(
        MessageInfo(
            uid=1 + i * gap,
            flags=frozenset(flags),
            modseq=10 + i * 7,
            size=900 + i * 13,
            internal_date=1_700_000_000.75 + i * 86_399,
        )
        for i, flags in enumerate(flag_sets)
    )
    top = messages[-1].uid if messages else 0
    first_recent = messages[-recent].uid if recent else 0
    return MailboxSnapshot("INBOX", 7, top + 1, 10 + len(messages) * 7, messages, first_recent)


def _view(snapshot: MailboxSnapshot, *, condstore: bool = False) -> SelectedMailbox:
    return SelectedMailbox(
        _FakeMailbox(),  # type: ignore[arg-type]
        snapshot,
        name="INBOX",
        readonly=False,
        origin=SessionToken(),
        condstore=condstore,
    )


def _finish(coro: Coroutine[Any, Any, HandlerResult]) -> HandlerResult:
    """Run a handler that makes no store call (it completes without the reactor)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        result: HandlerResult = stop.value
        return result
    coro.close()
    raise AssertionError("the handler waited for something")


def _wire(responses: Sequence[Response]) -> bytes:
    return b"".join(c for r in responses for c in serialize_chunks(r) if isinstance(c, bytes))


def _command(line: bytes) -> c.Fetch:
    cmd = parse_command_bytes(line + b"\r\n")
    assert isinstance(cmd, c.Fetch)
    return cmd


def _fetch(sel: SelectedMailbox, line: bytes) -> tuple[bytes, HandlerResult]:
    result = _finish(handlers.handle_fetch(_command(line), sel))
    return _wire(result.untagged), result


def _both(
    monkeypatch: pytest.MonkeyPatch,
    make: Any,
    line: bytes,
) -> tuple[bytes, bytes, HandlerResult]:
    """(fast octets, general octets, fast result), each on a fresh view from ``make()``."""
    fast_sel = make()
    fast, result = _fetch(fast_sel, line)
    with monkeypatch.context() as patch:
        patch.setattr(handlers, "view_items", lambda *a, **k: None)
        general_sel = make()
        general, general_result = _fetch(general_sel, line)
    assert (result.status, result.text) == (general_result.status, general_result.text)
    assert fast_sel.condstore == general_sel.condstore
    return fast, general, result


@pytest.mark.parametrize("items", ITEMS)
@pytest.mark.parametrize("verb", [b"FETCH", b"UID FETCH"])
@pytest.mark.parametrize("seqset", [b"1:*", b"2,4:5", b"*:3", b"7"])
def test_same_octets_as_the_general_path(
    monkeypatch: pytest.MonkeyPatch, items: bytes, verb: bytes, seqset: bytes
) -> None:
    snapshot = _snapshot(FLAG_SETS, recent=3)
    fast, general, result = _both(
        monkeypatch, lambda: _view(snapshot), b"a " + verb + b" " + seqset + b" " + items
    )
    assert fast == general
    assert any(isinstance(r, FetchLines) for r in result.untagged) or not fast


@pytest.mark.parametrize("items", [b"FLAGS", b"(UID RFC822.SIZE)", b"FAST"])
@pytest.mark.parametrize("modifier", [b"", b" (CHANGEDSINCE 30)"])
def test_same_octets_under_condstore(
    monkeypatch: pytest.MonkeyPatch, items: bytes, modifier: bytes
) -> None:
    snapshot = _snapshot(FLAG_SETS)
    line = b"a UID FETCH 1:* " + items + modifier
    fast, general, _ = _both(monkeypatch, lambda: _view(snapshot, condstore=True), line)
    assert fast == general
    if modifier or b"FLAGS" in items or items == b"FAST":
        assert b"MODSEQ (" in fast


def test_recent_and_keywords_are_shown_as_the_general_path_shows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshot = _snapshot([("$Forwarded", "\\Seen"), ("\\Seen",), ("\\Seen",)], recent=2)
    fast, general, _ = _both(monkeypatch, lambda: _view(snapshot), b"a UID FETCH 1:* (FLAGS)")
    assert (
        fast
        == general
        == (
            b"* 1 FETCH (UID 1 FLAGS ($Forwarded \\Seen))\r\n"
            b"* 2 FETCH (UID 4 FLAGS (\\Seen \\Recent))\r\n"
            b"* 3 FETCH (UID 7 FLAGS (\\Seen \\Recent))\r\n"
        )
    )


def test_message_expunged_elsewhere_keeps_its_place_until_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 3501 7.4.1: no EXPUNGE during FETCH; the view still answers for the message."""
    snapshot = _snapshot(FLAG_SETS)
    later = MailboxSnapshot(
        "INBOX", 7, snapshot.uidnext, snapshot.highestmodseq, snapshot.messages[2:], 0
    )

    def make() -> SelectedMailbox:
        sel = _view(snapshot)
        sel.absorb(later)
        return sel

    fast, general, result = _both(monkeypatch, make, b"a FETCH 1:* (FLAGS UID)")
    assert fast == general
    assert fast.startswith(b"* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 4 FLAGS (\\Seen))\r\n")
    assert result.status == "OK" and b"EXPUNGE" not in fast


def test_batches_go_out_in_sequence_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "LINES_PER_BATCH", 3)
    snapshot = _snapshot([FLAG_SETS[i % len(FLAG_SETS)] for i in range(20)], recent=4)
    sent: list[list[Response]] = []

    async def send(responses: list[Response]) -> None:
        sent.append(responses)

    sel = _view(snapshot)
    sel.send = send
    result = _finish(handlers.handle_fetch(_command(b"a UID FETCH 1:* (FLAGS)"), sel))
    assert result.status == "OK" and result.untagged == []
    assert [len(batch) for batch in sent] == [1] * 7
    wire = _wire([r for batch in sent for r in batch])
    lines = wire.split(b"\r\n")[:-1]
    assert [int(line.split()[1]) for line in lines] == list(range(1, 21))
    general, _ = _fetch_general(monkeypatch, _view(snapshot), b"a UID FETCH 1:* (FLAGS)")
    assert wire == general


def _fetch_general(
    monkeypatch: pytest.MonkeyPatch, sel: SelectedMailbox, line: bytes
) -> tuple[bytes, HandlerResult]:
    with monkeypatch.context() as patch:
        patch.setattr(handlers, "view_items", lambda *a, **k: None)
        return _fetch(sel, line)


def test_connection_closed_stops_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "LINES_PER_BATCH", 2)
    sel = _view(_snapshot(FLAG_SETS))
    sent: list[Response] = []

    async def send(responses: list[Response]) -> None:
        sent.extend(responses)
        sel.closed = True

    sel.send = send
    result = _finish(handlers.handle_fetch(_command(b"a FETCH 1:* FLAGS"), sel))
    assert result.status == "NO" and len(sent) == 1


@pytest.mark.parametrize(
    "items",
    [b"(FLAGS ENVELOPE)", b"ALL", b"(UID BODY.PEEK[HEADER])", b"(FLAGS BODYSTRUCTURE)", b"RFC822"],
)
def test_items_beyond_the_view_take_the_general_path(items: bytes) -> None:
    cmd = _command(b"a FETCH 1 " + items)
    assert fetchlines.view_items(cmd.items, with_uid=True, with_modseq=True) is None


def test_view_items_order_matches_the_writer() -> None:
    attrs = fetchlines.view_items(
        [FetchAttr.FLAGS, FetchAttr.RFC822_SIZE, FetchAttr.UID], with_uid=True, with_modseq=True
    )
    assert attrs == (FetchAttr.UID, FetchAttr.FLAGS, FetchAttr.RFC822_SIZE, FetchAttr.MODSEQ)


_FLAG = st.sampled_from(
    ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Forwarded", "Junk", "$MDNSent"]
)
_ITEM = st.sampled_from(["FLAGS", "UID", "MODSEQ", "RFC822.SIZE", "INTERNALDATE"])


@settings(max_examples=150, deadline=None)
@given(
    flag_sets=st.lists(st.lists(_FLAG, max_size=4), min_size=1, max_size=30),
    items=st.lists(_ITEM, min_size=1, max_size=5),
    uid=st.booleans(),
    condstore=st.booleans(),
    recent=st.integers(min_value=0, max_value=5),
    batch=st.integers(min_value=1, max_value=8),
    picks=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=5),
)
def test_any_view_items_give_the_general_octets(
    flag_sets: list[list[str]],
    items: list[str],
    uid: bool,
    condstore: bool,
    recent: int,
    batch: int,
    picks: list[int],
) -> None:
    snapshot = _snapshot(flag_sets, recent=min(recent, len(flag_sets)))
    count = len(flag_sets)
    if uid:
        seqset = b",".join(b"%d" % p for p in picks) + b",*"
    else:
        seqset = b",".join(b"%d" % min(p, count) for p in picks)
    line = b"a %sFETCH %s (%s)" % (b"UID " if uid else b"", seqset, " ".join(items).encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handlers, "LINES_PER_BATCH", batch)
        fast, general, _ = _both(patch, lambda: _view(snapshot, condstore=condstore), line)
    assert fast == general
