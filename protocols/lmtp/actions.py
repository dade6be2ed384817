"""What the LMTP session asks its driver to do: the actions ``LmtpSession`` returns.

The session is sans-IO (see ``protocols.lmtp.session``): it never writes, spools or delivers
itself but returns these small frozen values, which the Twisted edge
(``protocols.lmtp.server``) performs. They are kept apart from the state machine as the
vocabulary both sides share, like the event classes of h11.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailstore.delivery import DeliveryEnvelope, RecipientCheck


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes to the client."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CheckRecipient:
    """Ask the delivery agent about a recipient; answer with ``recipient_checked``."""

    address: str
    size_hint: int | None


@dataclass(frozen=True, slots=True)
class OpenSpool:
    """Start a spool writer for the message body."""


@dataclass(frozen=True, slots=True)
class WriteSpool:
    """Append decoded body bytes (CRLF line ends) to the spool writer."""

    data: bytes


@dataclass(frozen=True, slots=True)
class AbortSpool:
    """Drop the spool writer and what it holds."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A recipient accepted at RCPT time, as the client spelled it and as it resolved."""

    address: str
    check: RecipientCheck


@dataclass(frozen=True, slots=True)
class Deliver:
    """Finish the spool and deliver to every recipient; answer with ``delivered`` (in order)."""

    envelope: DeliveryEnvelope
    recipients: tuple[Accepted, ...]
    size: int
    line_too_long: bool


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection once everything sent so far is written."""


Action = Send | CheckRecipient | OpenSpool | WriteSpool | AbortSpool | Deliver | Close
