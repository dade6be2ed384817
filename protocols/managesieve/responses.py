"""ManageSieve responses: OK/NO/BYE, response codes, strings, capability lines (RFC 5804 §4).

Every byte the server writes is built here from typed values; texts are fixed strings
chosen by the session, never an exception's message.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Code",
    "Response",
    "Status",
    "capability_lines",
    "encode_string",
    "list_lines",
    "script_literal",
]

_MAX_QUOTED = 1024


class Status(enum.Enum):
    """RFC 5804 §1.3 ``response-ok`` / ``response-nobye``."""

    OK = "OK"
    NO = "NO"
    BYE = "BYE"


class Code(enum.Enum):
    """RFC 5804 §1.3 response codes (``resp-code``)."""

    AUTH_TOO_WEAK = "AUTH-TOO-WEAK"
    ENCRYPT_NEEDED = "ENCRYPT-NEEDED"
    QUOTA = "QUOTA"
    QUOTA_MAXSCRIPTS = "QUOTA/MAXSCRIPTS"
    QUOTA_MAXSIZE = "QUOTA/MAXSIZE"
    TRANSITION_NEEDED = "TRANSITION-NEEDED"
    TRYLATER = "TRYLATER"
    ACTIVE = "ACTIVE"
    NONEXISTENT = "NONEXISTENT"
    ALREADYEXISTS = "ALREADYEXISTS"
    WARNINGS = "WARNINGS"
    TAG = "TAG"
    """Carries the NOOP string (RFC 5804 §2.13)."""
    SASL = "SASL"
    """Carries additional data with success (RFC 5804 §2.1)."""


@dataclass(frozen=True, slots=True)
class Response:
    """One final response line; ``code_data`` goes with ``TAG`` and ``SASL``."""

    status: Status
    text: str | None = None
    code: Code | None = None
    code_data: bytes | None = None

    def encode(self) -> bytes:
        """The wire form, CRLF included."""
        out = self.status.value.encode("ascii")
        if self.code is not None:
            out += b" (" + self.code.value.encode("ascii")
            if self.code_data is not None:
                out += b" " + encode_string(self.code_data)
            out += b")"
        if self.text is not None:
            out += b" " + encode_string(self.text.encode("utf-8"))
        return out + b"\r\n"


def _quotable(value: bytes) -> bool:
    if len(value) > _MAX_QUOTED or any(b in value for b in (b"\r", b"\n", b"\0")):
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def encode_string(value: bytes) -> bytes:
    """RFC 5804 §4 ``string``: quoted when it can be, else ``literal-s2c`` ``{n}`` CRLF."""
    if _quotable(value):
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(value) + value


def capability_lines(capabilities: Iterable[tuple[str, str | None]]) -> bytes:
    """RFC 5804 §1.7 capability response body: ``"NAME" ["value"]`` lines."""
    out = b""
    for name, value in capabilities:
        out += encode_string(name.encode("utf-8"))
        if value is not None:
            out += b" " + encode_string(value.encode("utf-8"))
        out += b"\r\n"
    return out


def list_lines(scripts: Iterable[tuple[str, bool]]) -> bytes:
    """RFC 5804 §2.7 LISTSCRIPTS body: ``sieve-name [SP "ACTIVE"]`` lines."""
    out = b""
    for name, active in scripts:
        out += encode_string(name.encode("utf-8"))
        if active:
            out += b" ACTIVE"
        out += b"\r\n"
    return out


def script_literal(content: bytes) -> bytes:
    """RFC 5804 §2.9 GETSCRIPT body: the script as a literal, then CRLF."""
    return b"{%d}\r\n" % len(content) + content + b"\r\n"
