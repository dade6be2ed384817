"""Fakes and a StringTransport driver for ManageSieve tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.internet.testing import StringTransport

from protocols.auth import AuthUnavailableError
from protocols.managesieve import ManageSieveSettings
from protocols.managesieve.server import ManageSieveProtocol
from protocols.sasl import Credentials
from sieve.storage import SieveStorage

SECRET = b"secret"


class InlineScripts:
    """ScriptStore running SieveStorage inline (no thread pool needed in these tests)."""

    def __init__(self, storage: SieveStorage) -> None:
        self.storage = storage

    async def list(self) -> list[tuple[str, bool]]:
        return self.storage.list()

    async def get(self, name: str) -> bytes:
        return self.storage.get(name)

    async def put(self, name: str, content: bytes) -> None:
        self.storage.put(name, content)

    async def check(self, content: bytes) -> None:
        self.storage.check(content)

    async def have_space(self, name: str, size: int) -> None:
        self.storage.have_space(name, size)

    async def activate(self, name: str | None) -> None:
        self.storage.activate(name)

    async def delete(self, name: str) -> None:
        self.storage.delete(name)

    async def rename(self, old: str, new: str) -> None:
        self.storage.rename(old, new)


class FakeServices:
    def __init__(self, root: Path, settings: ManageSieveSettings) -> None:
        self.root = root
        self.settings = settings
        self.logins: list[str] = []
        self.unavailable = False

    async def authenticate(self, credentials: Credentials, *, peer: str) -> str | None:
        if self.unavailable:
            raise AuthUnavailableError("down")
        self.logins.append(credentials.authcid)
        if credentials.authcid == "alice" and credentials.password.reveal() == SECRET:
            return "alice"
        return None

    async def open_scripts(self, user: str) -> InlineScripts:
        return InlineScripts(SieveStorage(self.root / user, quota=self.settings.quota))


class FakeTLSTransport(StringTransport):
    """Records startTLS instead of doing it."""

    def __init__(self) -> None:
        super().__init__()
        self.tls_started: Any = None

    def startTLS(self, context: Any) -> None:
        self.tls_started = context


class Client:
    """A ManageSieve server on a StringTransport; ``send`` returns what it answered."""

    def __init__(
        self,
        root: Path,
        settings: ManageSieveSettings | None = None,
        *,
        tls: bool = True,
    ) -> None:
        self.settings = settings or ManageSieveSettings(allow_plaintext_auth=True)
        self.services = FakeServices(root, self.settings)
        self.clock = task.Clock()
        self.protocol = ManageSieveProtocol(
            self.settings, self.services, object() if tls else None, clock=self.clock
        )
        self.transport = FakeTLSTransport()
        self.protocol.makeConnection(self.transport)
        self.greeting = self.take()

    def take(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return bytes(data)

    def send(self, data: bytes) -> bytes:
        self.protocol.dataReceived(data)
        return self.take()

    def login(self) -> None:
        assert (
            self.send(b'AUTHENTICATE "PLAIN" "AGFsaWNlAHNlY3JldA=="\r\n') == b'OK "Logged in"\r\n'
        )
