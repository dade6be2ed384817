"""RFC 5228 core language: one table per section, messages in, actions out."""

from __future__ import annotations

import pytest

from sieve import Discard, FileInto, Keep, Redirect, SieveEnvelope, SieveRuntimeError
from tests.sieve.util import message, run

KEEP = Keep(implicit=True)

RFC5228_SECTION_9 = """
#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be used by spammers, trash it.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
"""


def _msg(sender: str, from_: str, to: str, subject: str, cc: str = "x@y.org") -> bytes:
    return (
        f"Sender: {sender}\r\nFrom: {from_}\r\nTo: {to}\r\nCc: {cc}\r\n"
        f"Subject: {subject}\r\n\r\nhi\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_msg("owner-ietf-mta-filters@imc.org", "a@b.org", "me@example.com", "x"),
         [FileInto("filter")]),
        (_msg("x@y.org", "boss@example.com", "me@other.org", "x"), [Keep()]),
        (_msg("x@y.org", "a@b.org", "someone@else.org", "hello"), [FileInto("spam")]),
        (_msg("x@y.org", "a@b.org", "a@c.org", "MAKE lots of MONEY FAST", "me@example.com"),
         [FileInto("spam")]),
        (_msg("x@y.org", "a@b.org", "a@c.org", "lunch", "me@example.com"), [FileInto("personal")]),
    ],
)  # fmt: skip
def test_section_9_example(raw: bytes, expected: list[object]) -> None:
    assert run(RFC5228_SECTION_9, message(raw)) == expected


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # §2.10.2 implicit keep: no action -> keep
        ("", [KEEP]),
        ("if false { discard; }", [KEEP]),
        # §3.1 if / elsif / else
        ("if false { discard; } elsif true { keep; } else { discard; }", [Keep()]),
        ("if false { keep; } elsif false { keep; } else { discard; }", [Discard()]),
        # §3.3 stop: implicit keep still applies
        ("stop; discard;", [KEEP]),
        ("if true { stop; } discard;", [KEEP]),
        # §4.1 fileinto cancels implicit keep; §2.10.3 repeats fold
        ('require "fileinto"; fileinto "a"; fileinto "a";', [FileInto("a")]),
        ('require "fileinto"; fileinto "INBOX"; keep;', [Keep()]),
        ('require "fileinto"; fileinto "b"; fileinto "a";', [FileInto("b"), FileInto("a")]),
        # §4.2 redirect, twice to one address = once
        ('redirect "a@b.c"; redirect "A@B.C";', [Redirect("a@b.c")]),
        # §4.3 keep; §4.4 discard then keep still keeps
        ("keep;", [Keep()]),
        ("discard; keep;", [Keep()]),
        ("discard;", [Discard()]),
        ('require "fileinto"; discard; fileinto "x";', [FileInto("x")]),
    ],
)
def test_control_and_actions(script: str, expected: list[object]) -> None:
    assert run(script) == expected


def _if(test: str) -> str:
    return f"if {test} {{ discard; }}"


@pytest.mark.parametrize(
    ("test", "matches"),
    [
        # §5.1 address, §2.7.4 address parts, §2.7.3 comparators
        ('address :is "from" "coyote@desert.example.org"', True),
        ('address :is "from" "COYOTE@desert.example.org"', True),
        ('address :comparator "i;octet" :is "from" "COYOTE@desert.example.org"', False),
        ('address :localpart :is "from" "coyote"', True),
        ('address :domain :is ["to", "cc"] "example.net"', True),
        ('address :all :contains "cc" "me@"', True),
        ('address :is "bcc" "x@y"', False),
        # §5.2 allof, §5.3 anyof, §5.8 not
        ("allof (true, false)", False),
        ("allof (true, true)", True),
        ("anyof (false, true)", True),
        ("anyof (false, false)", False),
        ("not false", True),
        ("not not true", True),
        # §5.5 exists
        ('exists ["From", "X-Caffeine"]', True),
        ('exists ["From", "X-Nope"]', False),
        # §5.7 header: RFC 2047 decoded, §2.7.1 match types
        ('header :contains "subject" "présent"', True),
        ('header :is "Subject" "I have a présent for you"', True),
        ('header :matches "subject" "I*you"', True),
        ('header :matches "subject" "I?have*"', True),
        ('header :matches "subject" "have*"', False),
        ('header :contains "x-caffeine" ""', True),
        ('header :is "x-missing" ""', False),
        ('header :contains ["X-Caffeine", "From"] "N4O2"', True),
        # §5.9 size
        ("size :over 100", True),
        ("size :under 1K", True),
        ("size :over 1M", False),
        # §2.7.1 escapes in :matches
        ('header :matches "x-caffeine" "C8H10N4O\\\\?"', False),
    ],
)
def test_tests(test: str, matches: bool) -> None:
    expected = [Discard()] if matches else [KEEP]
    assert run(_if(test)) == expected


def test_envelope_section_5_4() -> None:
    script = 'require "envelope"; if envelope :all :is "from" "tim@example.com" { discard; }'
    assert run(script, envelope=SieveEnvelope("tim@example.com", "x@y")) == [Discard()]
    assert run(script, envelope=SieveEnvelope("", "x@y")) == [KEEP]
    null = 'require "envelope"; if envelope :is "from" "" { discard; }'
    assert run(null, envelope=SieveEnvelope("", "x@y")) == [Discard()]


def test_too_many_actions_is_a_runtime_error() -> None:
    script = 'require "fileinto";' + "".join(f'fileinto "f{i}";' for i in range(100))
    with pytest.raises(SieveRuntimeError):
        run(script)


def test_too_many_redirects() -> None:
    script = "".join(f'redirect "a{i}@b.c";' for i in range(10))
    with pytest.raises(SieveRuntimeError):
        run(script)
