"""Cached metadata codec: round trips, and rows written by earlier versions still decode."""

from __future__ import annotations

import pytest

from mailstore.maildir import metacodec
from mailstore.message import Address
from mailstore.message_parse import parse_message

MESSAGES = [
    b"From: A <a@b>\r\nTo: x@y\r\nSubject: s\r\n\r\nbody\r\n",
    b"From: a@b\r\nSender: s@t\r\nReply-To: r@t\r\nCc: g: c@d;\r\n\r\nb",
    b"Subject: \xc3\xa9 \xff\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
    b"Content-Disposition: attachment; filename*0=a; filename*1=b\r\nContent-Language: en, de"
    b"\r\n\r\none\r\n--q\r\nContent-Type: message/rfc822\r\n\r\nFrom: in@x\r\n\r\ninner\r\n"
    b"--q--\r\n",
    b"",
]


@pytest.mark.parametrize("data", MESSAGES)
def test_round_trip(data: bytes) -> None:
    _, envelope, body = parse_message(data)
    assert metacodec.decode(metacodec.encode(envelope, body)) == (envelope, body)


def test_sender_and_reply_to_copies_of_from_are_shared_after_decoding() -> None:
    _, envelope, body = parse_message(b"From: A <a@b>\r\n\r\n")
    decoded, _ = metacodec.decode(metacodec.encode(envelope, body))
    assert decoded.sender is decoded.from_ and decoded.reply_to is decoded.from_


OLD_ROW = (
    '[1,["d","s",[["A",null,"a","b"]],[["A",null,"a","b"]],[["A",null,"a","b"]],'
    '[[null,null,"x","y"]],[],[],null,"<m@x>"],["text","plain",[["charset","us-ascii"]],'
    'null,null,"7BIT",6,1,null,["inline",[["filename","f"]]],["en"],null,0,30,36,[],null,null]]'
)
"""A row as the first version of the codec wrote it (lists where the encoder now passes
tuples): it must decode to the same values."""


def test_rows_of_the_first_encoder_decode() -> None:
    envelope, body = metacodec.decode(OLD_ROW)
    assert envelope.from_ == (Address("A", None, "a", "b"),) == envelope.sender
    assert envelope.to == (Address(None, None, "x", "y"),)
    assert body.params == (("charset", "us-ascii"),)
    assert body.disposition == ("inline", (("filename", "f"),))
    assert body.language == ("en",)
    assert metacodec.encode(envelope, body) == OLD_ROW


@pytest.mark.parametrize("text", ["", "[", "[2,[],[]]", "[1,[],[]]", '{"a":1}', "[1,2]"])
def test_garbage_is_a_codec_error(text: str) -> None:
    with pytest.raises(metacodec.MetaCodecError):
        metacodec.decode(text)
