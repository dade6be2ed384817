"""ManageSieve server (RFC 5804): ``build_factory(accounts, authenticator, tls_context, settings)``.

Users upload, check and activate their Sieve scripts; the scripts are kept by
``sieve.storage`` in each user's home, where delivery finds the active one.
"""

from __future__ import annotations

from typing import Any

from mailstore.api import UserDirectory
from mailstore.blocking import run_blocking
from protocols.auth import Authenticator
from protocols.managesieve.server import ManageSieveFactory, ManageSieveProtocol
from protocols.managesieve.session import (
    ManageSieveSession,
    ManageSieveSettings,
    ScriptStore,
    SessionServices,
)
from protocols.sasl import Credentials
from sieve.storage import AsyncSieveStorage, SieveStorage

__all__ = [
    "ManageSieveFactory",
    "ManageSieveProtocol",
    "ManageSieveSession",
    "ManageSieveSettings",
    "ScriptStore",
    "SessionServices",
    "StorageServices",
    "build_factory",
]


class StorageServices:
    """The session's services over the account directory and ``sieve.storage``."""

    def __init__(
        self,
        accounts: UserDirectory,
        authenticator: Authenticator,
        settings: ManageSieveSettings,
    ) -> None:
        self.accounts = accounts
        self.authenticator = authenticator
        self.settings = settings

    async def authenticate(self, credentials: Credentials, *, peer: str) -> str | None:
        """Check a login through the shared gate (failure delays, login log)."""
        return await self.authenticator.authenticate(
            credentials, peer=peer, protocol="managesieve"
        )

    async def open_scripts(self, user: str) -> ScriptStore:
        """The scripts under the user's home (looked up off the reactor thread)."""
        home = await run_blocking(self.accounts.home, user)
        return AsyncSieveStorage(
            SieveStorage(
                home,
                quota=self.settings.quota,
                limits=self.settings.limits,
                global_dir=self.settings.global_dir,
            )
        )


def build_factory(
    accounts: UserDirectory,
    authenticator: Authenticator,
    tls_context: object | None,
    settings: ManageSieveSettings,
    *,
    clock: Any = None,
) -> ManageSieveFactory:
    """The ManageSieve listener's factory; ``tls_context`` None: no STARTTLS offered."""
    services = StorageServices(accounts, authenticator, settings)
    return ManageSieveFactory(settings, services, tls_context, clock=clock)
