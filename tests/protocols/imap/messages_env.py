"""A real ``MaildirStore`` on ``tmp_path`` and a selected view, for the message handler tests.

Commands are written as on the wire and parsed by the real grammar; answers are
serialized by the real writer (external literals are streamed through their source), so
the tests read like transcripts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mailstore.api import Account
from mailstore.maildir.store import MaildirStore
from mailstore.testing import FakeUsers
from mailstore.types import INBOX
from protocols.imap import commands as c
from protocols.imap.grammar.commands import parse_command_bytes
from protocols.imap.grammar.writer import serialize_chunks
from protocols.imap.handlers import HandlerResult
from protocols.imap.handlers.messages import (
    handle_copy,
    handle_fetch,
    handle_move,
    handle_search,
    handle_store,
)
from protocols.imap.responses import ExternalLiteral, Response
from protocols.imap.selected import SelectedMailbox, SessionToken

USER = "alice"
DAY = 86400.0
BASE_DATE = 1_700_000_000.0
"""2023-11-14 22:13:20 UTC."""

_HANDLERS: dict[type[Any], Any] = {
    c.Fetch: handle_fetch,
    c.Store: handle_store,
    c.Search: handle_search,
    c.Copy: handle_copy,
    c.Move: handle_move,
}


def message(n: int, body: bytes = b"Hello there.\r\n", extra: bytes = b"") -> bytes:
    """A small CRLF message numbered ``n``."""
    return (
        b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\n"
        b"Subject: message %d\r\nMessage-ID: <%d@example.org>\r\n"
        b"Date: Mon, 6 Nov 2023 10:00:00 +0000\r\n" % (n, n) + extra + b"\r\n" + body
    )


class Env:
    """One user's store and helpers to select, run commands and read the answers."""

    def __init__(self, tmp_path: Path, reactor_thread: Any) -> None:
        self.rt = reactor_thread
        self.store = MaildirStore(FakeUsers(tmp_path / "home"), tmp_path / "spool")
        self.origin = SessionToken("test")

    def close(self) -> None:
        self.rt.run(self.store.close)

    async def account(self) -> Account:
        return await self.store.account(USER)

    def select(
        self,
        messages: Sequence[bytes],
        *,
        flags: Sequence[Iterable[str]] | None = None,
        dates: Sequence[float] | None = None,
        name: str = INBOX,
        readonly: bool = False,
    ) -> SelectedMailbox:
        """Append ``messages`` to ``name`` and select it."""

        async def go() -> SelectedMailbox:
            account = await self.account()
            if not await account.mailbox_exists(name):
                await account.create_mailbox(name)
            box = await account.open_mailbox(name)
            for i, data in enumerate(messages):
                await box.append(
                    data,
                    flags=flags[i] if flags else (),
                    internal_date=dates[i] if dates else BASE_DATE + i * DAY,
                )
            snap = await box.snapshot(claim_recent=not readonly)
            sel = SelectedMailbox(box, snap, name=name, readonly=readonly, origin=self.origin)
            sel.attach()
            return sel

        result: SelectedMailbox = self.rt.run(go)
        return result

    def command(self, sel: SelectedMailbox, line: bytes) -> HandlerResult:
        """Parse ``line`` (``a FETCH 1 FLAGS``) and run its handler on ``sel``."""
        cmd = parse_command_bytes(line + b"\r\n")
        handler = _HANDLERS[type(cmd)]
        result: HandlerResult = self.rt.run(handler, cmd, sel)
        return result

    def wire(self, responses: Iterable[Response]) -> bytes:
        """The octets of ``responses``, external literals read from their source."""
        out = b""
        for response in responses:
            for chunk in serialize_chunks(response):
                if isinstance(chunk, ExternalLiteral):
                    out += self.rt.run(_collect, chunk)
                else:
                    out += chunk
        return out

    def lines(self, sel: SelectedMailbox, line: bytes) -> tuple[bytes, HandlerResult]:
        """Run a command; its untagged answer as octets, and the result."""
        result = self.command(sel, line)
        return self.wire(result.untagged), result

    def sync(self, sel: SelectedMailbox) -> None:
        self.rt.run(sel.sync)


async def _collect(literal: ExternalLiteral) -> bytes:
    out = b""
    async for chunk in literal.source.chunks():  # type: ignore[attr-defined]
        out += chunk
    assert len(out) == literal.size
    return out
