"""The account directory: users from a Dovecot passwd-file, aliases, ``+detail``, quota limits.

``AccountDirectory`` implements ``mailstore.api.UserDirectory`` for the store, ``verify``
for SASL logins (RFC 4616 PLAIN, LOGIN) and ``resolve`` for LMTP recipients (RFC 2033,
RFC 5233 subaddresses). Both files are re-read when they change: every lookup compares
their (mtime_ns, size, inode) with what was last read, so ``mailstack-admin`` edits and a
hand-edited file take effect without a restart (``resolve_recent``, for LMTP on the reactor
thread, trusts a check made less than a second ago). A missing aliases file means no aliases;
a missing passwd file means no users (logged once). A file that cannot be read keeps the
last good contents.

User names are looked up case-insensitively; the canonical name is the one in the file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from twisted.logger import Logger

from mailstore.aliases import AliasTable, Recipient, parse_aliases, resolve_address
from mailstore.blocking import run_hashing
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.passwd_edit import atomic_edit
from mailstore.passwd_file import (
    UNLIMITED,
    LineIssue,
    PasswdFile,
    UserRecord,
    check_user_name,
    format_user_line,
    parse_passwd,
    replace_password_field,
    user_name_of,
)
from mailstore.passwords import DUMMY_HASH, Password, hash_password, verify_password
from mailstore.types import QuotaLimits

__all__ = ["AccountDirectory", "Recipient", "UserRecord"]

log = Logger(namespace="mailstore.accounts")

T = TypeVar("T")
_Signature = tuple[int, int, int]
RECHECK_SECONDS = 1.0
"""How long a check of the files stays good for ``AccountDirectory.resolve_recent``."""


@dataclass(slots=True)
class _WatchedFile(Generic[T]):
    """A file parsed again whenever its (mtime_ns, size, inode) changes."""

    path: Path
    parse: Callable[[bytes], T]
    empty: T
    what: str
    value: T
    signature: _Signature | None = None
    missing_logged: bool = False
    checked_at: float | None = None
    """``time.monotonic()`` of the last check against the file (None: never checked)."""

    def recent(self, now: float) -> T | None:
        """The value if the file was checked less than ``RECHECK_SECONDS`` ago, else None."""
        checked = self.checked_at
        if checked is None or not 0 <= now - checked < RECHECK_SECONDS:
            return None
        return self.value

    def current(self) -> T:
        self.checked_at = time.monotonic()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self.signature is not None or not self.missing_logged:
                log.info("{what} {path} does not exist", what=self.what, path=str(self.path))
            self.signature, self.value, self.missing_logged = None, self.empty, True
            return self.value
        except OSError as exc:
            log.error("cannot stat {what} {path}: {error}", what=self.what,
                      path=str(self.path), error=exc.strerror)
            return self.value
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature != self.signature:
            self._load(signature)
        return self.value

    def _load(self, signature: _Signature) -> None:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            log.error("cannot read {what} {path}: {error}", what=self.what,
                      path=str(self.path), error=exc.strerror)
            return
        self.value = self.parse(data)
        self.signature, self.missing_logged = signature, False
        log.info("loaded {what} {path}", what=self.what, path=str(self.path))


def _log_issues(what: str, path: Path, issues: tuple[LineIssue, ...]) -> None:
    for issue in issues:
        log.warn("{what} {path} line {line}: {reason}", what=what, path=str(path),
                 line=issue.line, reason=issue.reason)


class AccountDirectory:
    """Users, aliases and quota limits from a passwd-file and an aliases file."""

    def __init__(
        self,
        passwd_file: Path,
        aliases_file: Path,
        *,
        mail_root: Path,
        recipient_delimiter: str = "+",
        default_quota: QuotaLimits = UNLIMITED,
    ) -> None:
        self.passwd_file = passwd_file
        self.aliases_file = aliases_file
        self.mail_root = mail_root
        self.recipient_delimiter = recipient_delimiter
        self.default_quota = default_quota
        self._lock = threading.Lock()
        self._passwd: _WatchedFile[tuple[PasswdFile, dict[str, UserRecord]]] = _WatchedFile(
            passwd_file, self._parse_passwd, (PasswdFile((), ()), {}), "passwd file",
            (PasswdFile((), ()), {}),
        )
        self._aliases: _WatchedFile[AliasTable] = _WatchedFile(
            aliases_file, self._parse_aliases, AliasTable(), "aliases file", AliasTable()
        )

    # --- reading ---------------------------------------------------------------------------

    def _parse_passwd(self, data: bytes) -> tuple[PasswdFile, dict[str, UserRecord]]:
        parsed = parse_passwd(data, self.default_quota)
        _log_issues("passwd file", self.passwd_file, parsed.issues)
        return parsed, {user.name.lower(): user for user in parsed.users}

    def _parse_aliases(self, data: bytes) -> AliasTable:
        table = parse_aliases(data)
        _log_issues("aliases file", self.aliases_file, table.issues)
        return table

    def _users(self) -> tuple[PasswdFile, dict[str, UserRecord]]:
        with self._lock:
            return self._passwd.current()

    def lookup(self, user: str) -> UserRecord | None:
        """The account named ``user`` (case-insensitive), or None."""
        return self._users()[1].get(user.lower())

    def users(self) -> list[str]:
        """Canonical names of every account, in file order."""
        return [user.name for user in self._users()[0].users]

    def _find_user(self, users: dict[str, UserRecord], address: str) -> UserRecord | None:
        key = address.lower()
        if key in users:
            return users[key]
        local, at, _ = key.rpartition("@")
        record = users.get(local) if at else None
        if record is not None and "@" not in record.name:
            return record
        return None

    def resolve(self, address: str) -> list[Recipient]:
        """Local recipients of an envelope address (aliases, ``+detail``); [] if unknown."""
        users = self._users()[1]
        with self._lock:
            table = self._aliases.current()
        return self._resolve_in(users, table, address)

    def _resolve_in(
        self, users: dict[str, UserRecord], table: AliasTable, address: str
    ) -> list[Recipient]:
        return resolve_address(
            address, table, lambda form: self._find_user(users, form), self.recipient_delimiter
        )

    def _limits_in(self, users: dict[str, UserRecord], user: str) -> QuotaLimits:
        record = users.get(user.lower())
        return record.quota if record is not None else self.default_quota

    def resolve_recent(self, address: str) -> tuple[list[Recipient], list[QuotaLimits]] | None:
        """``resolve`` and each recipient's quota limits without touching the disk: from
        the files as checked less than ``RECHECK_SECONDS`` ago; None when a check is due
        (or another thread is reloading), and the caller must use ``resolve`` in a thread.

        For the LMTP server's RCPT, so that a busy server checks its files about once a
        second rather than going to the thread pool for every recipient.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            now = time.monotonic()
            passwd, table = self._passwd.recent(now), self._aliases.recent(now)
        finally:
            self._lock.release()
        if passwd is None or table is None:
            return None
        users = passwd[1]
        recipients = self._resolve_in(users, table, address)
        return recipients, [self._limits_in(users, r.user) for r in recipients]

    async def verify(self, user: str, password: Password) -> str | None:
        """The canonical name if ``password`` is right for ``user``, else None.

        The hash check runs in the thread pool; an unknown user (or one without a password)
        costs one bcrypt verify too, so timing does not tell which users exist.
        """
        record = self.lookup(user) if check_user_name(user) is None else None
        stored = record.password_hash if record is not None and record.password_hash else None
        ok = await run_hashing(verify_password, password, stored or DUMMY_HASH)
        if record is None:
            log.info("login failed: unknown user {user!r}", user=user)
            return None
        if stored is None or not ok:
            log.info("login failed: wrong password for {user!r}", user=record.name)
            return None
        return record.name

    def home(self, user: str) -> Path:
        """The passwd home field if set, else ``mail_root / canonical name``."""
        record = self.lookup(user)
        if record is None:
            raise StoreError(StoreErrorKind.NOT_FOUND, f"no such user {user!r}")
        return Path(record.home) if record.home else self.mail_root / record.name

    def quota_limits(self, user: str) -> QuotaLimits:
        """The user's limits from the passwd-file, else the default."""
        return self._limits_in(self._users()[1], user)

    # --- editing (mailstack-admin) ---------------------------------------------------------

    def add_user(
        self,
        user: str,
        password: Password,
        quota: QuotaLimits | None = None,
        *,
        rounds: int | None = None,
    ) -> None:
        """Append a user (BLF-CRYPT hash). ``ValueError`` if the name is invalid or taken."""
        reason = check_user_name(user)
        if reason is not None:
            raise ValueError(f"invalid user name {user!r}: {reason}")
        line = format_user_line(user, hash_password(password, rounds=rounds), quota)

        def change(lines: list[bytes]) -> list[bytes]:
            if any(user_name_of(raw) == user.lower() for raw in lines):
                raise ValueError(f"user {user!r} already exists")
            if lines and not lines[-1].endswith(b"\n"):
                lines[-1] += b"\n"
            return [*lines, line]

        atomic_edit(self.passwd_file, change)
        log.info("user {user!r} added", user=user)

    def set_password(
        self, user: str, password: Password, *, rounds: int | None = None
    ) -> None:
        """Replace the user's password hash; the rest of the line is kept. ``ValueError``."""
        password_hash = hash_password(password, rounds=rounds)
        self._edit_user_line(user, lambda raw: [replace_password_field(raw, password_hash)])
        log.info("password of {user!r} changed", user=user)

    def delete_user(self, user: str) -> None:
        """Remove the user's line (mail on disk is left alone). ``ValueError`` if unknown."""
        self._edit_user_line(user, lambda raw: [])
        log.info("user {user!r} deleted", user=user)

    def _edit_user_line(self, user: str, edit: Callable[[bytes], list[bytes]]) -> None:
        key = user.lower()

        def change(lines: list[bytes]) -> list[bytes]:
            for index, raw in enumerate(lines):
                if user_name_of(raw) == key:
                    return lines[:index] + edit(raw) + lines[index + 1 :]
            raise ValueError(f"no such user {user!r}")

        if not self.passwd_file.exists():
            raise ValueError(f"no such user {user!r}")
        atomic_edit(self.passwd_file, change)
