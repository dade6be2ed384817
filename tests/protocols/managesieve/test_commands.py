"""ManageSieve command parsing (RFC 5804 §2) and response encoding (§1.3, §4)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.managesieve import commands as c
from protocols.managesieve.framing import Frame, Framer
from protocols.managesieve.responses import (
    Code,
    Response,
    Status,
    capability_lines,
    encode_string,
    list_lines,
    script_literal,
)


def parse(data: bytes) -> c.Command:
    (frame,) = Framer().feed(data)
    assert isinstance(frame, Frame)
    return c.parse_command(frame)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"CAPABILITY", c.Capability()),
        (b"logout", c.Logout()),
        (b"StartTLS", c.StartTls()),
        (b'AUTHENTICATE "PLAIN"', c.Authenticate("PLAIN")),
        (b'AUTHENTICATE "PLAIN" "AGEAYg=="', c.Authenticate("PLAIN", b"AGEAYg==")),
        (b'HAVESPACE "s" 4294967295', c.HaveSpace("s", 4294967295)),
        (b'PUTSCRIPT "s" {5+}\r\nkeep;', c.PutScript("s", b"keep;")),
        (b'PUTSCRIPT "s" "keep;"', c.PutScript("s", b"keep;")),
        (b"LISTSCRIPTS", c.ListScripts()),
        (b'SETACTIVE ""', c.SetActive("")),
        (b'SETACTIVE "Gr\xc3\xb6\xc3\x9fe"', c.SetActive("Größe")),
        (b'GETSCRIPT "s"', c.GetScript("s")),
        (b'DELETESCRIPT "s"', c.DeleteScript("s")),
        (b'RENAMESCRIPT "a" "b"', c.RenameScript("a", "b")),
        (b"CHECKSCRIPT {5+}\r\nkeep;", c.CheckScript(b"keep;")),
        (b"NOOP", c.Noop()),
        (b'NOOP "STARTTLS-SYNC-42"', c.Noop(b"STARTTLS-SYNC-42")),
        (b"UNAUTHENTICATE", c.Unauthenticate()),
    ],
)
def test_parse(line: bytes, command: c.Command) -> None:
    assert parse(line + b"\r\n") == command


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"", "Empty command"),
        (b'"CAPABILITY"', "Expected a command name"),
        (b"FROB", "Unknown command"),
        (b"CAPABILITY x", "Too many arguments"),
        (b"GETSCRIPT", "Missing argument"),
        (b"GETSCRIPT name", "Expected a string"),
        (b'GETSCRIPT "\xff"', "Script name is not UTF-8"),
        (b'HAVESPACE "s" "10"', "Expected a number"),
        (b'HAVESPACE "s" 4294967296', "Number out of range"),
        (b'HAVESPACE "s" 99999999999', "Expected a number"),
        (b'HAVESPACE "s" -1', "Expected a number"),
        (b'AUTHENTICATE "\xc3\xa9"', "Bad mechanism name"),
        (b'RENAMESCRIPT "a"', "Missing argument"),
    ],
)
def test_parse_errors(line: bytes, text: str) -> None:
    with pytest.raises(c.CommandError) as info:
        parse(line + b"\r\n")
    assert info.value.text == text


def test_states() -> None:
    assert c.State.AUTHENTICATED not in c.Authenticate.valid_in
    assert c.State.NOT_AUTHENTICATED not in c.PutScript.valid_in
    assert c.Logout.valid_in == frozenset(c.State)


def test_sasl_response() -> None:
    (frame,) = Framer().feed(b'"AGEAYg=="\r\n')
    assert isinstance(frame, Frame)
    assert c.parse_sasl_response(frame) == b"AGEAYg=="
    (frame,) = Framer().feed(b"NOOP\r\n")
    assert isinstance(frame, Frame)
    with pytest.raises(c.CommandError):
        c.parse_sasl_response(frame)


def test_putscript_repr_hides_content() -> None:
    assert "keep" not in repr(c.PutScript("s", b"keep;"))


@given(st.binary(max_size=200))
def test_garbage_raises_only_command_error(data: bytes) -> None:
    for event in Framer().feed(data + b"\r\n"):
        if isinstance(event, Frame):
            with contextlib.suppress(c.CommandError):
                c.parse_command(event)


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        (Response(Status.OK), b"OK\r\n"),
        (Response(Status.OK, "Done"), b'OK "Done"\r\n'),
        (Response(Status.NO, "gone", Code.NONEXISTENT), b'NO (NONEXISTENT) "gone"\r\n'),
        (Response(Status.NO, "x", Code.QUOTA_MAXSIZE), b'NO (QUOTA/MAXSIZE) "x"\r\n'),
        (Response(Status.OK, "Done", Code.TAG, b'a"b'), b'OK (TAG "a\\"b") "Done"\r\n'),
        (Response(Status.BYE, "line 1\nline 2"), b"BYE {13}\r\nline 1\nline 2\r\n"),
    ],
)  # fmt: skip
def test_response_encoding(response: Response, wire: bytes) -> None:
    assert response.encode() == wire


@given(st.binary(max_size=1100))
def test_encode_string_round_trips(value: bytes) -> None:
    (frame,) = Framer(max_literal=2000).feed(b"NOOP " + encode_string(value) + b"\r\n")
    assert isinstance(frame, Frame)
    assert c.parse_command(frame) == c.Noop(value)


def test_bodies() -> None:
    assert capability_lines([("STARTTLS", None), ("VERSION", "1.0")]) == (
        b'"STARTTLS"\r\n"VERSION" "1.0"\r\n'
    )
    assert list_lines([("a", False), ("b c", True)]) == b'"a"\r\n"b c" ACTIVE\r\n'
    assert script_literal(b"keep;") == b"{5}\r\nkeep;\r\n"
