"""When a vacation reply is due, and what it says (RFC 5230 §4, §5; RFC 6131).

Pure: the response history is asked through the context callable; the
reply is sent, and the history written, by the delivery layer.
"""

from __future__ import annotations

import hashlib

from sieve.actions import Vacation
from sieve.message import SieveEnvelope, SieveMessage

DAY = 86400
DEFAULT_SECONDS = 7 * DAY
_RECIPIENT_HEADERS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")
_LIST_HEADERS = (
    "list-id", "list-help", "list-unsubscribe", "list-subscribe", "list-post",
    "list-owner", "list-archive",
)  # fmt: skip
_ROBOT_LOCALPARTS = ("mailer-daemon", "listserv", "majordomo", "owner-", "-request", "noreply")


def default_handle(reason: str, subject: str | None, from_address: str | None, mime: bool) -> str:
    """RFC 5230 §4.2: without :handle, replies that say the same thing share a handle."""
    text = "\0".join((reason, subject or "", from_address or "", "mime" if mime else ""))
    return "auto:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _robot(sender: str) -> bool:
    local = sender.rpartition("@")[0].lower() or sender.lower()
    return any(
        local == r or (r.endswith("-") and local.startswith(r)) or
        (r.startswith("-") and local.endswith(r))
        for r in _ROBOT_LOCALPARTS
    )  # fmt: skip


def _automatic(message: SieveMessage) -> bool:
    """RFC 5230 §5: never answer auto-submitted, bulk or list mail (RFC 3834 §2)."""
    for value in message.headers("auto-submitted"):
        if value.split(";")[0].strip().lower() != "no":
            return True
    for value in message.headers("precedence"):
        if value.strip().lower() in ("bulk", "list", "junk"):
            return True
    return any(message.has_header(h) for h in _LIST_HEADERS)


def reply_due(
    envelope: SieveEnvelope,
    message: SieveMessage,
    own_addresses: tuple[str, ...],
) -> bool:
    """RFC 5230 §4.5-§5: whether this message may get an automatic reply at all."""
    sender = envelope.mail_from.strip()
    if not sender or _robot(sender) or _automatic(message):
        return False
    own = {a.lower() for a in own_addresses if a}
    if sender.lower() in own:
        return False
    recipients = {a.lower() for h in _RECIPIENT_HEADERS for a in message.addresses(h)}
    return bool(own & recipients)


def build(
    envelope: SieveEnvelope,
    message: SieveMessage,
    *,
    reason: str,
    subject: str | None,
    from_address: str | None,
    mime: bool,
    handle: str | None,
    seconds: int,
) -> Vacation:
    """The reply action (RFC 5230 §4.3: default subject "Auto: " + original)."""
    if handle is None:
        handle = default_handle(reason, subject, from_address, mime)
    if subject is None:
        original = next(iter(message.headers("subject")), "")
        subject = "Auto: " + original if original else "Automated reply"
    return Vacation(
        recipient=envelope.mail_from.strip(),
        reason=reason,
        subject=subject,
        from_address=from_address,
        mime=mime,
        handle=handle,
        seconds=seconds,
    )
