"""protocols.auth: cred checker/realm/portal, failure delays on a task.Clock, the login log."""

from __future__ import annotations

from typing import Any, cast

import pytest
from twisted.cred.credentials import UsernamePassword as TwistedUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import capturedLogs, formatEvent

from mailstore.passwords import Password
from protocols.auth import (
    AuthenticatedUser,
    Authenticator,
    AuthUnavailableError,
    IAuthenticatedUser,
    PasswordChecker,
    UsernamePassword,
    plaintext_allowed,
)
from protocols.sasl import Credentials

SECRET = b"hunter2"


class Directory:
    """A PasswordVerifier: user names are case-insensitive, canonical lower case."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.broken = False

    async def verify(self, user: str, password: Password) -> str | None:
        self.calls.append((user, password.reveal()))
        if self.broken:
            raise OSError("passwd file unreadable")
        if user.lower() == "alice" and password.reveal() == SECRET:
            return "alice"
        return None


def creds(user: str = "Alice", secret: bytes = SECRET) -> Credentials:
    return Credentials(user, Password(secret), None)


def attempt(auth: Authenticator, credentials: Credentials, peer: str = "192.0.2.1") -> Any:
    return defer.Deferred.fromCoroutine(auth.authenticate(credentials, peer=peer, protocol="imap"))


def result_of(d: defer.Deferred[Any]) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "deferred has not fired"
    return results[0]


def fails_after(
    auth: Authenticator, clock: task.Clock, peer: str = "192.0.2.1", user: str = "Alice"
) -> float:
    """Run one failing login; return how long (in clock time) it took to answer None."""
    d = attempt(auth, creds(user, b"wrong"), peer)
    fired: list[Any] = []
    d.addBoth(fired.append)
    waited = 0.0
    while not fired:
        assert clock.getDelayedCalls(), "no delay pending and no answer"
        due = min(cast(Any, call).getTime() for call in clock.getDelayedCalls())
        step = due - clock.seconds()
        assert not fired
        clock.advance(step)
        waited += step
    assert fired == [None]
    return waited


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
def auth(directory: Directory, clock: task.Clock) -> Authenticator:
    return Authenticator(directory, clock=cast(IReactorTime, clock))


def test_success_returns_canonical_name_without_delay(auth, directory, clock) -> None:
    d = attempt(auth, creds("ALICE"))
    assert result_of(d) == "alice"
    assert clock.getDelayedCalls() == []
    assert directory.calls == [("ALICE", SECRET)]


def test_failure_waits_before_answering(auth, clock) -> None:
    d = attempt(auth, creds(secret=b"wrong"))
    fired: list[Any] = []
    d.addBoth(fired.append)
    assert fired == []
    clock.advance(1.99)
    assert fired == []
    clock.advance(0.01)
    assert fired == [None]


def test_delay_doubles_then_caps(auth, clock) -> None:
    assert [fails_after(auth, clock) for _ in range(6)] == [2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert auth.failure_count("192.0.2.1") == 6


def test_custom_delays(directory, clock) -> None:
    auth = Authenticator(directory, clock=cast(IReactorTime, clock), base_delay=0.5, max_delay=3.0)
    assert [fails_after(auth, clock) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_success_resets_counter(auth, clock) -> None:
    fails_after(auth, clock)
    fails_after(auth, clock)
    assert result_of(attempt(auth, creds())) == "alice"
    assert auth.failure_count("192.0.2.1") == 0
    assert fails_after(auth, clock) == 2.0


def test_quiet_period_forgets(auth, clock) -> None:
    fails_after(auth, clock)
    fails_after(auth, clock)
    clock.advance(601)
    assert auth.failure_count("192.0.2.1") == 0
    assert fails_after(auth, clock) == 2.0


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ("192.0.2.1", "192.0.2.2", False),
        ("192.0.2.1", "192.0.2.1:40000", True),
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True),  # same /64
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("[2001:db8::1]:993", "2001:db8::2", True),
        ("::ffff:192.0.2.1", "192.0.2.1", True),
    ],
)
def test_counted_per_peer(auth, clock, first: str, second: str, shared: bool) -> None:
    fails_after(auth, clock, first)
    assert fails_after(auth, clock, second) == (4.0 if shared else 2.0)


def test_log_lines_never_contain_password(auth, clock) -> None:
    with capturedLogs() as events:
        fails_after(auth, clock, "192.0.2.9", user="alice\r\nfake line")
        fails_after(auth, clock, "192.0.2.9")
        result_of(attempt(auth, creds()))
    text = [formatEvent(e) for e in events]
    assert text == [
        "login failed user=alice\\x{d}\\x{a}fake\\x{20}line peer=192.0.2.9 protocol=imap "
        "reason=bad credentials delay=2.0",
        "login failed user=Alice peer=192.0.2.9 protocol=imap reason=bad credentials delay=4.0",
        "login ok user=alice peer=192.0.2.1 protocol=imap",
    ]
    for event in events:
        assert "hunter2" not in repr(event) and "wrong" not in repr(event)


def test_directory_failure_is_not_a_wrong_password(auth, directory, clock) -> None:
    directory.broken = True
    with capturedLogs() as events:
        failure = result_of(attempt(auth, creds()))
    assert failure.check(AuthUnavailableError)
    assert clock.getDelayedCalls() == []
    assert auth.failure_count("192.0.2.1") == 0
    assert any("reason=internal error" in formatEvent(e) for e in events)


def test_checker_with_twisted_credentials(directory) -> None:
    checker = PasswordChecker(directory)
    ok = checker.requestAvatarId(TwistedUsernamePassword(b"Alice", SECRET))
    assert result_of(ok) == b"alice"
    bad = checker.requestAvatarId(TwistedUsernamePassword(b"alice", b"nope"))
    assert result_of(bad).check(UnauthorizedLogin)


def test_portal_gives_authenticated_user(auth) -> None:
    d = auth.portal.login(UsernamePassword("alice", Password(SECRET)), None, IAuthenticatedUser)
    iface, avatar, logout = result_of(d)
    assert iface is IAuthenticatedUser
    assert avatar == AuthenticatedUser("alice")
    assert logout() is None


def test_username_password_repr_and_check() -> None:
    up = UsernamePassword("alice", Password(SECRET))
    assert "hunter2" not in repr(up)
    assert up.username == b"alice"
    assert up.checkPassword(SECRET)
    assert not up.checkPassword(b"other")


@pytest.mark.parametrize(
    ("secure", "allow", "expected"),
    [(True, False, True), (True, True, True), (False, True, True), (False, False, False)],
)
def test_plaintext_allowed(secure: bool, allow: bool, expected: bool) -> None:
    assert plaintext_allowed(secure, allow) is expected
