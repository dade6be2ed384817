"""Commands pipelined behind LOGIN, big literals and long pipelines (RFC 3501 5.5, 7888).

``a LOGIN`` followed in the same write by ``b APPEND INBOX {N+}`` and a 1 MiB literal used to
answer ``b NO [SERVERBUG]``: every streamed literal chunk completed synchronously and the
event pump recursed once per chunk until the stack overflowed. A synchronising ``{N}`` behind
a pipelined LOGIN was refused ``[TOOBIG]``: the ``+`` was decided before the LOGIN ran, with
the pre-authentication literal limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailstore.types import INBOX
from protocols.imap.server import ImapSettings
from tests.protocols.imap.imap_transcript import USER
from tests.protocols.imap.live_session import LiveSession

MIB = 1024 * 1024
SETTINGS = ImapSettings(allow_plaintext_auth=True)
"""Defaults: literals from 256 KiB on are streamed to the spool, 8 KiB limit before login."""


def big_message(size: int) -> bytes:
    line = b"All work and no play makes Jack a dull boy, all work and no play.\r\n"
    head = b"From: bob@example.org\r\nSubject: big\r\n\r\n"
    return (head + line * (size // len(line) + 1))[:size]


async def stored(live: LiveSession) -> list[bytes]:
    account = await live.store.account(USER)
    box = await account.open_mailbox(INBOX)
    return [await box.read(m.uid) for m in (await box.snapshot()).messages]


def pieces(wire: bytes, size: int) -> list[bytes]:
    return [wire[i : i + size] for i in range(0, len(wire), size)]


@pytest.mark.parametrize("piece", [None, 16 * 1024, 1024])
def test_login_and_big_nonsync_append_in_one_go(
    tmp_path: Path, reactor_thread: Any, piece: int | None
) -> None:
    message = big_message(MIB)
    wire = b"a LOGIN alice secret\r\nb APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n"

    async def go() -> None:
        live = LiveSession(tmp_path, SETTINGS)
        await live.until("*")
        # A StringTransport ignores pauseProducing: every piece is framed and queued at once.
        for data in [wire] if piece is None else pieces(wire, piece):
            live.send(data)
        assert (await live.until("a"))[-1].startswith("a OK [CAPABILITY ")
        answer = await live.until("b")
        assert answer[-1].startswith("b OK [APPENDUID "), answer
        assert await stored(live) == [message]
        await live.close()

    reactor_thread.run(go)


def test_sync_literal_behind_a_pipelined_login_gets_its_continuation(
    tmp_path: Path, reactor_thread: Any
) -> None:
    message = big_message(MIB)

    async def go() -> None:
        live = LiveSession(tmp_path, SETTINGS)
        await live.until("*")
        live.send(b"a LOGIN alice secret\r\nb APPEND INBOX {%d}\r\n" % len(message))
        assert (await live.until("a"))[-1].startswith("a OK ")
        assert await live.until("+") == ["+ Ready for literal data"]
        for data in pieces(message + b"\r\n", 8 * 1024):
            live.send(data)
        answer = await live.until("b")
        assert answer[-1].startswith("b OK [APPENDUID "), answer
        assert await stored(live) == [message]
        await live.close()

    reactor_thread.run(go)


def test_sync_literal_behind_a_failed_login_is_still_refused(
    tmp_path: Path, reactor_thread: Any
) -> None:
    async def go() -> None:
        live = LiveSession(tmp_path, SETTINGS)
        await live.until("*")
        live.send(b"a LOGIN alice wrong\r\nb APPEND INBOX {%d}\r\n" % MIB)
        assert (await live.until("a"))[-1].startswith("a NO [AUTHENTICATIONFAILED]")
        assert await live.until("b") == ["b NO [TOOBIG] Literal too large"]
        live.send(b"c NOOP\r\n")
        assert await live.until("c") == ["c OK NOOP completed"]
        assert await stored(live) == []
        await live.close()

    reactor_thread.run(go)


def test_nonsync_literal_before_login_is_dropped_and_the_session_goes_on(
    tmp_path: Path, reactor_thread: Any
) -> None:
    message = big_message(MIB)

    async def go() -> None:
        live = LiveSession(tmp_path, SETTINGS)
        await live.until("*")
        live.send(b"b APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\nc NOOP\r\n")
        assert (await live.until("b"))[-1].startswith("b BAD ")
        assert await live.until("c") == ["c OK NOOP completed"]
        await live.login(greeting=False)
        assert await stored(live) == []
        await live.close()

    reactor_thread.run(go)


def test_thousands_of_pipelined_commands_in_one_write(tmp_path: Path, reactor_thread: Any) -> None:
    count = 3000

    async def go() -> None:
        live = LiveSession(tmp_path, SETTINGS)
        await live.login()
        live.send(b"".join(b"n%d NOOP\r\n" % i for i in range(count)))
        answers = await live.until(f"n{count - 1}")
        assert answers == [f"n{i} OK NOOP completed" for i in range(count)]
        await live.close()

    reactor_thread.run(go)
