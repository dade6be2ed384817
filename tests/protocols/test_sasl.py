"""SASL PLAIN / LOGIN (RFC 4616, draft-murchison-sasl-login) and the strict base64 helpers."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.sasl import (
    MAX_RESPONSE,
    MECHANISMS,
    Challenge,
    Credentials,
    Done,
    SaslError,
    SaslErrorKind,
    SaslStep,
    decode_base64,
    decode_initial_response,
    encode_base64,
    start,
)


def run(mechanism: str, initial: bytes | None, *responses: bytes) -> tuple[list[bytes], SaslStep]:
    """Drive an exchange; return the challenges seen and the final step."""
    step = start(mechanism, initial)
    challenges: list[bytes] = []
    for response in responses:
        assert isinstance(step, Challenge)
        challenges.append(step.data)
        step = step.respond(response)
    return challenges, step


def creds(step: SaslStep) -> Credentials:
    assert isinstance(step, Done)
    return step.credentials


def kind_of(mechanism: str, initial: bytes | None, *responses: bytes) -> SaslErrorKind:
    with pytest.raises(SaslError) as info:
        run(mechanism, initial, *responses)
    return info.value.kind


def test_mechanisms() -> None:
    assert MECHANISMS == ("PLAIN", "LOGIN")


@pytest.mark.parametrize(
    ("message", "authcid", "password", "authzid"),
    [
        (b"\0alice\0secret", "alice", b"secret", None),
        (b"alice\0alice\0secret", "alice", b"secret", "alice"),
        (b"\0j\xc3\xbcrgen\0p\xc3\xa4ss word", "j\u00fcrgen", "p\u00e4ss word".encode(), None),
        (b"\0alice@example.org\0\xff\xfe", "alice@example.org", b"\xff\xfe", None),
    ],
)
@pytest.mark.parametrize("with_initial", [True, False])
def test_plain_ok(
    message: bytes, authcid: str, password: bytes, authzid: str | None, with_initial: bool
) -> None:
    if with_initial:
        challenges, step = run("PLAIN", message)
        assert challenges == []
    else:
        challenges, step = run("plain", None, message)
        assert challenges == [b""]
    got = creds(step)
    assert (got.authcid, got.password.reveal(), got.authzid) == (authcid, password, authzid)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (b"alice\0secret", SaslErrorKind.MALFORMED),  # one NUL
        (b"alicesecret", SaslErrorKind.MALFORMED),  # no NUL
        (b"", SaslErrorKind.MALFORMED),
        (b"\0\0secret", SaslErrorKind.MALFORMED),  # empty authcid
        (b"\0alice\0", SaslErrorKind.MALFORMED),  # empty password
        (b"\0alice\0sec\0ret", SaslErrorKind.MALFORMED),  # NUL in password
        (b"\0al\xffice\0secret", SaslErrorKind.MALFORMED),  # authcid not UTF-8
        (b"\xff\0alice\0secret", SaslErrorKind.MALFORMED),  # authzid not UTF-8
        (b"bob\0alice\0secret", SaslErrorKind.BAD_AUTHZID),
        (b"Alice\0alice\0secret", SaslErrorKind.BAD_AUTHZID),
        (b"\0alice\0" + b"x" * MAX_RESPONSE, SaslErrorKind.MALFORMED),  # oversize
    ],
)
@pytest.mark.parametrize("with_initial", [True, False])
def test_plain_errors(message: bytes, kind: SaslErrorKind, with_initial: bool) -> None:
    if with_initial:
        assert kind_of("PLAIN", message) is kind
    else:
        assert kind_of("PLAIN", None, message) is kind


def test_plain_at_size_limit_is_accepted() -> None:
    message = b"\0alice\0" + b"x" * (MAX_RESPONSE - 7)
    assert len(message) == MAX_RESPONSE
    assert creds(run("PLAIN", message)[1]).authcid == "alice"


def test_login_without_initial_response() -> None:
    challenges, step = run("LOGIN", None, b"alice", b"secret")
    assert challenges == [b"Username:", b"Password:"]
    got = creds(step)
    assert (got.authcid, got.password.reveal(), got.authzid) == ("alice", b"secret", None)


def test_login_with_initial_response_skips_username_challenge() -> None:
    challenges, step = run("login", b"alice", b"secret")
    assert challenges == [b"Password:"]
    assert creds(step).authcid == "alice"


@pytest.mark.parametrize(
    ("initial", "responses"),
    [
        (None, (b"",)),  # empty user name
        (b"", ()),  # empty initial response = empty user name
        (None, (b"al\0ice",)),
        (None, (b"al\xffice",)),
        (None, (b"alice", b"")),  # empty password
        (None, (b"alice", b"sec\0ret")),
        (None, (b"x" * (MAX_RESPONSE + 1),)),
        (b"x" * (MAX_RESPONSE + 1), ()),
        (None, (b"alice", b"x" * (MAX_RESPONSE + 1))),
    ],
)
def test_login_errors(initial: bytes | None, responses: tuple[bytes, ...]) -> None:
    assert kind_of("LOGIN", initial, *responses) is SaslErrorKind.MALFORMED


@pytest.mark.parametrize("name", ["CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "", "PLAINX"])
def test_unsupported_mechanism(name: str) -> None:
    assert kind_of(name, None) is SaslErrorKind.UNSUPPORTED_MECHANISM


def test_password_repr_redacted() -> None:
    got = creds(run("PLAIN", b"\0alice\0hunter2")[1])
    assert "hunter2" not in repr(got)
    assert "hunter2" not in repr(Done(got))


def test_challenge_repr_hides_continuation() -> None:
    step = start("LOGIN", None)
    assert repr(step) == "Challenge(data=b'Username:')"


# --- base64 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "decoded"),
    [
        (b"", b""),
        (b"AGFsaWNlAHNlY3JldA==", b"\0alice\0secret"),
        (b"YWxpY2U=", b"alice"),
        (b"YQ==", b"a"),
        (b"YWI=", b"ab"),
        (b"YWJj", b"abc"),
    ],
)
def test_decode_base64_ok(line: bytes, decoded: bytes) -> None:
    assert decode_base64(line) == decoded
    assert encode_base64(decoded) == line


@pytest.mark.parametrize(
    "line",
    [
        b"YWxpY2U",  # missing padding
        b"YWxpY2U==",  # excess padding
        b"YQ=",
        b"YQ",
        b"Y",
        b"YR==",  # non-zero pad bits
        b"YWxp Y2U=",  # space inside
        b"YWxpY2U= ",  # trailing space
        b" YWxpY2U=",
        b"YWxpY2U=\r",
        b"YWxp\nY2U=",
        b"YWx!Y2U=",
        b"YWx-Y2U_",  # URL-safe alphabet
        b"=",
        b"==",
        b"**",
        b"\xff\xfe",
        b"A" * (4 * ((MAX_RESPONSE + 2) // 3) + 4),  # would decode to more than the limit
    ],
)
def test_decode_base64_malformed(line: bytes) -> None:
    with pytest.raises(SaslError) as info:
        decode_base64(line)
    assert info.value.kind is SaslErrorKind.MALFORMED


@pytest.mark.parametrize("decode", [decode_base64, decode_initial_response])
def test_star_cancels(decode) -> None:
    with pytest.raises(SaslError) as info:
        decode(b"*")
    assert info.value.kind is SaslErrorKind.CANCELLED


def test_initial_response_equals_is_empty() -> None:
    assert decode_initial_response(b"=") == b""
    assert decode_initial_response(b"YWxpY2U=") == b"alice"
    assert kind_of("LOGIN", decode_initial_response(b"=")) is SaslErrorKind.MALFORMED


def test_largest_encoded_response_decodes() -> None:
    data = b"\0" * MAX_RESPONSE
    assert decode_base64(base64.b64encode(data)) == data


def test_error_message_never_contains_the_password() -> None:
    with pytest.raises(SaslError) as info:
        run("PLAIN", b"bob\0alice\0hunter2")
    assert "hunter2" not in str(info.value)


# --- properties -------------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_decode_garbage_only_sasl_error(data: bytes) -> None:
    try:
        decoded = decode_base64(data)
    except SaslError:
        return
    assert encode_base64(decoded) == data


@given(st.binary(max_size=2000))
def test_base64_round_trip(data: bytes) -> None:
    assert decode_base64(encode_base64(data)) == data


@given(
    st.sampled_from(["PLAIN", "LOGIN", "plain", "login", "X"]),
    st.none() | st.binary(max_size=64),
    st.lists(st.binary(max_size=64), max_size=4),
)
def test_mechanisms_garbage_only_sasl_error(
    mechanism: str, initial: bytes | None, responses: list[bytes]
) -> None:
    try:
        step = start(mechanism, initial)
        for response in responses:
            if isinstance(step, Done):
                break
            step = step.respond(response)
    except SaslError:
        return
    if isinstance(step, Done):
        assert step.credentials.authcid
        assert step.credentials.password.reveal()
        assert b"\0" not in step.credentials.password.reveal()


@given(
    st.text(min_size=1, max_size=40).filter(lambda s: "\0" not in s),
    st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b),
    st.booleans(),
)
def test_plain_and_login_agree(user: str, secret: bytes, with_authzid: bool) -> None:
    authzid = user.encode() if with_authzid else b""
    plain = creds(run("PLAIN", authzid + b"\0" + user.encode() + b"\0" + secret)[1])
    login = creds(run("LOGIN", None, user.encode(), secret)[1])
    assert (plain.authcid, plain.password.reveal()) == (login.authcid, login.password.reveal())
    assert plain.authzid == (user if with_authzid else None)
