"""Sieve tests (RFC 5228 §5 and the extensions' tests), one function each.

Each takes the running evaluation and the :class:`~sieve.ast.Test` and
returns a bool; :data:`TESTS` maps test names to them for the interpreter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from sieve.actions import TrackDuplicate
from sieve.ast import AddressPart, MatchType, SieveRuntimeError, Test
from sieve.match import address_part
from sieve.message import date_part, parse_date, parse_zone
from sieve.vacation import DAY

if TYPE_CHECKING:
    from sieve.interpreter import Run

DUPLICATE_SECONDS = 7 * DAY
_DEFAULT_ENVIRONMENT = {"name": "mailstack", "phase": "during", "location": "MDA"}
_ADDRESS_PARTS = {p.value: p for p in AddressPart}


def _true(_run: Run, _t: Test) -> bool:
    return True


def _false(_run: Run, _t: Test) -> bool:
    return False


def _not(run: Run, t: Test) -> bool:
    return not run.test(t.tests[0])


def _allof(run: Run, t: Test) -> bool:
    return all(run.test(sub) for sub in t.tests)


def _anyof(run: Run, t: Test) -> bool:
    return any(run.test(sub) for sub in t.tests)


def _indexed(t: Test, values: list[str]) -> list[str]:
    """RFC 5260 §6 ``:index N [:last]``: keep only the Nth field."""
    index = t.tag_number("index")
    if index is None:
        return values
    position = len(values) - index if t.has("last") else index - 1
    return [values[position]] if 0 <= position < len(values) else []


def _address_part(t: Test) -> AddressPart:
    return next((_ADDRESS_PARTS[tag.name] for tag in t.tags if tag.name in _ADDRESS_PARTS),
                AddressPart.ALL)  # fmt: skip


def _parts(run: Run, t: Test, addresses: list[str]) -> list[str]:
    part = _address_part(t)
    separator = run.context.subaddress_separator
    found = (address_part(part, a, separator) for a in addresses)
    return [p for p in found if p is not None]


def _address(run: Run, t: Test) -> bool:
    """RFC 5228 §5.1."""
    addresses: list[str] = []
    for name in run.strings(t, 0):
        fields = _indexed(t, run.message.raw_headers(name))
        for value in fields:
            addresses.extend(run.message.addresses_in(value))
    return run.compare(t, _parts(run, t, addresses), run.strings(t, 1))


def _envelope(run: Run, t: Test) -> bool:
    """RFC 5228 §5.4: a null reverse-path matches only "" with :all."""
    addresses: list[str] = []
    for name in run.strings(t, 0):
        addresses.extend(run.envelope.part(name))
    if _address_part(t) is not AddressPart.ALL:
        addresses = [a for a in addresses if a]
    return run.compare(t, _parts(run, t, addresses), run.strings(t, 1))


def _exists(run: Run, t: Test) -> bool:
    """RFC 5228 §5.5."""
    return all(run.message.has_header(name) for name in run.strings(t, 0))


def _header(run: Run, t: Test) -> bool:
    """RFC 5228 §5.7."""
    values: list[str] = []
    for name in run.strings(t, 0):
        values.extend(_indexed(t, run.message.headers(name)))
    return run.compare(t, values, run.strings(t, 1))


def _size(run: Run, t: Test) -> bool:
    """RFC 5228 §5.9."""
    limit = t.number(0)
    if t.has("over"):
        return run.message.size > limit
    return run.message.size < limit


def _body(run: Run, t: Test) -> bool:
    """RFC 5173 §4-5: default transform :text."""
    if t.has("raw"):
        values = [run.message.body_raw()]
    elif t.has("content"):
        types = tuple(run.expand(v) for v in t.tag_strings("content") or ())
        values = run.message.body_content(types)
    else:
        values = run.message.body_text()
    return run.compare(t, values, run.strings(t, len(t.args) - 1))


def _string(run: Run, t: Test) -> bool:
    """RFC 5229 §5: empty source strings are not counted by :count."""
    sources = run.strings(t, 0)
    if t.match.match_type is MatchType.COUNT:
        sources = [s for s in sources if s]
    return run.compare(t, sources, run.strings(t, 1))


def _hasflag(run: Run, t: Test) -> bool:
    """RFC 5232 §4."""
    if len(t.args) == 2:
        flags = run.flag_list([run.frame.get(v) for v in t.strings(0)])
    else:
        flags = run.flags
    return run.compare(t, list(flags), run.strings(t, len(t.args) - 1))


def _zoned(run: Run, t: Test, when: dt.datetime) -> dt.datetime:
    if t.has("originalzone"):
        return when
    zone_text = run.tag_string(t, "zone")
    if zone_text is None:
        return when.astimezone(run.context.now().tzinfo or dt.UTC)
    zone = parse_zone(zone_text)
    if zone is None:
        raise SieveRuntimeError("invalid time zone")
    return when.astimezone(zone)


def _date(run: Run, t: Test) -> bool:
    """RFC 5260 §4: a date header's part; unparsable dates never match."""
    header, part = run.string(t, 0), run.string(t, 1)
    values: list[str] = []
    for raw in _indexed(t, run.message.headers(header)):
        when = parse_date(raw)
        if when is not None:
            values.append(date_part(_zoned(run, t, when), part))
    return bool(values) and run.compare(t, values, run.strings(t, 2))


def _currentdate(run: Run, t: Test) -> bool:
    """RFC 5260 §5."""
    when = _zoned(run, t, run.context.now())
    return run.compare(t, [date_part(when, run.string(t, 0))], run.strings(t, 1))


def _environment(run: Run, t: Test) -> bool:
    """RFC 5183 §4: unknown items never match."""
    name = run.string(t, 0).lower()
    value = run.context.environment.get(name, _DEFAULT_ENVIRONMENT.get(name))
    return value is not None and run.compare(t, [value], run.strings(t, 1))


def _mailboxexists(run: Run, t: Test) -> bool:
    """RFC 5490 §3.1."""
    return all(run.context.mailbox_exists(name) for name in run.strings(t, 0))


def _duplicate(run: Run, t: Test) -> bool:
    """RFC 7352 §3: seen before?  The ID is recorded once delivery succeeds."""
    unique = run.tag_string(t, "uniqueid") if t.has("uniqueid") else None
    if unique is None:
        header = run.tag_string(t, "header") if t.has("header") else "message-id"
        values = run.message.headers(header or "message-id")
        if not values:
            return False
        unique = values[0]
    handle = run.tag_string(t, "handle") or ""
    seconds = t.tag_number("seconds")
    seen = run.context.duplicate_seen(handle, unique)
    if not seen or t.has("last"):
        run.actions.track(
            TrackDuplicate(handle, unique, DUPLICATE_SECONDS if seconds is None else seconds)
        )
    return seen


TESTS: dict[str, Callable[[Run, Test], bool]] = {
    "true": _true,
    "false": _false,
    "not": _not,
    "allof": _allof,
    "anyof": _anyof,
    "address": _address,
    "envelope": _envelope,
    "exists": _exists,
    "header": _header,
    "size": _size,
    "body": _body,
    "string": _string,
    "hasflag": _hasflag,
    "date": _date,
    "currentdate": _currentdate,
    "environment": _environment,
    "mailboxexists": _mailboxexists,
    "duplicate": _duplicate,
}
