"""The maildrop lock: one POP3 session per user at a time (RFC 1939 section 8, RFC 2449 8.1.1).

RFC 1939 asks the server to lock the maildrop for the whole TRANSACTION state so that message
numbers stay valid; a second session is refused with ``-ERR [IN-USE]``. The lock is kept in
memory, per store object: every POP3 listener of one process (plain and implicit TLS) shares
it. It does not lock across processes (the store API offers no lock primitive): a second
mailstack process on the same Maildir, or Dovecot, is not excluded. IMAP sessions are not
excluded either: the maildrop is a snapshot, and UPDATE expunges only what was marked.
"""

from __future__ import annotations

import weakref

__all__ = ["LockToken", "MaildropLocks", "locks_for"]


class LockToken:
    """Proof of holding one user's maildrop lock; release it with ``MaildropLocks.release``."""

    __slots__ = ("user",)

    def __init__(self, user: str) -> None:
        self.user = user

    def __repr__(self) -> str:
        return f"LockToken({self.user!r})"


class MaildropLocks:
    """In-process registry of locked maildrops, keyed by canonical user name."""

    def __init__(self) -> None:
        self._held: dict[str, LockToken] = {}

    def acquire(self, user: str) -> LockToken | None:
        """Lock ``user``'s maildrop; None when another session holds it."""
        if user in self._held:
            return None
        token = LockToken(user)
        self._held[user] = token
        return token

    def release(self, token: LockToken) -> None:
        """Release a lock; a stale token (already released) is ignored."""
        if self._held.get(token.user) is token:
            del self._held[token.user]

    def held(self, user: str) -> bool:
        """Whether a session holds ``user``'s maildrop."""
        return user in self._held


_BY_STORE: weakref.WeakKeyDictionary[object, MaildropLocks] = weakref.WeakKeyDictionary()
_FALLBACK = MaildropLocks()


def locks_for(store: object) -> MaildropLocks:
    """The registry shared by every POP3 factory serving ``store``."""
    try:
        registry = _BY_STORE.get(store)
        if registry is None:
            registry = _BY_STORE[store] = MaildropLocks()
    except TypeError:  # not weak-referenceable: one registry for all such stores
        return _FALLBACK
    return registry
