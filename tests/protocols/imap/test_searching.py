"""SEARCH keys over a real MaildirStore (RFC 3501 6.4.4; ESEARCH RFC 4731; MODSEQ RFC 7162)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailstore.types import ANSWERED, DELETED, FLAGGED, SEEN, MessageInfo
from protocols.imap.grammar.lexer import Reader
from protocols.imap.grammar.search import parse_search_keys
from protocols.imap.searching import Candidate, _Context, evaluate
from protocols.imap.searchtext import MessageText
from protocols.imap.selected import SelectedMailbox
from tests.protocols.imap.messages_env import BASE_DATE, DAY, Env, message

ENCODED = (
    b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.fr>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_au_lait?=\r\n"
    b"Date: Wed, 1 Jan 2020 23:30:00 -0500\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes("The secret word is Straße.\n".encode()).replace(b"\n", b"\r\n")
)
LATIN1 = (
    b"From: x@example.com\r\nSubject: latin\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe aus K\xf6ln\r\n"
)
NO_DATE = b"From: y@example.com\r\nSubject: undated\r\n\r\nbody\r\n"
MESSAGES = [
    message(1),
    message(2, b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n", b"Cc: Dave <dave@example.com>\r\n"),
    ENCODED,
    message(4, b"x" * 5000 + b"\r\n", b"X-Mailer: Foo/1.0\r\n"),
    NO_DATE,
    LATIN1,
]
FLAGS = [[SEEN], [FLAGGED, "$Work"], [DELETED, ANSWERED], [SEEN], [], [SEEN]]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, reactor_thread: Any) -> Iterator[Any]:
    env = Env(tmp_path_factory.mktemp("search"), reactor_thread)
    sel = env.select(MESSAGES, flags=FLAGS)
    yield env, sel
    env.close()


def lit(text: str) -> bytes:
    """A non-ASCII search string as a literal (CHARSET UTF-8)."""
    data = text.encode("utf-8")
    return b"{%d}\r\n%s" % (len(data), data)


def uids(box: Any, criteria: bytes) -> list[int]:
    env, sel = box
    out, result = env.lines(sel, b"a UID SEARCH " + criteria)
    assert result.status == "OK", result
    assert out.startswith(b"* SEARCH") and out.endswith(b"\r\n")
    return [int(n) for n in out[8:].split()]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (b"ALL", [1, 2, 3, 4, 5, 6]),
        (b"SEEN", [1, 4, 6]),
        (b"UNSEEN", [2, 3, 5]),
        (b"FLAGGED", [2]),
        (b"DELETED ANSWERED", [3]),
        (b"UNDELETED UNFLAGGED", [1, 4, 5, 6]),
        (b"DRAFT", []),
        (b"UNDRAFT", [1, 2, 3, 4, 5, 6]),
        (b"KEYWORD $work", [2]),
        (b"UNKEYWORD $Work", [1, 3, 4, 5, 6]),
        (b"RECENT", [1, 2, 3, 4, 5, 6]),
        (b"NEW", [2, 3, 5]),
        (b"OLD", []),
        (b"2:3", [2, 3]),
        (b"5:*", [5, 6]),
        (b"*", [6]),
        (b"7", []),
        (b"UID 4:*", [4, 5, 6]),
        (b"UID 100:*", [6]),
        (b"UID 1,3", [1, 3]),
        (b"LARGER 1000", [4]),
        (b"SMALLER 150", [5, 6]),
        (b"NOT LARGER 1000 NOT SMALLER 150", [1, 2, 3]),
        (b"OR SEEN FLAGGED", [1, 2, 4, 6]),
        (b"OR (SEEN LARGER 1000) 3", [3, 4]),
        (b"NOT (OR SEEN FLAGGED)", [3, 5]),
        (b"(SEEN (NOT UID 1))", [4, 6]),
    ],
)
def test_view_keys(box: Any, criteria: bytes, expected: list[int]) -> None:
    assert uids(box, criteria) == expected


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (b"FROM bob", [1, 2, 4]),
        (b"FROM BOB@EXAMPLE", [1, 2, 4]),
        (b"FROM " + lit("renée"), [3]),  # RFC 2047 decoded
        (b'FROM "=?utf-8?q?Ren"', [3]),  # and as sent
        (b"TO alice", [1, 2, 3, 4]),
        (b"CC dave", [2]),
        (b"BCC dave", []),
        (b"SUBJECT MESSAGE", [1, 2, 4]),
        (b"SUBJECT " + lit("café"), [3]),
        (b"SUBJECT " + lit("CAFÉ"), [3]),
        (b'SUBJECT "au lait"', [3]),
        (b"HEADER x-mailer foo/1", [4]),
        (b'HEADER X-MAILER ""', [4]),
        (b'HEADER Cc ""', [2]),
        (b"HEADER message-id <2@", [2]),
    ],
)
def test_header_keys(box: Any, criteria: bytes, expected: list[int]) -> None:
    assert uids(box, b"CHARSET UTF-8 " + criteria) == expected


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        # internal dates: 14-Nov-2023 22:13 UTC + n days
        (b"ON 14-Nov-2023", [1]),
        (b"BEFORE 16-Nov-2023", [1, 2]),
        (b"SINCE 18-Nov-2023", [5, 6]),
        (b'ON "19-Nov-2023"', [6]),
        # Date: headers (own zone; none: internal date)
        (b"SENTON 1-Jan-2020", [3]),
        (b"SENTBEFORE 2-Jan-2020", [3]),
        (b"SENTON 6-Nov-2023", [1, 2, 4]),
        (b"SENTSINCE 7-Nov-2023", [5, 6]),
    ],
)
def test_date_keys(box: Any, criteria: bytes, expected: list[int]) -> None:
    assert uids(box, criteria) == expected


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (b"BODY hello", [1]),
        (b"BODY HELLO", [1]),
        (b"BODY there. NOT SEEN", []),
        (b"BODY " + lit("köln"), [2, 6]),  # UTF-8 8bit and ISO-8859-1
        (b"BODY " + lit("KÖLN"), [2, 6]),
        (b"BODY secret", [3]),  # base64
        (b"BODY STRASSE", [3]),  # casefolded
        (b"BODY subject", []),
        (b"TEXT subject", [1, 2, 3, 4, 5, 6]),
        (b"TEXT " + lit("café"), [3]),
        (b"OR BODY secret FLAGGED", [2, 3]),
        (b"NOT BODY hello", [2, 3, 4, 5, 6]),
        (b"UNSEEN BODY body", [5]),
    ],
)
def test_text_keys(box: Any, criteria: bytes, expected: list[int]) -> None:
    assert uids(box, b"CHARSET UTF-8 " + criteria) == expected


def test_plain_search_answers_sequence_numbers(box: Any) -> None:
    env, sel = box
    out, _ = env.lines(sel, b"a SEARCH SEEN")
    assert out == b"* SEARCH 1 4 6\r\n"
    out, _ = env.lines(sel, b"a SEARCH DRAFT")
    assert out == b"* SEARCH\r\n"


def test_esearch_return_options(box: Any) -> None:
    env, sel = box
    out, _ = env.lines(sel, b"t1 UID SEARCH RETURN (MIN MAX COUNT) UNSEEN")
    assert out == b'* ESEARCH (TAG "t1") UID MIN 2 MAX 5 COUNT 3\r\n'
    out, _ = env.lines(sel, b"t2 SEARCH RETURN () SEEN")
    assert out == b'* ESEARCH (TAG "t2") ALL 1,4,6\r\n'
    out, _ = env.lines(sel, b"t3 SEARCH RETURN (COUNT MIN) DRAFT")
    assert out == b'* ESEARCH (TAG "t3") COUNT 0\r\n'


def test_modseq_key_reports_highest(box: Any) -> None:
    env, sel = box
    threshold = sel.info(5).modseq
    out, _ = env.lines(sel, b"a UID SEARCH MODSEQ %d" % threshold)
    assert out == b"* SEARCH 5 6 (MODSEQ %d)\r\n" % sel.info(6).modseq
    assert sel.condstore


def test_search_after_expunge_elsewhere(tmp_path: Path, reactor_thread: Any) -> None:
    env = Env(tmp_path, reactor_thread)
    try:
        sel = env.select([message(1), message(2)])

        async def expunge() -> None:
            from mailstore.types import FlagMode

            other = await (await env.account()).open_mailbox("INBOX")
            await other.store_flags([1], FlagMode.ADD, [DELETED])
            await other.expunge()

        env.rt.run(expunge)
        env.sync(sel)
        assert _uid_search(env, sel, b"BODY hello") == [2]
        assert _uid_search(env, sel, b"SUBJECT message") == [2]
        assert _uid_search(env, sel, b"ALL") == [1, 2]  # still in the view, no EXPUNGE yet
    finally:
        env.close()


def _uid_search(env: Env, sel: SelectedMailbox, criteria: bytes) -> list[int]:
    out, _ = env.lines(sel, b"a UID SEARCH " + criteria)
    return [int(n) for n in out[8:].split()]


def test_three_valued_evaluation_without_text() -> None:
    info = MessageInfo(1, frozenset({SEEN}), 1, 100, BASE_DATE + DAY)
    cand = Candidate(1, info, recent=False)
    ctx = _Context(1, 1)

    def key(text: bytes) -> Any:
        return parse_search_keys(Reader.from_bytes(text))

    assert evaluate(key(b"BODY x"), cand, ctx) is None
    assert evaluate(key(b"UNSEEN BODY x"), cand, ctx) is False
    assert evaluate(key(b"OR SEEN BODY x"), cand, ctx) is True
    assert evaluate(key(b"NOT BODY x"), cand, ctx) is None
    cand.text = MessageText(b"Subject: a\r\n\r\nan X marks\r\n")
    assert evaluate(key(b"BODY x"), cand, ctx) is True
    assert evaluate(key(b"BODY subject"), cand, ctx) is False
    assert evaluate(key(b"TEXT subject"), cand, ctx) is True


_LEAVES = st.sampled_from(
    [
        b"SEEN", b"UNSEEN", b"FLAGGED", b"DELETED", b"KEYWORD $a", b"RECENT", b"NEW", b"OLD",
        b"LARGER 50", b"SMALLER 80", b"1:3", b"2,*", b"UID 5:*", b"MODSEQ 3", b"ALL",
        b"ON 15-Nov-2023", b"SINCE 16-Nov-2023", b"BEFORE 15-Nov-2023",
    ]
)  # fmt: skip
_KEYS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        inner.map(lambda k: b"NOT " + k),
        st.tuples(inner, inner).map(lambda p: b"OR " + p[0] + b" " + p[1]),
        st.lists(inner, min_size=1, max_size=3).map(lambda ks: b"(" + b" ".join(ks) + b")"),
    ),
    max_leaves=8,
)
_CANDS = st.builds(
    lambda seq, flags, size, day, modseq, recent: Candidate(
        seq,
        MessageInfo(seq + 1, frozenset(flags), modseq, size, BASE_DATE + day * DAY),
        recent=recent,
    ),
    st.integers(1, 6),
    st.sets(st.sampled_from([SEEN, FLAGGED, DELETED, "$A", "$b"])),
    st.integers(0, 120),
    st.integers(0, 4),
    st.integers(1, 6),
    st.booleans(),
)


@given(_KEYS, _KEYS, _CANDS)
def test_boolean_structure_is_respected(left: bytes, right: bytes, cand: Candidate) -> None:
    def ev(text: bytes) -> Any:
        return evaluate(parse_search_keys(Reader.from_bytes(text)), cand, _Context(6, 7))

    a, b = ev(left), ev(right)
    assert isinstance(a, bool) and isinstance(b, bool)
    assert ev(b"NOT " + left) is (not a)
    assert ev(b"OR " + left + b" " + right) is (a or b)
    assert ev(left + b" " + right) is (a and b)
    assert ev(b"(" + left + b")") is a
