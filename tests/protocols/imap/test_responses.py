"""Responses serialize exactly as the RFC examples show."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mailstore.message import Address, BodyPart, Envelope
from protocols.imap import responses as r
from protocols.imap.commands import StatusItem
from protocols.imap.grammar.fetch import BodySection, Section, SectionText
from protocols.imap.grammar.structure import body_bytes
from protocols.imap.grammar.writer import serialize_chunks

C = r.CodeKind

EXAMPLES = [
    # RFC 3501 6.3.1 SELECT
    (r.ExistsData(172), b"* 172 EXISTS"),
    (r.RecentData(1), b"* 1 RECENT"),
    (
        r.StatusResponse(
            r.Condition.OK, "Message 12 is first unseen", code=r.NumberCode(C.UNSEEN, 12)
        ),
        b"* OK [UNSEEN 12] Message 12 is first unseen",
    ),
    (
        r.StatusResponse(
            r.Condition.OK, "UIDs valid", code=r.NumberCode(C.UIDVALIDITY, 3857529045)
        ),
        b"* OK [UIDVALIDITY 3857529045] UIDs valid",
    ),
    (
        r.StatusResponse(r.Condition.OK, "Predicted next UID", code=r.NumberCode(C.UIDNEXT, 4392)),
        b"* OK [UIDNEXT 4392] Predicted next UID",
    ),
    (
        r.FlagsData(("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")),
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
    ),
    (
        r.StatusResponse(
            r.Condition.OK,
            "Limited",
            code=r.AtomsCode(C.PERMANENTFLAGS, ("\\Deleted", "\\Seen", "\\*")),
        ),
        b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited",
    ),
    (
        r.StatusResponse(r.Condition.OK, "SELECT completed", b"A142", r.SimpleCode(C.READ_WRITE)),
        b"A142 OK [READ-WRITE] SELECT completed",
    ),
    (
        r.StatusResponse(r.Condition.OK, "EXAMINE completed", b"A932", r.SimpleCode(C.READ_ONLY)),
        b"A932 OK [READ-ONLY] EXAMINE completed",
    ),
    # RFC 3501 6.1.1, 7.2.1
    (
        r.CapabilityData(("IMAP4rev1", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED")),
        b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED",
    ),
    (
        r.StatusResponse(r.Condition.BYE, "IMAP4rev1 Server logging out"),
        b"* BYE IMAP4rev1 Server logging out",
    ),
    (
        r.StatusResponse(r.Condition.NO, "COPY failed", b"A003", r.SimpleCode(C.TRYCREATE)),
        b"A003 NO [TRYCREATE] COPY failed",
    ),
    (
        r.StatusResponse(r.Condition.BAD, "Command unknown or arguments invalid"),
        b"* BAD Command unknown or arguments invalid",
    ),
    # RFC 3501 6.3.8/6.3.9 LIST, LSUB
    (r.ListData("", ("\\Noselect",), "/"), b'* LIST (\\Noselect) "/" ""'),
    (r.ListData("#news.", ("\\Noselect",), "."), b'* LIST (\\Noselect) "." #news.'),
    (r.ListData("~/Mail/foo", ("\\Noselect",), "/"), b'* LIST (\\Noselect) "/" ~/Mail/foo'),
    (r.ListData("#news.comp.mail.misc", (), ".", lsub=True), b'* LSUB () "." #news.comp.mail.misc'),
    (r.ListData("foo", (), None), b"* LIST () NIL foo"),
    # RFC 5258 / 6154 / modified UTF-7
    (
        r.ListData("Foo", ("\\HasChildren",), "/", childinfo=("SUBSCRIBED",)),
        b'* LIST (\\HasChildren) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))',
    ),
    (
        r.ListData("Sent", ("\\Sent", "\\HasNoChildren")),
        b'* LIST (\\Sent \\HasNoChildren) "/" Sent',
    ),
    (r.ListData("Entw\u00fcrfe/A & B"), b'* LIST () "/" "Entw&APw-rfe/A &- B"'),
    (r.ListData("nil"), b'* LIST () "/" "nil"'),
    # RFC 3501 6.3.10, 7.2.5
    (
        r.StatusData("blurdybloop", ((StatusItem.MESSAGES, 231), (StatusItem.UIDNEXT, 44292))),
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)",
    ),
    (r.SearchData((2, 84, 882)), b"* SEARCH 2 84 882"),
    (r.SearchData(()), b"* SEARCH"),
    (r.ExpungeData(3), b"* 3 EXPUNGE"),
    # RFC 3501 7.5
    (r.Continuation("Ready for additional command text"), b"+ Ready for additional command text"),
    (r.Continuation(challenge=b""), b"+ "),
    (r.Continuation(challenge=b"Password:"), b"+ UGFzc3dvcmQ6"),
    # RFC 4315
    (
        r.StatusResponse(
            r.Condition.OK, "APPEND completed", b"A003", r.AppendUidCode(38505, (3955,))
        ),
        b"A003 OK [APPENDUID 38505 3955] APPEND completed",
    ),
    (
        r.StatusResponse(
            r.Condition.OK,
            "Done",
            b"A004",
            r.CopyUidCode(38505, (304, 319, 320), (3956, 3957, 3958)),
        ),
        b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done",
    ),
    (
        r.StatusResponse(r.Condition.NO, "Over quota", b"A", r.SimpleCode(C.OVERQUOTA)),
        b"A NO [OVERQUOTA] Over quota",
    ),
    # RFC 7162
    (
        r.StatusResponse(
            r.Condition.OK, "Highest", code=r.NumberCode(C.HIGHESTMODSEQ, 715194045007)
        ),
        b"* OK [HIGHESTMODSEQ 715194045007] Highest",
    ),
    (
        r.StatusResponse(
            r.Condition.OK, "Conditional STORE failed", b"d105", r.ModifiedCode((7, 9))
        ),
        b"d105 OK [MODIFIED 7,9] Conditional STORE failed",
    ),
    (
        r.SearchData((2, 5, 6, 7, 11, 12, 18, 19, 20, 23), 917162500),
        b"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)",
    ),
    (
        r.VanishedData(
            (41, *range(43, 117), 118, *range(120, 212), *range(214, 541)), earlier=True
        ),
        b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540",
    ),
    (r.VanishedData((405, 407, 410, 425)), b"* VANISHED 405,407,410,425"),
    (
        r.FetchData(1, (r.FlagsItem(("\\Seen",)), r.ModSeqItem(65402), r.UidItem(4))),
        b"* 1 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (65402))",
    ),
    # RFC 4731
    (r.ESearchData(b"A282", min=2, count=3), b'* ESEARCH (TAG "A282") MIN 2 COUNT 3'),
    (r.ESearchData(b"A283", all=(2, 10, 11)), b'* ESEARCH (TAG "A283") ALL 2,10:11'),
    (
        r.ESearchData(b"A285", uid=True, min=7, max=3800),
        b'* ESEARCH (TAG "A285") UID MIN 7 MAX 3800',
    ),
    (r.ESearchData(b"A286", count=0), b'* ESEARCH (TAG "A286") COUNT 0'),
    # RFC 2342, 2971, 5161, 9208
    (r.NamespaceData(), b'* NAMESPACE (("" "/")) NIL NIL'),
    (
        r.NamespaceData((("", "/"),), (("~", "/"),), (("#shared/", "/"), ("#public/", "/"))),
        b'* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/")("#public/" "/"))',
    ),
    (r.IdData(None), b"* ID NIL"),
    (
        r.IdData((("name", "Cyrus"), ("version", "1.5"), ("os", "sunos"), ("support-url", None))),
        b'* ID ("name" "Cyrus" "version" "1.5" "os" "sunos" "support-url" NIL)',
    ),
    (r.EnabledData(("CONDSTORE", "QRESYNC")), b"* ENABLED CONDSTORE QRESYNC"),
    (r.EnabledData(()), b"* ENABLED"),
    (r.QuotaData("", (r.QuotaResource("STORAGE", 10, 512),)), b'* QUOTA "" (STORAGE 10 512)'),
    (r.QuotaRootData("INBOX", ("",)), b'* QUOTAROOT INBOX ""'),
    (r.QuotaRootData("comp.mail.mime", ()), b"* QUOTAROOT comp.mail.mime"),
]


@pytest.mark.parametrize(("response", "wire"), EXAMPLES)
def test_rfc_examples(response, wire):
    assert r.serialize(response) == wire + b"\r\n"


def test_text_is_sanitised():
    response = r.StatusResponse(r.Condition.NO, "bad\r\nA2 OK injected \u00e9", b"a")
    assert r.serialize(response) == b"a NO bad??A2 OK injected ?\r\n"


TERRY = Address("Terry Gray", None, "gray", "cac.washington.edu")
ENVELOPE = Envelope(
    date="Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
    subject="IMAP4rev1 WG mtg summary and minutes",
    from_=(TERRY,),
    sender=(TERRY,),
    reply_to=(TERRY,),
    to=(Address(None, None, "imap", "cac.washington.edu"),),
    cc=(
        Address(None, None, "minutes", "CNRI.Reston.VA.US"),
        Address("John Klensin", None, "KLENSIN", "MIT.EDU"),
    ),
    bcc=(),
    in_reply_to=None,
    message_id="<B27397-0100000@cac.washington.edu>",
)


def _text_part(size: int, lines: int, params: tuple[tuple[str, str], ...], **kw) -> BodyPart:
    fields: dict[str, Any] = {
        "type": "text",
        "subtype": "plain",
        "params": params,
        "content_id": None,
        "description": None,
        "encoding": "7BIT",
        "size": size,
        "lines": lines,
        "md5": None,
        "disposition": None,
        "language": None,
        "location": None,
        "header_start": 0,
        "body_start": 0,
        "body_end": size,
    }
    fields.update(kw)
    return BodyPart(**fields)


def test_rfc3501_fetch_example():
    internal = dt.datetime(1996, 7, 17, 2, 44, 25, tzinfo=dt.timezone(-dt.timedelta(hours=7)))
    body = _text_part(3028, 92, (("CHARSET", "US-ASCII"),))
    response = r.FetchData(
        12,
        (
            r.FlagsItem(("\\Seen",)),
            r.InternalDateItem(internal.timestamp(), -420),
            r.SizeItem(4286),
            r.EnvelopeItem(ENVELOPE),
            r.BodyStructureItem(body, extended=False),
        ),
    )
    expected = (
        b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" '
        b'RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" '
        b'"IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")'
        b'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
        b'"<B27397-0100000@cac.washington.edu>") '
        b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n'
    )
    assert r.serialize(response) == expected


def test_rfc3501_multipart_body_example():
    first = _text_part(1152, 23, (("CHARSET", "US-ASCII"),))
    second = _text_part(
        4554,
        73,
        (("CHARSET", "US-ASCII"), ("NAME", "cc.diff")),
        content_id="<960723163407.20117h@cac.washington.edu>",
        description="Compiser diff",
        encoding="BASE64",
    )
    mixed = _text_part(0, 0, (), type="multipart", subtype="mixed", parts=(first, second))
    assert body_bytes(mixed, extended=False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        b'"<960723163407.20117h@cac.washington.edu>" "Compiser diff" "BASE64" 4554 73) "MIXED")'
    )
    assert body_bytes(mixed, extended=True).endswith(b' "MIXED" NIL NIL NIL NIL)')


def test_bodystructure_extension_data_and_message_rfc822():
    inner = _text_part(10, 1, (), md5=None, language=("en",))
    attached = _text_part(
        200,
        9,
        (),
        type="message",
        subtype="rfc822",
        envelope=ENVELOPE,
        message_body=inner,
        disposition=("attachment", (("filename", "x.eml"),)),
        language=("en", "de"),
        location="http://x/",
        md5="abc",
    )
    out = body_bytes(attached, extended=True)
    assert out.startswith(b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 200 ("Wed, 17 Jul')
    assert out.endswith(
        b' ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 1 NIL NIL "en" NIL) 9 "abc" '
        b'("attachment" ("filename" "x.eml")) ("en" "de") "http://x/")'
    )


def test_eight_bit_header_strings_become_literals():
    env = Envelope("d", "Gr\udcc3\udcbc\u00dfe", (), (), (), (), (), (), None, None)
    wire = r.serialize(r.FetchData(1, (r.EnvelopeItem(env),)))
    raw = "Gr\udcc3\udcbc\u00dfe".encode("utf-8", "surrogateescape")
    assert b"{%d}\r\n" % len(raw) + raw in wire


def test_body_section_literal_is_its_own_chunk():
    data = b"x" * 10_000
    section = BodySection(Section((1,), SectionText.TEXT), peek=True, partial=(0, 10_000))
    response = r.FetchData(3, (r.SectionItem(section.response_name(), data), r.UidItem(9)))
    chunks = serialize_chunks(response)
    assert chunks == [b"* 3 FETCH (UID 9 BODY[1.TEXT]<0> {10000}\r\n", data, b")\r\n"]
    assert chunks[1] is data


def test_external_literal_passed_through():
    ext = r.ExternalLiteral(5, object())
    response = r.FetchData(1, (r.SectionItem(b"BODY[]", ext),))
    assert serialize_chunks(response) == [b"* 1 FETCH (BODY[] {5}\r\n", ext, b")\r\n"]
    with pytest.raises(ValueError, match="external"):
        r.serialize(response)


def test_section_names():
    fields = Section((), SectionText.HEADER_FIELDS, (b"From", b"X Y"))
    assert BodySection(fields, peek=True).serialize() == b'BODY.PEEK[HEADER.FIELDS (From "X Y")]'
    assert BodySection(fields, peek=True).response_name() == b'BODY[HEADER.FIELDS (From "X Y")]'
    assert BodySection(Section((1, 2), SectionText.MIME)).response_name() == b"BODY[1.2.MIME]"
    assert r.serialize(r.FetchData(2, (r.SectionItem(b"RFC822.HEADER", None),))) == (
        b"* 2 FETCH (RFC822.HEADER NIL)\r\n"
    )
