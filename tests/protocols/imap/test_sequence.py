from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.imap.errors import ParseError
from protocols.imap.grammar.sequence import STAR, SequenceSet, format_numbers


@pytest.mark.parametrize(
    ("wire", "largest", "starts", "ends"),
    [
        (b"1:*", 10, (1,), (10,)),
        (b"*", 7, (7,), (7,)),
        (b"5:3,1", 9, (1, 3), (1, 5)),
        (b"1,2,3,7:9,4", 20, (1, 7), (4, 9)),
        (b"20:*", 10, (10,), (20,)),
        (b"*:4", 2, (2,), (4,)),
        (b"2:4,3:8,10", 20, (2, 10), (8, 10)),
    ],
)
def test_resolve(wire, largest, starts, ends):
    resolved = SequenceSet.parse(wire).resolve(largest)
    assert (resolved.starts, resolved.ends) == (starts, ends)


def test_membership_without_expanding_star():
    resolved = SequenceSet.parse(b"1:*").resolve(4_000_000_000)
    assert 3_999_999_999 in resolved
    assert 0 not in resolved
    assert len(resolved) == 4_000_000_000
    assert SequenceSet.parse(b"5:7").contains(6, 100)
    assert not SequenceSet.parse(b"5:7").contains(8, 100)


def test_select_and_positions_from_sorted_uids():
    uids = [3, 8, 9, 15, 16, 40]
    resolved = SequenceSet.parse(b"8:15,40:*").resolve(uids[-1])
    assert resolved.select(uids) == [8, 9, 15, 40]
    assert resolved.positions(uids) == [1, 2, 3, 5]
    assert list(SequenceSet.parse(b"2,4:5").resolve(9)) == [2, 4, 5]


def test_eight_thousand_disjoint_uids():
    uids = list(range(1, 16_001, 2))
    wire = b",".join(b"%d" % uid for uid in uids)
    seqset = SequenceSet.parse(wire)
    assert len(seqset.ranges) == 8_000
    resolved = seqset.resolve(uids[-1])
    assert len(resolved.starts) == 8_000
    mailbox = list(range(1, 16_001))
    assert resolved.select(mailbox) == uids
    assert sum(1 for uid in mailbox if uid in resolved) == 8_000


def test_format_numbers_compresses():
    assert format_numbers([5, 1, 2, 3, 9, 10]) == b"1:3,5,9:10"
    assert format_numbers([]) == b""
    assert SequenceSet.from_numbers([4]).ranges == ((4, 4),)


@pytest.mark.parametrize("wire", [b"", b"0", b"1:", b":1", b"1,,2", b"4294967296", b"1:0", b"**"])
def test_invalid(wire):
    with pytest.raises(ParseError):
        SequenceSet.parse(wire)


@given(
    st.lists(st.tuples(st.integers(1, 200), st.integers(1, 200)), min_size=1, max_size=10),
    st.integers(1, 200),
)
def test_resolve_matches_naive_membership(pairs, largest):
    seqset = SequenceSet(tuple(pairs))
    resolved = seqset.resolve(largest)
    naive = {n for a, b in pairs for n in range(min(a, b), max(a, b) + 1)}
    assert set(resolved) == naive
    assert all((n in resolved) == (n in naive) for n in range(0, 202))
    assert STAR not in resolved
