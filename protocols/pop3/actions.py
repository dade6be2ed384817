"""What the POP3 session asks its driver to do, and the maildrop snapshot it works on.

The session (``protocols.pop3.session``) is sans-IO: it answers each input with a list of
these actions; the driver (``protocols.pop3.server``) performs them and feeds the outcome
back. They are plain frozen values, so transcripts and unit tests can compare them.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols import sasl

__all__ = [
    "Action",
    "Authenticate",
    "Close",
    "ForgetReadAhead",
    "Maildrop",
    "MaildropMessage",
    "OpenMaildrop",
    "Send",
    "StartTls",
    "Transfer",
    "Update",
]


@dataclass(frozen=True, slots=True)
class MaildropMessage:
    """One message of the login snapshot: its store UID and CRLF size."""

    uid: int
    size: int


@dataclass(frozen=True, slots=True)
class Maildrop:
    """The INBOX snapshot a session works on (RFC 1939 section 4)."""

    uidvalidity: int
    messages: tuple[MaildropMessage, ...]


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes to the client."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check credentials; answer with ``authenticated``."""

    credentials: sasl.Credentials


@dataclass(frozen=True, slots=True)
class OpenMaildrop:
    """Lock the user's maildrop and snapshot INBOX; answer with ``maildrop_opened/failed``."""

    user: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Stream message ``uid``: write ``status`` before the first byte, then the body
    dot-stuffed (only the header and ``top_lines`` body lines if not None) and ``.``.
    Answer with ``transfer_done``."""

    uid: int
    size: int
    status: bytes
    top_lines: int | None = None
    ahead: tuple[MaildropMessage, ...] = ()
    """The messages the client will probably ask for next (for read-ahead), in order."""


@dataclass(frozen=True, slots=True)
class ForgetReadAhead:
    """Drop what was read ahead for these UIDs (all if None): they will not be asked for."""

    uids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class StartTls:
    """Discard buffered input and start TLS (``protocols.starttls.start_tls``)."""


@dataclass(frozen=True, slots=True)
class Update:
    """The UPDATE state (RFC 1939 section 6): expunge ``expunge``, mark ``seen`` as \\Seen."""

    expunge: tuple[int, ...]
    seen: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection once everything written has been sent."""


Action = (
    Send | Authenticate | OpenMaildrop | Transfer | ForgetReadAhead | StartTls | Update | Close
)
