"""Password hashing and verification in Dovecot's schemes."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from passlib.hash import bcrypt, sha256_crypt, sha512_crypt

from mailstore import passwords
from mailstore.passwords import (
    DUMMY_HASH,
    Password,
    hash_password,
    split_scheme,
    verify_password,
)

SECRET = b"correct horse"

# Generated with `doveadm pw -s <SCHEME> -p 'correct horse'` (Dovecot 2.3.19).
DOVECOT_HASHES = [
    "{BLF-CRYPT}$2y$05$GI2ATWatcPsVInPzQnczpu1E5D6AlaIW5AqG8wSgM7cNjlq8AdX82",
    "{BLF-CRYPT}$2y$04$OIlcHzzoKrz2tPuu.4BVXu8II8WHjP2pvtnm9mvNRA52t9yT0j.l.",
    "{SHA512-CRYPT}$6$nku7HAPOB/fkU3a7$W9pCJXi06ikLPgl0QNziDVcm6qOGaGTfglL.HAuzsLE685a4EOizXUbH1lFE"
    "f/BoUce/G5rjBiUEa15bvB0X./",
    "{SHA256-CRYPT}$5$650kILx/ew3eArut$SfMg8q6TrGOx6K4uPVUJWrHbfNJZS.JcbYXyiWG38Y5",
    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$g01VtTig63wKK89rQBaSiQ$3Vwj5bVhZRjBwUd19+cQqKxlWXvtHj"
    "NQON3s0XKvB3E",
    "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$4Ouy7A0D+OEe8YPdA/oEWQ$6brPCdEBSnpQQWGuqyHR1/iJW5JuHy+42Q"
    "bGbl1/sj0",
    "{SSHA512}ABxlwOrZGMhsZsU5WGWCxQqOWg0XyhppU8Hx6+eRpK3+vQ9AfT7w1iwbaPLF6sHAFv6yI8QC0rx2RwaMU4GEPID"
    "n33s=",
    "{SSHA256}/z+EfPsvzTqs8hKXmroYKp5oakZTyhsKVp15pzxNAY5YatRV",
    "{SSHA}ovu9JLpML92P6DclaquQ/QUCY2Vq8MCV",
    "{PLAIN}correct horse",
    "{CRYPT}$2y$05$sLHegga.Dtxn2cpNe79Y1eBbKdrl6PNMKe5CetpSbupMbLP6kAN6y",
    # Unprefixed: the crypt(3) family, told apart by the $id$.
    "$2y$05$sLHegga.Dtxn2cpNe79Y1eBbKdrl6PNMKe5CetpSbupMbLP6kAN6y",
    "$6$nku7HAPOB/fkU3a7$W9pCJXi06ikLPgl0QNziDVcm6qOGaGTfglL.HAuzsLE685a4EOizXUbH1lFEf/BoUce/G5rjBiUE"
    "a15bvB0X./",
    "$5$650kILx/ew3eArut$SfMg8q6TrGOx6K4uPVUJWrHbfNJZS.JcbYXyiWG38Y5",
    "$argon2id$v=19$m=65536,t=3,p=1$g01VtTig63wKK89rQBaSiQ$3Vwj5bVhZRjBwUd19+cQqKxlWXvtHjNQON3s0XKvB3E",
]


@pytest.mark.parametrize("stored", DOVECOT_HASHES)
def test_dovecot_hashes_verify(stored: str) -> None:
    assert verify_password(Password(SECRET), stored)


@pytest.mark.parametrize("stored", DOVECOT_HASHES)
def test_dovecot_hashes_reject_wrong_password(stored: str) -> None:
    assert not verify_password(Password(b"correct horsf"), stored)
    assert not verify_password(Password(b""), stored)


def _ssha(algorithm: str, secret: bytes, salt: bytes) -> str:
    return base64.b64encode(hashlib.new(algorithm, secret + salt).digest() + salt).decode()


PASSLIB_HASHES = [
    "{BLF-CRYPT}" + bcrypt.using(rounds=4, ident="2y").hash(SECRET),
    "{BLF-CRYPT}" + bcrypt.using(rounds=4, ident="2b").hash(SECRET),
    "{BLF-CRYPT}" + bcrypt.using(rounds=4, ident="2a").hash(SECRET),
    "{blf-crypt}" + bcrypt.using(rounds=4, ident="2y").hash(SECRET),
    "{SHA512-CRYPT}" + sha512_crypt.using(rounds=1000).hash(SECRET),
    "{SHA256-CRYPT}" + sha256_crypt.using(rounds=1000).hash(SECRET),
    "{CRYPT}" + sha512_crypt.using(rounds=1000).hash(SECRET),
    "{SSHA512}" + _ssha("sha512", SECRET, b"saltsalt"),
    "{SSHA256}" + _ssha("sha256", SECRET, b"pepper"),
    "{SSHA}" + _ssha("sha1", SECRET, b"\x00\xffabcd"),
    "{CLEARTEXT}correct horse",
]


@pytest.mark.parametrize("stored", PASSLIB_HASHES)
def test_passlib_generated_hashes(stored: str) -> None:
    assert verify_password(Password(SECRET), stored)
    assert not verify_password(Password(SECRET + b"!"), stored)


@pytest.mark.parametrize(
    ("scheme", "rounds"),
    [
        ("BLF-CRYPT", 4),
        ("SHA512-CRYPT", 1000),
        ("SHA256-CRYPT", 1000),
        ("ARGON2ID", 1),
        ("ARGON2I", 3),
        ("SSHA512", None),
        ("SSHA256", None),
        ("SSHA", None),
    ],
)
def test_hash_then_verify(scheme: str, rounds: int | None) -> None:
    stored = hash_password(Password("pässword".encode()), scheme, rounds=rounds)
    assert stored.startswith("{" + scheme + "}")
    assert verify_password(Password("pässword".encode()), stored)
    assert not verify_password(Password(b"password"), stored)


def test_default_scheme_is_dovecot_bcrypt_cost_12(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "BCRYPT_COST", 4)
    assert hash_password(Password(SECRET)).startswith("{BLF-CRYPT}$2y$04$")
    assert hash_password(Password(SECRET), rounds=5).startswith("{BLF-CRYPT}$2y$05$")
    assert DUMMY_HASH.startswith("{BLF-CRYPT}$2y$12$")
    monkeypatch.undo()
    assert passwords.BCRYPT_COST == 12


def test_long_password_with_bcrypt_is_refused_not_truncated() -> None:
    with pytest.raises(ValueError, match="72 bytes"):
        hash_password(Password(b"x" * 73), rounds=4)
    stored = hash_password(Password(b"x" * 72), rounds=4)
    assert verify_password(Password(b"x" * 72), stored)
    # Truncating implementations would accept this one: we must not.
    assert not verify_password(Password(b"x" * 72 + b"y"), stored)
    assert not verify_password(Password(b"x" * 200), stored)
    # Other schemes take long passwords.
    long_stored = hash_password(Password(b"x" * 200), "SHA512-CRYPT", rounds=1000)
    assert verify_password(Password(b"x" * 200), long_stored)
    assert not verify_password(Password(b"x" * 199), long_stored)


@pytest.mark.parametrize(
    "bad",
    [
        Password(b"\xff\xfe"),
        Password(b"a\x00b"),
    ],
)
def test_hash_refuses_unusable_passwords(bad: Password) -> None:
    with pytest.raises(ValueError):
        hash_password(bad, rounds=4)


def test_hash_refuses_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unknown"):
        hash_password(Password(SECRET), "MD5-CRYPT")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "{BLF-CRYPT}",
        "{BLF-CRYPT}garbage",
        "{BLF-CRYPT}$2y$05$tooshort",
        "{BLF-CRYPT}$2y$99$GI2ATWatcPsVInPzQnczpu1E5D6AlaIW5AqG8wSgM7cNjlq8AdX82",
        "{SHA512-CRYPT}$6$",
        "{SHA512-CRYPT}$6$salt$not-a-checksum!",
        "{SHA256-CRYPT}$5$rounds=x$salt$abc",
        "{ARGON2ID}$argon2id$v=19$m=1,t=1,p=1$bad$bad",
        "{ARGON2I}nonsense",
        "{SSHA512}not base64!!",
        "{SSHA512}QUJD",
        "{SSHA}",
        "{MD5}1bc29b36f623ba82aaf6724fd3b16718",
        "{NOPE}correct horse",
        "{CRYPT}abJnggxhB/yWI",
        "correct horse",
        "{",
        "}{PLAIN}correct horse",
        "$1$saltsalt$oQs2NX3tYgKCeQXSbwB1T/",
    ],
)
def test_garbage_hashes_are_false_never_raise(stored: str) -> None:
    assert verify_password(Password(SECRET), stored) is False


def test_non_utf8_and_nul_passwords_are_false() -> None:
    assert verify_password(Password(b"\xff"), "{PLAIN}\xff") is False
    stored = "{BLF-CRYPT}" + bcrypt.using(rounds=4).hash(b"a")
    assert verify_password(Password(b"a\x00b"), stored) is False


@settings(max_examples=60, deadline=None)
@given(secret=st.binary(max_size=100), stored=st.text(max_size=120))
def test_verify_never_raises(secret: bytes, stored: str) -> None:
    assert verify_password(Password(secret), stored) in (True, False)


@settings(max_examples=30, deadline=None)
@given(secret=st.binary(max_size=100), tail=st.text(max_size=60))
def test_verify_never_raises_on_mangled_crypt(secret: bytes, tail: str) -> None:
    for prefix in ("{BLF-CRYPT}$2y$04$", "$6$", "$5$", "$argon2id$", "{SSHA256}"):
        assert verify_password(Password(secret), prefix + tail) in (True, False)


def test_password_is_redacted() -> None:
    password = Password(b"hunter2")
    assert "hunter2" not in repr(password)
    assert repr(password) == "Password(<redacted>)"
    assert str(password) == "Password(<redacted>)"
    assert "hunter2" not in f"{password} {[password]} {password!r}"
    assert password.reveal() == b"hunter2"
    assert not hasattr(password, "__dict__")
    # No value equality (which would invite timing leaks): identity only.
    assert password != Password(b"hunter2")
    assert password == password
    with pytest.raises(TypeError):
        Password("text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("{BLF-CRYPT}$2y$x", ("BLF-CRYPT", "$2y$x")),
        ("{plain}abc", ("PLAIN", "abc")),
        ("$6$abc", ("", "$6$abc")),
        ("{}abc", ("", "{}abc")),
        ("{abc", ("", "{abc")),
    ],
)
def test_split_scheme(stored: str, expected: tuple[str, str]) -> None:
    assert split_scheme(stored) == expected


def test_dummy_hash_is_valid_and_costly() -> None:
    # It must be a real bcrypt hash so that unknown users spend a full verify.
    assert bcrypt.identify(DUMMY_HASH.removeprefix("{BLF-CRYPT}"))
    assert bcrypt.from_string(DUMMY_HASH.removeprefix("{BLF-CRYPT}")).rounds == 12
