"""Delivery-time filtering over the real Maildir store (sieve.filter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailstore.maildir.store import MaildirStore
from mailstore.types import QuotaLimits
from sieve import SieveEnvelope
from sieve.filter import FileTarget, FilterDecision, SieveFilter
from sieve.storage import SieveStorage

MESSAGE = (
    b"From: boss@example.com\r\nTo: alice@example.org\r\nSubject: [list] hello\r\n"
    b"Message-ID: <1@example.com>\r\n\r\nbody\r\n"
)
ENVELOPE = SieveEnvelope("boss@example.com", "alice@example.org")


class Users:
    def __init__(self, root: Path) -> None:
        self.root = root

    def home(self, user: str) -> Path:
        return self.root / user

    def quota_limits(self, user: str) -> QuotaLimits:
        return QuotaLimits()


def decide(reactor_thread: Any, tmp_path: Path, script: bytes | None) -> FilterDecision:
    users = Users(tmp_path / "homes")
    home = users.home("alice")
    if script is not None:
        storage = SieveStorage(home)
        storage.put("main", script)
        storage.activate("main")
    sieve_filter = SieveFilter()

    async def run() -> FilterDecision:
        store = MaildirStore(users, tmp_path / "spool")
        account = await store.account("alice")
        await account.create_mailbox("Lists")
        try:
            return await sieve_filter.decide(
                user="alice",
                home=home,
                account=account,
                message=MESSAGE,
                envelope=ENVELOPE,
                user_addresses=("alice@example.org",),
            )
        finally:
            await store.close()

    result: FilterDecision = reactor_thread.run(run)
    return result


def test_no_script_is_implicit_keep(reactor_thread: Any, tmp_path: Path) -> None:
    assert decide(reactor_thread, tmp_path, None) == FilterDecision()


def test_fileinto_with_flags(reactor_thread: Any, tmp_path: Path) -> None:
    script = (
        b'require ["fileinto", "imap4flags", "mailbox"];\r\n'
        b'if allof (header :contains "subject" "[list]", mailboxexists "Lists") {\r\n'
        b'  fileinto :flags "\\\\Seen" "Lists"; stop;\r\n}\r\n'
    )
    decision = decide(reactor_thread, tmp_path, script)
    assert decision.targets == (FileTarget("Lists", ("\\Seen",)),)


def test_redirect_vacation_reject(reactor_thread: Any, tmp_path: Path) -> None:
    decision = decide(reactor_thread, tmp_path, b'redirect "other@example.net";')
    assert decision.redirects == ("other@example.net",) and decision.targets == ()
    decision = decide(
        reactor_thread, tmp_path / "b", b'require "vacation"; vacation :days 1 "away";'
    )
    assert len(decision.vacations) == 1 and decision.targets == (FileTarget("INBOX"),)
    decision = decide(reactor_thread, tmp_path / "c", b'require "ereject"; ereject "no";')
    assert decision.reject == "no" and decision.ereject and decision.targets == ()


def test_discard(reactor_thread: Any, tmp_path: Path) -> None:
    assert decide(reactor_thread, tmp_path, b"discard;").targets == ()


def test_broken_script_is_implicit_keep(reactor_thread: Any, tmp_path: Path) -> None:
    home = tmp_path / "homes" / "alice"
    (home / "sieve").mkdir(parents=True)
    (home / ".dovecot.sieve").write_bytes(b"this is not sieve")
    decision = decide(reactor_thread, tmp_path, None)
    assert decision.failed and decision.targets == (FileTarget("INBOX"),)
