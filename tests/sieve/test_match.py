"""Comparators, match types and address parts (RFC 5228 §2.7, RFC 4790, RFC 5231, RFC 5233)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sieve import SieveRuntimeError
from sieve.ast import AddressPart, Comparator, MatchSpec, MatchType, Relation
from sieve.match import address_part, glob_match, match_values, regex_match, regex_problem

CASEMAP, OCTET, NUMERIC = Comparator.ASCII_CASEMAP, Comparator.OCTET, Comparator.ASCII_NUMERIC


@pytest.mark.parametrize(
    ("comparator", "kind", "relation", "values", "keys", "matched"),
    [
        (CASEMAP, MatchType.IS, None, ["Hello"], ["hELLO"], True),
        (CASEMAP, MatchType.IS, None, ["É"], ["é"], False),  # ASCII-only folding
        (OCTET, MatchType.IS, None, ["Hello"], ["hello"], False),
        (CASEMAP, MatchType.CONTAINS, None, ["Hello World"], ["O w"], True),
        (OCTET, MatchType.CONTAINS, None, ["Hello World"], ["o w"], False),
        (CASEMAP, MatchType.CONTAINS, None, ["x"], [""], True),
        (CASEMAP, MatchType.IS, None, [], [""], False),
        (NUMERIC, MatchType.IS, None, ["0042abc"], ["42"], True),
        (NUMERIC, MatchType.IS, None, ["abc"], ["def"], True),  # both "infinity"
        (NUMERIC, MatchType.VALUE, Relation.LT, ["9"], ["10"], True),
        (NUMERIC, MatchType.VALUE, Relation.GT, ["x"], ["10"], True),
        (CASEMAP, MatchType.VALUE, Relation.LT, ["9"], ["10"], False),  # string order
        (CASEMAP, MatchType.VALUE, Relation.GE, ["abc"], ["ABC"], True),
        (OCTET, MatchType.VALUE, Relation.GT, ["abc"], ["ABC"], True),
        (NUMERIC, MatchType.COUNT, Relation.EQ, ["a", "b", "c"], ["3"], True),
        (NUMERIC, MatchType.COUNT, Relation.NE, ["a", "b", "c"], ["3"], False),
        (NUMERIC, MatchType.COUNT, Relation.LT, [], ["1"], True),
        (CASEMAP, MatchType.MATCHES, None, ["Hello"], ["h*O"], True),
        (CASEMAP, MatchType.MATCHES, None, ["Hello"], ["h?llo", "x"], True),
        (CASEMAP, MatchType.REGEX, None, ["Hello"], ["^h.l+O$"], True),
        (OCTET, MatchType.REGEX, None, ["Hello"], ["^h"], False),
    ],
)
def test_match_table(
    comparator: Comparator,
    kind: MatchType,
    relation: Relation | None,
    values: list[str],
    keys: list[str],
    matched: bool,
) -> None:
    result = match_values(MatchSpec(comparator, kind, relation), values, keys)
    assert result.matched is matched


@pytest.mark.parametrize(
    ("pattern", "value", "groups"),
    [
        ("*", "", ("", "")),
        ("?", "", None),
        ("a*b*c", "axbyc", ("axbyc", "x", "y")),
        ("*<*@*", "Foo <foo@bar>", ("Foo <foo@bar>", "Foo ", "foo", "bar>")),
        ("[*] *", "[acme-users] [fwd] version", ("[acme-users] [fwd] version", "acme-users",
                                                 "[fwd] version")),
        ("\\*?", "*x", ("*x", "x")),
        ("\\\\*", "\\abc", ("\\abc", "abc")),
        ("a\\?", "ab", None),
        ("*a", "ba", ("ba", "b")),
        ("ab*ba", "aba", None),
    ],
)  # fmt: skip
def test_matches_and_match_variables(
    pattern: str, value: str, groups: tuple[str, ...] | None
) -> None:
    assert glob_match(pattern, value, fold=False) == groups


def _reference(pattern: str) -> str:
    out = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "*":
            out.append("(.*?)")
        elif ch == "?":
            out.append("(.)")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@settings(max_examples=500, deadline=None)
@given(st.text("ab*?\\", max_size=8), st.text("ab*?\\", max_size=10))
def test_matches_agrees_with_a_lazy_regex(pattern: str, value: str) -> None:
    expected = re.fullmatch(_reference(pattern), value, re.DOTALL)
    got = glob_match(pattern, value, fold=False)
    if expected is None:
        assert got is None
    else:
        assert got == (value, *expected.groups())


def test_matches_is_not_exponential() -> None:
    # a backtracking matcher takes ages on this; ours is a few string scans
    assert glob_match("*a" * 30 + "*b", "a" * 5000, fold=False) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("(a+)+", "nested"),
        ("(a*)*b", "nested"),
        ("((ab)*c)+", "nested"),
        ("(a|b)+", None),
        ("[(]+", None),
        ("a{2,3}", None),
        ("(a{2})*", "nested"),
        ("\\1", "back-references"),
        ("x" * 300, "too long"),
        ("(", "invalid"),
    ],
)
def test_regex_complexity(pattern: str, problem: str | None) -> None:
    found = regex_problem(pattern, 256)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_regex_refused_at_run_time() -> None:
    with pytest.raises(SieveRuntimeError):
        regex_match("(a+)+$", "aaaa", fold=False, max_length=256)


@pytest.mark.parametrize(
    ("part", "address", "expected"),
    [
        (AddressPart.ALL, "Ken+Sieve@Example.org", "Ken+Sieve@Example.org"),
        (AddressPart.LOCALPART, "ken+sieve@example.org", "ken+sieve"),
        (AddressPart.DOMAIN, "ken+sieve@example.org", "example.org"),
        (AddressPart.USER, "ken+sieve@example.org", "ken"),
        (AddressPart.DETAIL, "ken+sieve@example.org", "sieve"),
        (AddressPart.DETAIL, "ken+a+b@example.org", "a+b"),
        (AddressPart.DETAIL, "ken@example.org", None),
        (AddressPart.DETAIL, "ken+@example.org", ""),
        (AddressPart.LOCALPART, '"a@b"@example.org', '"a@b"'),
        (AddressPart.DOMAIN, "nodomain", ""),
    ],
)
def test_address_parts(part: AddressPart, address: str, expected: str | None) -> None:
    assert address_part(part, address) == expected
