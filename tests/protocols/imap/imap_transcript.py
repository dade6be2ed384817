"""Replay ``C:``/``S:`` transcripts through ``ImapProtocol`` over a ``StringTransport``.

The protocol runs in the real reactor thread (the store's disk work goes through its thread
pool). Consecutive ``C:`` lines are sent, then the runner waits until as many lines as the
following ``S:`` block has arrived and compares them; in ``S:`` lines ``<n>`` matches a
number and ``<*>`` any text. Directives: ``@deliver MAILBOX N`` appends N sample messages
through the store (as another session would), ``@plaintext off`` requires TLS for logins,
``@closed`` checks the server closed the connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.testing import StringTransport

from mailstore.maildir.store import MaildirStore
from mailstore.passwords import Password
from mailstore.testing import FakeUsers, sample_message
from protocols.auth import Authenticator
from protocols.imap.server import ImapProtocol, ImapSettings

USER, PASSWORD = "alice", "secret"


class FakeVerifier:
    """alice/secret only."""

    async def verify(self, user: str, password: Password) -> str | None:
        return USER if user == USER and password.reveal() == PASSWORD.encode() else None


class WatchedTransport(StringTransport):
    """A StringTransport that wakes waiters on every write."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: list[Deferred[None]] = []

    def write(self, data: bytes) -> None:
        super().write(data)
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def loseConnection(self) -> None:
        super().loseConnection()
        self.write(b"")


@dataclass
class Step:
    kind: str
    lines: list[str] = field(default_factory=list)


def parse_transcript(text: str) -> list[Step]:
    steps: list[Step] = []
    for raw in text.splitlines():
        if not raw or raw.startswith("#"):
            continue
        if raw.startswith("@"):
            steps.append(Step("@", [raw[1:]]))
            continue
        kind, _, line = raw.partition(": ")
        if raw in ("S:", "C:"):
            kind, line = raw[0], ""
        if kind not in ("C", "S"):
            raise ValueError(f"bad transcript line {raw!r}")
        if steps and steps[-1].kind == kind:
            steps[-1].lines.append(line)
        else:
            steps.append(Step(kind, [line]))
    return steps


def _pattern(line: str) -> re.Pattern[str]:
    parts = re.split(r"(<n>|<\*>)", line)
    out = "".join(r"\d+" if p == "<n>" else ".*" if p == "<*>" else re.escape(p) for p in parts)
    return re.compile(out + r"\Z")


class Runner:
    def __init__(self, root: Path) -> None:
        self.users = FakeUsers(root / "home")
        self.store = MaildirStore(self.users, root / "spool")
        self.auth = Authenticator(FakeVerifier(), clock=reactor, base_delay=0.0, max_delay=0.0)
        self.transport = WatchedTransport()
        self.received: list[str] = []
        self.pending = b""
        self.delivered = 0
        self.protocol: ImapProtocol | None = None

    def start(self, plaintext: bool) -> None:
        settings = ImapSettings(allow_plaintext_auth=plaintext, stream_literal_at=4096)
        self.protocol = ImapProtocol(self.store, self.auth, None, settings, clock=reactor)
        self.protocol.makeConnection(self.transport)

    def _collect(self) -> None:
        data = self.pending + self.transport.value()
        self.transport.clear()
        *lines, self.pending = data.split(b"\r\n")
        self.received += [line.decode("utf-8", "replace") for line in lines]

    async def _wait_lines(self, count: int) -> None:
        self._collect()
        while len(self.received) < count:
            if self.transport.disconnecting and not self.transport.value():
                break
            waiter: Deferred[None] = Deferred()
            self.transport.waiters.append(waiter)
            waiter.addTimeout(10, reactor)
            await waiter
            self._collect()

    async def run(self, steps: list[Step]) -> None:
        plaintext = not any(s.kind == "@" and s.lines[0] == "plaintext off" for s in steps)
        self.start(plaintext)
        for step in steps:
            if step.kind == "C":
                for line in step.lines:
                    assert self.protocol is not None
                    self.protocol.dataReceived(line.encode() + b"\r\n")
            elif step.kind == "S":
                try:
                    await self._wait_lines(len(step.lines))
                except TimeoutError:
                    raise AssertionError(
                        f"timeout: want {step.lines!r}, have {self.received!r}"
                    ) from None
                got, self.received = (
                    self.received[: len(step.lines)],
                    self.received[len(step.lines) :],
                )
                for want, have in zip(step.lines, got, strict=False):
                    assert _pattern(want).match(have), f"expected {want!r}, got {have!r}"
                assert len(got) == len(step.lines), f"missing lines after {got!r}"
            else:
                await self._directive(step.lines[0])
        self._collect()
        assert not self.received, f"unexpected lines {self.received!r}"
        assert self.protocol is not None
        self.protocol.connectionLost(None)
        await self.store.close()

    async def _directive(self, text: str) -> None:
        words = text.split()
        if words[0] == "deliver":
            account = await self.store.account(USER)
            box = await account.open_mailbox(words[1])
            for _ in range(int(words[2])):
                self.delivered += 1
                await box.append(sample_message(self.delivered))
        elif words[0] == "closed":
            assert self.transport.disconnecting
        elif words[0] != "plaintext":
            raise ValueError(f"unknown directive {text!r}")


async def replay(root: Path, text: str) -> Any:
    await Runner(root).run(parse_transcript(text))
