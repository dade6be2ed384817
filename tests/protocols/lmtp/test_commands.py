"""The pure command parser: table-driven cases and Hypothesis properties."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.lmtp import commands as c
from protocols.lmtp.replies import R


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"LHLO relay.example", c.Lhlo("relay.example")),
        (b"lhlo [192.0.2.1]", c.Lhlo("[192.0.2.1]")),
        (b"MAIL FROM:<a@example.org>", c.MailFrom("a@example.org")),
        (b"MAIL FROM:<>", c.MailFrom("")),
        (b"mail from: <a@example.org>", c.MailFrom("a@example.org")),
        (b"MAIL FROM:<@relay,@other:a@example.org>", c.MailFrom("a@example.org")),
        (
            b"MAIL FROM:<a@example.org> SIZE=1234 BODY=8bitmime SMTPUTF8",
            c.MailFrom("a@example.org", 1234, c.BodyType.EIGHT_BIT_MIME, True),
        ),
        (
            b"MAIL FROM:<a@example.org> body=7BIT",
            c.MailFrom("a@example.org", None, c.BodyType.SEVEN_BIT),
        ),
        (b'MAIL FROM:<"odd > name"@example.org>', c.MailFrom('"odd > name"@example.org')),
        (
            "MAIL FROM:<jörg@example.org> SMTPUTF8".encode(),
            c.MailFrom("jörg@example.org", smtputf8=True),
        ),
        (b"RCPT TO:<alice+box@example.com>", c.RcptTo("alice+box@example.com")),
        (b"RCPT TO:<postmaster>", c.RcptTo("postmaster")),
        ("RCPT TO:<jörg@example.com>".encode(), c.RcptTo("jörg@example.com", ascii=False)),
        (b"DATA", c.Data()),
        (b"BDAT 0 LAST", c.Bdat(0, True)),
        (b"BDAT 1000", c.Bdat(1000, False)),
        (b"bdat 5 last", c.Bdat(5, True)),
        (b"RSET", c.Rset()),
        (b"NOOP", c.Noop()),
        (b"NOOP anything at all", c.Noop()),
        (b"QUIT", c.Quit()),
        (b"VRFY alice", c.Vrfy()),
        (b"HELP", c.Help()),
        (b"HELP MAIL", c.Help()),
    ],
)
def test_parse(line: bytes, expected: c.Command) -> None:
    assert c.parse_command(line) == expected


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"EHLO relay.example", R.NOT_LMTP),
        (b"HELO relay.example", R.NOT_LMTP),
        (b"STARTTLS", R.UNKNOWN_COMMAND),
        (b"", R.UNKNOWN_COMMAND),
        (b"LHLO", R.BAD_ARGUMENTS),
        (b"LHLO a b", R.BAD_ARGUMENTS),
        (b"MAIL TO:<a@example.org>", R.SYNTAX),
        (b"MAIL FROM:a@example.org", R.SYNTAX),
        (b"MAIL FROM:<a@example.org", R.SYNTAX),
        (b"MAIL FROM:<a b@example.org>", R.SYNTAX),
        (b"MAIL FROM:<a@example.org>SIZE=1", R.SYNTAX),
        (b"MAIL FROM:<a@>", R.SYNTAX),
        (b"MAIL FROM:<@example.org>", R.SYNTAX),
        (b"MAIL FROM:<nodomain>", R.SYNTAX),
        (b"MAIL FROM:<a@example.org> SIZE=", R.SYNTAX),
        (b"MAIL FROM:<a@example.org> SIZE=x", R.BAD_ARGUMENTS),
        (b"MAIL FROM:<a@example.org> SIZE=1 SIZE=2", R.BAD_ARGUMENTS),
        (b"MAIL FROM:<a@example.org> BODY=BINARYMIME", R.BAD_ARGUMENTS),
        (b"MAIL FROM:<a@example.org> SMTPUTF8=yes", R.BAD_ARGUMENTS),
        (b"MAIL FROM:<a@example.org> RET=FULL", R.UNKNOWN_PARAMETER),
        ("MAIL FROM:<jörg@example.org>".encode(), R.NEED_SMTPUTF8),
        (b"MAIL FROM:<\xff@example.org> SMTPUTF8", R.SYNTAX),
        (b"MAIL FROM:<a\r@example.org>", R.SYNTAX),
        (b"RCPT TO:<>", R.SYNTAX),
        (b"RCPT TO:<alice@example.com> NOTIFY=NEVER", R.UNKNOWN_PARAMETER),
        (b"RCPT TO:<" + b"a" * 600 + b"@example.com>", R.SYNTAX),
        (b"DATA now", R.BAD_ARGUMENTS),
        (b"BDAT", R.BAD_ARGUMENTS),
        (b"BDAT -1", R.BAD_ARGUMENTS),
        (b"BDAT 1 FIRST", R.BAD_ARGUMENTS),
        (b"BDAT 1 LAST x", R.BAD_ARGUMENTS),
        (b"BDAT " + b"9" * 21, R.BAD_ARGUMENTS),
        (b"QUIT please", R.BAD_ARGUMENTS),
    ],
)
def test_refused(line: bytes, reply: R) -> None:
    with pytest.raises(c.CommandError) as info:
        c.parse_command(line)
    assert info.value.kind is reply
    assert info.value.reply == reply.reply


@given(st.binary(max_size=200))
def test_garbage_raises_only_command_error(line: bytes) -> None:
    with contextlib.suppress(c.CommandError):
        c.parse_command(line)


_verbs = st.sampled_from([b"MAIL FROM:", b"RCPT TO:", b"LHLO ", b"BDAT ", b"mail from: "])


@given(_verbs, st.binary(max_size=80))
def test_garbage_after_verb_raises_only_command_error(verb: bytes, rest: bytes) -> None:
    try:
        command = c.parse_command(verb + rest)
    except c.CommandError:
        return
    assert isinstance(command, c.MailFrom | c.RcptTo | c.Lhlo | c.Bdat)
