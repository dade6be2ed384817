"""An in-memory store and password verifier whose calls complete at once (for StringTransport)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.passwords import Password
from mailstore.types import (
    DELETED,
    ChangeEvent,
    ChangeKind,
    FlagMode,
    FlagUpdate,
    MailboxSnapshot,
    MessageInfo,
    StoreFlagsResult,
)

UIDVALIDITY = 1000
PASSWORDS = {"alice": b"secret", "bob": b"hunter2 with spaces"}

#: The INBOX every transcript starts with: uid → message (CRLF line ends).
MESSAGES: dict[int, bytes] = {
    1: b"From: a@example.org\r\nSubject: one\r\n\r\nHello.\r\n",
    3: b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\nline\r\n.\r\nend\r\n",
    4: b"Subject: three\r\n\r\nline 1\r\nline 2\r\nline 3",
}


class FakeMailbox:
    name = "INBOX"

    def __init__(self, messages: dict[int, bytes]) -> None:
        self.messages = dict(messages)
        self.flags: dict[int, set[str]] = {uid: set() for uid in messages}
        self.reads: list[tuple[int, int, int | None]] = []
        self.fail: dict[str, StoreErrorKind] = {}
        self.expunged: list[int] = []
        self.listeners: list[Callable[[ChangeEvent], None]] = []

    def subscribe(self, listener: Callable[[ChangeEvent], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def expunge_elsewhere(self, uid: int) -> None:
        """Another session (IMAP) expunges ``uid``: the change feed says so."""
        del self.messages[uid]
        for listener in list(self.listeners):
            listener(ChangeEvent("alice", "INBOX", ChangeKind.EXPUNGED, (uid,), object()))

    def _maybe_fail(self, op: str) -> None:
        if op in self.fail:
            raise StoreError(self.fail[op], "injected")

    async def snapshot(self, *, claim_recent: bool = False) -> MailboxSnapshot:
        self._maybe_fail("snapshot")
        infos = tuple(
            MessageInfo(uid, frozenset(self.flags[uid]), 1, len(data), 0.0)
            for uid, data in sorted(self.messages.items())
        )
        return MailboxSnapshot("INBOX", UIDVALIDITY, max(self.messages, default=0) + 1, 1, infos)

    async def read(self, uid: int, start: int = 0, length: int | None = None) -> bytes:
        self._maybe_fail("read")
        self.reads.append((uid, start, length))
        if uid not in self.messages:
            raise StoreError(StoreErrorKind.NOT_FOUND, "gone")
        data = self.messages[uid]
        return data[start:] if length is None else data[start : start + length]

    async def read_many(self, ranges: Sequence[tuple[int, int, int | None]]) -> list[bytes | None]:
        self._maybe_fail("read")
        out: list[bytes | None] = []
        for uid, start, length in ranges:
            self.reads.append((uid, start, length))
            data = self.messages.get(uid)
            if data is not None:
                data = data[start:] if length is None else data[start : start + length]
            out.append(data)
        return out

    async def store_flags(self, uids: Sequence[int], mode: FlagMode, flags: Iterable[str],
                          *, unchanged_since: int | None = None,
                          origin: object | None = None) -> StoreFlagsResult:
        self._maybe_fail("store_flags")
        assert mode is FlagMode.ADD
        updated = []
        for uid in uids:
            if uid in self.flags:
                self.flags[uid] |= set(flags)
                updated.append(FlagUpdate(uid, frozenset(self.flags[uid]), 2))
        return StoreFlagsResult(tuple(updated))

    async def expunge(self, uids: Sequence[int] | None = None, *,
                      origin: object | None = None) -> tuple[int, ...]:
        self._maybe_fail("expunge")
        assert uids is not None, "POP3 must expunge only its own UIDs"
        removed = tuple(u for u in uids if u in self.flags and DELETED in self.flags[u])
        for uid in removed:
            del self.messages[uid]
            del self.flags[uid]
        self.expunged.extend(removed)
        return removed


class FakeAccount:
    def __init__(self, user: str, box: FakeMailbox) -> None:
        self.user = user
        self.box = box

    async def open_mailbox(self, name: str) -> FakeMailbox:
        assert name == "INBOX"
        return self.box


class FakeStore:
    def __init__(self, messages: dict[int, bytes] | None = None) -> None:
        self.boxes = {user: FakeMailbox(MESSAGES if messages is None else messages)
                      for user in PASSWORDS}
        self.fail_account: StoreErrorKind | None = None

    async def account(self, user: str) -> Any:
        if self.fail_account is not None:
            raise StoreError(self.fail_account, "injected")
        return FakeAccount(user, self.boxes[user])


class FakeVerifier:
    """Passwords from ``PASSWORDS``; user names are case-insensitive (canonical: lower)."""

    def __init__(self) -> None:
        self.broken = False

    async def verify(self, user: str, password: Password) -> str | None:
        if self.broken:
            raise OSError("directory unreadable")
        canonical = user.lower()
        if PASSWORDS.get(canonical) == password.reveal():
            return canonical
        return None
