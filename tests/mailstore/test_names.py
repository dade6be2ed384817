"""Mailbox names: validation, Maildir++ folder mapping, modified UTF-7 (RFC 3501 5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.names import (
    MUTF7Error,
    decode_mutf7,
    encode_mutf7,
    from_maildir_folder,
    is_inbox,
    normalize_name,
    parent_names,
    to_maildir_folder,
)

# -- modified UTF-7 ---------------------------------------------------------------------------

MUTF7_VECTORS = [
    ("", b""),
    ("INBOX", b"INBOX"),
    ("Entwürfe", b"Entw&APw-rfe"),
    ("&", b"&-"),
    ("a&b&", b"a&-b&-"),
    ("~peter/mail/台北/日本語", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 5.1.3
    ("Ärger", b"&AMQ-rger"),
    ("é", b"&AOk-"),
    ("éé", b"&AOkA6Q-"),
    ("😀", b"&2D3eAA-"),  # surrogate pair
    ("x😀&y", b"x&2D3eAA-&-y"),
    ("\t", b"&AAk-"),  # controls are encoded, not printable
    ("Gel\u00f6schte Elemente", b"Gel&APY-schte Elemente"),
]


@pytest.mark.parametrize(("text", "encoded"), MUTF7_VECTORS)
def test_mutf7_vectors(text: str, encoded: bytes) -> None:
    assert encode_mutf7(text) == encoded
    assert decode_mutf7(encoded) == text


@pytest.mark.parametrize(
    "bad",
    [
        b"&",  # not closed
        b"abc&AOk",  # not closed
        b"\xc3\xa9",  # 8-bit
        b"tab\there",  # control octet
        b"&AGE-",  # base64 of printable "a"
        b"&ACY-",  # base64 of "&"
        b"&AOk-&AOk-",  # adjacent runs: not the shortest form
        b"&AOl-",  # non-zero padding bits
        b"&2D3-",  # lone high surrogate
        b"&3gA-",  # lone low surrogate
        b"&A-",  # partial UTF-16 unit
        b"&AO-",  # partial UTF-16 unit
        b"&AOkA-",  # partial UTF-16 unit
        b"&AO?-",  # not modified BASE64
        b"&AO/k-",  # "/" is "," in modified BASE64
        b"&AOk=-",  # padding not allowed
    ],
)
def test_mutf7_decode_refuses(bad: bytes) -> None:
    with pytest.raises(MUTF7Error):
        decode_mutf7(bad)


def test_mutf7_error_is_value_error() -> None:
    assert issubclass(MUTF7Error, ValueError)


def test_mutf7_encode_refuses_lone_surrogate() -> None:
    with pytest.raises(MUTF7Error):
        encode_mutf7("a\ud800b")


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_mutf7_round_trip(text: str) -> None:
    encoded = encode_mutf7(text)
    assert all(0x20 <= b <= 0x7E for b in encoded)
    assert decode_mutf7(encoded) == text


@given(st.binary())
def test_mutf7_garbage_gives_str_or_error(data: bytes) -> None:
    try:
        text = decode_mutf7(data)
    except MUTF7Error:
        return
    assert encode_mutf7(text) == data


@given(st.text(alphabet="&-AOk+,Za0 é"))
def test_mutf7_garbage_near_valid(text: str) -> None:
    data = text.encode("utf-8")
    try:
        decoded = decode_mutf7(data)
    except MUTF7Error:
        return
    assert encode_mutf7(decoded) == data


# -- normalize_name ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("INBOX", "INBOX"),
        ("inbox", "INBOX"),
        ("InBoX", "INBOX"),
        ("inbox/Sub", "INBOX/Sub"),
        ("Inbox/inbox", "INBOX/inbox"),
        ("inboxes", "inboxes"),
        ("Archive/inbox", "Archive/inbox"),
        ("Entwu\u0308rfe", "Entwürfe"),  # NFD → NFC
        ("a b/c&d", "a b/c&d"),
        ("Sent Items", "Sent Items"),
        ("日本語/😀", "日本語/😀"),
        ("a~b-c_d+e", "a~b-c_d+e"),
        ("/".join(["x"] * 32), "/".join(["x"] * 32)),
        ("x" * 200, "x" * 200),
    ],
)
def test_normalize_name_valid(name: str, expected: str) -> None:
    assert normalize_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/",
        "a//b",
        "/a",
        "a/",
        ".",
        "..",
        "a/./b",
        "a/../b",
        ".hidden",
        "a/.b",
        "a.b",
        "a.",
        "back\\slash",
        "nul\x00",
        "tab\there",
        "new\nline",
        "del\x7f",
        "c1\x85",
        "wild%",
        "wild*",
        "lone\ud800",
        "x" * 201,
        "é" * 100,  # 100 chars but "&AOkA6QDp...-" is longer than 200 octets
        "/".join(["x"] * 33),
        "/".join(["y" * 150] * 7),  # each component fine, whole name > 900 octets
    ],
)
def test_normalize_name_invalid(name: str) -> None:
    with pytest.raises(StoreError) as info:
        normalize_name(name)
    assert info.value.kind is StoreErrorKind.INVALID_NAME


@given(st.text(max_size=40))
def test_normalize_name_only_store_error(name: str) -> None:
    try:
        normalized = normalize_name(name)
    except StoreError as exc:
        assert exc.kind is StoreErrorKind.INVALID_NAME
        return
    assert normalize_name(normalized) == normalized


# -- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a", []), ("a/b", ["a"]), ("a/b/c", ["a", "a/b"]), ("INBOX/x", ["INBOX"])],
)
def test_parent_names(name: str, expected: list[str]) -> None:
    assert parent_names(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("INBOX", True), ("inbox", True), ("iNbOx", True), ("INBOX/x", False), ("Inboxes", False)],
)
def test_is_inbox(name: str, expected: bool) -> None:
    assert is_inbox(name) is expected


# -- Maildir++ folders ------------------------------------------------------------------------

FOLDERS = [
    ("INBOX", ""),
    ("Sent", ".Sent"),
    ("A/B", ".A.B"),
    ("A/B/C", ".A.B.C"),
    ("Entwürfe", ".Entw&APw-rfe"),
    ("Arbeit/Entwürfe", ".Arbeit.Entw&APw-rfe"),
    ("INBOX/x", ".INBOX.x"),
    ("R&D", ".R&-D"),
    ("Sent Items", ".Sent Items"),
]


@pytest.mark.parametrize(("name", "folder"), FOLDERS)
def test_maildir_folder_mapping(name: str, folder: str) -> None:
    assert to_maildir_folder(name) == folder
    assert from_maildir_folder(folder) == name


@pytest.mark.parametrize(
    ("name", "folder"),
    [("inbox", ""), ("inbox/x", ".INBOX.x"), ("Entwu\u0308rfe", ".Entw&APw-rfe")],
)
def test_to_maildir_folder_normalises(name: str, folder: str) -> None:
    assert to_maildir_folder(name) == folder


@pytest.mark.parametrize(
    "folder",
    [
        ".",  # empty component
        "..",
        ".a..b",
        ".a.",
        "Sent",  # no leading dot
        ".INBOX",  # would be the root
        ".inbox",  # would normalise to INBOX
        ".Inbox.x",  # would be stored as .INBOX.x
        ".Entw&APw-rfe&",  # & not closed
        ".Entw&AHU-rfe",  # base64 of ASCII
        ".Entwürfe",  # raw 8-bit name, not modified UTF-7
        ".a/b",
        ".a%b",
        ".a&AAk-b",  # decodes to a control character
        ".Entwu&AwgA-rfe",  # decodes to NFD: not the stored form of any name
        "." + "x" * 256,
    ],
)
def test_from_maildir_folder_refuses(folder: str) -> None:
    with pytest.raises(StoreError) as info:
        from_maildir_folder(folder)
    assert info.value.kind is StoreErrorKind.INVALID_NAME


def test_to_maildir_folder_refuses_invalid_and_overlong() -> None:
    with pytest.raises(StoreError):
        to_maildir_folder("a.b")
    # every component and the name are within limits, the one directory name is not
    with pytest.raises(StoreError):
        to_maildir_folder("/".join(["z" * 100] * 3))


names = st.lists(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="/.\\%*\x85"),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=4,
).map("/".join)


@given(names)
def test_folder_round_trip(name: str) -> None:
    try:
        normalized = normalize_name(name)
    except StoreError:
        return
    folder = to_maildir_folder(normalized)
    assert from_maildir_folder(folder) == normalized
