from __future__ import annotations

import multiprocessing
import re
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailstore.maildir.filenames import (
    FLAG_LETTERS,
    ParsedName,
    flags_to_letters,
    format_name,
    new_basename,
    parse_name,
    preserved_letters,
    split_letters,
)
from mailstore.types import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN

NAME_RE = re.compile(r"\d+\.M\d+P\d+Q\d+R[0-9a-f]{16}\.[^/:]+")


def _names(count: int) -> list[str]:
    return [new_basename() for _ in range(count)]


def test_new_basename_shape():
    name = new_basename()
    assert NAME_RE.fullmatch(name), name
    assert "/" not in name and ":" not in name


def test_new_basename_sizes():
    name = new_basename(123, 130)
    assert name.endswith(",S=123,W=130")
    parsed = parse_name(name)
    assert (parsed.size, parsed.vsize, parsed.letters) == (123, 130, "")
    assert new_basename(size=5).endswith(",S=5")
    assert new_basename(vsize=7).endswith(",W=7")


def test_new_basename_unique_in_process():
    names = _names(10_000)
    assert len(set(names)) == 10_000


def test_new_basename_unique_across_processes():
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        lists = pool.map(_names, [3000, 3000])
    pids = {re.search(r"P(\d+)Q", names[0]).group(1) for names in lists}  # type: ignore[union-attr]
    everything = [n for names in lists for n in names] + _names(3000)
    assert len(pids) == 2
    assert len(set(everything)) == 9000


@pytest.mark.parametrize(
    ("host", "expected"),
    [("mx/1", "mx\\0571"), ("a:b", "a\\072b"), ("a,S=1", "a\\054S=1"), ("", "localhost")],
)
def test_hostname_sanitised(monkeypatch, host, expected):
    monkeypatch.setattr(socket, "gethostname", lambda: host)
    name = new_basename()
    assert name.endswith("." + expected)
    assert parse_name(name).size is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "1700000000.M12P34.host,S=123,W=130:2,FRS",
            ParsedName("1700000000.M12P34.host,S=123,W=130", "FRS", 123, 130),
        ),
        ("1700000000.M12P34.host:2,Sab", ParsedName("1700000000.M12P34.host", "Sab", None, None)),
        ("1700000000.M12P34.host:2,", ParsedName("1700000000.M12P34.host", "", None, None)),
        ("1700000000.M12P34.host", ParsedName("1700000000.M12P34.host", "", None, None)),
        ("x,W=9,S=8:2,SRRa", ParsedName("x,W=9,S=8", "RSa", 8, 9)),
        ("x:2,S,1!", ParsedName("x", "S", None, None)),
        ("x:2,S:2,F", ParsedName("x", "FS", None, None)),
        ("x:1,foo", ParsedName("x:1,foo", "", None, None)),
        ("x,S=abc,W=:2,T", ParsedName("x,S=abc,W=", "T", None, None)),
        ("x,S=12", ParsedName("x,S=12", "", 12, None)),
        ("", ParsedName("", "", None, None)),
        ("::::", ParsedName("::::", "", None, None)),
        ("x,S=١٢:2,S", ParsedName("x,S=١٢", "S", None, None)),
    ],
)
def test_parse_name(name, expected):
    assert parse_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "1700000000.M12P34.host,S=123,W=130:2,FRS",
        "1700000000.M12P34.host,S=123,W=130:2,Sab",
        "1700000000.M12P34.host:2,",
        "1700000000.M12P34.host:2,PS",
    ],
)
def test_dovecot_names_round_trip(name):
    parsed = parse_name(name)
    assert format_name(parsed.base, parsed.letters) == name


def test_format_name_sorts_and_dedups():
    assert format_name("b", "SFSa") == "b:2,FSa"
    assert format_name("b", "") == "b:2,"


@given(st.text())
def test_parse_never_raises_and_round_trips(name):
    parsed = parse_name(name)
    again = parse_name(format_name(parsed.base, parsed.letters))
    assert again == parsed
    assert ":2," not in parsed.base


@pytest.mark.parametrize(
    ("letters", "system", "keywords", "preserved"),
    [
        ("", frozenset(), "", ""),
        ("DFRST", frozenset({DRAFT, FLAGGED, ANSWERED, SEEN, DELETED}), "", ""),
        ("PSab", frozenset({SEEN}), "ab", "P"),
        ("zaS", frozenset({SEEN}), "az", ""),
        ("XPQ", frozenset(), "", "PQX"),
    ],
)
def test_split_letters(letters, system, keywords, preserved):
    assert split_letters(letters) == (system, keywords)
    assert preserved_letters(letters) == preserved
    assert flags_to_letters(system, keywords, preserved) == "".join(sorted(set(letters)))


def test_flags_to_letters_ignores_unknown_and_matches_case():
    letters = flags_to_letters(frozenset({"\\seen", "\\Recent", "$Junk", "\\FLAGGED"}), "ba1", "P")
    assert letters == "FPSab"


def test_flag_letters_table():
    assert FLAG_LETTERS == {
        "D": "\\Draft",
        "F": "\\Flagged",
        "R": "\\Answered",
        "S": "\\Seen",
        "T": "\\Deleted",
    }
