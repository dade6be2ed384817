"""Sieve reject/ereject over LMTP: that recipient alone gets ``550 5.7.1`` (RFC 5429 2.1.1)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mailstore.aliases import Recipient
from mailstore.delivery import DeliveryResult, RecipientCheck, RecipientStatus
from protocols.lmtp.actions import Deliver, Send
from protocols.lmtp.replies import REFUSAL_TEXT_LIMIT, refusal
from protocols.lmtp.session import LmtpSession
from protocols.lmtp.settings import LmtpSettings


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("No spam.", "No spam."),
        ("two\r\nlines\ttabbed", "two lines tabbed"),
        ("caf\u00e9 \x07bell", "caf? ?bell"),
        ("", "Message rejected"),
        ("   ", "Message rejected"),
    ],
)
def test_refusal_text_is_one_printable_line(reason: str, text: str) -> None:
    assert refusal("a@b", reason).to_bytes() == f"550 5.7.1 <a@b> {text}\r\n".encode()


def test_refusal_is_cut() -> None:
    line = refusal("a@b", "x" * 2000).to_bytes()
    assert len(line) == len(b"550 5.7.1 <a@b> \r\n") + REFUSAL_TEXT_LIMIT


def sent(actions: Sequence[object]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Send))


def test_one_recipient_refused_the_other_saved() -> None:
    session = LmtpSession(LmtpSettings(hostname="mx"), "[127.0.0.1]", new_id=lambda: "Q")
    session.start()
    session.receive(b"LHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\n")
    for user in ("a", "b"):
        check = RecipientCheck(RecipientStatus.ACCEPTED, Recipient(user, None, f"{user}@x"))
        actions = session.recipient_checked(check)
        if user == "a":
            session.receive(b"RCPT TO:<b@x>\r\nDATA\r\n")
    actions = session.receive(b"Subject: x\r\n\r\nhi\r\n.\r\n")
    assert any(isinstance(a, Deliver) for a in actions)
    refused = DeliveryResult(False, None, None, None, refusal="Not wanted here.")
    saved = DeliveryResult(True, "INBOX", 1, None)
    assert sent(session.delivered([refused, saved])) == (
        b"550 5.7.1 <a@x> Not wanted here.\r\n250 2.0.0 <b@x> Saved\r\n"
    )
