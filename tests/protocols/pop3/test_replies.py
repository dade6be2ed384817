"""Reply serialization and the streaming multi-line encoders."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.pop3.replies import (
    DotStuffer,
    R,
    Reply,
    RespCode,
    TopFilter,
    capabilities,
    multiline,
)


def test_status_lines() -> None:
    assert Reply(True).to_bytes() == b"+OK\r\n"
    assert Reply(True, "2 320").to_bytes() == b"+OK 2 320\r\n"
    assert Reply(False, "locked", RespCode.IN_USE).to_bytes() == b"-ERR [IN-USE] locked\r\n"
    assert R.SYS_TEMP.to_bytes().startswith(b"-ERR [SYS/TEMP] ")
    assert R.AUTH_FAILED.to_bytes().startswith(b"-ERR [AUTH] ")


def test_every_table_entry_is_one_ascii_line() -> None:
    for entry in R:
        data = entry.to_bytes()
        assert data.endswith(b"\r\n") and data.count(b"\n") == 1
        assert data.startswith(b"+OK" if entry.reply.ok else b"-ERR")


def test_capabilities_order_and_gating() -> None:
    assert capabilities(stls=True, user=False, sasl=None) == [
        "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "STLS",
        "IMPLEMENTATION mailstack",
    ]
    assert "SASL PLAIN LOGIN" in capabilities(stls=False, user=True, sasl=["PLAIN", "LOGIN"])


def test_multiline() -> None:
    assert multiline(b"+OK\r\n", ["1 2", "2 3"]) == b"+OK\r\n1 2\r\n2 3\r\n.\r\n"


def stuff(chunks: list[bytes]) -> bytes:
    encoder = DotStuffer()
    return b"".join(encoder.feed(chunk) for chunk in chunks) + encoder.finish()


def reference_stuff(body: bytes) -> bytes:
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    lines = body.split(b"\r\n")[:-1] if body else []
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in lines) + (
        b".\r\n")


def unstuff(wire: bytes) -> bytes:
    """What a client does (RFC 1939 section 3): drop the terminator and one leading dot."""
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
    lines = wire.split(b"\r\n")[:-2]
    return b"".join((ln[1:] if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)


def test_dot_stuffing_examples() -> None:
    assert stuff([b""]) == b".\r\n"
    assert stuff([b".\r\n"]) == b"..\r\n.\r\n"
    assert stuff([b"a\r\n", b".b\r\n"]) == b"a\r\n..b\r\n.\r\n"
    assert stuff([b"a\r", b"\n.", b"b"]) == b"a\r\n..b\r\n.\r\n"
    assert stuff([b"no crlf"]) == b"no crlf\r\n.\r\n"
    assert stuff([b"x\r\n", b""]) == b"x\r\n.\r\n"


crlf_lines = st.lists(st.sampled_from([b"", b".", b"..", b"a", b".a", b"a.b", b" .", b"\r"]),
                      max_size=12)


@given(crlf_lines, st.lists(st.integers(0, 60), max_size=6), st.booleans())
def test_stuffing_any_split_matches_reference_and_round_trips(lines, cuts, final_crlf) -> None:
    body = b"\r\n".join(lines) + (b"\r\n" if final_crlf and lines else b"")
    points = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    wire = stuff(chunks)
    assert wire == reference_stuff(body)
    expected = body if body.endswith(b"\r\n") or not body else body + b"\r\n"
    assert unstuff(wire) == expected


def top(message: bytes, lines: int, cuts: list[int]) -> bytes:
    points = sorted({min(c, len(message)) for c in cuts})
    chunks = [message[a:b] for a, b in zip([0, *points], [*points, len(message)], strict=True)]
    flt = TopFilter(lines)
    out = b""
    for chunk in chunks:
        out += flt.feed(chunk)
        if flt.done:
            break
    return out


def reference_top(message: bytes, lines: int) -> bytes:
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        return message
    kept = body.split(b"\r\n")
    out = b"\r\n".join(kept[:lines])
    if lines < len(kept):
        out += b"\r\n" if lines else b""
    return head + sep + out


@given(
    st.lists(st.sampled_from([b"H: v", b"X: .y"]), min_size=1, max_size=4),
    st.lists(st.sampled_from([b"", b"a", b".", b"b b"]), max_size=8),
    st.integers(0, 10),
    st.lists(st.integers(0, 80), max_size=6),
)
def test_top_any_split_matches_reference(header, body, lines, cuts) -> None:
    message = b"\r\n".join(header) + b"\r\n\r\n" + b"\r\n".join(body) + b"\r\n"
    assert top(message, lines, cuts) == reference_top(message, lines)


def test_top_examples() -> None:
    msg = b"A: 1\r\n\r\nl1\r\nl2\r\n"
    assert top(msg, 0, []) == b"A: 1\r\n\r\n"
    assert top(msg, 1, [3, 7, 9]) == b"A: 1\r\n\r\nl1\r\n"
    assert top(msg, 5, [1]) == msg
    assert top(b"\r\nbody\r\n", 0, []) == b"\r\n"
    assert top(b"A: 1\r\nno blank line", 0, [2]) == b"A: 1\r\nno blank line"
