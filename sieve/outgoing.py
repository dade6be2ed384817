"""Mail that Sieve sends: redirects, vacation replies and reject notices, via an SMTP relay.

The builders are pure (values in, bytes out); :class:`SmtpRelay` hands a finished message to
the configured relay (an endpoint string such as ``tcp:127.0.0.1:25``) with Twisted's
``ESMTPSenderFactory`` (no AUTH, STARTTLS not required: the relay is on loopback; it is the
relay that queues and retries). :class:`Outgoing` puts the two together with the loop
protection; every failure is logged and reported as ``False``, never raised: a message that
cannot be sent never costs the local delivery.

Loop protection:

- auto-replies (vacation, notices) never answer a null or robot return path, mail with
  ``Auto-Submitted`` other than ``no``, ``Precedence: bulk|list|junk`` or any ``List-*``
  header (RFC 3834 §2, RFC 5230 §5 — ``sieve.vacation.reply_due`` applies the same rules at
  evaluation time; they are checked again here for notices and as a safety net);
- a redirect carries one added trace field, ``Delivered-To: <the redirecting recipient>``
  (RFC 5228 §4.2 allows nothing else to change); a message that already carries a
  ``Delivered-To`` or ``X-Loop`` naming that recipient, or more than ``max_received``
  ``Received`` fields (RFC 5321 §6.3), is not redirected again;
- redirects per message are bounded by ``SieveLimits.max_redirects`` in the interpreter.

The redirect's envelope sender (RFC 5228 §4.2 leaves it to the implementation) is the
original one by default (``RedirectSender.SENDER``: bounces go to the author; the relay
must then be allowed to send for foreign domains, and SPF at the final hop may fail
without SRS), or the redirecting recipient's address (``RECIPIENT``: bounces come back to
the user; SPF-safe for sites without SRS). A null sender stays null either way.
"""

from __future__ import annotations

import email.utils
import enum
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from typing import Any

from twisted.internet import defer, endpoints
from twisted.logger import Logger
from twisted.mail.smtp import ESMTPSender, ESMTPSenderFactory

from sieve.actions import Vacation
from sieve.message import SieveEnvelope, SieveMessage
from sieve.vacation import _automatic, _robot

__all__ = [
    "Outgoing",
    "OutgoingKind",
    "OutgoingMessage",
    "RedirectSender",
    "SmtpRelay",
    "SubmissionSettings",
    "auto_reply_allowed",
    "redirect_allowed",
    "redirect_message",
    "reject_notice",
    "vacation_reply",
]

log = Logger()


class OutgoingKind(enum.Enum):
    """Why a message is sent (for the log)."""

    REDIRECT = "redirect"
    VACATION = "vacation"
    NOTICE = "reject-notice"


class RedirectSender(enum.Enum):
    """The envelope sender of a redirected message (see the module docstring)."""

    SENDER = "sender"
    RECIPIENT = "recipient"


@dataclass(frozen=True, slots=True)
class SubmissionSettings:
    """The ``[submission]`` config table plus the redirect policy from ``[sieve]``."""

    relay: str = "tcp:127.0.0.1:25"
    enabled: bool = True
    hostname: str = "localhost"
    """HELO name and the domain of generated Message-IDs."""
    timeout: float = 60.0
    max_received: int = 30
    redirect_sender: RedirectSender = RedirectSender.SENDER


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message for the relay: envelope (``sender`` "" is ``<>``) and CRLF bytes."""

    kind: OutgoingKind
    sender: str
    recipients: tuple[str, ...]
    data: bytes


# --- loop protection (pure) ---------------------------------------------------------------


def auto_reply_allowed(message: SieveMessage, mail_from: str) -> bool:
    """RFC 3834 §2 / RFC 5230 §5: may an automatic reply go to ``mail_from`` at all?"""
    sender = mail_from.strip()
    return bool(sender) and not _robot(sender) and not _automatic(message)


def _names(message: SieveMessage, header: str) -> set[str]:
    found: set[str] = set()
    for value in message.raw_headers(header):
        found.update(a.lower() for a in SieveMessage.addresses_in(value))
        found.add(value.strip().strip("<>").lower())
    return found


def redirect_allowed(message: SieveMessage, recipient: str, max_received: int = 30) -> bool:
    """False when the message has been through ``recipient`` already (``Delivered-To`` or
    ``X-Loop`` names it) or has more than ``max_received`` ``Received`` fields."""
    own = recipient.lower()
    if own in _names(message, "delivered-to") or own in _names(message, "x-loop"):
        return False
    return len(message.raw_headers("received")) <= max_received


def redirect_message(original: bytes, recipient: str) -> bytes:
    """The redirected message: the original with one trace field added (RFC 5228 §4.2)."""
    return f"Delivered-To: {recipient}\r\n".encode() + original


# --- replies (pure) -----------------------------------------------------------------------


def _header(value: str) -> str:
    """A header value, RFC 2047-encoded when it is not ASCII; never with line breaks."""
    value = " ".join(value.split())
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


def _message_id(hostname: str) -> str:
    return email.utils.make_msgid(domain=hostname)


def _reply_headers(original: SieveMessage) -> list[str]:
    """In-Reply-To and References (RFC 5322 §3.6.4) for a reply to ``original``."""
    ids = original.raw_headers("message-id")
    if not ids:
        return []
    msgid = " ".join(ids[0].split())
    refs = " ".join(" ".join(v.split()) for v in original.raw_headers("references"))
    return [f"In-Reply-To: {msgid}", f"References: {(refs + ' ' + msgid).strip()}"]


def _body_lines(text: str) -> bytes:
    return "\r\n".join(text.replace("\r\n", "\n").split("\n")).encode("utf-8") + b"\r\n"


def vacation_reply(
    vacation: Vacation,
    original: SieveMessage,
    *,
    own_address: str,
    hostname: str,
    now: float | None = None,
) -> OutgoingMessage:
    """The reply of RFC 5230 §5: From ``:from`` or the user, To the sender, Subject,
    In-Reply-To/References, ``Auto-Submitted: auto-replied`` (RFC 3834 §5), sent with a null
    envelope sender (RFC 5230 §5.1, RFC 3834 §3.3); ``:mime`` reasons are a MIME entity."""
    sender = vacation.from_address or own_address
    lines = [
        f"From: {_header(sender)}",
        f"To: <{vacation.recipient}>",
        f"Subject: {_header(vacation.subject or 'Automated reply')}",
        f"Date: {email.utils.formatdate(now, localtime=True)}",
        f"Message-ID: {_message_id(hostname)}",
        *_reply_headers(original),
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
    ]
    head = "".join(line + "\r\n" for line in lines).encode("utf-8")
    if vacation.mime:  # the reason starts with its own Content-* fields (RFC 5230 §4.4)
        body = _body_lines(vacation.reason.lstrip("\r\n"))
    else:
        body = (
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + _body_lines(vacation.reason)
        )
    return OutgoingMessage(OutgoingKind.VACATION, "", (vacation.recipient,), head + body)


def reject_notice(
    reason: str,
    original: SieveMessage,
    envelope: SieveEnvelope,
    *,
    hostname: str,
    now: float | None = None,
) -> OutgoingMessage:
    """The MDN of RFC 5429 §2.1 / RFC 8098 for ``reject`` when it is not answered
    in-protocol: ``multipart/report`` with the reason, the disposition and the original
    header block; null envelope sender, to the original envelope sender."""
    boundary = "=_mailstack_" + _message_id(hostname).strip("<>").replace("@", ".")
    subject = next(iter(original.headers("subject")), "")
    original_id = next(iter(original.raw_headers("message-id")), "")
    header_block = original.raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    disposition = [
        f"Reporting-UA: {hostname}; mailstack",
        f"Final-Recipient: rfc822; {envelope.rcpt_to}",
        *([f"Original-Message-ID: {' '.join(original_id.split())}"] if original_id else []),
        "Disposition: automatic-action/MDN-sent-automatically; deleted",
    ]
    parts = [
        f"From: <MAILER-DAEMON@{hostname}>",
        f"To: <{envelope.mail_from}>",
        f"Subject: {_header('Rejected: ' + subject if subject else 'Message rejected')}",
        f"Date: {email.utils.formatdate(now, localtime=True)}",
        f"Message-ID: {_message_id(hostname)}",
        *_reply_headers(original),
        "Auto-Submitted: auto-replied (rejected)",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=disposition-notification; '
        f'boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        f"Your message to <{envelope.rcpt_to}> was rejected by the recipient's filter:",
        "",
        *reason.replace("\r\n", "\n").split("\n"),
        f"--{boundary}",
        "Content-Type: message/disposition-notification",
        "",
        *disposition,
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
    ]
    data = "".join(p + "\r\n" for p in parts).encode("utf-8")
    data += header_block + f"--{boundary}--\r\n".encode()
    return OutgoingMessage(OutgoingKind.NOTICE, "", (envelope.mail_from,), data)


# --- sending ------------------------------------------------------------------------------


class OutgoingError(Exception):
    """The relay did not take the message (the detail is for the log)."""


def wire_form(data: bytes) -> bytes:
    """``data`` as sent after DATA (RFC 5321 §4.5.2): CRLF line ends, dot-stuffed, ending
    in CRLF (the terminating ``.`` is the client's)."""
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    stuffed = text.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


class _Sender(ESMTPSender):
    """Sends the file as it is: Twisted's own chunk transform converts LF and dot-stuffs per
    chunk, which misses a dot at a chunk boundary; ``wire_form`` did both up front."""

    def transformChunk(self, chunk: bytes) -> bytes:
        self.resetTimeout()  # type: ignore[no-untyped-call]
        return chunk


class SmtpRelay:
    """Hands messages to an SMTP relay at an endpoint description (``tcp:host:port``,
    ``unix:/path``) with ``ESMTPSenderFactory``: no AUTH, TLS not required, no retries
    here (a relay that is down is logged; the relay itself queues and retries)."""

    def __init__(self, settings: SubmissionSettings, reactor: Any = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.settings = settings
        self._reactor = reactor

    async def send(self, message: OutgoingMessage) -> None:
        """Send ``message``; raises ``OutgoingError`` when the relay refuses or is unreachable."""
        done: defer.Deferred[Any] = defer.Deferred()
        body = io.BytesIO(wire_form(message.data))
        try:
            factory = ESMTPSenderFactory(  # type: ignore[no-untyped-call]
                None, None, message.sender, list(message.recipients), body,
                done, retries=0, timeout=self.settings.timeout,
                requireAuthentication=False, requireTransportSecurity=False,
            )  # fmt: skip
            factory.protocol = _Sender
        except (UnicodeError, ValueError) as exc:
            raise OutgoingError(f"unusable address: {exc!r}") from None
        factory.domain = self.settings.hostname.encode("idna")
        try:
            endpoint = endpoints.clientFromString(  # type: ignore[no-untyped-call]
                self._reactor, self.settings.relay
            )
            await endpoint.connect(factory)
            await done
        except Exception as exc:  # noqa: BLE001 - any relay failure is one logged error
            raise OutgoingError(repr(exc)) from None


class Outgoing:
    """Sends what Sieve asked for, with the loop protection; never raises."""

    def __init__(self, settings: SubmissionSettings, relay: SmtpRelay | None = None) -> None:
        self.settings = settings
        self.relay = relay if relay is not None else SmtpRelay(settings)

    async def send(self, message: OutgoingMessage, *, user: str) -> bool:
        """Hand ``message`` to the relay; log the outcome (never the content)."""
        if not self.settings.enabled:
            log.info("sieve {kind} for {user} not sent: submission disabled",
                     kind=message.kind.value, user=user)
            return False
        started = time.monotonic()
        try:
            await self.relay.send(message)
        except OutgoingError as exc:
            log.warn("sieve {kind} for {user} to {to} failed: {error}", kind=message.kind.value,
                     user=user, to=",".join(message.recipients), error=str(exc))
            return False
        log.info("sieve {kind} for {user} sent to {to} size={size} ms={ms}",
                 kind=message.kind.value, user=user, to=",".join(message.recipients),
                 size=len(message.data), ms=round((time.monotonic() - started) * 1000, 1))
        return True

    async def redirect(
        self,
        original: bytes,
        addresses: Sequence[str],
        *,
        envelope: SieveEnvelope,
        user: str,
    ) -> bool:
        """RFC 5228 §4.2: one submission for every address (§4.2 allows combining them)."""
        message = SieveMessage(original)
        if not redirect_allowed(message, envelope.rcpt_to, self.settings.max_received):
            log.warn("sieve redirect for {user} refused: mail loop", user=user)
            return False
        sender = envelope.mail_from
        if sender and self.settings.redirect_sender is RedirectSender.RECIPIENT:
            sender = envelope.rcpt_to
        data = redirect_message(original, envelope.rcpt_to)
        return await self.send(
            OutgoingMessage(OutgoingKind.REDIRECT, sender, tuple(addresses), data), user=user
        )

    async def vacation(
        self, vacation: Vacation, original: SieveMessage, *, envelope: SieveEnvelope, user: str
    ) -> bool:
        """RFC 5230 §5: send one reply, unless the message must not be answered."""
        if not auto_reply_allowed(original, envelope.mail_from):
            log.info("sieve vacation for {user} not sent: automatic mail", user=user)
            return False
        reply = vacation_reply(
            vacation, original, own_address=envelope.rcpt_to, hostname=self.settings.hostname
        )
        return await self.send(reply, user=user)

    async def reject_notice(
        self, reason: str, original: SieveMessage, *, envelope: SieveEnvelope, user: str
    ) -> bool:
        """RFC 5429 §2.1: the MDN for a reject that was not refused in-protocol."""
        if not auto_reply_allowed(original, envelope.mail_from):
            log.info("sieve reject notice for {user} not sent: automatic mail", user=user)
            return False
        notice = reject_notice(reason, original, envelope, hostname=self.settings.hostname)
        return await self.send(notice, user=user)
