"""Extensions, one table per RFC, using the RFCs' own examples where they exist."""

from __future__ import annotations

import pytest

from sieve import (
    Discard,
    FileInto,
    Keep,
    Redirect,
    Reject,
    SieveContext,
    SieveEnvelope,
    SieveRuntimeError,
    TrackDuplicate,
    Vacation,
)
from tests.sieve.util import NOW, message, run

KEEP = Keep(implicit=True)


def _case(script: str, expected: list[object]) -> tuple[str, list[object]]:
    return script, expected


# --- RFC 3894 copy ---------------------------------------------------------------

COPY = [
    _case('require ["copy", "fileinto"]; fileinto :copy "incoming";',
          [KEEP, FileInto("incoming", copy=True)]),
    _case('require "copy"; redirect :copy "x@example.com";',
          [KEEP, Redirect("x@example.com", True)]),
    _case('require ["copy", "fileinto"]; fileinto :copy "a"; fileinto "a";', [FileInto("a")]),
]  # fmt: skip


@pytest.mark.parametrize(("script", "expected"), COPY)
def test_rfc3894_copy(script: str, expected: list[object]) -> None:
    assert run(script) == expected


# --- RFC 5429 reject / ereject ---------------------------------------------------

REJECT_EXAMPLE = """require ["reject"];

if size :over 100 {
    reject text:
Your message is too big.  If you want to send me a big attachment,
..put it on a public web site and send me a URL.
.
;
}
"""


def test_rfc5429_reject_example_multiline_undotted() -> None:
    assert run(REJECT_EXAMPLE) == [
        Reject(
            "Your message is too big.  If you want to send me a big attachment,\n"
            ".put it on a public web site and send me a URL.\n"
        )
    ]


def test_rfc5429_ereject_example() -> None:
    script = """require ["ereject"];
    if address :is "from" "coyote@desert.example.org" {
        ereject "I am not taking mail from you, and I don't want your birdseed, either!";
    }"""
    [action] = run(script)
    assert action == Reject(
        "I am not taking mail from you, and I don't want your birdseed, either!", extended=True
    )


@pytest.mark.parametrize(
    "script",
    [
        'require ["reject"]; keep; reject "no";',
        'require ["reject", "fileinto"]; reject "no"; fileinto "x";',
        'require ["reject"]; redirect "a@b.c"; reject "no";',
        'require ["reject", "ereject"]; reject "no"; ereject "no";',
        'require ["reject", "vacation"]; reject "no"; vacation "away";',
    ],
)
def test_rfc5429_conflicts_are_runtime_errors(script: str) -> None:
    with pytest.raises(SieveRuntimeError):
        run(script)


def test_reject_with_discard_is_fine() -> None:
    assert run('require "reject"; discard; reject "no";') == [Reject("no")]


# --- RFC 5173 body ------------------------------------------------------------------

MIME = (
    b"From: a@b.c\r\nTo: d@e.f\r\nSubject: mime\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    b"preamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\nthe missile =C3=A9t=C3=A9\r\n"
    b"--XX\r\nContent-Type: text/html\r\n\r\n<b>MAKE MONEY FAST</b>\r\n"
    b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"c2VjcmV0IHBsYW5z\r\n--XX--\r\n"
)

BODY = [
    ('body :raw :contains "MAKE MONEY FAST"', True),
    ('body :raw :contains "=C3=A9t=C3=A9"', True),
    ('body :content "text" :contains "missile"', True),
    ('body :content "text/plain" :contains "été"', True),
    ('body :content "text/plain" :contains "MONEY"', False),
    ('body :content "text/html" :contains "money"', True),
    ('body :content "application" :contains "secret plans"', True),
    ('body :text :contains "secret"', False),
    ('body :contains "missile"', True),
    ('body :content "" :contains "secret"', True),
]


@pytest.mark.parametrize(("test", "matches"), BODY)
def test_rfc5173_body(test: str, matches: bool) -> None:
    actions = run(f'require "body"; if {test} {{ discard; }}', message(MIME))
    assert actions == ([Discard()] if matches else [KEEP])


# --- RFC 5229 variables -----------------------------------------------------------

VARIABLES = [
    # §3.2 examples
    ('if header :matches "Cc" "*, * <*@*>" { set "d" "${3}|${4}"; }', "joerg+lists|example.net"),
    ('if header :matches "Subject" "I * a *" { set "d" "${1}/${2}"; }', "have/présent for you"),
    ('if header :matches "Subject" "*" { set "d" "${0}"; }', "I have a présent for you"),
    # §3: unknown variables are empty, names are case-insensitive, bad syntax stays
    ('set "A" "x"; set "d" "${a}${unknown}${a"; ', "x${a"),
    # §4.1 modifier examples
    ('set "a" "juMBlEd lETteRS"; set :length "d" "${a}";', "15"),
    ('set "a" "juMBlEd lETteRS"; set :lower "d" "${a}";', "jumbled letters"),
    ('set "a" "juMBlEd lETteRS"; set :upperfirst "d" "${a}";', "JuMBlEd lETteRS"),
    ('set "a" "juMBlEd lETteRS"; set :upperfirst :lower "d" "${a}";', "Jumbled letters"),
    ('set :quotewildcard "d" "Rock*";', "Rock\\*"),
    # multi-line text with variables (RFC 5229 §3 example)
    ('set "honorific" "Mr"; set "last_name" "Coyote"; set "d" text:\n'
     "Dear ${HONORIFIC} ${last_name},\n.\n;", "Dear Mr Coyote,\n"),
]  # fmt: skip


@pytest.mark.parametrize(("script", "value"), VARIABLES)
def test_rfc5229_variables(script: str, value: str) -> None:
    full = f'require ["variables", "fileinto"]; {script} fileinto "${{d}}";'
    assert run(full) == [FileInto(value)]


@pytest.mark.parametrize(
    ("test", "matches"),
    [
        ('string :is "${x}" "abc"', True),
        ('string :is "${nope}" ""', True),
        ('string :count "eq" :comparator "i;ascii-numeric" ["${x}", "", "a"] "2"', True),
        ('string :matches "${x}" "a?c"', True),
        ('string :contains ["${x}"] "b"', True),
    ],
)
def test_rfc5229_string_test(test: str, matches: bool) -> None:
    script = (
        'require ["variables", "relational", "comparator-i;ascii-numeric"];'
        f'set "x" "abc"; if {test} {{ discard; }}'
    )
    assert run(script) == ([Discard()] if matches else [KEEP])


def test_rfc5229_failed_match_keeps_old_match_variables() -> None:
    script = """require ["variables", "fileinto"];
    if header :matches "From" "Wile*" {}
    if header :matches "From" "nothing*" {}
    fileinto "${1}";"""
    assert run(script) == [FileInto(" Coyote <coyote@desert.example.org>")]


# --- RFC 5230 vacation --------------------------------------------------------------

VACATION_EXAMPLE = """require "vacation";
if header :contains "subject" "cyrus" {
    vacation "I'm out -- send mail to cyrus-bugs";
} else {
    vacation "I'm out -- call me at +1 304 555 0123";
}"""


def test_rfc5230_example() -> None:
    actions = run(VACATION_EXAMPLE)
    assert actions[0] == KEEP
    vacation = actions[1]
    assert isinstance(vacation, Vacation)
    assert vacation.reason == "I'm out -- call me at +1 304 555 0123"
    assert vacation.recipient == "coyote@desert.example.org"
    assert vacation.subject == "Auto: I have a présent for you"
    assert vacation.seconds == 7 * 86400


@pytest.mark.parametrize(
    ("headers", "sender", "replies"),
    [
        ({}, "coyote@desert.example.org", True),
        ({}, "", False),
        ({}, "MAILER-DAEMON@desert.example.org", False),
        ({}, "owner-list@desert.example.org", False),
        ({}, "list-request@desert.example.org", False),
        ({"Auto_Submitted": "auto-replied"}, "coyote@desert.example.org", False),
        ({"Auto_Submitted": "no"}, "coyote@desert.example.org", True),
        ({"Precedence": "bulk"}, "coyote@desert.example.org", False),
        ({"List_Id": "<x.example.org>"}, "coyote@desert.example.org", False),
        ({}, "roadrunner@acme.example.com", False),
    ],
)
def test_rfc5230_who_gets_replies(headers: dict[str, str], sender: str, replies: bool) -> None:
    actions = run(
        'require "vacation"; vacation :days 3 "away";',
        message(**headers),
        envelope=SieveEnvelope(sender, "roadrunner@acme.example.com"),
    )
    assert any(isinstance(a, Vacation) for a in actions) is replies


def test_rfc5230_not_addressed_to_me_needs_addresses() -> None:
    envelope = SieveEnvelope("coyote@desert.example.org", "other@acme.example.com")
    plain = 'require "vacation"; vacation "away";'
    assert run(plain, envelope=envelope) == [KEEP]
    listed = 'require "vacation"; vacation :addresses ["me@example.com"] "away";'
    assert len(run(listed, envelope=envelope)) == 2


def test_rfc5230_history_and_handle() -> None:
    asked: list[tuple[str, str, int]] = []

    def replied(sender: str, handle: str, seconds: int) -> bool:
        asked.append((sender, handle, seconds))
        return True

    context = SieveContext(vacation_replied=replied, now=lambda: NOW)
    script = (
        'require ["vacation", "vacation-seconds"];'
        'vacation :seconds 60 :handle "h1" :subject "s" :from "r@acme.example.com" "away";'
    )
    assert run(script, context=context) == [KEEP]
    assert asked == [("coyote@desert.example.org", "h1", 60)]


def test_rfc5230_vacation_twice_is_an_error() -> None:
    with pytest.raises(SieveRuntimeError):
        run('require "vacation"; vacation "a"; vacation "b";')


# --- RFC 5231 relational + i;ascii-numeric ------------------------------------------

RELATIONAL = [
    ('header :value "gt" :comparator "i;ascii-numeric" "x-count" "11"', True),
    ('header :value "lt" :comparator "i;ascii-numeric" "x-count" "3"', False),
    ('header :value "le" :comparator "i;ascii-numeric" "x-count" "3"', True),
    ('header :value "eq" :comparator "i;ascii-numeric" "subject" "99999999"', False),
    ('header :value "gt" :comparator "i;ascii-numeric" "subject" "99999999"', True),
    ('header :count "eq" :comparator "i;ascii-numeric" "x-count" "2"', True),
    ('header :count "eq" :comparator "i;ascii-numeric" "x-none" "0"', True),
    ('address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]', True),
    ('address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["4"]', False),
    ('header :value "gt" "from" "W"', True),
    ('header :value "ne" "x-caffeine" "c8h10n4o2"', False),
    ('header :is :comparator "i;ascii-numeric" "x-count" "012"', True),
]


@pytest.mark.parametrize(("test", "matches"), RELATIONAL)
def test_rfc5231_relational(test: str, matches: bool) -> None:
    script = f'require ["relational", "comparator-i;ascii-numeric"];if {test} {{ discard; }}'
    assert run(script) == ([Discard()] if matches else [KEEP])


# --- RFC 5233 subaddress -------------------------------------------------------------

SUBADDRESS = [
    ('envelope :detail "to" "mta-filters"', "ken+mta-filters@example.org", True),
    ('envelope :user "to" "ken"', "ken+mta-filters@example.org", True),
    ('envelope :user "to" "ken"', "ken@example.org", True),
    ('envelope :detail "to" ""', "ken@example.org", False),
    ('envelope :detail "to" ""', "ken+@example.org", True),
    ('envelope :detail :matches "to" "*"', "ken@example.org", False),
    ('address :detail "cc" "lists"', "ken@example.org", True),
]


@pytest.mark.parametrize(("test", "rcpt", "matches"), SUBADDRESS)
def test_rfc5233_subaddress(test: str, rcpt: str, matches: bool) -> None:
    script = f'require ["envelope", "subaddress"]; if {test} {{ discard; }}'
    actions = run(script, envelope=SieveEnvelope("a@b.c", rcpt))
    assert actions == ([Discard()] if matches else [KEEP])


# --- RFC 5232 imap4flags ---------------------------------------------------------------

FLAGS = [
    ('addflag "\\\\Seen"; addflag ["$Work \\\\Flagged"];',
     [Keep(("\\Seen", "$Work", "\\Flagged"), implicit=True)]),
    ('setflag "\\\\Seen"; removeflag "\\\\seen";', [KEEP]),
    ('addflag "A"; keep; addflag "B";', [Keep(("A",))]),
    ('addflag "A"; fileinto :flags "X Y" "f"; fileinto "g";',
     [FileInto("f", ("X", "Y")), FileInto("g", ("A",))]),
    ('addflag "A"; if hasflag "a" { discard; }', [Discard()]),
    ('addflag "A B"; if hasflag :count "eq" :comparator "i;ascii-numeric" "2" { discard; }',
     [Discard()]),
    ('addflag "v" "A"; if hasflag "v" "A" { fileinto :flags "${v}" "vf"; }',
     [FileInto("vf", ("A",))]),
    ('keep :flags "\\\\Deleted";', [Keep(("\\Deleted",))]),
]  # fmt: skip


@pytest.mark.parametrize(("script", "expected"), FLAGS)
def test_rfc5232_imap4flags(script: str, expected: list[object]) -> None:
    prefix = 'require ["imap4flags", "fileinto", "variables", "relational", '
    prefix += '"comparator-i;ascii-numeric"];'
    assert run(prefix + script) == expected


# --- RFC 5490 mailbox -------------------------------------------------------------------


def test_rfc5490_mailboxexists_and_create() -> None:
    script = """require ["fileinto", "mailbox"];
    if mailboxexists "Partners" { fileinto "Partners"; } else { fileinto :create "New"; }"""
    yes = SieveContext(mailbox_exists=lambda name: name == "Partners")
    assert run(script, context=yes) == [FileInto("Partners")]
    assert run(script) == [FileInto("New", create=True)]


# --- RFC 5260 date / index ---------------------------------------------------------------

DATES = [
    ('date :value "ge" :originalzone "date" "hour" "09"', True),
    ('date :value "lt" :originalzone "date" "hour" "17"', True),
    ('date :is :originalzone "date" "date" "1997-04-01"', True),
    ('date :is :zone "+0000" "date" "time" "17:06:31"', True),
    ('date :is :originalzone "date" "zone" "-0800"', True),
    ('date :is :originalzone "date" "weekday" "2"', True),
    ('date :is :originalzone "date" "julian" "50539"', True),
    ('date :is "date" "zone" "+0100"', True),
    ('date :is "x-caffeine" "year" "1997"', False),
    ('currentdate :is "date" "2024-03-05"', True),
    ('currentdate :zone "+0000" :is "hour" "13"', True),
    ('currentdate :value "gt" "year" "2023"', True),
    ('header :index 2 :is "x-count" "3"', True),
    ('header :index 1 :last :is "x-count" "3"', True),
    ('header :index 1 :is "x-count" "3"', False),
    ('header :index 3 :is "x-count" "3"', False),
    ('address :index 1 :is "from" "coyote@desert.example.org"', True),
]


@pytest.mark.parametrize(("test", "matches"), DATES)
def test_rfc5260_date_and_index(test: str, matches: bool) -> None:
    script = f'require ["date", "index", "relational"]; if {test} {{ discard; }}'
    assert run(script) == ([Discard()] if matches else [KEEP])


def test_rfc5260_date_with_variables_example() -> None:
    script = """require ["date", "variables", "fileinto"];
    if currentdate :matches "month" "*" { set "month" "${1}"; }
    if currentdate :matches "year"  "*" { set "year" "${1}"; }
    fileinto "INBOX.${year}-${month}";"""
    assert run(script) == [FileInto("INBOX.2024-03")]


# --- RFC 6609 include ------------------------------------------------------------------


def test_rfc6609_include_global_variables_and_return() -> None:
    main = """require ["include", "variables", "fileinto"];
    global "test";
    set "test" "value";
    include :personal "sub";
    include :personal :once "sub";
    include :global :optional "missing";
    fileinto "${test}";"""
    sub = """require ["include", "variables", "fileinto"];
    global "test";
    fileinto "sub-${test}";
    set "test" "changed";
    return;
    fileinto "never";"""
    actions = run(main, includes={("sub", False): sub})
    assert actions == [FileInto("sub-value"), FileInto("changed")]


def test_rfc6609_stop_in_included_script_stops_everything() -> None:
    main = 'require ["include", "fileinto"]; include "sub"; fileinto "after";'
    sub = 'require "fileinto"; fileinto "in-sub"; stop;'
    assert run(main, includes={("sub", False): sub}) == [FileInto("in-sub")]


def test_rfc6609_local_variables_stay_local() -> None:
    main = 'require ["include", "variables", "fileinto"]; set "x" "m"; include "s";'
    main += 'fileinto "${x}";'
    sub = 'require ["variables", "fileinto"]; set "x" "s"; fileinto "s-${x}";'
    assert run(main, includes={("s", False): sub}) == [FileInto("s-s"), FileInto("m")]


# --- RFC 7352 duplicate ------------------------------------------------------------------


def test_rfc7352_duplicate() -> None:
    script = 'require "duplicate"; if duplicate { discard; }'
    assert run(script) == [KEEP, TrackDuplicate("", "<1234@desert.example.org>", 7 * 86400)]
    seen = SieveContext(duplicate_seen=lambda handle, key: key == "<1234@desert.example.org>")
    assert run(script, context=seen) == [Discard()]


def test_rfc7352_duplicate_arguments() -> None:
    script = """require ["duplicate", "variables"];
    if header :matches "subject" "*" { set "s" "${1}"; }
    if duplicate :handle "h" :uniqueid "${s}" :seconds 60 :last { discard; }"""
    asked: list[tuple[str, str]] = []

    def seen(handle: str, key: str) -> bool:
        asked.append((handle, key))
        return True

    actions = run(script, context=SieveContext(duplicate_seen=seen))
    assert asked == [("h", "I have a présent for you")]
    assert actions == [TrackDuplicate("h", "I have a présent for you", 60), Discard()]


# --- regex (draft-ietf-sieve-regex) ------------------------------------------------------


def test_regex_match_and_variables() -> None:
    script = """require ["regex", "variables", "fileinto"];
    if header :regex "subject" "^i (have|had) a ([a-zé]+)" { fileinto "${1}-${2}"; }"""
    assert run(script) == [FileInto("have-présent")]


def test_regex_octet_is_case_sensitive() -> None:
    script = 'require "regex"; if header :regex :comparator "i;octet" "subject" "^i" { discard; }'
    assert run(script) == [KEEP]


# --- RFC 5183 environment; RFC 5228 §2.4.2.4 encoded-character ----------------------------


@pytest.mark.parametrize(
    ("test", "matches"),
    [
        ('environment :is "name" "mailstack"', True),
        ('environment :is "domain" "acme.example.com"', True),
        ('environment :contains "nothing" ""', False),
    ],
)
def test_rfc5183_environment(test: str, matches: bool) -> None:
    context = SieveContext(environment={"domain": "acme.example.com"})
    script = f'require "environment"; if {test} {{ discard; }}'
    assert run(script, context=context) == ([Discard()] if matches else [KEEP])


def test_encoded_character() -> None:
    script = """require ["encoded-character", "fileinto"];
    if header :contains "subject" "${hex:70 72 C3 A9}" { fileinto "${unicode:48 49}${hex:zz}"; }"""
    assert run(script) == [FileInto("HI${hex:zz}")]
