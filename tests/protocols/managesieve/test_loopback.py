"""sievelib's ManageSieve client against the real server over loopback, with STARTTLS."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import sievelib.managesieve as sievelib_ms
from twisted.internet.interfaces import IProtocolFactory

from mailstore.passwords import Password
from mailstore.types import QuotaLimits
from protocols.auth import Authenticator
from protocols.managesieve import ManageSieveSettings, build_factory
from sieve.storage import SieveStorage

SCRIPT = (
    'require ["fileinto"];\r\n'
    'if header :contains "subject" "[list]" {\r\n  fileinto "Lists";\r\n}\r\n'
)


class Accounts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def home(self, user: str) -> Path:
        return self.root / user

    def quota_limits(self, user: str) -> QuotaLimits:
        return QuotaLimits()


class Verifier:
    async def verify(self, user: str, password: Password) -> str | None:
        return "alice" if (user, password.reveal()) == ("alice", b"secret") else None


@pytest.fixture
def server_port(
    tmp_path: Path,
    reactor_thread: Any,
    tls_server_context: Any,
    listen: Callable[[IProtocolFactory], int],
) -> int:
    authenticator = Authenticator(Verifier(), clock=reactor_thread.reactor, base_delay=0.01)
    factory = build_factory(
        Accounts(tmp_path / "homes"), authenticator, tls_server_context, ManageSieveSettings()
    )
    return listen(cast(IProtocolFactory, factory))


@pytest.fixture
def client_tls(monkeypatch: pytest.MonkeyPatch, tls_client_context: ssl.SSLContext) -> None:
    # sievelib builds its own default context; make it trust the test CA.
    monkeypatch.setattr(sievelib_ms.ssllib, "create_default_context", lambda: tls_client_context)


@pytest.mark.usefixtures("client_tls")
def test_sievelib_session(server_port: int, tmp_path: Path) -> None:
    client = sievelib_ms.Client("localhost", server_port)
    assert client.connect("alice", "secret", starttls=True, authmech="PLAIN")
    assert client.get_implementation() == "mailstack"
    assert "fileinto" in client.get_sieve_capabilities()
    assert client.havespace("main", len(SCRIPT))
    assert client.putscript("main", SCRIPT)
    assert not client.putscript("broken", 'fileinto "x";')
    assert client.errmsg.startswith(b"line 1:")
    assert client.checkscript("keep;")
    assert client.setactive("main")
    assert client.listscripts() == ("main", [])
    assert client.getscript("main").splitlines() == SCRIPT.splitlines()
    assert client.renamescript("main", "sorting")
    assert client.listscripts() == ("sorting", [])
    assert not client.deletescript("sorting")
    assert client.setactive("")
    assert client.deletescript("sorting")
    assert client.putscript("second", "keep;")
    client.logout()
    assert SieveStorage(tmp_path / "homes" / "alice").list() == [("second", False)]


@pytest.mark.usefixtures("client_tls")
def test_sievelib_login_mechanism(server_port: int) -> None:
    client = sievelib_ms.Client("localhost", server_port)
    assert client.connect("alice", "secret", starttls=True, authmech="LOGIN")
    assert client.listscripts() == (None, [])
    client.logout()


@pytest.mark.usefixtures("client_tls")
def test_sievelib_wrong_password(server_port: int) -> None:
    client = sievelib_ms.Client("localhost", server_port)
    assert not client.connect("alice", "wrong", starttls=True, authmech="PLAIN")


def test_no_plaintext_login(server_port: int) -> None:
    client = sievelib_ms.Client("localhost", server_port)
    with pytest.warns(UserWarning, match="unencrypted"):
        assert not client.connect("alice", "secret", starttls=False, authmech="PLAIN")
