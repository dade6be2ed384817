"""parse → serialize → parse round trips for sequence sets, flags, fetch atts, search keys."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore.types import SYSTEM_FLAGS
from protocols.imap import commands as c
from protocols.imap.errors import ParseError
from protocols.imap.grammar.commands import parse_command_bytes
from protocols.imap.grammar.fetch import (
    BodySection,
    FetchAttr,
    Section,
    SectionText,
    serialize_fetch_items,
)
from protocols.imap.grammar.flags import format_flag_list
from protocols.imap.grammar.search import (
    DateField,
    DateOp,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchSet,
    SearchSimple,
    SearchSize,
    SearchText,
    SimpleKey,
    TextField,
    serialize_search_key,
)
from protocols.imap.grammar.sequence import STAR, SequenceSet

seq_number = st.one_of(st.just(STAR), st.integers(1, 2**32 - 1))
sequence_sets = st.lists(st.tuples(seq_number, seq_number), min_size=1, max_size=20).map(
    lambda pairs: SequenceSet(tuple((a, a) if a == b else (a, b) for a, b in pairs))
)
keywords = st.from_regex(r"\A[A-Za-z$][A-Za-z0-9_$.-]{0,15}\Z").filter(lambda k: k.upper() != "NIL")
flags = st.one_of(st.sampled_from(sorted(SYSTEM_FLAGS)), keywords)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
field_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,15}\Z")


@given(sequence_sets)
def test_sequence_set_round_trip(seqset):
    assert SequenceSet.parse(seqset.serialize()) == seqset


@given(st.lists(flags, max_size=10, unique_by=str.upper))
def test_flags_round_trip(flag_list):
    wire = b"a STORE 1 FLAGS " + format_flag_list(flag_list) + b"\r\n"
    command = parse_command_bytes(wire)
    assert isinstance(command, c.Store)
    assert command.flags == tuple(flag_list)


sections = st.builds(
    lambda part, text, fields: Section(
        part,
        None if text is SectionText.MIME and not part else text,
        fields if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT) else (),
    ),
    st.lists(st.integers(1, 2**32 - 1), max_size=4).map(tuple),
    st.one_of(st.none(), st.sampled_from(SectionText)),
    st.lists(field_names.map(str.encode), min_size=1, max_size=4).map(tuple),
)
body_sections = st.builds(
    BodySection,
    sections,
    st.booleans(),
    st.one_of(st.none(), st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 2**32 - 1))),
)
fetch_items = st.lists(
    st.one_of(st.sampled_from(FetchAttr), body_sections), min_size=1, max_size=8, unique=True
)


@given(sequence_sets, fetch_items)
def test_fetch_round_trip(seqset, items):
    wire = b"a FETCH " + seqset.serialize() + b" " + serialize_fetch_items(tuple(items)) + b"\r\n"
    assert parse_command_bytes(wire) == c.Fetch(b"a", seqset, tuple(items))


leaf_keys = st.one_of(
    st.builds(SearchSimple, st.sampled_from(SimpleKey)),
    st.builds(SearchFlag, flags, st.booleans()),
    st.builds(
        SearchDate,
        st.sampled_from(DateField),
        st.sampled_from(DateOp),
        st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
    ),
    st.builds(SearchText, st.sampled_from(TextField), texts),
    st.builds(SearchHeader, field_names, texts),
    st.builds(SearchSize, st.booleans(), st.integers(0, 2**32 - 1)),
    st.builds(SearchSet, sequence_sets, st.booleans()),
    st.builds(SearchModSeq, st.integers(0, 2**63 - 1)),
)
search_keys: st.SearchStrategy[SearchKey] = st.recursive(
    leaf_keys,
    lambda inner: st.one_of(
        st.builds(SearchNot, inner),
        st.builds(SearchOr, inner, inner),
        st.lists(inner, min_size=1, max_size=4).map(lambda ks: SearchAnd(tuple(ks))),
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(search_keys)
def test_search_key_round_trip(key):
    wire = b"a SEARCH CHARSET UTF-8 " + serialize_search_key(key) + b"\r\n"
    try:
        command = parse_command_bytes(wire)
    except ParseError as exc:
        assert exc.text == "Search too complex"  # deep random trees may pass MAX_DEPTH
        return
    assert command == c.Search(b"a", key, charset="UTF-8")


@pytest.mark.parametrize(
    "wire",
    [
        b"1:3,5,7:*",
        b"*",
        b"4294967295",
        b"3:1",
    ],
)
def test_sequence_set_examples_round_trip(wire):
    assert SequenceSet.parse(wire).serialize() == wire
