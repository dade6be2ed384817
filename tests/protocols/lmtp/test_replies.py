"""Reply serialization (RFC 5321 4.2, RFC 2034 enhanced codes)."""

from __future__ import annotations

import re

from protocols.lmtp.replies import R, Reply, greeting, lhlo_reply


def test_single_line() -> None:
    assert R.OK.reply.to_bytes() == b"250 2.0.0 OK\r\n"


def test_multi_line_carries_code_on_every_line() -> None:
    reply = Reply(550, "5.1.1", ("one", "two"))
    assert reply.to_bytes() == b"550-5.1.1 one\r\n550 5.1.1 two\r\n"


def test_per_recipient() -> None:
    assert R.SAVED.with_address("a@b").to_bytes() == b"250 2.0.0 <a@b> Saved\r\n"


def test_every_reply_has_matching_enhanced_code() -> None:
    for entry in R:
        code, enhanced, _text = entry.value
        if code // 100 == 3:
            assert enhanced is None  # RFC 3463 has no class 3
            continue
        assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", enhanced)
        assert enhanced[0] == str(code)[0]


def test_greeting_and_lhlo() -> None:
    assert greeting("mx").to_bytes() == b"220 mx LMTP ready\r\n"
    assert lhlo_reply("mx", ["PIPELINING"]).to_bytes() == b"250-mx\r\n250 PIPELINING\r\n"
