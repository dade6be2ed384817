"""SASL PLAIN and LOGIN as pure state machines (RFC 4422, RFC 4616, draft-murchison-sasl-login).

Shaped like pysasl: a mechanism is a function of the exchange and nothing else. ``start``
returns either a ``Challenge`` (send ``data`` to the client, feed its decoded answer to
``respond``) or ``Done`` with the ``Credentials``. There is no I/O and no base64 inside the
mechanisms: IMAP, POP3 and ManageSieve each frame the exchange themselves and call
``decode_base64`` / ``encode_base64`` / ``decode_initial_response`` from here, so every protocol
shares the same strictness, the same cancel (``*``) and the same size limit.

Checking the password is not done here: see ``protocols.auth``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from mailstore.passwords import Password

__all__ = [
    "MAX_RESPONSE",
    "MECHANISMS",
    "Challenge",
    "Credentials",
    "Done",
    "SaslError",
    "SaslErrorKind",
    "SaslStep",
    "decode_base64",
    "decode_initial_response",
    "encode_base64",
    "start",
]

#: Mechanisms offered, in the order protocols should advertise them.
MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN")

#: Largest decoded client response accepted; anything longer is MALFORMED.
MAX_RESPONSE = 8 * 1024

#: Largest base64 text that can decode to at most ``MAX_RESPONSE`` bytes.
_MAX_ENCODED = 4 * ((MAX_RESPONSE + 2) // 3)

_CANCEL = b"*"


class SaslErrorKind(Enum):
    """Why a SASL exchange failed; each protocol maps these to its own fixed reply."""

    MALFORMED = "malformed"
    """Bad base64, wrong message layout, bad UTF-8, empty fields, NUL, or too long."""
    CANCELLED = "cancelled"
    """The client answered a challenge with ``*`` (RFC 4422 section 3.5)."""
    BAD_AUTHZID = "bad-authzid"
    """An authorization identity other than the authentication identity (no proxy auth)."""
    UNSUPPORTED_MECHANISM = "unsupported-mechanism"
    """A mechanism name not in ``MECHANISMS``."""


class SaslError(Exception):
    """A failed SASL exchange; ``kind`` says why. The message is for the log only."""

    def __init__(self, kind: SaslErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the client claimed: identity, password and (optional, equal) authorization id."""

    authcid: str
    password: Password
    authzid: str | None


@dataclass(frozen=True, slots=True)
class Done:
    """The exchange is complete; the credentials still have to be checked."""

    credentials: Credentials


@dataclass(frozen=True, slots=True)
class Challenge:
    """Send ``data`` (base64-encoded by the protocol) and pass the decoded reply to ``respond``."""

    data: bytes
    _next: Callable[[bytes], SaslStep] = field(repr=False, compare=False)

    def respond(self, decoded: bytes) -> SaslStep:
        """Continue the exchange with the client's decoded response."""
        _check_size(decoded)
        return self._next(decoded)


SaslStep = Challenge | Done


def start(mechanism: str, initial_response: bytes | None) -> SaslStep:
    """Begin an exchange (RFC 4422 section 3); ``initial_response`` is already decoded.

    The mechanism name is matched case-insensitively (RFC 4422 section 3.1).
    """
    name = mechanism.upper()
    if initial_response is not None:
        _check_size(initial_response)
    if name == "PLAIN":
        if initial_response is None:
            return Challenge(b"", _plain)
        return _plain(initial_response)
    if name == "LOGIN":
        if initial_response is None:
            return Challenge(b"Username:", _login_username)
        return _login_username(initial_response)
    raise SaslError(SaslErrorKind.UNSUPPORTED_MECHANISM, "unknown mechanism")


def _plain(message: bytes) -> SaslStep:
    """RFC 4616 section 2: ``[authzid] NUL authcid NUL passwd``."""
    parts = message.split(b"\0")
    if len(parts) != 3:
        raise SaslError(SaslErrorKind.MALFORMED, f"PLAIN message has {len(parts) - 1} NULs")
    raw_authzid, raw_authcid, secret = parts
    authzid = _utf8(raw_authzid, "authzid") if raw_authzid else None
    authcid = _utf8(raw_authcid, "authcid")
    if not authcid:
        raise SaslError(SaslErrorKind.MALFORMED, "empty authcid")
    if not secret:
        raise SaslError(SaslErrorKind.MALFORMED, "empty password")
    if authzid is not None and authzid != authcid:
        raise SaslError(SaslErrorKind.BAD_AUTHZID, "authzid differs from authcid")
    return Done(Credentials(authcid, Password(secret), authzid))


def _login_username(response: bytes) -> SaslStep:
    """draft-murchison-sasl-login section 2: the first response is the user name."""
    if b"\0" in response:
        raise SaslError(SaslErrorKind.MALFORMED, "NUL in LOGIN user name")
    user = _utf8(response, "user name")
    if not user:
        raise SaslError(SaslErrorKind.MALFORMED, "empty LOGIN user name")

    def password(secret: bytes) -> SaslStep:
        if not secret:
            raise SaslError(SaslErrorKind.MALFORMED, "empty password")
        if b"\0" in secret:
            raise SaslError(SaslErrorKind.MALFORMED, "NUL in LOGIN password")
        return Done(Credentials(user, Password(secret), None))

    return Challenge(b"Password:", password)


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslError(SaslErrorKind.MALFORMED, f"{what} is not UTF-8") from None


def _check_size(decoded: bytes) -> None:
    if len(decoded) > MAX_RESPONSE:
        raise SaslError(SaslErrorKind.MALFORMED, f"response of {len(decoded)} bytes")


def decode_base64(data: bytes) -> bytes:
    """Decode one client response line (RFC 4422 section 3.5, RFC 4648 section 4), strictly.

    ``data`` is the raw line without its line ending. ``*`` cancels the exchange
    (``CANCELLED``). Anything but canonical base64 — characters outside the alphabet,
    whitespace, missing or excess padding, non-zero pad bits — and anything that would decode to
    more than ``MAX_RESPONSE`` bytes is ``MALFORMED``.
    """
    if data == _CANCEL:
        raise SaslError(SaslErrorKind.CANCELLED, "client cancelled")
    if len(data) > _MAX_ENCODED:
        raise SaslError(SaslErrorKind.MALFORMED, f"base64 response of {len(data)} bytes")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SaslError(SaslErrorKind.MALFORMED, "invalid base64") from None
    if base64.b64encode(decoded) != data:
        raise SaslError(SaslErrorKind.MALFORMED, "non-canonical base64")
    return decoded


def decode_initial_response(data: bytes) -> bytes:
    """Decode an initial response sent with the command (RFC 4959 section 3, RFC 5034 section 4).

    A lone ``=`` stands for an empty initial response; everything else is ``decode_base64``.
    """
    if data == b"=":
        return b""
    return decode_base64(data)


def encode_base64(data: bytes) -> bytes:
    """Encode a server challenge for the wire (RFC 4648 section 4, no line breaks)."""
    return base64.b64encode(data)
