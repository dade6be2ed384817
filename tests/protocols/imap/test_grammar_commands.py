from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore.types import FlagMode
from protocols.imap import commands as c
from protocols.imap.errors import ParseError
from protocols.imap.framing import CommandFrame, StreamedLiteral
from protocols.imap.grammar.commands import parse_command, parse_command_bytes
from protocols.imap.grammar.fetch import (
    ALL,
    BodySection,
    FetchAttr,
    FetchModifiers,
    Section,
    SectionText,
)
from protocols.imap.grammar.search import (
    DateField,
    DateOp,
    ReturnOpt,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchSize,
    SearchText,
    SimpleKey,
    TextField,
)
from protocols.imap.grammar.sequence import STAR, SequenceSet
from protocols.imap.responses import AtomsCode, CodeKind

S = SequenceSet.parse

CASES = [
    (b"a CAPABILITY", c.Capability(b"a")),
    (b"a noop", c.Noop(b"a")),
    (b"a LOGOUT", c.Logout(b"a")),
    (b"a ID NIL", c.Id(b"a", None)),
    (b'a ID ("name" "mutt" "os" NIL)', c.Id(b"a", (("name", "mutt"), ("os", None)))),
    (b"a STARTTLS", c.StartTls(b"a")),
    (b"a AUTHENTICATE plain", c.Authenticate(b"a", "PLAIN")),
    (b"a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0", c.Authenticate(b"a", "PLAIN", b"AGZyZWQAc2VjcmV0")),
    (b"a AUTHENTICATE PLAIN =", c.Authenticate(b"a", "PLAIN", b"=")),
    (b"a001 LOGIN SMITH SESAME", c.Login(b"a001", "SMITH", b"SESAME")),
    (b'a LOGIN "fr\\"ed" "p w"', c.Login(b"a", 'fr"ed', b"p w")),
    (b"a ENABLE condstore qresync", c.Enable(b"a", ("CONDSTORE", "QRESYNC"))),
    (b"A142 SELECT INBOX", c.Select(b"A142", "INBOX")),
    (b"A SELECT inbox (CONDSTORE)", c.Select(b"A", "INBOX", condstore=True)),
    (
        b"A SELECT x (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:5 3:7)))",
        c.Select(
            b"A",
            "x",
            qresync=c.QResync(
                67890007, 90060115194045000, S(b"41:211,214:541"), S(b"1:5"), S(b"3:7")
            ),
        ),
    ),
    (b"A932 EXAMINE blurdybloop", c.Examine(b"A932", "blurdybloop")),
    (b"A003 CREATE owatagusiam/", c.Create(b"A003", "owatagusiam/")),
    (b"A CREATE Sent (USE (\\Sent))", c.Create(b"A", "Sent", ("\\Sent",))),
    (b"A683 DELETE blurdybloop", c.Delete(b"A683", "blurdybloop")),
    (b"A683 RENAME blurdybloop sarasoop", c.Rename(b"A683", "blurdybloop", "sarasoop")),
    (b"A RENAME &AMk-t&AOk- Summer", c.Rename(b"A", "\u00c9t\u00e9", "Summer")),
    (b"A002 SUBSCRIBE #news.comp.mail.mime", c.Subscribe(b"A002", "#news.comp.mail.mime")),
    (b"A002 UNSUBSCRIBE #news.comp.mail.mime", c.Unsubscribe(b"A002", "#news.comp.mail.mime")),
    (b'A101 LIST "" ""', c.List(b"A101", "", ("",))),
    (b'A102 LIST #news.comp.mail.misc ""', c.List(b"A102", "#news.comp.mail.misc", ("",))),
    (b"A202 LIST ~/Mail/ %", c.List(b"A202", "~/Mail/", ("%",))),
    (
        b'A LIST (SUBSCRIBED RECURSIVEMATCH) "" (INBOX "Foo*") '
        b"RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
        c.List(
            b"A",
            "",
            ("INBOX", "Foo*"),
            frozenset({c.ListSelect.SUBSCRIBED, c.ListSelect.RECURSIVEMATCH}),
            frozenset({c.ListReturn.CHILDREN, c.ListReturn.STATUS}),
            (c.StatusItem.MESSAGES, c.StatusItem.UNSEEN),
            extended=True,
        ),
    ),
    (b'A LSUB "#news." "comp.mail.*"', c.Lsub(b"A", "#news.", "comp.mail.*")),
    (
        b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
        c.Status(b"A042", "blurdybloop", (c.StatusItem.UIDNEXT, c.StatusItem.MESSAGES)),
    ),
    (b"a NAMESPACE", c.Namespace(b"a")),
    (b"a IDLE", c.Idle(b"a")),
    (b'a GETQUOTA ""', c.GetQuota(b"a", "")),
    (b"a GETQUOTAROOT INBOX", c.GetQuotaRoot(b"a", "INBOX")),
    (b'a SETQUOTA "" (STORAGE 512)', c.SetQuota(b"a", "", (("STORAGE", 512),))),
    (b"FXXZ CHECK", c.Check(b"FXXZ")),
    (b"A341 CLOSE", c.Close(b"A341")),
    (b"a UNSELECT", c.Unselect(b"a")),
    (b"A202 EXPUNGE", c.Expunge(b"A202")),
    (b"A UID EXPUNGE 3000:3002", c.Expunge(b"A", True, S(b"3000:3002"))),
    (
        b'A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"',
        c.Search(
            b"A282",
            SearchAnd(
                (
                    SearchFlag("\\Flagged", True),
                    SearchDate(DateField.INTERNAL, DateOp.SINCE, dt.date(1994, 2, 1)),
                    SearchNot(SearchText(TextField.FROM, "Smith")),
                )
            ),
        ),
    ),
    (
        b"A UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 UNSEEN",
        c.Search(
            b"A",
            SearchFlag("\\Seen", False),
            uid=True,
            charset="UTF-8",
            returns=frozenset({ReturnOpt.MIN, ReturnOpt.COUNT}),
        ),
    ),
    (
        b"A SEARCH RETURN () ALL",
        c.Search(b"A", SearchSimple(SimpleKey.ALL), returns=frozenset({ReturnOpt.ALL})),
    ),
    (b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])", None),
    (b"a FETCH 1:* ALL", c.Fetch(b"a", SequenceSet(((1, STAR),)), ALL)),
    (b"a FETCH 5 uid", c.Fetch(b"a", S(b"5"), (FetchAttr.UID,))),
    (
        b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
        c.Fetch(b"a", S(b"1:*"), (FetchAttr.FLAGS,), True, FetchModifiers(12345, True)),
    ),
    (
        b"A003 STORE 2:4 +FLAGS (\\Deleted)",
        c.Store(b"A003", S(b"2:4"), FlagMode.ADD, ("\\Deleted",)),
    ),
    (
        b"a UID STORE 1 (UNCHANGEDSINCE 5) -flags.silent \\seen $Junk",
        c.Store(b"a", S(b"1"), FlagMode.REMOVE, ("\\Seen", "$Junk"), True, True, 5),
    ),
    (b"a STORE 1 FLAGS ()", c.Store(b"a", S(b"1"), FlagMode.REPLACE, ())),
    (b"A003 COPY 2:4 MEETING", c.Copy(b"A003", S(b"2:4"), "MEETING")),
    (b"a UID MOVE 42:69 foo", c.Move(b"a", S(b"42:69"), "foo", True)),
]


@pytest.mark.parametrize(("wire", "expected"), CASES)
def test_commands(wire, expected):
    command = parse_command_bytes(wire + b"\r\n")
    if expected is not None:
        assert command == expected


def test_fetch_header_fields_example():
    command = parse_command_bytes(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n")
    assert isinstance(command, c.Fetch)
    assert command.items == (
        FetchAttr.FLAGS,
        BodySection(Section((), SectionText.HEADER_FIELDS, (b"DATE", b"FROM"))),
    )


def test_login_with_literals_and_password_hidden():
    command = parse_command_bytes(b"a LOGIN {4}\r\nfred {6+}\r\nsecret\r\n")
    assert command == c.Login(b"a", "fred", b"secret")
    assert "secret" not in repr(command)


def test_append_with_flags_date_and_literal():
    wire = b'A003 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" {5}\r\nHello\r\n'
    command = parse_command_bytes(wire)
    tz = dt.timezone(-dt.timedelta(hours=8))
    assert command == c.Append(
        b"A003",
        "saved-messages",
        ("\\Seen",),
        dt.datetime(1994, 2, 7, 21, 52, 25, tzinfo=tz),
        b"Hello",
    )


def test_append_streamed_literal_placeholder():
    frame = CommandFrame((b"a APPEND INBOX {100000}", b""), (StreamedLiteral(100000),))
    command = parse_command(frame)
    assert isinstance(command, c.Append)
    assert command.message == StreamedLiteral(100000)


def test_search_literal_string_utf8():
    wire = b"a SEARCH CHARSET UTF-8 SUBJECT {5}\r\n\xc3\xa9t\xc3\xa9\r\n"
    assert parse_command_bytes(wire) == c.Search(
        b"a", SearchText(TextField.SUBJECT, "\u00e9t\u00e9"), charset="UTF-8"
    )


def test_search_all_keys():
    wire = (
        b"a SEARCH ALL ANSWERED BCC b BEFORE 1-Jan-2020 BODY x CC c DELETED DRAFT FLAGGED "
        b"FROM f HEADER X-A v KEYWORD $Junk LARGER 10 NEW NOT SEEN OLD ON 2-Feb-2020 "
        b"OR RECENT UNDRAFT SENTBEFORE 1-Jan-2020 SENTON 1-Jan-2020 SENTSINCE 1-Jan-2020 "
        b'SINCE "3-Mar-2021" SMALLER 5 SUBJECT s TEXT t TO o UID 1:* UNANSWERED UNDELETED '
        b'UNFLAGGED UNKEYWORD k UNSEEN 1,3 MODSEQ 5 MODSEQ "/flags/\\\\draft" all 620162338 '
        b"(1 2)"
    )
    command = parse_command_bytes(wire + b"\r\n")
    assert isinstance(command, c.Search)
    assert isinstance(command.key, SearchAnd)
    keys = command.key.keys
    assert SearchHeader("X-A", "v") in keys
    assert SearchSize(True, 10) in keys
    assert SearchOr(SearchSimple(SimpleKey.RECENT), SearchFlag("\\Draft", False)) in keys
    assert SearchSet(SequenceSet(((1, STAR),)), uid=True) in keys
    assert SearchModSeq(620162338, ("/flags/\\draft", "all")) in keys
    assert SearchFlag("$Junk", True) in keys
    assert SearchFlag("k", False) in keys
    assert len(keys) == 36


ERRORS = [
    (b"a FOO", b"a", "Unknown command"),
    (b"a UID NOOP", b"a", "Unknown UID command"),
    (b"a NOOP extra", b"a", "Unexpected extra arguments"),
    (b"a SELECT", b"a", None),
    (b"a SELECT &Jjo", b"a", "Invalid mailbox name"),
    (b"a FETCH 0 FLAGS", b"a", "Invalid sequence set"),
    (b"a FETCH 1 (FLAGS", b"a", None),
    (b"a FETCH 1 BODY[MIME]", b"a", "Invalid section"),
    (b"a FETCH 1 BODY[1.]", b"a", "Invalid section"),
    (b"a FETCH 1 BODY[HEADER.FIELDS ()]", b"a", "Empty list"),
    (b"a FETCH 1 FLAGS (VANISHED)", b"a", "VANISHED needs CHANGEDSINCE"),
    (b"a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)", b"a", "VANISHED needs UID FETCH"),
    (b"a STORE 1 +FLAGS (\\Recent)", b"a", "Invalid system flag"),
    (b"a SEARCH FROM", b"a", None),
    (b"a SEARCH BEFORE 31-Feb-2020", b"a", "Invalid date"),
    (b"a SEARCH " + b"(" * 100 + b"ALL" + b")" * 100, b"a", "Search too complex"),
    (b"a SEARCH " + b"NOT " * 100 + b"ALL", b"a", "Search too complex"),
    (b'a LIST (RECURSIVEMATCH) "" *', b"a", "RECURSIVEMATCH needs another selection option"),
    (b'a APPEND x (\\Seen) "1-Jan-2020 00:00:00 +9900" {1}\r\nx', b"a", "Invalid date-time"),
    (b"a APPEND x NOTLITERAL", b"a", "APPEND needs a literal"),
    (b"+ NOOP", None, None),
    (b"", None, None),
    (b"(x NOOP", None, None),
]


@pytest.mark.parametrize(("wire", "tag", "text"), ERRORS)
def test_errors_carry_tag_and_fixed_text(wire, tag, text):
    with pytest.raises(ParseError) as info:
        parse_command_bytes(wire + b"\r\n")
    assert info.value.tag == tag
    if text is not None:
        assert info.value.text == text


def test_bad_charset_is_no_with_code():
    with pytest.raises(ParseError) as info:
        parse_command_bytes(b"a SEARCH CHARSET KOI8-R ALL\r\n")
    assert info.value.respond_no
    assert info.value.code == AtomsCode(CodeKind.BADCHARSET, ("US-ASCII", "UTF-8"))


def test_utf8_accept_mailbox_names():
    raw = "Entw\u00fcrfe".encode()
    wire = b'a SELECT "' + raw + b'"\r\n'
    assert parse_command_bytes(wire, utf8=True) == c.Select(b"a", "Entw\u00fcrfe")
    with pytest.raises(ParseError):
        parse_command_bytes(b'a SELECT "' + raw + b'"\r\n')


def test_valid_in_declared_for_every_command():
    assert c.Login.valid_in == frozenset({c.SessionState.NOT_AUTHENTICATED})
    assert c.Fetch.valid_in == frozenset({c.SessionState.SELECTED})
    assert c.Select.valid_in == frozenset({c.SessionState.AUTHENTICATED, c.SessionState.SELECTED})
    assert c.SessionState.LOGOUT not in c.Noop.valid_in


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_garbage_only_parse_error(data):
    with contextlib.suppress(ParseError):
        parse_command_bytes(data)


TOKENS = [
    b"a",
    b" ",
    b"UID",
    b"FETCH",
    b"SEARCH",
    b"STORE",
    b"LIST",
    b"SELECT",
    b"APPEND",
    b"(",
    b")",
    b"[",
    b"]",
    b"<",
    b">",
    b".",
    b"1",
    b"*",
    b":",
    b",",
    b'"',
    b"\\",
    b"{3}\r\n",
    b"{2+}\r\n",
    b"BODY",
    b"HEADER.FIELDS",
    b"NOT",
    b"OR",
    b"CHARSET",
    b"RETURN",
    b"FLAGS",
    b"+FLAGS",
    b"\r\n",
    b"NIL",
    b"\xc3",
    b"&",
    b"-",
    b"INBOX",
    b"MODSEQ",
    b"QRESYNC",
    b"CHANGEDSINCE",
    b"0",
    b"99999999999",
]


@settings(max_examples=500)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_only_parse_error(tokens):
    with contextlib.suppress(ParseError):
        parse_command_bytes(b"".join(tokens) + b"\r\n")
