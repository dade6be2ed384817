"""ManageSieve framing (RFC 5804 §4): lines, quoted strings, literals, limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.managesieve.framing import (
    Atom,
    Frame,
    FrameError,
    FrameErrorKind,
    Framer,
    FramerEvent,
    String,
)


def frames(data: bytes, **kwargs: int) -> list[FramerEvent]:
    return Framer(**kwargs).feed(data)


@pytest.mark.parametrize(
    ("data", "tokens"),
    [
        (b"CAPABILITY\r\n", (Atom("CAPABILITY"),)),
        (b"logout\n", (Atom("logout"),)),
        (b'GETSCRIPT "my script"\r\n', (Atom("GETSCRIPT"), String(b"my script"))),
        (b'NOOP "a\\"b\\\\c"\r\n', (Atom("NOOP"), String(b'a"b\\c'))),
        (b'HAVESPACE "x" 1234\r\n', (Atom("HAVESPACE"), String(b"x"), Atom("1234"))),
        (b'PUTSCRIPT "x" {5+}\r\nkeep;\r\n',
         (Atom("PUTSCRIPT"), String(b"x"), String(b"keep;", literal=True))),
        (b'PUTSCRIPT "x" {7}\r\nkeep;\r\n\r\n',
         (Atom("PUTSCRIPT"), String(b"x"), String(b"keep;\r\n", literal=True))),
        (b"RENAMESCRIPT {1+}\r\na {1+}\r\nb\r\n",
         (Atom("RENAMESCRIPT"), String(b"a", literal=True), String(b"b", literal=True))),
        (b"{4+}\r\nAAAA\r\n", (String(b"AAAA", literal=True),)),
        (b'"dGVzdA=="\r\n', (String(b"dGVzdA=="),)),
        (b"\r\n", ()),
        (b'NOOP "\xc3\xa9"\r\n', (Atom("NOOP"), String(b"\xc3\xa9"))),
        (b'PUTSCRIPT "x" {0+}\r\n\r\n', (Atom("PUTSCRIPT"), String(b"x"), String(b"", True))),
    ],
)  # fmt: skip
def test_frames(data: bytes, tokens: tuple[object, ...]) -> None:
    assert frames(data) == [Frame(tokens)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        b'NOOP "unterminated\r\n',
        b'NOOP "bad \\x escape"\r\n',
        b"NOOP  two-spaces\r\n",
        b"NOOP trailing \r\n",
        b'NOOP"x"\r\n',
        b"NOOP (paren)\r\n",
        b'PUTSCRIPT "x"{1+}\r\nk\r\n',
        b"NOOP \x00\r\n",
        b"NOOP caf\xc3\xa9\r\n",
        b'NOOP "' + b"a" * 1025 + b'"\r\n',
    ],
)
def test_syntax_errors(data: bytes) -> None:
    assert frames(data) == [FrameError(FrameErrorKind.SYNTAX)]


def test_bad_line_with_literal_skips_the_literal() -> None:
    data = b'PUTSCRIPT "\\q" {10+}\r\nLOGOUT\r\nxx\r\nNOOP\r\n'
    assert frames(data) == [FrameError(FrameErrorKind.SYNTAX), Frame((Atom("NOOP"),))]


def test_line_too_long_then_recovers() -> None:
    data = b"NOOP " + b"x" * 100 + b"\r\nNOOP\r\n"
    assert frames(data, max_line=50) == [
        FrameError(FrameErrorKind.LINE_TOO_LONG),
        Frame((Atom("NOOP"),)),
    ]


def test_oversized_literal_is_skipped_not_buffered() -> None:
    framer = Framer(max_literal=10, max_skip=1000)
    assert framer.feed(b'PUTSCRIPT "x" {500+}\r\n') == []
    for _ in range(4):
        assert framer.feed(b"LOGOUT\r\n" * 12 + b"xxxx") == []
    assert len(framer._buffer) < 20  # nothing of the literal is kept
    assert framer.feed(b"x" * 100 + b"\r\nNOOP\r\n") == [
        FrameError(FrameErrorKind.LITERAL_TOO_LARGE, size=500),
        Frame((Atom("NOOP"),)),
    ]


def test_unbounded_literal_is_fatal_at_once() -> None:
    framer = Framer(max_literal=10, max_skip=1000)
    assert framer.feed(b'PUTSCRIPT "x" {99999999999999999999+}\r\nkeep;') == [
        FrameError(FrameErrorKind.LITERAL_TOO_LARGE, fatal=True, size=99999999999999999999)
    ]
    assert framer.feed(b"NOOP\r\n") == []


def test_too_many_tokens() -> None:
    assert frames(b"NOOP" + b" a" * 20 + b"\r\n", max_tokens=16) == [
        FrameError(FrameErrorKind.TOO_MANY_TOKENS)
    ]


def test_clear_drops_pending_input() -> None:
    framer = Framer()
    assert framer.feed(b"STARTTLS\r\nNOOP\r\nCAPA") == [
        Frame((Atom("STARTTLS"),)),
        Frame((Atom("NOOP"),)),
    ]
    assert framer.clear() == b"CAPA"
    assert framer.feed(b"BILITY\r\n") == [Frame((Atom("BILITY"),))]


SAMPLE = (
    b'AUTHENTICATE "PLAIN" "AGFsaWNlAHNlY3JldA=="\r\n'
    b'PUTSCRIPT "x" {12+}\r\nkeep;\r\nstop;\r\n'
    b'NOOP "bad \\q"\r\nHAVESPACE "x" 10\r\n'
    b"RENAMESCRIPT {1+}\r\na {1+}\r\nb\r\n"
    b"LOGOUT\r\n"
)


@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=12))
def test_any_split_gives_same_events(cuts: list[int]) -> None:
    expected = Framer().feed(SAMPLE)
    framer = Framer()
    got: list[FramerEvent] = []
    previous = 0
    for cut in [*sorted(cuts), len(SAMPLE)]:
        got += framer.feed(SAMPLE[previous:cut])
        previous = cut
    assert got == expected


@given(st.binary(max_size=300))
def test_garbage_gives_only_events(data: bytes) -> None:
    framer = Framer(max_line=64, max_literal=32, max_skip=128)
    for event in framer.feed(data):
        assert isinstance(event, Frame | FrameError)
