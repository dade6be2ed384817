"""Replay ``transcripts/*.txt`` through Pop3Protocol over a StringTransport.

Format: ``C: text`` is sent with CRLF appended, ``C~ text`` as is; both take ``\\r``,
``\\n``, ``\\xHH`` escapes. Consecutive client lines go in ONE write (pipelining); a block
of ``S:`` lines must equal everything the server wrote meanwhile. Directives: ``!settings
k=v ...`` (Pop3Settings), ``!implicit-tls`` and ``!no-tls`` (first lines: a listener with
implicit TLS / without a TLS context), ``!locked user`` (another session holds the lock),
``!fail op kind`` (store failure: op is snapshot/read/store_flags/expunge/account),
``!verifier-broken``, ``!disconnect``, ``!closed``, ``!open``, ``!tls`` (TLS was started),
``!expunged uids``, ``!seen uids``, ``!flags-untouched``, ``!delete-under-us uid`` (another
program removes a message), ``!expunged-elsewhere uid`` (another session expunges it through
the store, which tells its listeners), ``!read-ahead uids`` (exactly these UIDs are read
ahead), ``!reads uid:start:length ...`` (the store reads since the last ``!reads``),
``!listeners n`` (change-feed subscriptions on INBOX),
``!timeout`` (the idle timer fires), ``!unlocked user``.
``#`` lines are comments.
"""

from __future__ import annotations

import codecs
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from zope.interface import alsoProvides  # type: ignore[import-untyped]

from mailstore.errors import StoreErrorKind
from mailstore.types import SEEN
from protocols.auth import Authenticator
from protocols.pop3 import MaildropLocks, Pop3Settings
from protocols.pop3.server import Pop3Factory

from .fakes import FakeStore, FakeVerifier

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.txt"))


class TlsStringTransport(StringTransport):
    """A StringTransport that can 'start TLS' (it then provides ISSLTransport)."""

    tls_started = False

    def startTLS(self, context: object) -> None:
        self.tls_started = True
        alsoProvides(self, ISSLTransport)


def unescape(text: str) -> bytes:
    return codecs.escape_decode(text.encode("utf-8"))[0]


def parse(path: Path) -> tuple[Pop3Settings, set[str], list[tuple[str, Any]]]:
    settings = Pop3Settings(hostname="pop.test")
    flags: set[str] = set()
    steps: list[tuple[str, Any]] = []
    for raw in path.read_text("utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        kind, text = raw[:2], raw[3:]
        if raw.startswith("!settings"):
            typed: dict[str, Any] = {}
            for item in raw.split()[1:]:
                key, value = item.split("=")
                current = getattr(settings, key)
                typed[key] = value == "true" if isinstance(current, bool) else type(current)(value)
            settings = dataclasses.replace(settings, **typed)
        elif raw in ("!implicit-tls", "!no-tls", "!verifier-broken", "!no-split") or raw.startswith(
            ("!locked", "!fail")
        ):
            flags.add(raw)
        elif raw.startswith("!"):
            words = raw.split()
            steps.append((words[0], words[1:]))
        elif kind in ("C:", "C~"):
            data = unescape(text) + (b"\r\n" if kind == "C:" else b"")
            if steps and steps[-1][0] == "send":
                steps[-1] = ("send", steps[-1][1] + data)
            else:
                steps.append(("send", data))
        elif kind == "S:":
            data = unescape(text) + b"\r\n"
            if steps and steps[-1][0] == "expect":
                steps[-1] = ("expect", steps[-1][1] + data)
            else:
                steps.append(("expect", data))
        else:
            raise ValueError(f"{path.name}: bad line {raw!r}")
    return settings, flags, steps


def uids(words: list[str]) -> list[int]:
    return [int(u) for u in words[0].split(",") if u] if words else []


class Harness:
    def __init__(self, settings: Pop3Settings, flags: set[str]) -> None:
        self.clock = Clock()
        self.store = FakeStore()
        self.verifier = FakeVerifier()
        self.verifier.broken = "!verifier-broken" in flags
        self.locks = MaildropLocks()
        for flag in flags:
            words = flag.split()
            if words[0] == "!locked":
                self.locks.acquire(words[1])
            elif words[0] == "!fail":
                kind = StoreErrorKind(words[2])
                if words[1] == "account":
                    self.store.fail_account = kind
                else:
                    self.store.boxes["alice"].fail[words[1]] = kind
        clock: Any = self.clock
        auth = Authenticator(self.verifier, clock=clock, base_delay=1.0, max_delay=1.0)
        tls = None if "!no-tls" in flags else object()
        store: Any = self.store
        factory = Pop3Factory(store, auth, tls, settings, self.locks, clock=self.clock)
        self.protocol = factory.buildProtocol(None)
        self.transport = TlsStringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 40000))
        if "!implicit-tls" in flags:
            alsoProvides(self.transport, ISSLTransport)
        self.protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)
        self.pump()

    def pump(self) -> None:
        # failed logins wait 1 s (protocols.auth); nothing else in a transcript is timed
        calls: list[Any] = list(self.clock.getDelayedCalls())
        while any(call.getTime() <= self.clock.seconds() + 1.0 for call in calls):
            self.clock.advance(1.0)
            calls = list(self.clock.getDelayedCalls())


def replay(path: Path, split: bool = False) -> tuple[bytes, bytes, Harness]:
    """Run one transcript; returns (expected output, actual output, harness)."""
    settings, flags, steps = parse(path)
    h = Harness(settings, flags)
    box = h.store.boxes["alice"]
    expected = actual = b""
    for kind, value in steps:
        if kind == "send":
            if split:
                for index in range(len(value)):
                    h.send(value[index : index + 1])
            else:
                h.send(value)
        elif kind == "expect":
            expected += value
            got = h.transport.value()
            actual += got
            h.transport.clear()
            if not split:
                assert got.decode("utf-8", "replace").splitlines() == value.decode(
                    "utf-8").splitlines(), path.name
        elif kind == "!disconnect":
            h.transport.loseConnection()
            h.protocol.connectionLost(Failure(ConnectionLost()))
        elif kind == "!timeout":
            h.clock.advance(settings.idle_timeout)
        elif kind == "!closed":
            assert h.transport.disconnecting, path.name
        elif kind == "!open":
            assert not h.transport.disconnecting, path.name
        elif kind == "!tls":
            assert h.transport.tls_started, path.name
        elif kind == "!expunged":
            assert box.expunged == uids(value), path.name
        elif kind == "!seen":
            assert sorted(u for u, f in box.flags.items() if SEEN in f) == uids(value), path.name
        elif kind == "!flags-untouched":
            assert all(not f for f in box.flags.values()), path.name
        elif kind == "!delete-under-us":
            del box.messages[int(value[0])]
        elif kind == "!expunged-elsewhere":
            box.expunge_elsewhere(int(value[0]))
        elif kind == "!read-ahead":
            ahead = h.protocol._ahead
            held = sorted(ahead.uids()) if ahead is not None else []
            assert held == uids(value), path.name
        elif kind == "!listeners":
            assert len(box.listeners) == int(value[0]), path.name
        elif kind == "!reads":
            assert box.reads == [tuple(map(int, r.split(":"))) for r in value], path.name
            box.reads.clear()
        elif kind == "!unlocked":
            assert not h.locks.held(value[0]), path.name
        elif kind == "!locked-now":
            assert h.locks.held(value[0]), path.name
        else:
            raise ValueError(kind)
    actual += h.transport.value()
    return expected, actual, h


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path) -> None:
    expected, actual, _h = replay(path)
    assert actual == expected


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript_byte_at_a_time(path: Path) -> None:
    """Any split of the input gives the same conversation (not where pipelining matters)."""
    if "!no-split" in parse(path)[1]:
        pytest.skip("the transcript depends on what arrives in one write")
    expected, actual, _h = replay(path, split=True)
    assert actual == expected
