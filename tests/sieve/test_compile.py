"""Compile step: strict RFC 5228 checks, line numbers, limits, the typed tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sieve import SieveCompileError, SieveLimits, compile_script
from sieve.ast import Command, Comparator, Conditional, MatchType, Number, Relation, StringList

BAD = [
    # (script, line, words in the message)
    ('keep;\nrequire "fileinto";', 2, "require must come before"),
    ('require "x-unknown";', 1, "unsupported capability"),
    ('require "editheader";', 1, "unsupported capability"),
    ('\n\nfileinto "x";', 3, "fileinto"),  # extension used without require
    ('require "fileinto";\nif true {\n  require "body";\n}', 3, "top level"),
    ("if true {\n  keep;\n", 3, "right_cbracket"),
    ("keep\n", 2, "semicolon"),
    ('if header :is "a" "b" {}\nelse {}\nelse {}', 3, "must follow"),
    ('if header :comparator "i;ascii-numeric" :is "a" "1" {}', 1, "without require"),
    ('if header :comparator "i;unknown" :is "a" "1" {}', 1, "unknown comparator"),
    (
        'require "comparator-i;ascii-numeric";\n'
        'if header :comparator "i;ascii-numeric" :contains "a" "1" {}',
        2,
        "does not support",
    ),
    ('if header :count "gt" "a" "1" {}', 1, "relational"),
    ('require "relational";\nif header :value "xx" "a" "1" {}', 2, "relational operator"),
    ('if address "subject" "x" {}', 1, "not an address header"),
    ('require "envelope"; if envelope "bogus" "x" {}', 1, "envelope part"),
    ('require "regex";\n\nif header :regex "s" "(a+)+b" {}', 3, "nested quantifiers"),
    ('require "regex"; if header :regex "s" "(" {}', 1, "invalid regular expression"),
    ('require "regex"; if header :regex "s" "' + "a" * 300 + '" {}', 1, "too long"),
    ('require "variables"; set "1bad" "x";', 1, "variable name"),
    ('redirect "not an address";', 1, "redirect address"),
    ('require "date"; if date "date" "fortnight" "1" {}', 1, "date part"),
    ('require "date"; if currentdate :zone "+25" "year" "1" {}', 1, "time zone"),
    ('require "index"; if header :index 0 "a" "b" {}', 1, ":index"),
    ('require "index"; if header :last "a" "b" {}', 1, ":last needs :index"),
    ('require "include"; global "x";', 1, "variables"),
    ('require "include";\ninclude "nothere";', 2, "not found"),
    ('"just a string";', 1, "unexpected"),
    ("if true { keep; } }", 1, "bracket"),
    ("stop; @", 1, "unknown token"),
    ('reject "x";', 1, "reject"),
]


@pytest.mark.parametrize(("script", "line", "words"), BAD)
def test_malformed_scripts_give_line_numbers(script: str, line: int, words: str) -> None:
    with pytest.raises(SieveCompileError) as info:
        compile_script(script, name="bad")
    assert info.value.line == line
    assert words.lower() in info.value.message.lower()


GOOD = [
    'require ["fileinto", "reject", "ereject", "envelope", "encoded-character", "copy", '
    '"body", "variables", "vacation", "vacation-seconds", "relational", '
    '"comparator-i;ascii-numeric", "subaddress", "imap4flags", "mailbox", "date", "index", '
    '"include", "duplicate", "regex", "environment"];',
    'require "comparator-i;octet"; if header :comparator "i;octet" :is "a" "b" {}',
    "# only a comment\n/* and a\nbracket comment */",
    'require "vacation"; vacation :days 0 :subject "s" :from "a@b.c" :addresses ["x@y"] '
    ':mime :handle "h" "reason";',
    'require "variables"; set "global.x" "y";',
    'require ["regex", "variables"]; if header :regex "s" "${x}(" {}',  # checked at run time
]


@pytest.mark.parametrize("script", GOOD)
def test_valid_scripts_compile(script: str) -> None:
    compile_script(script, name="good")


def test_typed_tree() -> None:
    script = compile_script(
        'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n'
        'if allof(size :over 10K, header :value "GE" :comparator "i;ascii-numeric" '
        '["X-A", "x-b"] "1") {\n'
        '  fileinto "a\\\\b\\"c";\n'
        "} elsif true { keep; } else { discard; }\n"
        "fileinto text: # comment\nx@example.com\n..dotted\n.\n;\n",
        name="t",
    )
    assert script.requires == {"fileinto", "relational", "comparator-i;ascii-numeric"}
    cond, redirect = script.body
    assert isinstance(cond, Conditional) and isinstance(redirect, Command)
    assert cond.line == 2 and len(cond.branches) == 2 and cond.otherwise is not None
    allof = cond.branches[0].test
    size, header = allof.tests
    assert size.tags[0].name == "over" and size.args == (Number(10 * 1024),)
    assert header.args[0] == StringList(("X-A", "x-b"))
    assert header.args[1] == StringList(("1",), single=True)
    assert header.match.comparator is Comparator.ASCII_NUMERIC
    assert header.match.match_type is MatchType.VALUE
    assert header.match.relation is Relation.GE
    fileinto = cond.branches[0].block[0]
    assert isinstance(fileinto, Command) and fileinto.string(0) == 'a\\b"c'
    assert fileinto.line == 3
    assert redirect.string(0) == "x@example.com\n.dotted\n"
    assert redirect.line == 5


@pytest.mark.parametrize(
    ("raw", "value"), [("1", 1), ("2k", 2048), ("3M", 3 << 20), ("1G", 1 << 30)]
)
def test_number_quantifiers(raw: str, value: int) -> None:
    script = compile_script(f"if size :over {raw} {{}}", name="n")
    cond = script.body[0]
    assert isinstance(cond, Conditional)
    assert cond.branches[0].test.args == (Number(value),)


def test_limits() -> None:
    with pytest.raises(SieveCompileError, match="too large"):
        compile_script("keep;" * 100, name="x", limits=SieveLimits(max_script_bytes=50))
    deep = "if true {" * 40 + "}" * 40
    with pytest.raises(SieveCompileError, match="nesting"):
        compile_script(deep, name="x")
    nots = "if " + "not " * 200 + "true {}"
    with pytest.raises(SieveCompileError, match="nesting"):
        compile_script(nots, name="x")


def test_include_loops_and_depth() -> None:
    scripts = {
        ("a", False): 'require "include"; include "b";',
        ("b", False): 'require "include"; include "a";',
        ("c", True): 'require "include"; include :global "c";',
    }

    def loader(name: str, is_global: bool) -> str | None:
        return scripts.get((name, is_global))

    with pytest.raises(SieveCompileError, match="include loop"):
        compile_script('require "include"; include "a";', name="main", include_loader=loader)
    with pytest.raises(SieveCompileError, match="include loop"):
        compile_script('require "include";\ninclude :global "c";', name="m", include_loader=loader)

    chain = {(f"s{i}", False): f'require "include"; include "s{i + 1}";' for i in range(10)}
    chain[("s10", False)] = "keep;"
    with pytest.raises(SieveCompileError, match="too deeply"):
        compile_script(
            'require "include"; include "s0";',
            name="m",
            include_loader=lambda n, g: chain.get((n, g)),
        )


def test_error_inside_included_script_points_at_the_include() -> None:
    def loader(name: str, is_global: bool) -> str | None:
        return "keep;\nbogus;"

    with pytest.raises(SieveCompileError) as info:
        compile_script('require "include";\n\ninclude "x";', name="m", include_loader=loader)
    assert info.value.line == 3
    assert "line 2" in info.value.message


SIEVE_TOKENS = st.sampled_from(
    [
        "require", "if", "elsif", "else", "keep", "discard", "fileinto", "header", "address",
        "allof", "anyof", "not", "size", ":is", ":contains", ":matches", ":over", ":comparator",
        '"i;octet"', '"fileinto"', '"x"', '["a", "b"]', "[", "]", "(", ")", "{", "}", ";", ",",
        "10K", "text:\nx\n.\n", "#c\n", "/* c */", "\n", " ", "true", "false", "stop", '"\\"',
        "set", ":lower", '"variables"', "vacation", ":days", "duplicate", ":last", ":index",
        '"${hex:41}"', "string", "include", "return", "global", "@", "\x00", "é",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(SIEVE_TOKENS, max_size=30).map(" ".join))
def test_token_soup_gives_only_compile_errors(text: str) -> None:
    try:
        compile_script(text, name="fuzz")
    except SieveCompileError as exc:
        assert exc.line >= 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_gives_only_compile_errors(text: str) -> None:
    try:
        compile_script(text, name="fuzz")
    except SieveCompileError as exc:
        assert exc.line >= 1


def test_crlf_script_as_uploaded_over_managesieve() -> None:
    text = 'require "fileinto";\r\nfileinto text:\r\nline\r\n..x\r\n.\r\n;\r\n\r\nbad;\r\n'
    with pytest.raises(SieveCompileError) as info:
        compile_script(text, name="crlf")
    assert info.value.line == 8
    script = compile_script(text.replace("bad;", "keep;"), name="crlf")
    fileinto = script.body[0]
    assert isinstance(fileinto, Command)
    assert fileinto.string(0) == "line\r\n.x\r\n"
