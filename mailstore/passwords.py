"""Password hashes in Dovecot's ``{SCHEME}hash`` syntax: hashing (admin) and verifying (logins).

The schemes are Dovecot's (``doveadm pw -l``), so an existing Dovecot passwd-file keeps
working: ``{BLF-CRYPT}`` (bcrypt, the default), ``{SHA512-CRYPT}``, ``{SHA256-CRYPT}``,
``{ARGON2ID}``/``{ARGON2I}`` (when argon2-cffi is installed), the salted digests ``{SSHA512}``,
``{SSHA256}``, ``{SSHA}`` (base64 of digest + salt), ``{PLAIN}`` and ``{CRYPT}``/no prefix
(the crypt(3) family, told apart by ``$2y$``, ``$6$``, ``$5$``, ``$argon2id$``). The crypt
schemes go through passlib (libpass).

``verify_password`` blocks (bcrypt cost 12 is ~250 ms): callers run it through
``mailstore.blocking.run_blocking``. It never raises and never logs the password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib.util
import secrets
from collections.abc import Callable

from passlib.hash import bcrypt as _bcrypt
from passlib.hash import sha256_crypt as _sha256_crypt
from passlib.hash import sha512_crypt as _sha512_crypt
from twisted.logger import Logger

__all__ = [
    "ARGON2_AVAILABLE",
    "BCRYPT_MAX_BYTES",
    "DEFAULT_SCHEME",
    "DUMMY_HASH",
    "Password",
    "hash_password",
    "split_scheme",
    "verify_password",
]

log = Logger(namespace="mailstore.passwords")

DEFAULT_SCHEME = "BLF-CRYPT"
BCRYPT_COST = 12
BCRYPT_MAX_BYTES = 72
ARGON2_AVAILABLE = importlib.util.find_spec("argon2") is not None

DUMMY_HASH = "{BLF-CRYPT}$2y$12$vBd.okbsEwEEleiHZ/nuCe6THjzlVAaRMQLzZn5t5ickJodSJP7Lq"
"""A bcrypt hash (cost 12, like real ones) of a random secret nobody knows: unknown users
spend one verify on it, so a login for a missing user takes as long as a wrong password."""


class Password:
    """A secret in transit: the bytes are only reachable through ``reveal()``.

    ``repr``/``str`` are redacted so a password never reaches a log by accident; there is
    no ``__eq__`` (comparison is identity): compare through ``verify_password``.
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray | memoryview):
            raise TypeError("Password wraps bytes; encode text explicitly")
        self._secret = bytes(secret)

    def reveal(self) -> bytes:
        """The secret bytes, for the hash function and nothing else."""
        return self._secret

    def __repr__(self) -> str:
        return "Password(<redacted>)"

    __str__ = __repr__


def split_scheme(stored: str) -> tuple[str, str]:
    """``"{BLF-CRYPT}$2y$..."`` → ``("BLF-CRYPT", "$2y$...")``; no prefix → ``("", stored)``.

    Scheme names are case-insensitive in Dovecot and are returned upper-cased.
    """
    if stored.startswith("{"):
        end = stored.find("}")
        if end > 1:
            return stored[1:end].upper(), stored[end + 1 :]
    return "", stored


# --- hashing -----------------------------------------------------------------------------


def _check_bcrypt_length(secret: bytes) -> None:
    if len(secret) > BCRYPT_MAX_BYTES:
        raise ValueError(
            f"password is {len(secret)} bytes long; bcrypt (BLF-CRYPT) uses at most "
            f"{BCRYPT_MAX_BYTES} bytes: choose a shorter password or another scheme"
        )


def _salted_digest(algorithm: str, secret: bytes, salt: bytes) -> str:
    digest = hashlib.new(algorithm, secret + salt).digest()
    return base64.b64encode(digest + salt).decode("ascii")


def hash_password(
    password: Password, scheme: str = DEFAULT_SCHEME, *, rounds: int | None = None
) -> str:
    """Hash for a passwd-file, e.g. ``{BLF-CRYPT}$2y$12$...`` (``doveadm pw`` compatible).

    ``rounds`` overrides the cost (bcrypt log2 cost, crypt rounds, argon2 time cost).
    Raises ``ValueError`` for an unknown scheme, a password that is not UTF-8 or contains
    NUL, and a password longer than 72 bytes for bcrypt (never truncated silently).
    """
    secret = password.reveal()
    scheme = scheme.upper()
    try:
        secret.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("password is not valid UTF-8") from None
    if b"\x00" in secret:
        raise ValueError("password contains a NUL byte")
    if scheme in ("BLF-CRYPT", "CRYPT"):
        _check_bcrypt_length(secret)
        hashed = _bcrypt.using(rounds=rounds or BCRYPT_COST, ident="2y").hash(secret)
    elif scheme in ("SHA512-CRYPT", "SHA256-CRYPT"):
        handler = _sha512_crypt if scheme == "SHA512-CRYPT" else _sha256_crypt
        hashed = handler.using(rounds=rounds).hash(secret) if rounds else handler.hash(secret)
    elif scheme in ("ARGON2ID", "ARGON2I"):
        if not ARGON2_AVAILABLE:
            raise ValueError(f"{scheme} needs the argon2-cffi package")
        from passlib.hash import argon2  # optional dependency

        settings: dict[str, object] = {"type": scheme[len("ARGON2") :], "parallelism": 1}
        if rounds:
            settings["rounds"] = rounds
        hashed = argon2.using(**settings).hash(secret)
    elif scheme in _SALTED:
        hashed = _salted_digest(_SALTED[scheme], secret, secrets.token_bytes(8))
    else:
        raise ValueError(f"unknown or unsupported password scheme {scheme!r}")
    return f"{{{scheme}}}{hashed}"


# --- verifying ---------------------------------------------------------------------------

_SALTED = {"SSHA512": "sha512", "SSHA256": "sha256", "SSHA": "sha1"}
_DIGEST_SIZE = {"sha512": 64, "sha256": 32, "sha1": 20}


def _verify_bcrypt(secret: bytes, hashed: str) -> bool:
    if len(secret) > BCRYPT_MAX_BYTES:
        log.info("password check failed: password longer than bcrypt's 72 bytes")
        return False
    return bool(_bcrypt.verify(secret, hashed))


def _verify_argon2(secret: bytes, hashed: str) -> bool:
    if not ARGON2_AVAILABLE:
        log.warn("password check failed: argon2 hash but argon2-cffi is not installed")
        return False
    from passlib.hash import argon2  # optional dependency

    return bool(argon2.verify(secret, hashed))


def _verify_modular_crypt(secret: bytes, hashed: str) -> bool:
    """crypt(3)-style hash identified by its ``$id$`` prefix (Dovecot ``{CRYPT}``)."""
    if hashed.startswith(("$2y$", "$2b$", "$2a$")):
        return _verify_bcrypt(secret, hashed)
    if hashed.startswith("$6$"):
        return bool(_sha512_crypt.verify(secret, hashed))
    if hashed.startswith("$5$"):
        return bool(_sha256_crypt.verify(secret, hashed))
    if hashed.startswith(("$argon2id$", "$argon2i$")):
        return _verify_argon2(secret, hashed)
    log.info("password check failed: unrecognised crypt hash format")
    return False


def _verify_salted(algorithm: str, secret: bytes, encoded: str) -> bool:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        log.info("password check failed: salted hash is not valid base64")
        return False
    size = _DIGEST_SIZE[algorithm]
    if len(raw) <= size:
        log.info("password check failed: salted hash too short")
        return False
    digest, salt = raw[:size], raw[size:]
    return hmac.compare_digest(hashlib.new(algorithm, secret + salt).digest(), digest)


def _verify_plain(secret: bytes, stored: str) -> bool:
    return hmac.compare_digest(secret, stored.encode("utf-8"))


def _verifier(scheme: str) -> Callable[[bytes, str], bool] | None:
    if scheme in ("BLF-CRYPT",):
        return _verify_bcrypt
    if scheme in ("CRYPT", ""):
        return _verify_modular_crypt
    if scheme == "SHA512-CRYPT":
        return lambda secret, hashed: bool(_sha512_crypt.verify(secret, hashed))
    if scheme == "SHA256-CRYPT":
        return lambda secret, hashed: bool(_sha256_crypt.verify(secret, hashed))
    if scheme in ("ARGON2ID", "ARGON2I"):
        return _verify_argon2
    if scheme in _SALTED:
        algorithm = _SALTED[scheme]
        return lambda secret, hashed: _verify_salted(algorithm, secret, hashed)
    if scheme in ("PLAIN", "CLEARTEXT"):
        return _verify_plain
    return None


def verify_password(password: Password, stored: str) -> bool:
    """True if ``password`` matches the passwd-file hash ``stored``. BLOCKING; never raises.

    Unknown schemes, malformed hashes, non-UTF-8 passwords and passwords over 72 bytes
    against bcrypt give False, with the reason (never the password or hash) in the log.
    """
    secret = password.reveal()
    try:
        secret.decode("utf-8")
    except UnicodeDecodeError:
        log.info("password check failed: password is not valid UTF-8")
        return False
    scheme, hashed = split_scheme(stored)
    verifier = _verifier(scheme)
    if verifier is None:
        log.warn("password check failed: unknown password scheme {scheme!r}", scheme=scheme)
        return False
    if not hashed:
        log.info("password check failed: empty password hash")
        return False
    try:
        return verifier(secret, hashed)
    except Exception as exc:  # noqa: BLE001 (a login check must answer, whatever the hash holds)
        log.info(
            "password check failed: {scheme} hash rejected by the checker ({error})",
            scheme=scheme or "CRYPT",
            error=type(exc).__name__,
        )
        return False
