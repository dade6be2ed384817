"""Replay ``transcripts/*.txt`` through LmtpProtocol over a StringTransport.

Format: ``C: text`` is sent with CRLF appended; ``C~ text`` is sent as is (no CRLF);
both accept ``\\r``, ``\\n``, ``\\xHH`` escapes. Consecutive client lines are sent in ONE
write (pipelining); a block of ``S:`` lines must then equal everything the server wrote.
``!settings k=v ...`` (first line) changes LmtpSettings; ``!disconnect`` drops the link;
``M: text`` asserts the body of the last delivered message (escapes, CRLF appended unless
``M~``); ``!delivered a,b`` lists the delivered recipients so far; ``!writers open|aborted``
checks the state of every spool writer. ``#`` lines are comments.
"""

from __future__ import annotations

import codecs
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from protocols.lmtp import LmtpProtocol, LmtpSettings

from .fakes import FakeAgent

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.txt"))


def unescape(text: str) -> bytes:
    return codecs.escape_decode(text.encode("utf-8"))[0]


def parse(path: Path) -> tuple[LmtpSettings, list[tuple[str, object]]]:
    settings = LmtpSettings(hostname="mx.test", max_message_size=1000, max_recipients=5,
                            max_line_length=100)
    steps: list[tuple[str, object]] = []
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
        elif raw.startswith("!"):
            steps.append((raw.split()[0], raw.split()[1] if len(raw.split()) > 1 else ""))
        elif kind in ("C:", "C~"):
            data = unescape(text) + (b"\r\n" if kind == "C:" else b"")
            if steps and steps[-1][0] == "send":
                steps[-1] = ("send", steps[-1][1] + data)  # type: ignore[operator]
            else:
                steps.append(("send", data))
        elif kind == "S:":
            data = unescape(text) + b"\r\n"
            if steps and steps[-1][0] == "expect":
                steps[-1] = ("expect", steps[-1][1] + data)  # type: ignore[operator]
            else:
                steps.append(("expect", data))
        elif kind in ("M:", "M~"):
            steps.append(("message", unescape(text) + (b"\r\n" if kind == "M:" else b"")))
        else:
            raise ValueError(f"{path.name}: bad line {raw!r}")
    return settings, steps


def connect(settings: LmtpSettings, agent: FakeAgent):
    clock = Clock()
    ids = iter(f"Q{n}" for n in range(1, 1000))
    protocol = LmtpProtocol(agent, settings, clock=clock, new_id=lambda: next(ids))
    transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 40000))
    protocol.makeConnection(transport)
    return protocol, transport, clock


def replay(path: Path, split: bool = False) -> tuple[bytes, bytes, FakeAgent]:
    """Run one transcript; returns (expected output, actual output, agent)."""
    settings, steps = parse(path)
    agent = FakeAgent()
    protocol, transport, _clock = connect(settings, agent)
    expected = actual = b""
    for kind, value in steps:
        if kind == "send":
            assert isinstance(value, bytes)
            if split:
                for index in range(len(value)):
                    protocol.dataReceived(value[index : index + 1])
            else:
                protocol.dataReceived(value)
        elif kind == "expect":
            assert isinstance(value, bytes)
            expected += value
            got = transport.value()
            actual += got
            transport.clear()
            if not split:
                assert got.decode("utf-8", "replace").splitlines() == value.decode(
                    "utf-8").splitlines(), f"{path.name}"
        elif kind == "!disconnect":
            transport.loseConnection()
            protocol.connectionLost(Failure(ConnectionLost()))
        elif kind == "message":
            assert agent.deliveries, f"{path.name}: nothing delivered"
            assert agent.deliveries[-1].body == value, f"{path.name}"
        elif kind == "!delivered":
            names = [d.address for d in agent.deliveries]
            assert names == [a for a in str(value).split(",") if a], f"{path.name}"
        elif kind == "!writers":
            states = {w.state for w in agent.writers}
            assert states <= {str(value), "finished"} and str(value) in states | {"finished"}
            if value == "aborted":
                assert agent.writers and agent.writers[-1].state == "aborted"
        elif kind == "!closed":
            assert transport.disconnecting
        else:
            raise ValueError(kind)
    actual += transport.value()
    return expected, actual, agent


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path) -> None:
    expected, actual, _agent = replay(path)
    assert actual == expected


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript_byte_at_a_time(path: Path) -> None:
    """Any split of the input gives the same conversation."""
    expected, actual, _agent = replay(path, split=True)
    assert actual == expected
