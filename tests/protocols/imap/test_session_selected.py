"""SelectedMailbox: sequence numbers, resolve, and RFC 3501 7.4.1 update rules (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from mailstore.types import ChangeEvent, ChangeKind, FlagUpdate, MailboxSnapshot, MessageInfo
from protocols.imap.grammar.sequence import SequenceSet
from protocols.imap.responses import (
    ExistsData,
    ExpungeData,
    FetchData,
    FlagsItem,
    RecentData,
    UidItem,
    VanishedData,
)
from protocols.imap.selected import InvalidSequence, SelectedMailbox, SessionToken


def info(uid: int, *flags: str, modseq: int = 1) -> MessageInfo:
    return MessageInfo(uid, frozenset(flags), modseq, 100, 0.0)


def snap(*messages: MessageInfo, recent: int = 0) -> MailboxSnapshot:
    top = max((m.uid for m in messages), default=0)
    return MailboxSnapshot("INBOX", 7, top + 1, 9, tuple(messages), recent)


class FakeMailbox:
    name = "INBOX"

    def __init__(self) -> None:
        self.listener: Any = None

    def subscribe(self, listener: Any) -> Any:
        self.listener = listener
        return lambda: None


def view(*uids: int, enabled: frozenset[str] = frozenset()) -> SelectedMailbox:
    return SelectedMailbox(
        FakeMailbox(),  # type: ignore[arg-type]
        snap(*(info(u) for u in uids)),
        name="INBOX",
        readonly=False,
        origin=SessionToken(),
        enabled=enabled,
    )


@pytest.mark.parametrize(
    ("wire", "uid", "expected"),
    [
        (b"1:*", False, [3, 5, 9]),
        (b"2", False, [5]),
        (b"*:2", False, [5, 9]),
        (b"1:*", True, [3, 5, 9]),
        (b"4:6", True, [5]),
        (b"100:*", True, [9]),
        (b"6", True, []),
    ],
)
def test_resolve(wire: bytes, uid: bool, expected: list[int]) -> None:
    assert view(3, 5, 9).resolve(SequenceSet.parse(wire), uid=uid) == expected


def test_sequence_number_beyond_mailbox_is_invalid() -> None:
    with pytest.raises(InvalidSequence):
        view(3, 5).resolve(SequenceSet.parse(b"3"), uid=False)
    assert view().resolve(SequenceSet.parse(b"1:*"), uid=True) == []


def test_expunge_held_back_until_allowed() -> None:
    sel = view(1, 2, 3, 4)
    sel.absorb(snap(info(1), info(3), info(5)))
    early = sel.pending_updates(allow_expunge=False)
    assert early == [ExistsData(5), RecentData(0)]
    assert sel.seq_of(5) == 5 and sel.is_expunged(2)
    late = sel.pending_updates(allow_expunge=True)
    assert late == [ExpungeData(2), ExpungeData(3)]
    assert list(sel.uids()) == [1, 3, 5]


def test_flag_changes_become_fetch_and_own_changes_do_not() -> None:
    sel = view(1, 2)
    sel.apply_flags([FlagUpdate(1, frozenset({"\\Seen"}), 2)])
    sel.absorb(snap(info(1, "\\Seen", modseq=2), info(2, "\\Flagged", modseq=3)))
    assert sel.pending_updates(allow_expunge=True) == [
        FetchData(2, (UidItem(2), FlagsItem(("\\Flagged",))))
    ]


def test_qresync_reports_vanished() -> None:
    sel = view(1, 2, 3, enabled=frozenset({"QRESYNC", "CONDSTORE"}))
    assert sel.remove([1, 3]) == [VanishedData((1, 3))]
    assert list(sel.uids()) == [2]


def test_change_feed_skips_own_flag_echo_and_wakes() -> None:
    sel = view(1)
    sel.attach()
    woken: list[int] = []
    sel.on_wake(lambda: woken.append(1))
    listener = sel.mailbox.listener  # type: ignore[attr-defined]
    listener(ChangeEvent("alice", "INBOX", ChangeKind.FLAGS, (1,), sel.origin))
    assert not sel.dirty and not woken
    listener(ChangeEvent("alice", "INBOX", ChangeKind.APPENDED, (2,), object()))
    assert sel.dirty and woken == [1]


def test_recent_claimed_at_select() -> None:
    sel = SelectedMailbox(
        FakeMailbox(),  # type: ignore[arg-type]
        snap(info(1), info(2), recent=2),
        name="INBOX",
        readonly=False,
        origin=SessionToken(),
    )
    assert not sel.is_recent(1) and sel.is_recent(2)
    assert sel.flags_with_recent(2) == ("\\Recent",)
