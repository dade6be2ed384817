"""The streaming DATA / BDAT decoders: tables and Hypothesis properties."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.lmtp.data import ChunkDecoder, DataDecoder, HeaderScanner, split_lines


def decode_all(
    stream: bytes, cuts: list[int] | None = None, max_size: int = 10**9, max_line: int = 10**6
) -> tuple[bytes, bool, bytes, DataDecoder]:
    decoder = DataDecoder(max_size, max_line)
    pieces = []
    last = 0
    for cut in [*sorted(cuts or []), len(stream)]:
        pieces.append(stream[last:cut])
        last = cut
    body, rest, done = b"", b"", False
    for piece in pieces:
        chunk = decoder.feed(piece)
        body += chunk.body
        if chunk.done:
            done = True
            rest += chunk.rest
    return body, done, rest, decoder


@pytest.mark.parametrize(
    ("stream", "body", "rest"),
    [
        (b".\r\n", b"", b""),
        (b"a\r\n.\r\n", b"a\r\n", b""),
        (b"a\r\n.\r\nQUIT\r\n", b"a\r\n", b"QUIT\r\n"),
        (b"..\r\n.\r\n", b".\r\n", b""),
        (b"..a\r\n.b\r\n.\r\n", b".a\r\nb\r\n", b""),
        (b"a\n.\nb\r\n.\r\n", b"a\r\n\r\nb\r\n", b""),
        (b"a\r\n.\nb\r\n.\r\n", b"a\r\n\r\nb\r\n", b""),
        (b"a\n.\r\nb\r\n.\r\n", b"a\r\n\r\nb\r\n", b""),
        (b"a\r.\r\nb\r\n.\r\n", b"a\r\n\r\nb\r\n", b""),
        (b"a\rb\r\n.\r\n", b"a\r\nb\r\n", b""),
        (b"a\r\r\n.\r\n", b"a\r\n\r\n", b""),
        (b"\r\n.\r\n", b"\r\n", b""),
    ],
)
def test_data_table(stream: bytes, body: bytes, rest: bytes) -> None:
    got, done, got_rest, _ = decode_all(stream)
    assert (got, done, got_rest) == (body, True, rest)


def test_no_end_without_crlf_dot_crlf() -> None:
    _got, done, _rest, _ = decode_all(b"a\n.\n\r.\r\r\n.\n")
    assert not done


def test_size_limit_is_a_state_and_input_is_consumed() -> None:
    stream = b"x" * 50 + b"\r\n" + b"y" * 50 + b"\r\n.\r\nNOOP\r\n"
    got, done, rest, decoder = decode_all(stream, max_size=60)
    assert done and rest == b"NOOP\r\n"
    assert decoder.limits.too_large
    assert len(got) <= 60


def test_line_limit_is_reported_not_enforced() -> None:
    stream = b"x" * 20 + b"\r\nshort\r\n.\r\n"
    got, done, _rest, decoder = decode_all(stream, [3, 7, 15], max_line=10)
    assert done and decoder.limits.line_too_long and got == b"x" * 20 + b"\r\nshort\r\n"
    stream = b"x" * 10 + b"\r\n" + b"y" * 10 + b"\r\n.\r\n"
    _got, _done, _rest, decoder = decode_all(stream, [5, 11, 12], max_line=10)
    assert not decoder.limits.line_too_long


_lines = st.lists(
    st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    max_size=8,
)
_ends = st.sampled_from([b"\r\n", b"\n", b"\r"])
_raw = st.lists(
    st.tuples(st.sampled_from([b"", b".", b".."]), st.binary(max_size=8), _ends), max_size=10
)


@given(_raw, st.lists(st.integers(min_value=0, max_value=200), max_size=6), st.binary(max_size=10))
def test_any_split_gives_the_same_result(parts, cuts, after) -> None:
    stream = b"".join(a + b + c for a, b, c in parts) + b"\r\n.\r\n" + after
    whole = decode_all(stream)
    cut = decode_all(stream, [min(c, len(stream)) for c in cuts])
    assert whole[:3] == cut[:3]
    assert whole[1]
    assert whole[3].limits.size == cut[3].limits.size


@given(_lines)
def test_dot_stuffing_round_trip(lines) -> None:
    """What an RFC 5321 client sends (dot-stuffed, CRLF) decodes to the original lines."""
    message = b"".join(line + b"\r\n" for line in lines)
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
    body, done, rest, _ = decode_all(stuffed + b".\r\n")
    assert (body, done, rest) == (message, True, b"")


@given(st.binary(max_size=300))
def test_output_has_only_crlf_line_ends(stream) -> None:
    body, _done, _rest, _ = decode_all(stream + b"\r\n.\r\n")
    assert body.count(b"\r") == body.count(b"\n") == body.count(b"\r\n")


@given(st.binary(max_size=300))
def test_split_lines_matches_a_regex_normaliser(data) -> None:
    normal, longest = split_lines(data)
    assert normal == re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    assert longest == max((len(p) for p in re.split(rb"\r\n|\r|\n", data)), default=0)


@pytest.mark.parametrize("cuts", [[], [3], [11, 13], [12]])
def test_line_limit_counts_unstuffed_octets(cuts: list[int]) -> None:
    stuffed = b".." + b"z" * 10 + b"\r\n.\r\n"  # 12 octets sent, 11 once unstuffed
    _got, done, _rest, decoder = decode_all(b"hi\r\n" + stuffed, cuts, max_line=11)
    assert done and not decoder.limits.line_too_long
    _got, done, _rest, decoder = decode_all(b"hi\r\n" + stuffed, cuts, max_line=10)
    assert done and decoder.limits.line_too_long


@given(st.binary(max_size=100), st.lists(st.integers(min_value=0, max_value=100), max_size=5))
def test_chunks_any_split(data, cuts) -> None:
    def run(pieces):
        decoder = ChunkDecoder(10**6, 10**6)
        return b"".join(decoder.feed(p) for p in pieces) + decoder.finish()

    bounds = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    whole = run([data])
    assert run(pieces) == whole
    assert whole.count(b"\r") == whole.count(b"\n") == whole.count(b"\r\n")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nMessage-ID: <no@no>\r\n", "<a@b>"),
        (b"message-id:\r\n <folded@b>\r\nX: y\r\n\r\n", "<folded@b>"),
        (b"\r\nMessage-ID: <body@b>\r\n", None),
        (b"Subject: none\r\n\r\n", None),
    ],
)
def test_message_id(body: bytes, expected: str | None) -> None:
    for size in (1, 3, len(body)):
        scanner = HeaderScanner()
        for index in range(0, len(body), size):
            scanner.feed(body[index : index + size])
        assert scanner.message_id() == expected
