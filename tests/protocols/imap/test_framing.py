from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.imap.framing import (
    CommandFrame,
    CommandTooLong,
    FrameEvent,
    Framer,
    LineTooLong,
    LiteralChunk,
    LiteralTooLarge,
    NeedContinuation,
    RawLine,
    StreamedLiteral,
)


def run(framer: Framer, pieces: list[bytes]) -> list[FrameEvent]:
    """Feed pieces, accepting every synchronising literal; merge literal chunks."""
    out: list[FrameEvent] = []
    for piece in pieces:
        events = framer.feed(piece)
        while events:
            event = events.pop(0)
            if isinstance(event, NeedContinuation):
                framer.accept_literal()
                events.extend(framer.feed(b""))
            prev = out[-1] if out else None
            if isinstance(event, LiteralChunk) and isinstance(prev, LiteralChunk):
                out.pop()
                event = LiteralChunk(prev.tag, prev.data + event.data, event.final)
            out.append(event)
    return out


def test_simple_lines():
    events = Framer().feed(b"a1 NOOP\r\na2 CAPABILITY\r\na3")
    assert events == [CommandFrame((b"a1 NOOP",)), CommandFrame((b"a2 CAPABILITY",))]


def test_bare_lf_accepted():
    assert Framer().feed(b"a1 NOOP\n") == [CommandFrame((b"a1 NOOP",))]


def test_synchronising_literal_waits_for_decision():
    framer = Framer()
    assert framer.feed(b"a LOGIN {4}\r\nuser pass\r\n") == [NeedContinuation(b"a", 4)]
    assert framer.awaiting_decision
    assert framer.feed(b"") == []
    framer.accept_literal()
    assert framer.feed(b"") == [CommandFrame((b"a LOGIN {4}", b" pass"), (b"user",))]


def test_rejected_literal_drops_command():
    framer = Framer()
    assert framer.feed(b"a APPEND x {10}\r\n") == [NeedContinuation(b"a", 10)]
    framer.reject_literal()
    assert framer.feed(b"b NOOP\r\n") == [CommandFrame((b"b NOOP",))]


def test_accept_without_literal_is_an_error():
    with pytest.raises(RuntimeError):
        Framer().accept_literal()


def test_non_synchronising_literal():
    events = Framer().feed(b"a APPEND x {3+}\r\nabc\r\n")
    assert events == [CommandFrame((b"a APPEND x {3+}", b""), (b"abc",))]


def test_literal_may_contain_crlf_and_braces():
    data = b"x\r\n{5}\r\n"
    events = Framer().feed(b"a APPEND x {%d+}\r\n" % len(data) + data + b"\r\n")
    assert events == [CommandFrame((b"a APPEND x {%d+}" % len(data), b""), (data,))]


def test_sync_literal_over_limit_refused_before_data():
    framer = Framer(max_literal=10)
    assert framer.feed(b"a APPEND x {11}\r\n") == [LiteralTooLarge(b"a", 11, True)]
    assert framer.feed(b"b NOOP\r\n") == [CommandFrame((b"b NOOP",))]


def test_non_sync_literal_over_limit_is_skipped_with_rest_of_command():
    framer = Framer(max_literal=10)
    wire = b"a APPEND x {20+}\r\n" + b"z" * 20 + b" {3+}\r\nabc\r\nb NOOP\r\n"
    assert framer.feed(wire) == [LiteralTooLarge(b"a", 20, False), CommandFrame((b"b NOOP",))]


def test_line_too_long_with_and_without_newline():
    framer = Framer(max_line=10)
    assert framer.feed(b"a " + b"x" * 20) == [LineTooLong(b"a")]
    assert framer.feed(b"yyy\r\nb NOOP\r\n") == [CommandFrame((b"b NOOP",))]
    assert Framer(max_line=10).feed(b"c " + b"x" * 9 + b"\r\nd NOOP\r\n") == [
        LineTooLong(b"c"),
        CommandFrame((b"d NOOP",)),
    ]


def test_line_exactly_at_limit_with_split_crlf():
    framer = Framer(max_line=10)
    assert framer.feed(b"a 34567890\r") == []
    assert framer.feed(b"\n") == [CommandFrame((b"a 34567890",))]


def test_command_too_long():
    framer = Framer(max_line=100, max_command=30)
    wire = b"a LOGIN {10+}\r\n0123456789 {10+}\r\n0123456789 x\r\nb NOOP\r\n"
    events = framer.feed(wire)
    assert events[0] == LiteralTooLarge(b"a", 10, False)
    assert events[-1] == CommandFrame((b"b NOOP",))
    framer = Framer(max_line=100, max_command=10)
    assert framer.feed(b"a NOOP NOOP NOOP\r\n") == [CommandTooLong(b"a")]


def test_streamed_literal_chunks():
    framer = Framer(chunk_threshold=5)
    first = framer.feed(b"A APPEND x {6+}\r\n123")
    assert first == [LiteralChunk(b"A", b"123", False)]
    rest = framer.feed(b"456 extra\r\n")
    assert rest == [
        LiteralChunk(b"A", b"456", True),
        CommandFrame((b"A APPEND x {6+}", b" extra"), (StreamedLiteral(6),)),
    ]


def test_small_literals_not_streamed():
    framer = Framer(chunk_threshold=5)
    assert framer.feed(b"A LOGIN {1+}\r\nu {1+}\r\np\r\n") == [
        CommandFrame((b"A LOGIN {1+}", b" {1+}", b""), (b"u", b"p"))
    ]


def test_raw_line_mode():
    framer = Framer()
    assert framer.feed(b"a IDLE\r\n") == [CommandFrame((b"a IDLE",))]
    framer.set_line_mode(True)
    assert framer.feed(b"DONE {5}\r\n") == [RawLine(b"DONE {5}")]
    framer.set_line_mode(False)
    assert framer.feed(b"b NOOP\r\n") == [CommandFrame((b"b NOOP",))]


def test_next_event_allows_mode_switch_between_pipelined_lines():
    framer = Framer()
    framer.receive_data(b"a IDLE\r\nDONE\r\n")
    assert framer.next_event() == CommandFrame((b"a IDLE",))
    framer.set_line_mode(True)
    assert framer.next_event() == RawLine(b"DONE")
    assert framer.next_event() is None


def test_clear_drops_buffered_input():
    framer = Framer()
    framer.receive_data(b"a STARTTLS\r\nb INJECTED\r\n")
    assert framer.next_event() == CommandFrame((b"a STARTTLS",))
    framer.clear()
    assert framer.feed(b"c NOOP\r\n") == [CommandFrame((b"c NOOP",))]


def test_frame_parts_and_tag():
    frame = CommandFrame((b"a LOGIN {1}", b" {1}", b""), (b"u", b"p"))
    assert frame.tag == b"a"
    assert frame.parts == (b"a LOGIN {1}", b"u", b" {1}", b"p", b"")
    assert CommandFrame((b"(bad",)).tag is None


SAMPLE = (
    b"a1 LOGIN {4}\r\nuser {4+}\r\npass\r\n"
    b"a2 APPEND INBOX {12+}\r\nline\r\n{3}\r\nxx\r\n"
    b"a3 " + b"q" * 40 + b"\r\n"
    b"a4 APPEND x {50+}\r\n" + b"z" * 50 + b"\r\n"
    b"a5 APPEND y {60}\r\n"
    b"a6 FETCH 1:* (FLAGS)\r\n"
)


@given(st.lists(st.integers(0, len(SAMPLE)), max_size=12))
def test_any_split_gives_same_events(cuts):
    points = sorted(set(cuts))
    pieces = [SAMPLE[a:b] for a, b in zip([0, *points], [*points, len(SAMPLE)], strict=True)]

    def framer() -> Framer:
        return Framer(max_line=30, max_literal=40, chunk_threshold=10)

    assert run(framer(), pieces) == run(framer(), [SAMPLE])


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=8))
def test_garbage_never_raises_and_split_invariant(data, cuts):
    points = sorted({c for c in cuts if c <= len(data)})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert run(Framer(max_line=50, max_literal=20), pieces) == run(
        Framer(max_line=50, max_literal=20), [data]
    )


@pytest.mark.parametrize("cut", range(len(SAMPLE) + 1))
def test_every_single_split_position(cut):
    def framer() -> Framer:
        return Framer(max_line=30, max_literal=40, chunk_threshold=10)

    assert run(framer(), [SAMPLE[:cut], SAMPLE[cut:]]) == run(framer(), [SAMPLE])


def test_byte_at_a_time_long_line():
    framer = Framer()
    line = b"a UID FETCH " + b",".join(b"%d" % n for n in range(1, 16_000, 2)) + b" FLAGS\r\n"
    events: list[FrameEvent] = []
    for i in range(len(line)):
        events.extend(framer.feed(line[i : i + 1]))
    assert events == [CommandFrame((line[:-2],))]
