"""The pure command parser: table-driven cases and Hypothesis properties."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.pop3 import commands as c
from protocols.pop3.commands import CommandError, CommandErrorKind, parse_command

K = CommandErrorKind


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"CAPA", c.Capa()),
        (b"capa", c.Capa()),
        (b"QUIT", c.Quit()),
        (b"STLS", c.Stls()),
        (b"STAT ", c.Stat()),
        (b"NOOP", c.Noop()),
        (b"RSET", c.Rset()),
        (b"USER alice", c.User("alice")),
        (b"user alice@example.com", c.User("alice@example.com")),
        (b"USER j\xc3\xbcrgen", c.User("j\u00fcrgen")),
        (b"LIST", c.List()),
        (b"LIST 7", c.List(7)),
        (b"UIDL", c.Uidl()),
        (b"UIDL 1", c.Uidl(1)),
        (b"RETR 12", c.Retr(12)),
        (b"DELE 2147483647", c.Dele(2147483647)),
        (b"TOP 1 0", c.Top(1, 0)),
        (b"top  3   10", c.Top(3, 10)),
        (b"RETR 007", c.Retr(7)),
        (b"AUTH", c.Auth(None)),
        (b"AUTH plain", c.Auth("PLAIN")),
        (b"AUTH PLAIN AGFsaWNlAHNlY3JldA==", c.Auth("PLAIN", b"AGFsaWNlAHNlY3JldA==")),
        (b"AUTH LOGIN =", c.Auth("LOGIN", b"=")),
    ],
)
def test_parse(line: bytes, expected: c.Command) -> None:
    assert parse_command(line) == expected


def test_pass_keeps_the_rest_of_the_line() -> None:
    command = parse_command(b"PASS  two words ")
    assert isinstance(command, c.Pass)
    assert command.password.reveal() == b" two words "
    assert "two" not in repr(command)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"", K.EMPTY),
        (b"   ", K.EMPTY),
        (b"FOO", K.UNKNOWN),
        (b"APOP alice abc", K.UNKNOWN),
        (b"LAST", K.UNKNOWN),
        (b"RETR\t1", K.UNKNOWN),
        (b"\x00", K.UNKNOWN),
        (b"CAPA x", K.SYNTAX),
        (b"USER", K.SYNTAX),
        (b"USER a b", K.SYNTAX),
        (b"USER \xff", K.SYNTAX),
        (b"USER a\x7f", K.SYNTAX),
        (b"USER " + b"a" * 256, K.SYNTAX),
        (b"PASS", K.SYNTAX),
        (b"PASS a\x00b", K.SYNTAX),
        (b"PASS " + b"a" * 513, K.SYNTAX),
        (b"RETR", K.SYNTAX),
        (b"RETR 1 2", K.SYNTAX),
        (b"RETR 1\t", K.SYNTAX),
        (b"TOP 1", K.SYNTAX),
        (b"LIST 1 2", K.SYNTAX),
        (b"RETR " + b"1" * 41, K.SYNTAX),
        (b"AUTH PLAIN a b", K.SYNTAX),
        (b"AUTH " + b"X" * 21, K.SYNTAX),
        (b"RETR 0", K.BAD_NUMBER),
        (b"RETR -1", K.BAD_NUMBER),
        (b"RETR +1", K.BAD_NUMBER),
        (b"RETR 1.0", K.BAD_NUMBER),
        (b"RETR 2147483648", K.BAD_NUMBER),
        (b"RETR 99999999999", K.BAD_NUMBER),
        (b"TOP 1 x", K.BAD_NUMBER),
        (b"LIST \xd9\xa1", K.SYNTAX),
    ],
)
def test_refused(line: bytes, kind: CommandErrorKind) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(line)
    assert info.value.kind is kind


@given(st.binary(max_size=200))
def test_garbage_raises_only_command_error(line: bytes) -> None:
    with contextlib.suppress(CommandError):
        parse_command(line)


@given(
    st.sampled_from([b"USER", b"PASS", b"AUTH", b"LIST", b"RETR", b"DELE", b"TOP", b"UIDL",
                     b"STAT", b"CAPA", b"STLS"]),
    st.binary(max_size=80),
)
def test_garbage_after_verb_raises_only_command_error(verb: bytes, rest: bytes) -> None:
    with contextlib.suppress(CommandError):
        parse_command(verb + b" " + rest)


@given(st.integers(min_value=1, max_value=2**31 - 1), st.integers(0, 2**31 - 1))
def test_numbers_round_trip(msg: int, lines: int) -> None:
    assert parse_command(b"TOP %d %d" % (msg, lines)) == c.Top(msg, lines)
    assert parse_command(b"RETR %d" % msg) == c.Retr(msg)
