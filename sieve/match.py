"""Comparators, match types and address parts (RFC 5228 §2.7, RFC 5231, RFC 5233).

All functions are pure.  ``:matches`` is not translated to a backtracking
regular expression: the pattern is split at ``*`` into segments that are
placed leftmost in order, which is linear in the number of segments times
the subject length and gives RFC 5229 §3.2 match variables (each ``*``
as short as the rest of the pattern allows).  ``:regex`` patterns are
checked for length and nested quantifiers before they are compiled.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sieve.ast import (
    AddressPart,
    Comparator,
    MatchSpec,
    MatchType,
    Relation,
    SieveRuntimeError,
)

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LOWER = str.maketrans(_UPPER, _UPPER.lower())
_DIGITS = re.compile(r"[0-9]*")


@dataclass(frozen=True, slots=True)
class MatchResult:
    """A test outcome and, for :matches/:regex, the RFC 5229 §3.2 match variables."""

    matched: bool
    variables: tuple[str, ...] | None = None


NO_MATCH = MatchResult(False)


def ascii_lower(value: str) -> str:
    """RFC 4790 §9.2 i;ascii-casemap folding: ASCII letters only."""
    return value.translate(_ASCII_LOWER)


def supports(comparator: Comparator, match_type: MatchType) -> bool:
    """Whether the comparator offers the operation (RFC 4790 §9.1: numeric has no substring)."""
    if comparator is Comparator.ASCII_NUMERIC:
        return match_type not in (MatchType.CONTAINS, MatchType.MATCHES, MatchType.REGEX)
    return True


def _numeric(value: str) -> float:
    """RFC 4790 §9.1: the leading digits; no digits sorts as positive infinity."""
    digits = _DIGITS.match(value)
    text = digits.group(0) if digits else ""
    return float(int(text)) if text else math.inf


def _order_key(comparator: Comparator, value: str) -> float | bytes:
    if comparator is Comparator.ASCII_NUMERIC:
        return _numeric(value)
    if comparator is Comparator.ASCII_CASEMAP:
        value = ascii_lower(value)
    return value.encode("utf-8", "surrogatepass")


def _relate(relation: Relation, left: float | bytes, right: float | bytes) -> bool:
    if isinstance(left, float) != isinstance(right, float):
        return False
    a, b = left, right
    if relation is Relation.EQ:
        return a == b
    if relation is Relation.NE:
        return a != b
    if relation is Relation.GT:
        return a > b  # type: ignore[operator]
    if relation is Relation.GE:
        return a >= b  # type: ignore[operator]
    if relation is Relation.LT:
        return a < b  # type: ignore[operator]
    return a <= b  # type: ignore[operator]


# --- :matches ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    """Literal text between ``*``s; ``None`` entries stand for ``?``."""

    chars: tuple[str | None, ...]


def _split_glob(pattern: str) -> list[_Segment]:
    segments: list[_Segment] = []
    current: list[str | None] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, "\\"))
        elif ch == "?":
            current.append(None)
        elif ch == "*":
            segments.append(_Segment(tuple(current)))
            current = []
        else:
            current.append(ch)
    segments.append(_Segment(tuple(current)))
    return segments


def _segment_at(segment: _Segment, subject: str, start: int) -> bool:
    if start + len(segment.chars) > len(subject):
        return False
    return all(c is None or c == subject[start + i] for i, c in enumerate(segment.chars))


def _find(segment: _Segment, subject: str, start: int, end: int) -> int:
    if None not in segment.chars:
        return subject.find("".join(c for c in segment.chars if c is not None), start, end)
    last = end - len(segment.chars)
    for pos in range(start, last + 1):
        if _segment_at(segment, subject, pos):
            return pos
    return -1


def glob_match(pattern: str, value: str, *, fold: bool) -> tuple[str, ...] | None:
    """RFC 5228 §2.7.1 ``:matches``; returns match variables ${0}.. or None."""
    subject = ascii_lower(value) if fold else value
    segments = _split_glob(ascii_lower(pattern) if fold else pattern)
    first, last = segments[0], segments[-1]
    if len(segments) == 1:
        if len(first.chars) != len(subject) or not _segment_at(first, subject, 0):
            return None
        return (value, *_questions(first, value, 0))
    if not _segment_at(first, subject, 0):
        return None
    tail = len(subject) - len(last.chars)
    if tail < len(first.chars) or not _segment_at(last, subject, tail):
        return None
    groups = list(_questions(first, value, 0))
    pos = len(first.chars)
    for segment in segments[1:-1]:
        found = _find(segment, subject, pos, tail)
        if found < 0:
            return None
        groups.append(value[pos:found])
        groups.extend(_questions(segment, value, found))
        pos = found + len(segment.chars)
    groups.append(value[pos:tail])
    groups.extend(_questions(last, value, tail))
    return (value, *groups)


def _questions(segment: _Segment, value: str, start: int) -> list[str]:
    return [value[start + i] for i, c in enumerate(segment.chars) if c is None]


# --- :regex ------------------------------------------------------------------

_QUANTIFIER = re.compile(r"[*+?]|\{\d+(,\d*)?\}")


def regex_problem(pattern: str, max_length: int) -> str | None:
    """Why ``pattern`` is refused (too long, nested quantifiers, invalid), or None."""
    if len(pattern) > max_length:
        return "regular expression too long"
    if re.search(r"\\[1-9]", pattern):
        return "back-references are not allowed"
    stack: list[bool] = [False]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            close = pattern.find("]", i + 2)
            i = len(pattern) if close < 0 else close + 1
            continue
        if ch == "(":
            stack.append(False)
        elif ch == ")" and len(stack) > 1:
            inner = stack.pop()
            if inner and _QUANTIFIER.match(pattern, i + 1):
                return "nested quantifiers are not allowed"
            stack[-1] = stack[-1] or inner
        elif _QUANTIFIER.match(pattern, i):
            stack[-1] = True
        i += 1
    try:
        re.compile(pattern)
    except re.error:
        return "invalid regular expression"
    return None


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, fold: bool) -> re.Pattern[str]:
    flags = re.IGNORECASE | re.ASCII if fold else 0
    return re.compile(pattern, flags)


def regex_match(pattern: str, value: str, *, fold: bool, max_length: int) -> tuple[str, ...] | None:
    """The ``:regex`` match type (draft-ietf-sieve-regex §3) with its match variables."""
    problem = regex_problem(pattern, max_length)
    if problem is not None:
        raise SieveRuntimeError(problem)
    found = _compiled(pattern, fold).search(value)
    if found is None:
        return None
    return (found.group(0), *(g or "" for g in found.groups()))


# --- the entry point ---------------------------------------------------------


def match_values(
    spec: MatchSpec, values: Sequence[str], keys: Sequence[str], *, max_regex: int = 256
) -> MatchResult:
    """RFC 5228 §2.7: true if any value matches any key (count: the value count)."""
    comparator = spec.comparator
    if spec.match_type is MatchType.COUNT:
        relation = spec.relation or Relation.EQ
        count = float(len(values)) if comparator is Comparator.ASCII_NUMERIC else None
        left = count if count is not None else _order_key(comparator, str(len(values)))
        return MatchResult(any(_relate(relation, left, _order_key(comparator, k)) for k in keys))
    for value in values:
        for key in keys:
            result = _match_one(spec, value, key, max_regex)
            if result.matched:
                return result
    return NO_MATCH


def _match_one(spec: MatchSpec, value: str, key: str, max_regex: int) -> MatchResult:
    comparator = spec.comparator
    fold = comparator is Comparator.ASCII_CASEMAP
    kind = spec.match_type
    if kind is MatchType.IS:
        return MatchResult(_order_key(comparator, value) == _order_key(comparator, key))
    if kind is MatchType.VALUE:
        relation = spec.relation or Relation.EQ
        return MatchResult(
            _relate(relation, _order_key(comparator, value), _order_key(comparator, key))
        )
    if kind is MatchType.CONTAINS:
        if fold:
            return MatchResult(ascii_lower(key) in ascii_lower(value))
        return MatchResult(key in value)
    if kind is MatchType.MATCHES:
        groups = glob_match(key, value, fold=fold)
    else:
        groups = regex_match(key, value, fold=fold, max_length=max_regex)
    return NO_MATCH if groups is None else MatchResult(True, groups)


# --- address parts -------------------------------------------------------------


def address_part(part: AddressPart, address: str, separator: str = "+") -> str | None:
    """RFC 5228 §2.7.4 / RFC 5233 §4: the part of ``local@domain`` to compare.

    None means the part does not exist (``:detail`` with no separator), so the
    address does not match any key.
    """
    if part is AddressPart.ALL:
        return address
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    if part is AddressPart.DOMAIN:
        return domain
    if part is AddressPart.LOCALPART:
        return local
    user, sep, detail = local.partition(separator)
    if part is AddressPart.USER:
        return user
    return detail if sep else None
