"""LocalDelivery's filter hook: the message view, Routing (flags, :create, refusal, discard),
the after-delivery callback, and a failing filter (kept in the default mailbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailstore.delivery import (
    FILTER_VIEW_LIMIT,
    DeliveryEnvelope,
    Filing,
    MessageView,
    Routing,
    Stored,
    filter_view,
)
from tests.interop.lmtp_env import MailEnv, make_env, read_mailbox

ENVELOPE = DeliveryEnvelope(
    mail_from="s@example.org", client_helo="relay", client_address="[192.0.2.1]",
    queue_id="Q", smtputf8=False, body_8bit=False,
)  # fmt: skip
HEAD = b"From: s@example.org\r\nSubject: routed\r\n\r\n"


async def deliver(env: MailEnv, data: bytes, user: str = "alice") -> Any:
    check = await env.delivery.check_recipient(f"{user}@lmtp.test", len(data))
    writer = env.delivery.spool()
    for start in range(0, len(data), 65536):
        writer.write(data[start : start + 65536])
    staged = await writer.finish()
    try:
        assert check.recipient is not None
        return await env.delivery.deliver(staged, ENVELOPE, check.recipient)
    finally:
        env.delivery.discard(staged)


class Hook:
    def __init__(self, routing: Routing | None = None, fail: bool = False) -> None:
        self.routing = routing
        self.fail = fail
        self.views: list[MessageView] = []
        self.stored: list[Stored] = []
        self.read: list[bytes | None] = []

    async def __call__(self, message: MessageView, envelope: Any, recipient: Any,
                       default_mailbox: str) -> Routing:
        self.views.append(message)
        if self.fail:
            raise RuntimeError("broken filter")
        assert self.routing is not None
        return self.routing

    async def after(self, stored: Stored) -> None:
        self.stored.append(stored)
        self.read.append(await stored.read())


def test_flags_create_and_after(tmp_path: Path, reactor_thread: Any) -> None:
    hook = Hook()
    hook.routing = Routing(
        (Filing("New/Sub", ("\\Flagged", "$Work"), create=True), Filing("Missing"),
         Filing("INBOX", ("\\Seen",))),
        after=hook.after,
    )  # fmt: skip
    env = make_env(tmp_path, filter=hook)
    message = HEAD + b"body\r\n"
    result = reactor_thread.run(deliver, env, message)
    assert result.ok and result.mailbox == "INBOX"  # "Missing" fell back to INBOX once

    async def flags(name: str) -> list[set[str]]:
        box = await (await env.store.account("alice")).open_mailbox(name)
        return [set(m.flags) for m in (await box.snapshot()).messages]

    assert reactor_thread.run(flags, "New/Sub") == [{"\\Flagged", "$Work"}]
    assert reactor_thread.run(flags, "INBOX") == [{"\\Seen"}]  # one copy, flags merged
    assert [r.mailbox for r in hook.stored[0].results] == ["New/Sub", "INBOX"]
    assert hook.read == [message]
    assert hook.views[0].complete and hook.views[0].data == message


def test_refusal_discard_and_failure(tmp_path: Path, reactor_thread: Any) -> None:
    env = make_env(tmp_path)
    env.delivery.filter = Hook(Routing((), refusal="Go away"))
    refused = reactor_thread.run(deliver, env, HEAD)
    assert not refused.ok and refused.refusal == "Go away" and refused.error is None
    env.delivery.filter = Hook(Routing(()))
    discarded = reactor_thread.run(deliver, env, HEAD)
    assert discarded.ok and discarded.mailbox is None
    assert reactor_thread.run(read_mailbox, env, "alice") == []
    env.delivery.filter = Hook(fail=True)
    kept = reactor_thread.run(deliver, env, HEAD)
    assert kept.ok and kept.mailbox == "INBOX"


def test_after_failure_keeps_the_delivery(tmp_path: Path, reactor_thread: Any) -> None:
    async def after(stored: Stored) -> None:
        raise RuntimeError("relay exploded")

    env = make_env(tmp_path, filter=Hook(Routing((Filing("INBOX"),), after=after)))
    assert reactor_thread.run(deliver, env, HEAD).ok
    assert len(reactor_thread.run(read_mailbox, env, "alice")) == 1


def test_views_of_spilled_messages(tmp_path: Path, reactor_thread: Any) -> None:
    hook = Hook()
    hook.routing = Routing((Filing("INBOX"),), after=hook.after)
    env = make_env(tmp_path, filter=hook)
    medium = HEAD + b"m" * (600 * 1024) + b"\r\n"  # spilled to the spool, still whole
    large = HEAD + b"x" * (3 * FILTER_VIEW_LIMIT) + b"\r\n"
    reactor_thread.run(deliver, env, medium)
    reactor_thread.run(deliver, env, large)
    whole, cut = hook.views
    assert whole.complete and whole.data == medium
    assert not cut.complete and cut.data == large[: len(HEAD) + FILTER_VIEW_LIMIT]
    assert hook.read == [medium, large]  # read back whole from the stored copy


def test_filter_view_cuts_a_huge_header_block() -> None:
    head = b"X: " + b"h" * (3 * FILTER_VIEW_LIMIT)
    assert filter_view(head, len(head) + 10) == head[: 2 * FILTER_VIEW_LIMIT]
    assert filter_view(b"abc", 3) == b"abc"
