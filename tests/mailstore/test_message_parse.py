"""Message parser: ENVELOPE, body structure and offsets (RFC 3501 7.4.2, RFC 2045/2046/2231)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore.envelope import parse_address_list
from mailstore.message import Address, BodyPart
from mailstore.message_parse import (
    MAX_DEPTH,
    parse_crlf,
    parse_message,
    parse_message_file,
    to_crlf,
)
from mailstore.mime import header_fields, merge_rfc2231, parse_content_type, parse_params


def crlf(text: str) -> bytes:
    return to_crlf(text.encode("utf-8"))


def walk(part: BodyPart, depth: int = 0) -> Iterator[tuple[int, BodyPart]]:
    yield depth, part
    for child in part.parts:
        yield from walk(child, depth + 1)
    if part.message_body is not None:
        yield from walk(part.message_body, depth + 1)


def summary(data: bytes, body: BodyPart) -> list[tuple[int, str, bytes]]:
    return [(d, f"{p.type}/{p.subtype}", data[p.body_start : p.body_end]) for d, p in walk(body)]


def check_invariants(data: bytes, header: bytes, body: BodyPart) -> None:
    assert header == data[: body.body_start]
    assert body.header_start == 0
    assert body.body_end == len(data)
    for _, p in walk(body):
        assert 0 <= p.header_start <= p.body_start <= p.body_end <= len(data)
        assert p.size == p.body_end - p.body_start
        assert 0 <= p.lines <= p.size
        assert p.type == p.type.lower()
        assert p.subtype == p.subtype.lower()
        assert p.encoding == p.encoding.upper()
        if p.type == "multipart":
            assert p.parts
            for child in p.parts:
                assert p.body_start <= child.header_start
                assert child.body_end <= p.body_end
        else:
            assert not p.parts
        if (p.type, p.subtype) == ("message", "rfc822"):
            assert p.envelope is not None
            assert p.message_body is not None
            assert p.message_body.header_start == p.body_start
            assert p.message_body.body_end == p.body_end
        else:
            assert p.envelope is None
            assert p.message_body is None


# -- structure tables -------------------------------------------------------------------------

SINGLE = """From: a@example.com
Subject: hi
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Transfer-Encoding: 8bit

Hello
world
"""

ALTERNATIVE = """Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain

plain
--b1
Content-Type: text/html

<p>html</p>
--b1--
"""

MIXED = """Content-Type: multipart/mixed; boundary=outer

--outer

body text

--outer
Content-Type: application/pdf; name="doc.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="doc.pdf"

JVBERi0xLjQK
--outer--
"""

NESTED = """Content-Type: multipart/mixed; boundary=m1

--m1
Content-Type: multipart/alternative; boundary=m2

--m2
Content-Type: text/plain

p
--m2
Content-Type: text/html

h
--m2--
--m1
Content-Type: image/png

PNG
--m1--
"""

RFC822 = """Subject: outer
Content-Type: multipart/mixed; boundary=o

--o
Content-Type: text/plain

see attached
--o
Content-Type: message/rfc822

From: inner@example.com
Subject: inner
Content-Type: multipart/alternative; boundary=i

--i
Content-Type: text/plain

inner plain
--i--
--o--
"""

MISSING_FINAL = """Content-Type: multipart/mixed; boundary=x

--x
Content-Type: text/plain

one
--x

two
"""

PREAMBLE = """Content-Type: multipart/mixed; boundary=pb

This is a preamble that mentions --pb in the middle of a line
--pbX is not a delimiter, and neither is
 --pb with leading space
--pb
Content-Type: text/plain

real
--pb--\t
epilogue
--pb
not a part
"""

MISSING_NESTED_CLOSE = """Content-Type: multipart/mixed; boundary=out

--out
Content-Type: multipart/alternative; boundary=in

--in

a
--out

b
--out--
"""

PADDING = "Content-Type: multipart/mixed; boundary=pd\n\n--pd  \n\nx\n--pd-- \n"

DIGEST = """Content-Type: multipart/digest; boundary=d

--d

Subject: one

first
--d
Content-Type: text/plain

second
--d--
"""

NO_BOUNDARY_PARAM = "Content-Type: multipart/mixed\n\n--x\n\nbody\n"
NO_DELIMITER = "Content-Type: multipart/mixed; boundary=zz\n\njust text\n"
ENCODED_RFC822 = (
    "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA==\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SINGLE, [(0, "text/plain", b"Hello\r\nworld\r\n")]),
        (
            ALTERNATIVE,
            [
                (0, "multipart/alternative", ALTERNATIVE.split("\n\n", 1)[1]),
                (1, "text/plain", b"plain"),
                (1, "text/html", b"<p>html</p>"),
            ],
        ),
        (
            MIXED,
            [
                (0, "multipart/mixed", None),
                (1, "text/plain", b"body text\r\n"),
                (1, "application/pdf", b"JVBERi0xLjQK"),
            ],
        ),
        (
            NESTED,
            [
                (0, "multipart/mixed", None),
                (
                    1,
                    "multipart/alternative",
                    b"--m2\r\nContent-Type: text/plain\r\n\r\np\r\n"
                    b"--m2\r\nContent-Type: text/html\r\n\r\nh\r\n--m2--",
                ),
                (2, "text/plain", b"p"),
                (2, "text/html", b"h"),
                (1, "image/png", b"PNG"),
            ],
        ),
        (
            RFC822,
            [
                (0, "multipart/mixed", None),
                (1, "text/plain", b"see attached"),
                (1, "message/rfc822", None),
                (
                    2,
                    "multipart/alternative",
                    b"--i\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n--i--",
                ),
                (3, "text/plain", b"inner plain"),
            ],
        ),
        (
            MISSING_FINAL,
            [
                (0, "multipart/mixed", None),
                (1, "text/plain", b"one"),
                (1, "text/plain", b"two\r\n"),
            ],
        ),
        (PREAMBLE, [(0, "multipart/mixed", None), (1, "text/plain", b"real")]),
        (
            MISSING_NESTED_CLOSE,
            [
                (0, "multipart/mixed", None),
                (1, "multipart/alternative", b"--in\r\n\r\na"),
                (2, "text/plain", b"a"),
                (1, "text/plain", b"b"),
            ],
        ),
        (PADDING, [(0, "multipart/mixed", None), (1, "text/plain", b"x")]),
        (
            DIGEST,
            [
                (0, "multipart/digest", None),
                (1, "message/rfc822", b"Subject: one\r\n\r\nfirst"),
                (2, "text/plain", b"first"),
                (1, "text/plain", b"second"),
            ],
        ),
        (NO_BOUNDARY_PARAM, [(0, "text/plain", b"--x\r\n\r\nbody\r\n")]),
        (NO_DELIMITER, [(0, "multipart/mixed", b"just text\r\n"), (1, "text/plain", b"")]),
        (ENCODED_RFC822, [(0, "text/plain", b"U3ViamVjdDogeA==\r\n")]),
    ],
    ids=[
        "single",
        "alternative",
        "mixed-attachment",
        "nested",
        "rfc822-multipart",
        "missing-final-boundary",
        "boundary-in-preamble",
        "missing-nested-close",
        "transport-padding",
        "digest",
        "multipart-without-boundary",
        "no-delimiter",
        "encoded-rfc822",
    ],
)
def test_structure(text: str, expected: list[tuple[int, str, bytes | str | None]]) -> None:
    data = crlf(text)
    header, _, body = parse_crlf(data)
    check_invariants(data, header, body)
    got = summary(data, body)
    assert [(d, t) for d, t, _ in got] == [(d, t) for d, t, _ in expected]
    for (_, _, got_body), (_, _, want) in zip(got, expected, strict=True):
        if want is not None:
            assert got_body == (crlf(want) if isinstance(want, str) else want)


def test_single_part_fields() -> None:
    data = crlf(SINGLE)
    header, env, body = parse_message(data)
    assert header == data[: data.index(b"\r\n\r\n") + 4]
    assert (body.type, body.subtype) == ("text", "plain")
    assert body.params == (("charset", "utf-8"), ("format", "flowed"))
    assert body.encoding == "8BIT"
    assert (body.size, body.lines) == (14, 2)
    assert env.subject == "hi"


def test_defaults_without_mime_headers() -> None:
    data = crlf("Subject: x\n\nbody")
    _, _, body = parse_message(data)
    assert (body.type, body.subtype, body.params) == ("text", "plain", (("charset", "us-ascii"),))
    assert body.encoding == "7BIT"
    assert (body.content_id, body.description, body.md5, body.location) == (None,) * 4
    assert body.disposition is None
    assert body.language is None
    assert (body.size, body.lines) == (4, 1)  # a final partial line counts


def test_attachment_fields() -> None:
    data = crlf(
        "Content-Type: multipart/mixed; boundary=q\n\n--q\n"
        'Content-Type: Application/PDF; Name="a b.pdf"\n'
        "Content-Transfer-Encoding: Base64\n"
        "Content-ID: <part1@example>\n"
        "Content-Description: the doc\n"
        "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
        'Content-Disposition: Attachment; FileName="a b.pdf"; size=12\n'
        "Content-Language: en, de-CH (Swiss)\n"
        "Content-Location: http://example.com/a.pdf\n\n"
        "JVBERi0xLjQK\n--q--\n"
    )
    _, _, body = parse_message(data)
    part = body.parts[0]
    assert (part.type, part.subtype, part.params) == ("application", "pdf", (("name", "a b.pdf"),))
    assert part.encoding == "BASE64"
    assert part.content_id == "<part1@example>"
    assert part.description == "the doc"
    assert part.md5 == "Q2hlY2sgSW50ZWdyaXR5IQ=="
    assert part.disposition == ("Attachment", (("filename", "a b.pdf"), ("size", "12")))
    assert part.language == ("en", "de-CH")
    assert part.location == "http://example.com/a.pdf"
    assert data[part.header_start : part.body_start].startswith(b"Content-Type: Application/PDF")


def test_rfc822_envelope_and_offsets() -> None:
    data = crlf(RFC822)
    _, env, body = parse_message(data)
    assert env.subject == "outer"
    attached = body.parts[1]
    assert attached.envelope is not None
    assert attached.envelope.subject == "inner"
    assert attached.envelope.from_ == (Address(None, None, "inner", "example.com"),)
    inner = attached.message_body
    assert inner is not None
    assert data[inner.header_start :].startswith(b"From: inner@example.com\r\n")
    assert attached.lines == data.count(b"\r\n", attached.body_start, attached.body_end) + 1


def test_multipart_size_and_lines() -> None:
    data = crlf(ALTERNATIVE)
    _, _, body = parse_message(data)
    assert body.size == len(data) - body.body_start
    assert body.lines == 9


def test_header_only_message() -> None:
    data = b"Subject: no body\r\nFrom: a@b\r\n"
    header, env, body = parse_message(data)
    assert header == data
    assert (body.body_start, body.body_end, body.size, body.lines) == (len(data),) * 2 + (0, 0)
    assert env.subject == "no body"


@pytest.mark.parametrize(
    ("data", "header_len"),
    [(b"", 0), (b"\r\n", 2), (b"\r\nbody", 2), (b"Subject: x", 10), (b"Subject: x\r\n\r\n", 14)],
)
def test_degenerate_messages(data: bytes, header_len: int) -> None:
    header, _, body = parse_message(data)
    assert len(header) == header_len
    assert body.body_start == header_len
    check_invariants(data, header, body)


def test_eight_bit_headers_round_trip() -> None:
    data = (
        "Subject: Grüße aus Köln\r\nFrom: Jörg <jörg@exämple.de>\r\n".encode()
        + b"To: \xe9t\xe9 <x@y>\r\n\r\nbody\xff\r\n"
    )
    _, env, body = parse_message(data)
    assert env.subject == "Grüße aus Köln"
    assert env.from_ == (Address("Jörg", None, "jörg", "exämple.de"),)
    name = env.to[0].name
    assert name is not None
    assert name.encode("utf-8", "surrogateescape") == b"\xe9t\xe9"
    assert body.size == 7


def test_encoded_words_left_as_is_and_unfolded() -> None:
    data = crlf("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n\t=?utf-8?q?_aus?=\n\nx")
    _, env, _ = parse_message(data)
    assert env.subject == "=?utf-8?q?Gr=C3=BC=C3=9Fe?=\t=?utf-8?q?_aus?="


def test_bare_lf_offsets_are_over_crlf_form() -> None:
    lf = RFC822.encode()
    header_lf, env_lf, body_lf = parse_message(lf)
    assert (header_lf, env_lf, body_lf) == parse_message(to_crlf(lf))


def test_to_crlf() -> None:
    assert to_crlf(b"a\nb\r\nc\rd\n") == b"a\r\nb\r\nc\rd\r\n"
    same = b"a\r\nb"
    assert to_crlf(same) is same


def test_parse_message_file() -> None:
    data = crlf(NESTED)
    assert parse_message_file(io.BytesIO(data)) == parse_message(data)


def nest_rfc822(levels: int) -> bytes:
    text = "Subject: leaf\n\nbottom\n"
    for _ in range(levels):
        text = "Content-Type: message/rfc822\n\n" + text
    return crlf(text)


def test_depth_limit() -> None:
    data = nest_rfc822(MAX_DEPTH + 5)
    header, _, body = parse_message(data)
    check_invariants(data, header, body)
    kinds = [f"{p.type}/{p.subtype}" for _, p in walk(body)]
    assert kinds.count("message/rfc822") == MAX_DEPTH
    assert kinds[-1] == "text/plain"


def test_deep_multipart_nesting_does_not_recurse_without_bound() -> None:
    text = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(500))
    data = crlf(text + "\nend\n")
    header, _, body = parse_message(data)
    check_invariants(data, header, body)
    assert max(d for d, _ in walk(body)) <= MAX_DEPTH + 1


# -- envelope ---------------------------------------------------------------------------------

FULL_HEADER = """Message-ID: <msg@id>
In-Reply-To: <reply@to.id>
Date: Thu, 15 Feb 2007 01:02:03 +0200
Subject: subject header
From: From Real <fromuser@fromdomain.org>
To: To Real <touser@todomain.org>
Cc: Cc Real <ccuser@ccdomain.org>
Bcc: Bcc Real <bccuser@bccdomain.org>
Sender: Sender Real <senderuser@senderdomain.org>
Reply-To: ReplyTo Real <replytouser@replytodomain.org>

body
"""


def test_full_envelope() -> None:
    _, env, _ = parse_message(crlf(FULL_HEADER))
    assert env.date == "Thu, 15 Feb 2007 01:02:03 +0200"
    assert env.subject == "subject header"
    assert env.from_ == (Address("From Real", None, "fromuser", "fromdomain.org"),)
    assert env.sender == (Address("Sender Real", None, "senderuser", "senderdomain.org"),)
    assert env.reply_to == (Address("ReplyTo Real", None, "replytouser", "replytodomain.org"),)
    assert env.to == (Address("To Real", None, "touser", "todomain.org"),)
    assert env.cc == (Address("Cc Real", None, "ccuser", "ccdomain.org"),)
    assert env.bcc == (Address("Bcc Real", None, "bccuser", "bccdomain.org"),)
    assert env.in_reply_to == "<reply@to.id>"
    assert env.message_id == "<msg@id>"


def test_sender_and_reply_to_default_to_from() -> None:
    _, env, _ = parse_message(crlf("From: user@domain (Real Name)\nSender: \nReply-To:\n\nb"))
    want = (Address("Real Name", None, "user", "domain"),)
    assert env.from_ == env.sender == env.reply_to == want
    assert (env.to, env.cc, env.bcc) == ((), (), ())
    assert (env.date, env.subject, env.in_reply_to, env.message_id) == (None,) * 4


GROUP_START = Address(None, None, "group", None)
GROUP_END = Address(None, None, None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("user@domain", [Address(None, None, "user", "domain")]),
        ("<user@domain>", [Address(None, None, "user", "domain")]),
        ('"Doe, John" <j@d>', [Address("Doe, John", None, "j", "d")]),
        ("Joe Q. Public <jqp@x.org>", [Address("Joe Q. Public", None, "jqp", "x.org")]),
        ('"john doe"@x.org', [Address(None, None, "john doe", "x.org")]),
        ("<@route:user@domain>", [Address(None, "@route", "user", "domain")]),
        ("A <@r1,@r2:u@d>", [Address("A", "@r1,@r2", "u", "d")]),
        ("=?utf-8?q?J=C3=B6rg?= <j@d>", [Address("=?utf-8?q?J=C3=B6rg?=", None, "j", "d")]),
        ("a@b, c@d", [Address(None, None, "a", "b"), Address(None, None, "c", "d")]),
        ("a@b,, ,c@d,", [Address(None, None, "a", "b"), Address(None, None, "c", "d")]),
        ("root", [Address(None, None, "root", "MISSING_DOMAIN")]),
        ("Name <>", [Address("Name", None, "MISSING_MAILBOX", "MISSING_DOMAIN")]),
        ("u@[192.0.2.1]", [Address(None, None, "u", "[192.0.2.1]")]),
        (
            "group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;",
            [
                GROUP_START,
                Address(None, None, "g1", "d1.org"),
                Address(None, None, "g2", "d2.org"),
                GROUP_END,
                Address(None, None, "group2", None),
                Address(None, None, "g3", "d3.org"),
                GROUP_END,
            ],
        ),
        (
            "group:;, group2: (foo) ;",
            [GROUP_START, GROUP_END, Address(None, None, "group2", None), GROUP_END],
        ),
        (
            "undisclosed-recipients:;",
            [Address(None, None, "undisclosed-recipients", None), GROUP_END],
        ),
        ("group: a@b", [GROUP_START, Address(None, None, "a", "b"), GROUP_END]),
        ("", []),
        ("  ", []),
    ],
)
def test_address_list(value: str, expected: list[Address]) -> None:
    assert list(parse_address_list(value)) == expected


@given(st.text())
def test_address_list_never_raises(value: str) -> None:
    for address in parse_address_list(value):
        if address.host is None:
            assert address.name is None
            assert address.adl is None


# -- MIME header syntax -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/plain", ("text", "plain", ())),
        ("Text/HTML; Charset=UTF-8", ("text", "html", (("charset", "UTF-8"),))),
        (' text / plain ; charset = "us-ascii" (c)', ("text", "plain", (("charset", "us-ascii"),))),
        ('multipart/mixed; boundary="a;b\\"c"', ("multipart", "mixed", (("boundary", 'a;b"c'),))),
        (
            "multipart/mixed; boundary=----=_Part_1",
            ("multipart", "mixed", (("boundary", "----=_Part_1"),)),
        ),
        ("text/plain; garbage; charset=x;", ("text", "plain", (("charset", "x"),))),
        ("text/plain; name=", ("text", "plain", (("name", ""),))),
        ("(comment) text/plain", ("text", "plain", ())),
        ("text", None),
        ("/plain", None),
        ("text/", None),
        ("", None),
    ],
)
def test_content_type(
    value: str, expected: tuple[str, str, tuple[tuple[str, str], ...]] | None
) -> None:
    assert parse_content_type(value) == expected


def test_rfc2231_continuations() -> None:
    value = (
        "; key4*=us-ascii''foo; key*2=ba%; key2*0=a; key3*0*=us-ascii'en'xyz"
        '; key*0="foo"; key2*1*=b%25; key3*1=plop%; key*1=baz'
    )
    assert dict(parse_params(value, 0)) == {
        "key": "foobazba%",
        "key2*": "''ab%25",
        "key3*": "us-ascii'en'xyzplop%25",
        "key4*": "us-ascii''foo",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([("name*0", "a"), ("name*1", "b")], [("name", "ab")]),
        ([("name*1", "b"), ("name*0", "a")], [("name", "ab")]),
        ([("name*0*", "utf-8''%C3"), ("name*1*", "%A4")], [("name*", "utf-8''%C3%A4")]),
        ([("name*0", "a"), ("name*2", "c")], [("name", "a")]),  # a gap ends the value
        ([("name*1", "b")], []),
        (
            [("x", "1"), ("name*0", "a b"), ("name*1*", "%20")],
            [("x", "1"), ("name*", "''a%20b%20")],
        ),
    ],
)
def test_merge_rfc2231(raw: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    assert list(merge_rfc2231(raw)) == expected


def test_rfc2231_filename_in_message() -> None:
    data = crlf(
        "Content-Type: application/octet-stream;\n"
        " name*0*=utf-8''%C3%A4rger;\n name*1*=%20und%20mehr.txt\n"
        "Content-Disposition: attachment; filename*=utf-8''%C3%A4.txt\n\nx"
    )
    _, _, body = parse_message(data)
    assert body.params == (("name*", "utf-8''%C3%A4rger%20und%20mehr.txt"),)
    assert body.disposition == ("attachment", (("filename*", "utf-8''%C3%A4.txt"),))


def test_header_fields_first_occurrence_and_unfolding() -> None:
    block = (
        b"Subject: one\r\n two\r\nsubject: again\r\nX: y\r\n cont\r\nFrom : a@b\r\nbad line\r\n\r\n"
    )
    assert header_fields(block) == {b"subject": b" one two", b"from": b" a@b"}


# -- properties -------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    data = to_crlf(data)
    header, _, body = parse_crlf(data)  # no safety net: a bug shows here
    check_invariants(data, header, body)


mime_fragments = st.lists(
    st.sampled_from(
        [
            b"Content-Type: multipart/mixed; boundary=a\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Type: multipart/digest; boundary=b\r\n",
            b"--a\r\n",
            b"--b\r\n",
            b"--a--\r\n",
            b"--b--\r\n",
            b"\r\n",
            b"text\r\n",
            b"Subject: s\r\n",
            b"--a",
            b"\r",
            b"\n",
            b"Content-Type: text/plain; name*0*=x; name*1=y\r\n",
            b" folded\r\n",
            b"From: <@a:b@c>\r\n",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=300)
@given(mime_fragments)
def test_mime_like_garbage(data: bytes) -> None:
    data = to_crlf(data)
    header, _, body = parse_crlf(data)
    check_invariants(data, header, body)


Tree = tuple[str, object]
leaf_text = st.text(alphabet="abc xyz\n", max_size=30).map(lambda s: s.replace("\n", "\r\n"))
trees: st.SearchStrategy[Tree] = st.recursive(
    leaf_text.map(lambda t: ("leaf", t)),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda cs: ("multi", cs)),
        children.map(lambda c: ("rfc822", c)),
    ),
    max_leaves=12,
)


def render(tree: Tree, counter: list[int]) -> tuple[bytes, list[bytes]]:
    """The entity (header + body) for ``tree`` and its leaves' bodies in pre-order."""
    kind, value = tree
    if kind == "leaf":
        assert isinstance(value, str)
        return b"Content-Type: text/plain\r\n\r\n" + value.encode(), [value.encode()]
    if kind == "rfc822":
        inner, leaves = render(value, counter)  # type: ignore[arg-type]
        return b"Content-Type: message/rfc822\r\n\r\n" + inner, leaves
    counter[0] += 1
    boundary = b"bound-%d" % counter[0]
    out = [b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\npreamble\r\n"]
    leaves = []
    for child in value:  # type: ignore[attr-defined]
        entity, child_leaves = render(child, counter)
        out.append(b"--" + boundary + b"\r\n" + entity + b"\r\n")
        leaves.extend(child_leaves)
    out.append(b"--" + boundary + b"--\r\nepilogue")
    return b"".join(out), leaves


@settings(max_examples=200)
@given(trees)
def test_generated_trees_offsets(tree: Tree) -> None:
    data, leaves = render(tree, [0])
    header, _, body = parse_message(data)
    check_invariants(data, header, body)
    got = [data[p.body_start : p.body_end] for _, p in walk(body) if p.type == "text"]
    assert got == leaves
    lf = data.replace(b"\r\n", b"\n")
    if b"\r" not in lf:
        assert parse_message(lf) == (header, *parse_message(data)[1:])


def test_safety_net_returns_a_plain_leaf(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr("mailstore.message_parse._entity", broken)
    data = crlf("Subject: x\n\nbody\n")
    header, env, body = parse_message(data)
    assert header == b"Subject: x\r\n\r\n"
    assert env.subject is None
    assert (body.type, body.subtype, body.body_start, body.body_end) == ("text", "plain", 14, 20)
    assert body.lines == 1
