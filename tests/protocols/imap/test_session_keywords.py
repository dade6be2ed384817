"""A keyword new to the selected mailbox, set by another session, is announced with
``* FLAGS`` and ``* OK [PERMANENTFLAGS]`` before the FETCH or EXISTS that shows it
(RFC 3501 7.2.6, 7.1). The session's own STORE and APPEND are in
``transcripts/keywords_flags.txt``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailstore.testing import sample_message
from mailstore.types import INBOX, FlagMode
from protocols.imap.selected import SessionToken
from tests.protocols.imap.imap_transcript import USER
from tests.protocols.imap.live_session import LiveSession

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


async def other_store(live: LiveSession, uid: int, *flags: str) -> None:
    account = await live.store.account(USER)
    box = await account.open_mailbox(INBOX)
    await box.store_flags([uid], FlagMode.ADD, flags, origin=SessionToken("other"))


async def selected(live: LiveSession, verb: str = "SELECT") -> list[str]:
    await live.login()
    live.send(b"s " + verb.encode() + b" INBOX\r\n")
    return await live.until("s")


def test_another_sessions_store_announces_the_keyword(tmp_path: Path, reactor_thread: Any) -> None:
    async def go() -> None:
        live = LiveSession(tmp_path)
        await live.append(sample_message(1), ("Old",))
        assert (await selected(live))[0] == f"* FLAGS ({SYSTEM} Old)"
        await other_store(live, 1, "$Important", "\\Seen")
        live.send(b"n1 NOOP\r\n")
        assert await live.until("n1") == [
            f"* FLAGS ({SYSTEM} $Important Old)",
            f"* OK [PERMANENTFLAGS ({SYSTEM} $Important Old \\*)] Flags permitted",
            "* 1 FETCH (UID 1 FLAGS ($Important Old \\Seen \\Recent))",
            "n1 OK NOOP completed",
        ]
        await other_store(live, 1, "\\Flagged", "old")  # known keyword, other case
        live.send(b"n2 NOOP\r\n")
        assert await live.until("n2") == [
            "* 1 FETCH (UID 1 FLAGS ($Important Old \\Flagged \\Seen \\Recent))",
            "n2 OK NOOP completed",
        ]
        await live.close()

    reactor_thread.run(go)


def test_delivery_with_a_keyword_wakes_idle_with_flags_first(
    tmp_path: Path, reactor_thread: Any
) -> None:
    async def go() -> None:
        live = LiveSession(tmp_path)
        await live.append(sample_message(1))
        await selected(live, "EXAMINE")
        live.send(b"i IDLE\r\n")
        assert await live.until("+") == ["+ idling"]
        await live.append(sample_message(2), ("$Junk",))
        assert await live.until("*") == [f"* FLAGS ({SYSTEM} $Junk)"]
        assert await live.until("*") == ["* OK [PERMANENTFLAGS ()] Flags permitted"]
        assert await live.until("*") == ["* 2 EXISTS"]
        live.send(b"DONE\r\n")
        assert (await live.until("i"))[-1] == "i OK IDLE terminated"
        await live.close()

    reactor_thread.run(go)
