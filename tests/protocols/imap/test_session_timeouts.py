"""Pre-authentication and autologout timers (RFC 3501 5.4; IDLE, RFC 2177 3), driven by a
``task.Clock`` the test advances: the server says ``* BYE`` and closes, never earlier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.task import Clock

from mailstore.testing import sample_message
from protocols.imap.server import ImapSettings
from tests.protocols.imap.live_session import LiveSession

MINUTE = 60.0
SETTINGS = ImapSettings(allow_plaintext_auth=True, preauth_timeout=MINUTE, idle_timeout=30 * MINUTE)


def _closed_with_bye(live: LiveSession, text: str) -> None:
    lines = live.drain()
    assert lines == [f"* BYE {text}"], lines
    assert live.transport.disconnecting


def test_defaults_honour_rfc3501_autologout() -> None:
    """RFC 3501 5.4: the autologout timer is at least 30 minutes."""
    settings = ImapSettings()
    assert settings.idle_timeout >= 30 * MINUTE
    assert 0 < settings.preauth_timeout <= settings.idle_timeout


def test_preauth_timeout_is_not_extended_by_traffic(tmp_path: Path, reactor_thread: Any) -> None:
    async def go() -> None:
        clock = Clock()
        live = LiveSession(tmp_path, SETTINGS, clock)
        await live.until("*")
        clock.advance(MINUTE - 1)
        live.send(b"a CAPABILITY\r\n")
        assert (await live.until("a"))[-1] == "a OK CAPABILITY completed"
        assert not live.transport.disconnecting
        clock.advance(1)
        _closed_with_bye(live, "Login timeout")
        assert clock.getDelayedCalls() == []
        await live.close()

    reactor_thread.run(go)


def test_login_switches_to_the_autologout_timer(tmp_path: Path, reactor_thread: Any) -> None:
    async def go() -> None:
        clock = Clock()
        live = LiveSession(tmp_path, SETTINGS, clock)
        clock.advance(MINUTE / 2)
        await live.login()
        clock.advance(30 * MINUTE - 1)  # well past the pre-auth limit: still logged in
        assert live.drain() == [] and not live.transport.disconnecting
        clock.advance(1)
        _closed_with_bye(live, "Autologout; idle for too long")
        await live.close()

    reactor_thread.run(go)


def test_client_traffic_restarts_the_autologout_timer(tmp_path: Path, reactor_thread: Any) -> None:
    async def go() -> None:
        clock = Clock()
        live = LiveSession(tmp_path, SETTINGS, clock)
        await live.login()
        for n in range(3):
            clock.advance(20 * MINUTE)
            live.send(b"n%d NOOP\r\n" % n)
            assert (await live.until(f"n{n}"))[-1] == f"n{n} OK NOOP completed"
        clock.advance(30 * MINUTE - 1)
        assert not live.transport.disconnecting
        clock.advance(1)
        _closed_with_bye(live, "Autologout; idle for too long")
        await live.close()

    reactor_thread.run(go)


def test_idle_is_logged_out_after_the_same_limit(tmp_path: Path, reactor_thread: Any) -> None:
    """RFC 2177 3: an IDLE counts as inactivity; updates the server pushes do not reset the
    timer (clients re-issue IDLE every 29 minutes), a DONE from the client does."""

    async def go() -> None:
        clock = Clock()
        live = LiveSession(tmp_path, SETTINGS, clock)
        await live.login()
        live.send(b"s SELECT INBOX\r\n")
        await live.until("s")
        live.send(b"i1 IDLE\r\n")
        assert await live.until("+") == ["+ idling"]
        clock.advance(29 * MINUTE)
        live.send(b"DONE\r\n")
        assert (await live.until("i1"))[-1] == "i1 OK IDLE terminated"
        live.send(b"i2 IDLE\r\n")
        await live.until("+")
        clock.advance(15 * MINUTE)
        await live.append(sample_message(1))
        assert await live.until("*") == ["* 1 EXISTS"]
        clock.advance(15 * MINUTE - 1)
        assert not live.transport.disconnecting
        clock.advance(1)
        lines = live.drain()
        assert lines[-1] == "* BYE Autologout; idle for too long", lines
        assert live.transport.disconnecting
        await live.close()

    reactor_thread.run(go)


def test_connection_lost_cancels_the_timer(tmp_path: Path, reactor_thread: Any) -> None:
    async def go() -> None:
        clock = Clock()
        live = LiveSession(tmp_path, SETTINGS, clock)
        await live.login()
        assert len(clock.getDelayedCalls()) == 1
        await live.close()
        assert clock.getDelayedCalls() == []

    reactor_thread.run(go)
