"""The login gate every protocol calls: Twisted cred, failure delays and the login log.

A protocol turns its login command (IMAP LOGIN/AUTHENTICATE, POP3 USER+PASS/AUTH,
ManageSieve AUTHENTICATE) into ``protocols.sasl.Credentials`` and awaits
``Authenticator.authenticate``. The check goes through a cred ``Portal`` whose
``PasswordChecker`` asks the account directory (any ``PasswordVerifier``). A failed attempt
is answered only after a delay that doubles with each failure from the same peer address
(RFC 4954 section 4 and RFC 9051 section 11.1 ask servers to slow password guessing), capped,
and forgotten after a quiet period; a success clears the peer's record.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Any, Protocol, cast

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ICredentials, IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import Interface, implementer  # type: ignore[import-untyped]

from mailstore.passwords import Password
from protocols.sasl import Credentials

__all__ = [
    "AuthUnavailableError",
    "AuthenticatedUser",
    "Authenticator",
    "IAuthenticatedUser",
    "MailRealm",
    "PasswordChecker",
    "PasswordVerifier",
    "UsernamePassword",
    "plaintext_allowed",
]

log = Logger()

_MAX_PEERS = 65536
_LOG_FIELD = 128


class PasswordVerifier(Protocol):
    """The account directory's password check."""

    async def verify(self, user: str, password: Password) -> str | None:
        """Return the canonical user name if ``password`` is right for ``user``, else None."""
        ...


class AuthUnavailableError(Exception):
    """The account directory failed (not a wrong password): answer with a temporary failure."""


class IAuthenticatedUser(Interface):  # type: ignore[misc]
    """Marker interface for the avatar of a logged-in mail user."""


@implementer(IAuthenticatedUser)
@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    """The cred avatar: the canonical name of the user who logged in."""

    name: str


@implementer(IUsernamePassword)
class UsernamePassword:
    """``IUsernamePassword`` credentials that keep the password wrapped (redacted repr)."""

    def __init__(self, username: str, password: Password) -> None:
        self.username = username.encode("utf-8")
        self.user = username
        self.password = password

    def checkPassword(self, password: bytes) -> bool:
        """Constant-time comparison with a plaintext password (cred API; not used by us)."""
        return hmac.compare_digest(self.password.reveal(), password)

    def __repr__(self) -> str:
        return f"UsernamePassword({self.user!r}, {self.password!r})"


@implementer(ICredentialsChecker)
class PasswordChecker:
    """Cred checker for ``IUsernamePassword`` backed by a ``PasswordVerifier``.

    The avatar id is the canonical user name, UTF-8 encoded (cred avatar ids are bytes).
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, verifier: PasswordVerifier) -> None:
        self._verifier = verifier

    def requestAvatarId(self, credentials: Any) -> Deferred[bytes]:
        """Ask the verifier; fail with ``UnauthorizedLogin`` when it says no."""
        return Deferred.fromCoroutine(self._check(credentials))

    async def _check(self, credentials: Any) -> bytes:
        if isinstance(credentials, UsernamePassword):
            user, password = credentials.user, credentials.password
        else:
            user = _as_text(credentials.username)
            raw = credentials.password
            password = raw if isinstance(raw, Password) else Password(_as_bytes(raw))
        canonical = await self._verifier.verify(user, password)
        if canonical is None:
            raise UnauthorizedLogin()
        return canonical.encode("utf-8")


def _as_text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


@implementer(IRealm)
class MailRealm:
    """Trivial realm: the avatar is an ``AuthenticatedUser`` named by the avatar id."""

    def requestAvatar(
        self, avatarId: Any, mind: object, *interfaces: Any
    ) -> tuple[Any, AuthenticatedUser, Any]:
        """Return ``(IAuthenticatedUser, AuthenticatedUser(name), logout)``."""
        if IAuthenticatedUser not in interfaces:
            raise NotImplementedError("only IAuthenticatedUser avatars")
        return IAuthenticatedUser, AuthenticatedUser(_as_text(avatarId)), _no_logout


def _no_logout() -> None:
    return None


class _Clock(Protocol):
    def seconds(self) -> float: ...


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class Authenticator:
    """Check credentials through the cred ``Portal`` and slow down repeated failures.

    The n-th consecutive failure from one peer address waits ``base_delay * 2**(n-1)``
    seconds, at most ``max_delay``, before ``authenticate`` returns None. A peer's count is
    forgotten ``quiet_period`` seconds after its last failure, and cleared by a success.
    IPv6 peers are counted per /64, since one host usually owns the whole prefix.
    """

    def __init__(
        self,
        verifier: PasswordVerifier,
        *,
        clock: IReactorTime | None = None,
        base_delay: float = 2.0,
        max_delay: float = 15.0,
        quiet_period: float = 600.0,
    ) -> None:
        if clock is None:
            # Imported here, not at module level: importing the reactor installs it.
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self._clock = clock
        self._now = cast(_Clock, clock).seconds
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._quiet_period = quiet_period
        self._failures: dict[str, _Failures] = {}
        self.portal = Portal(
            cast(IRealm, MailRealm()), [cast(ICredentialsChecker, PasswordChecker(verifier))]
        )

    async def authenticate(
        self, credentials: Credentials, *, peer: str, protocol: str
    ) -> str | None:
        """Return the canonical user name, or None after the failure delay.

        ``peer`` is the client's address (``transport.getPeer().host``; a trailing port is
        ignored); ``protocol`` names the protocol for the log. Raises
        ``AuthUnavailableError`` if the account directory itself fails.
        """
        key = _peer_key(peer)
        user = _loggable(credentials.authcid)
        try:
            _iface, avatar, _logout = await self.portal.login(
                cast(ICredentials, UsernamePassword(credentials.authcid, credentials.password)),
                None,
                IAuthenticatedUser,
            )
        except UnauthorizedLogin:
            delay = self._record_failure(key)
            log.info(
                "login failed user={user} peer={peer} protocol={protocol} "
                "reason={reason} delay={delay}",
                user=user,
                peer=_loggable(peer),
                protocol=protocol,
                reason="bad credentials",
                delay=delay,
            )
            await task.deferLater(self._clock, delay, _no_logout)
            return None
        except Exception as exc:
            log.failure(
                "login failed user={user} peer={peer} protocol={protocol} reason=internal error",
                user=user,
                peer=_loggable(peer),
                protocol=protocol,
            )
            raise AuthUnavailableError("account directory failed") from exc
        self._failures.pop(key, None)
        name = cast(AuthenticatedUser, avatar).name
        log.info(
            "login ok user={user} peer={peer} protocol={protocol}",
            user=_loggable(name),
            peer=_loggable(peer),
            protocol=protocol,
        )
        return name

    def _record_failure(self, key: str) -> float:
        now = self._now()
        entry = self._failures.pop(key, None)
        if entry is None or now - entry.last > self._quiet_period:
            entry = _Failures(0, now)
        entry.count += 1
        entry.last = now
        self._failures[key] = entry  # re-inserted: dict order is least recently failed first
        if len(self._failures) > _MAX_PEERS:
            self._prune(now)
        delay: float = min(self._base_delay * 2.0 ** min(entry.count - 1, 32), self._max_delay)
        return delay

    def _prune(self, now: float) -> None:
        stale = [k for k, v in self._failures.items() if now - v.last > self._quiet_period]
        for k in stale:
            del self._failures[k]
        while len(self._failures) > _MAX_PEERS:
            del self._failures[next(iter(self._failures))]

    def failure_count(self, peer: str) -> int:
        """Failures currently counted against ``peer`` (for tests and diagnostics)."""
        entry = self._failures.get(_peer_key(peer))
        if entry is None or self._now() - entry.last > self._quiet_period:
            return 0
        return entry.count


def _peer_key(peer: str) -> str:
    """The address a failure is counted against: the IP, IPv6 reduced to its /64."""
    candidates = [peer]
    host, sep, port = peer.rpartition(":")
    if sep and port.isdigit():
        candidates.append(host.strip("[]"))
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.IPv6Network((address, 64), strict=False))
        return str(address)
    return peer


def _loggable(text: str) -> str:
    """Client-supplied text made safe for a log line: escaped controls, bounded length."""
    escaped = "".join(
        ch if ch.isprintable() and ch not in " \\" else f"\\x{{{ord(ch):x}}}" for ch in text
    )
    if len(escaped) > _LOG_FIELD:
        return escaped[:_LOG_FIELD] + "..."
    return escaped


def plaintext_allowed(secure: bool, allow_plaintext_auth: bool) -> bool:
    """Whether a password may be sent now (RFC 9051 section 6.2.3, RFC 2595 section 3.3).

    Only over TLS, unless the configuration explicitly allows plaintext logins.
    """
    return secure or allow_plaintext_auth
