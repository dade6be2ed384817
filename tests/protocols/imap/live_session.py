"""Drive one ``ImapProtocol`` over a ``StringTransport`` from a test coroutine.

Like ``imap_transcript.Runner`` (whose store, fake verifier and watched transport it reuses)
but with the settings and clock a test picks, and with ``until(tag)`` to wait for a tagged
answer however many untagged lines come first. Runs in the reactor thread
(``reactor_thread.run``); the store's disk work goes through its real thread pool, while
timeouts use the ``clock`` given (a ``task.Clock`` the test advances).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred

from mailstore.types import INBOX
from protocols.imap.server import ImapProtocol, ImapSettings
from tests.protocols.imap.imap_transcript import USER, Runner

WAIT = 10.0
"""Seconds a test waits for an answer before failing (never a speed assertion)."""


class LiveSession:
    """One connection: ``send`` bytes, ``until`` a tagged line, ``drain`` what was written."""

    def __init__(self, root: Path, settings: ImapSettings | None = None, clock: Any = None):
        self.runner = Runner(root)
        self.store = self.runner.store
        self.transport = self.runner.transport
        settings = settings or ImapSettings(allow_plaintext_auth=True)
        self.protocol = ImapProtocol(
            self.store, self.runner.auth, None, settings, clock=clock or reactor
        )
        self.runner.protocol = self.protocol
        self.protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        """Bytes from the client, in one ``dataReceived``."""
        self.protocol.dataReceived(data)

    def drain(self) -> list[str]:
        """Lines written so far and not yet taken."""
        self.runner._collect()
        lines, self.runner.received = self.runner.received, []
        return lines

    async def until(self, tag: str) -> list[str]:
        """Lines up to and including the first one starting with ``tag + ' '``."""
        got: list[str] = []
        while True:
            got += self.drain()
            for i, line in enumerate(got):
                if line.startswith(tag + " "):
                    self.runner.received = got[i + 1 :] + self.runner.received
                    return got[: i + 1]
            if self.transport.disconnecting and not self.transport.value():
                raise AssertionError(f"closed before {tag!r}: {got!r}")
            # Resume on a later reactor turn, not inside the server's ``write``: what the
            # server does after writing (e.g. switching timers after LOGIN) is done by then.
            written: Deferred[None] = Deferred()
            resumed: Deferred[None] = Deferred()
            written.addCallback(lambda _, d=resumed: reactor.callLater(0, d.callback, None))
            self.transport.waiters.append(written)
            resumed.addTimeout(WAIT, reactor)
            await resumed

    async def login(self, *, greeting: bool = True) -> None:
        """Read the greeting (unless already read), LOGIN and check the OK."""
        if greeting:
            await self.until("*")
        self.send(b"l1 LOGIN alice secret\r\n")
        assert (await self.until("l1"))[-1].startswith("l1 OK")

    async def append(self, message: bytes, flags: tuple[str, ...] = ()) -> int:
        """Append as another session would (through the store); the UID."""
        account = await self.store.account(USER)
        box = await account.open_mailbox(INBOX)
        return (await box.append(message, flags=list(flags))).uid

    async def close(self) -> None:
        self.protocol.connectionLost(None)
        await self.store.close()
