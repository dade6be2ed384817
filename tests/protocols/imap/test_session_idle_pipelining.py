"""IDLE (RFC 2177) with DONE, and a command after it, arriving in the same write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protocols.imap.server import ImapSettings
from tests.protocols.imap.live_session import LiveSession

SETTINGS = ImapSettings(allow_plaintext_auth=True)


def test_done_in_the_same_write_as_idle(tmp_path: Path, reactor_thread: Any) -> None:
    async def go() -> None:
        live = LiveSession(tmp_path, SETTINGS)
        await live.login()
        live.send(b"s SELECT INBOX\r\n")
        assert (await live.until("s"))[-1].startswith("s OK ")
        live.send(b"i IDLE\r\nDONE\r\nj NOOP\r\n")
        answer = await live.until("i")
        assert "+ idling" in answer and answer[-1] == "i OK IDLE terminated"
        assert (await live.until("j"))[-1] == "j OK NOOP completed"
        await live.close()

    reactor_thread.run(go)


def test_command_in_the_same_write_as_done(tmp_path: Path, reactor_thread: Any) -> None:
    async def go() -> None:
        live = LiveSession(tmp_path, SETTINGS)
        await live.login()
        live.send(b"s SELECT INBOX\r\n")
        assert (await live.until("s"))[-1].startswith("s OK ")
        live.send(b"k IDLE\r\n")
        assert (await live.until("+")) == ["+ idling"]
        live.send(b"DONE\r\nm NOOP\r\n")
        assert (await live.until("k"))[-1] == "k OK IDLE terminated"
        assert (await live.until("m"))[-1] == "m OK NOOP completed"
        await live.close()

    reactor_thread.run(go)
