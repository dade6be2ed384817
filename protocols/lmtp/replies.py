"""LMTP replies: a fixed table of codes with RFC 3463 enhanced status codes, and the serializer.

Every reply text is fixed here; nothing a client sent and nothing from an exception is ever
echoed, except an address the parser has already validated (per-recipient replies name it so
that the MTA's log says which recipient got which answer).

RFC 2034 section 3 exempts the greeting and the LHLO/EHLO reply from enhanced codes (the
keyword lines of LHLO must stay bare so clients can parse them), and the reply-code class 3
(``354``) has no enhanced-code class at all; every other reply carries one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP/LMTP reply (RFC 5321 4.2): code, enhanced status (RFC 3463) and text lines."""

    code: int
    enhanced: str | None
    lines: tuple[str, ...]

    def to_bytes(self) -> bytes:
        """Serialize with ``-`` continuation lines (RFC 5321 4.2.1), each line carrying the code."""
        out = []
        last = len(self.lines) - 1
        for index, text in enumerate(self.lines):
            sep = " " if index == last else "-"
            status = f"{self.enhanced} " if self.enhanced else ""
            out.append(f"{self.code}{sep}{status}{text}\r\n")
        return "".join(out).encode("utf-8")


class R(enum.Enum):
    """The reply table: ``(code, enhanced status, fixed text)``.

    Codes follow RFC 5321 4.2.3 / RFC 2033 / RFC 3030 / RFC 1870, enhanced codes RFC 3463
    (and RFC 6531 for ``5.6.7``).
    """

    OK = (250, "2.0.0", "OK")
    SENDER_OK = (250, "2.1.0", "Sender OK")
    RECIPIENT_OK = (250, "2.1.5", "Recipient OK")
    SAVED = (250, "2.0.0", "Saved")
    CHUNK_OK = (250, "2.0.0", "Chunk received")
    START_INPUT = (354, None, "Start mail input; end with <CRLF>.<CRLF>")
    VRFY = (252, "2.5.0", "Cannot VRFY user, but will accept message for delivery")
    HELP = (214, "2.0.0", "Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP")
    BYE = (221, "2.0.0", "Bye")
    IDLE_TIMEOUT = (421, "4.4.2", "Idle timeout, closing connection")
    UNKNOWN_COMMAND = (500, "5.5.2", "Command not recognized")
    NOT_LMTP = (500, "5.5.1", "This is an LMTP server (RFC 2033): use LHLO")
    LINE_TOO_LONG = (500, "5.5.6", "Line too long")
    SYNTAX = (501, "5.5.2", "Syntax error in parameters")
    BAD_ARGUMENTS = (501, "5.5.4", "Invalid command arguments")
    UNKNOWN_PARAMETER = (555, "5.5.4", "Parameter not recognized or not implemented")
    NEED_LHLO = (503, "5.5.1", "Send LHLO first")
    NESTED_MAIL = (503, "5.5.1", "Sender already given")
    NEED_MAIL = (503, "5.5.1", "Send MAIL first")
    NO_RECIPIENTS = (503, "5.5.1", "No valid recipients")
    BAD_SEQUENCE = (503, "5.5.1", "Bad sequence of commands")
    TOO_MANY_RECIPIENTS = (452, "4.5.3", "Too many recipients")
    UNKNOWN_USER = (550, "5.1.1", "No such user here")
    OVER_QUOTA = (552, "5.2.2", "Mailbox full: quota exceeded")
    OVER_QUOTA_TEMP = (452, "4.2.2", "Mailbox full: quota exceeded, try again later")
    TEMPORARY = (451, "4.3.0", "Temporary failure, try again later")
    MESSAGE_TOO_BIG = (552, "5.3.4", "Message size exceeds fixed maximum message size")
    NEED_SMTPUTF8 = (553, "5.6.7", "Non-ASCII address requires SMTPUTF8")

    @property
    def reply(self) -> Reply:
        """The table entry as a one-line ``Reply``."""
        code, enhanced, text = self.value
        return Reply(code, enhanced, (text,))

    def with_address(self, address: str) -> Reply:
        """The reply prefixed with ``<address>`` (the per-recipient replies of RFC 2033 4.2)."""
        code, enhanced, text = self.value
        return Reply(code, enhanced, (f"<{address}> {text}",))


REFUSAL_TEXT_LIMIT = 400
"""Octets of a refusal reason kept in the reply (RFC 5321 4.5.3.1.5: reply lines <= 512)."""


def refusal(address: str, reason: str) -> Reply:
    """``550 5.7.1`` for a recipient whose Sieve script refused the message (RFC 5429 2.1,
    2.1.1: ``reject``/``ereject`` answered in-protocol over LMTP).

    The reason is the script owner's text, not the client's: it is folded to one line of
    printable ASCII (anything else becomes ``?``) and cut at ``REFUSAL_TEXT_LIMIT``.
    """
    words = " ".join(reason.split())
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in words)[:REFUSAL_TEXT_LIMIT]
    return Reply(550, "5.7.1", (f"<{address}> {text or 'Message rejected'}",))


def greeting(hostname: str) -> Reply:
    """The ``220`` banner (RFC 2033 4.1); RFC 2034 3 exempts it from an enhanced code."""
    return Reply(220, None, (f"{hostname} LMTP ready",))


def lhlo_reply(hostname: str, extensions: Sequence[str]) -> Reply:
    """The multi-line ``250`` answer to LHLO: the hostname then one extension keyword a line."""
    return Reply(250, None, (hostname, *extensions))
