from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailstore.maildir.uidlist import UidList, UidListError, load_uidlist, parse_uidlist

V3 = b"""3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1
25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,
25017 W2481 :1276533073.M242911P3632.kurkku:2,F
25018 W2481 S2400 G3085f01b7f11094c :1276533074.M1P2.kurkku,S=2400:2,RSab
"""

V1 = b"""1 1137000000 45
40 1137000001.P1234Q0M0.host:2,S
41 1137000002.P1234Q1M1.host
"""


def test_v3():
    parsed = parse_uidlist(V3)
    assert parsed == UidList(
        uidvalidity=1275660208,
        next_uid=25022,
        uids={
            "1276528487.M364837P9451.kurkku,S=1355,W=1394": 25006,
            "1276533073.M242911P3632.kurkku": 25017,
            "1276533074.M1P2.kurkku,S=2400": 25018,
        },
    )


def test_v1():
    parsed = parse_uidlist(V1)
    assert parsed.uidvalidity == 1137000000
    assert parsed.next_uid == 45
    assert parsed.uids == {"1137000001.P1234Q0M0.host": 40, "1137000002.P1234Q1M1.host": 41}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n\n",
        b"abc :x\n",
        b"0 :zero\n",
        b"-5 :neg\n",
        b"12 W3 no-colon\n",
        b"13 :\n",
        b"14 :a/b\n",
        b"   15 :indented\n",
        b"1\xff :bad-digits\n",
    ],
)
def test_v3_bad_lines_skipped(body):
    parsed = parse_uidlist(b"3 V1 N10\n" + body + b"20 :good:2,S\n")
    assert parsed.uids == {"good": 20}
    assert parsed.next_uid == 21


def test_odd_lines_and_order():
    data = (
        b"3 V7 N5 Gabc X1 V8\r\n"
        b"3 :a\r\n"
        b"2 :b\r\n"  # not ascending: skipped
        b"4 :a:2,S\r\n"  # same base again: skipped
        b"9 :c d e\r\n"  # names may contain spaces after the colon
        b"10 :caf\xc3\xa9\r\n"
        b"11 :\xff\xfe\r\n"
    )
    parsed = parse_uidlist(data)
    assert parsed.uidvalidity == 7  # first V wins
    assert parsed.uids == {"a": 3, "c d e": 9, "café": 10, "\udcff\udcfe": 11}
    assert parsed.next_uid == 12  # above the header's N5


def test_v1_bad_lines():
    parsed = parse_uidlist(b"1 5 100\nx y\n3\n4  spaced\n7 ok\n")
    assert parsed.uids == {"spaced": 4, "ok": 7}
    assert parsed.next_uid == 100


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"\n3 V1 N2\n",
        b"2 V1 N2",
        b"3 N2",
        b"3 V1",
        b"3 V0 N2",
        b"3 Vx N2",
        b"1 1",
        b"1 0 5",
        b"1 a 5",
        b"V1 N2",
        b"\xff",
    ],
)
def test_bad_header(header):
    with pytest.raises(UidListError):
        parse_uidlist(header + b"\n1 :a\n")


def test_load(tmp_path):
    assert load_uidlist(tmp_path) is None
    (tmp_path / "dovecot-uidlist").write_bytes(V1)
    loaded = load_uidlist(tmp_path)
    assert loaded is not None and loaded.next_uid == 45
    (tmp_path / "dovecot-uidlist").write_bytes(b"garbage\n")
    assert load_uidlist(tmp_path) is None


@given(st.binary())
def test_garbage_only_uidlist_error(data):
    try:
        parsed = parse_uidlist(data)
    except UidListError:
        return
    assert parsed.uidvalidity > 0
    assert all(uid < parsed.next_uid for uid in parsed.uids.values())


@given(st.lists(st.tuples(st.integers(1, 10**9), st.text(min_size=1))))
def test_generated_v3_round_trip(entries):
    lines = [b"3 V42 N1"]
    expected: dict[str, int] = {}
    last = 0
    for uid, name in sorted(entries):
        clean = name.replace("\n", "_").replace("\r", "_").replace("/", "_").replace("\0", "_")
        lines.append(f"{uid} W1 :{clean}".encode())
        base = clean.partition(":2,")[0]
        if uid > last and base and base not in expected:
            expected[base] = uid
            last = uid
    assert parse_uidlist(b"\n".join(lines)).uids == expected
