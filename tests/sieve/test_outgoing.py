"""sieve.outgoing: loop rules, the messages built for redirect/vacation/reject, and the relay."""

from __future__ import annotations

import email
import email.policy
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sieve.actions import Vacation
from sieve.message import SieveEnvelope, SieveMessage
from sieve.outgoing import (
    Outgoing,
    OutgoingKind,
    OutgoingMessage,
    RedirectSender,
    SmtpRelay,
    SubmissionSettings,
    auto_reply_allowed,
    redirect_allowed,
    redirect_message,
    reject_notice,
    vacation_reply,
    wire_form,
)

ORIGINAL = (
    b"From: Friend <friend@example.com>\r\nTo: alice@example.org\r\nSubject: Lunch?\r\n"
    b"Message-ID: <m1@example.com>\r\nReferences: <m0@example.com>\r\n\r\nHi.\r\n"
)
ENVELOPE = SieveEnvelope("friend@example.com", "alice@example.org")


def message(extra: bytes = b"") -> SieveMessage:
    return SieveMessage(extra + ORIGINAL)


@pytest.mark.parametrize(
    ("extra", "sender", "allowed"),
    [
        (b"", "friend@example.com", True),
        (b"Auto-Submitted: no\r\n", "friend@example.com", True),
        (b"Auto-Submitted: auto-replied\r\n", "friend@example.com", False),
        (b"Auto-Submitted: auto-generated; foo\r\n", "friend@example.com", False),
        (b"Precedence: bulk\r\n", "friend@example.com", False),
        (b"Precedence: List\r\n", "friend@example.com", False),
        (b"Precedence: junk\r\n", "friend@example.com", False),
        (b"List-Id: <x.example.com>\r\n", "friend@example.com", False),
        (b"List-Unsubscribe: <mailto:u@x>\r\n", "friend@example.com", False),
        (b"", "", False),
        (b"", "MAILER-DAEMON@example.com", False),
        (b"", "owner-list@example.com", False),
    ],
)
def test_auto_reply_rules(extra: bytes, sender: str, allowed: bool) -> None:
    assert auto_reply_allowed(message(extra), sender) is allowed


@pytest.mark.parametrize(
    ("extra", "allowed"),
    [
        (b"", True),
        (b"Delivered-To: bob@example.org\r\n", True),
        (b"Delivered-To: Alice@Example.org\r\n", False),
        (b"X-Loop: alice@example.org\r\n", False),
        (b"Received: from a\r\n" * 31, False),
        (b"Received: from a\r\n" * 30, True),
    ],
)
def test_redirect_loop_rules(extra: bytes, allowed: bool) -> None:
    assert redirect_allowed(message(extra), "alice@example.org", max_received=30) is allowed


def test_redirect_adds_only_a_trace_field() -> None:
    assert redirect_message(ORIGINAL, "alice@example.org") == (
        b"Delivered-To: alice@example.org\r\n" + ORIGINAL
    )


def parse(data: bytes) -> email.message.Message:
    return email.message_from_bytes(data, policy=email.policy.compat32)


def test_vacation_reply_headers() -> None:
    vacation = Vacation("friend@example.com", "Back on Monday.\nBye", subject="Gone fishing ✓")
    out = vacation_reply(vacation, message(), own_address="alice@example.org", hostname="mx.t")
    assert out.kind is OutgoingKind.VACATION
    assert out.sender == "" and out.recipients == ("friend@example.com",)
    parsed = parse(out.data)
    assert parsed["From"] == "alice@example.org" and parsed["To"] == "<friend@example.com>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["In-Reply-To"] == "<m1@example.com>"
    assert parsed["References"] == "<m0@example.com> <m1@example.com>"
    assert str(email.header.make_header(email.header.decode_header(parsed["Subject"]))) == (
        "Gone fishing ✓"
    )
    assert parsed.get_payload() == "Back on Monday.\r\nBye\r\n"
    assert b"\n" not in out.data.replace(b"\r\n", b"")


def test_vacation_mime_reason_and_from() -> None:
    reason = "Content-Type: text/html\r\n\r\n<p>Away</p>"
    vacation = Vacation("friend@example.com", reason, from_address="Alice <a@x.t>", mime=True)
    parsed = parse(vacation_reply(vacation, message(), own_address="a@x.t", hostname="mx.t").data)
    assert parsed["From"] == "Alice <a@x.t>"
    assert parsed.get_content_type() == "text/html"
    assert parsed.get_payload() == "<p>Away</p>\r\n"


def test_reject_notice_is_an_mdn() -> None:
    out = reject_notice("Go away.", message(), ENVELOPE, hostname="mx.t")
    assert out.sender == "" and out.recipients == ("friend@example.com",)
    parsed = parse(out.data)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "disposition-notification"
    text, mdn, headers = cast(list[Any], parsed.get_payload())
    assert "Go away." in text.get_payload()
    assert "Disposition: automatic-action/MDN-sent-automatically; deleted" in str(mdn)
    assert "Subject: Lunch?" in headers.get_payload()


@given(st.binary(max_size=200))
def test_wire_form_is_crlf_and_dot_stuffed(data: bytes) -> None:
    wire = wire_form(data)
    assert wire.endswith(b"\r\n")
    assert b"\n" not in wire.replace(b"\r\n", b"") and b"\r" not in wire.replace(b"\r\n", b"")
    for line in wire.split(b"\r\n"):
        assert line != b"."


class FakeRelay:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail = fail

    async def send(self, message: OutgoingMessage) -> None:
        from sieve.outgoing import OutgoingError

        if self.fail:
            raise OutgoingError("refused")
        self.sent.append(message)


def run(reactor_thread: Any, coroutine_fn: Any) -> Any:
    return reactor_thread.run(coroutine_fn)


@pytest.mark.parametrize(
    ("policy", "mail_from", "expected"),
    [
        (RedirectSender.SENDER, "friend@example.com", "friend@example.com"),
        (RedirectSender.RECIPIENT, "friend@example.com", "alice@example.org"),
        (RedirectSender.RECIPIENT, "", ""),
    ],
)
def test_redirect_envelope_sender(reactor_thread: Any, policy: RedirectSender,
                                  mail_from: str, expected: str) -> None:
    relay = FakeRelay()
    outgoing = Outgoing(SubmissionSettings(redirect_sender=policy), relay)  # type: ignore[arg-type]
    envelope = SieveEnvelope(mail_from, "alice@example.org")

    async def go() -> bool:
        return await outgoing.redirect(ORIGINAL, ["x@y.t", "z@y.t"], envelope=envelope, user="a")

    assert run(reactor_thread, go)
    (sent,) = relay.sent
    assert sent.sender == expected and sent.recipients == ("x@y.t", "z@y.t")


def test_failures_and_loops_return_false(reactor_thread: Any) -> None:
    failing = Outgoing(SubmissionSettings(), FakeRelay(fail=True))  # type: ignore[arg-type]
    disabled = Outgoing(SubmissionSettings(enabled=False), FakeRelay())  # type: ignore[arg-type]
    looped = SieveMessage(b"Delivered-To: alice@example.org\r\n" + ORIGINAL)

    async def go() -> list[bool]:
        return [
            await failing.redirect(ORIGINAL, ["x@y.t"], envelope=ENVELOPE, user="a"),
            await disabled.redirect(ORIGINAL, ["x@y.t"], envelope=ENVELOPE, user="a"),
            await failing.vacation(Vacation("friend@example.com", "r"), message(),
                                   envelope=ENVELOPE, user="a"),
            await failing.redirect(looped.raw, ["x@y.t"], envelope=ENVELOPE, user="a"),
        ]  # fmt: skip

    assert run(reactor_thread, go) == [False, False, False, False]


def test_relay_unreachable_raises_outgoing_error(reactor_thread: Any) -> None:
    # a port nobody listens on: connect refused, reported as OutgoingError
    import socket

    from sieve.outgoing import OutgoingError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    relay = SmtpRelay(SubmissionSettings(relay=f"tcp:127.0.0.1:{port}", timeout=5))
    mail = OutgoingMessage(OutgoingKind.REDIRECT, "", ("x@y.t",), ORIGINAL)

    async def go() -> str:
        try:
            await relay.send(mail)
        except OutgoingError:
            return "error"
        return "sent"

    assert run(reactor_thread, go) == "error"
    bad = SmtpRelay(SubmissionSettings(relay="nonsense:x"))

    async def go_bad() -> str:
        try:
            await bad.send(mail)
        except OutgoingError:
            return "error"
        return "sent"

    assert run(reactor_thread, go_bad) == "error"
