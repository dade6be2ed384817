"""Assemble the one process: accounts, store, TLS, authentication and every listener.

``build_service(config)`` returns a ``MailstackService`` (a ``MultiService``) holding the
shared objects and one ``Listener`` per configured endpoint. Each protocol contributes a
factory through a small adapter in ``_FACTORIES``; a protocol whose package is not built yet
is skipped with a log line. Listening happens in ``privilegedStartService`` (before twistd
drops privileges) and a port that cannot be bound stops start-up with one line on stderr.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from twisted.application import service
from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.python.failure import Failure

from mailstack.config import Config, ConfigError
from mailstore.accounts import AccountDirectory
from mailstore.blocking import set_store_threads
from mailstore.maildir.store import MaildirStore
from mailstore.types import QuotaLimits
from protocols.auth import Authenticator
from protocols.tls import TLSConfigError, server_context
from sieve.ast import SieveLimits

log = Logger(namespace="mailstack")


@dataclass(slots=True)
class Runtime:
    """The shared objects every protocol is built from."""

    config: Config
    accounts: AccountDirectory
    store: MaildirStore
    authenticator: Authenticator
    tls_context: Any


@dataclass(frozen=True, slots=True)
class Listener:
    """One endpoint to listen on, with the factory that serves it."""

    protocol: str
    description: str
    factory: IProtocolFactory


FactoryBuilder = Callable[[Runtime, bool], IProtocolFactory]


def _factory(built: object) -> IProtocolFactory:
    """Each protocol's ``build_factory`` returns a Twisted factory (zope interfaces untyped)."""
    return cast(IProtocolFactory, built)


def _sieve_limits(cfg: Config) -> SieveLimits:
    """``SieveLimits`` from ``[sieve]`` (shared by delivery and ManageSieve)."""
    return SieveLimits(
        max_script_bytes=cfg.sieve.max_script_size or SieveLimits().max_script_bytes,
        max_actions=cfg.sieve.max_actions,
        max_redirects=cfg.sieve.max_redirects,
    )


def _lmtp(rt: Runtime, implicit_tls: bool) -> IProtocolFactory:
    from mailstore.delivery import LocalDelivery
    from protocols.lmtp import LmtpSettings, build_factory
    from sieve.delivery import SieveDelivery
    from sieve.filter import SieveFilter
    from sieve.outgoing import Outgoing, RedirectSender, SubmissionSettings

    cfg = rt.config
    sieve_hook = None
    if cfg.sieve.enabled:
        submission = SubmissionSettings(
            relay=cfg.submission.relay,
            enabled=cfg.submission.enabled,
            hostname=cfg.hostname,
            timeout=cfg.submission.timeout,
            redirect_sender=RedirectSender(cfg.sieve.redirect_sender),
        )
        sieve_filter = SieveFilter(_sieve_limits(cfg))
        sieve_hook = SieveDelivery(rt.accounts, rt.store, sieve_filter, Outgoing(submission))
    delivery = LocalDelivery(
        rt.accounts,
        rt.store,
        hostname=cfg.hostname,
        quota_at_rcpt=cfg.lmtp.quota_at_rcpt,
        detail_to_mailbox=cfg.lmtp.detail_to_mailbox,
        duplicate_window=cfg.lmtp.duplicate_window,
        filter=sieve_hook,
    )
    settings = LmtpSettings(
        hostname=cfg.hostname,
        max_message_size=cfg.lmtp.max_message_size,
        max_recipients=cfg.lmtp.max_recipients,
        quota_tempfail=cfg.lmtp.quota_tempfail,
    )
    return _factory(build_factory(delivery, settings))


def _pop3(rt: Runtime, implicit_tls: bool) -> IProtocolFactory:
    from protocols.pop3 import Pop3Settings, build_factory

    settings = Pop3Settings(
        hostname=rt.config.hostname, allow_plaintext_auth=rt.config.tls.allow_plaintext_auth
    )
    factory = build_factory(
        rt.store, rt.authenticator, rt.tls_context, settings, implicit_tls=implicit_tls
    )
    return _factory(factory)


def _managesieve(rt: Runtime, implicit_tls: bool) -> IProtocolFactory:
    from protocols.managesieve import ManageSieveSettings, build_factory
    from sieve.storage import SieveQuota

    cfg = rt.config
    limits = _sieve_limits(cfg)
    settings = ManageSieveSettings(
        allow_plaintext_auth=cfg.tls.allow_plaintext_auth,
        quota=SieveQuota(
            max_scripts=cfg.sieve.max_scripts,
            max_script_bytes=cfg.sieve.max_script_size,
            max_total_bytes=cfg.sieve.max_total_size,
        ),
        limits=limits,
    )
    factory = build_factory(rt.accounts, rt.authenticator, rt.tls_context, settings)
    return _factory(factory)


def _imap(rt: Runtime, implicit_tls: bool) -> IProtocolFactory:
    from protocols.imap.server import ImapSettings, build_factory

    settings = ImapSettings(
        hostname=rt.config.hostname, allow_plaintext_auth=rt.config.tls.allow_plaintext_auth
    )
    factory = build_factory(
        rt.store, rt.authenticator, rt.tls_context, settings, implicit_tls=implicit_tls
    )
    return _factory(factory)


_FACTORIES: dict[str, FactoryBuilder] = {
    "lmtp": _lmtp,
    "imap": _imap,
    "pop3": _pop3,
    "managesieve": _managesieve,
}


def _is_missing_protocol(exc: ImportError, protocol: str) -> bool:
    """True when the protocol's own package (not one of its imports) is absent."""
    name = exc.name or ""
    return name == f"protocols.{protocol}" or name.startswith(f"protocols.{protocol}.")


def build_runtime(config: Config) -> Runtime:
    """Create directories and the shared objects; raise ``ConfigError`` for bad TLS files."""
    for path in (config.data_dir, config.mail_root, config.spool_dir):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        tls_context = server_context(
            config.tls.certificate,
            config.tls.private_key,
            data_dir=config.data_dir,
            hostname=config.hostname,
        )
    except TLSConfigError as exc:
        raise ConfigError(f"[tls] {exc}") from None
    accounts = AccountDirectory(
        config.accounts.passwd_file,
        config.accounts.aliases_file,
        mail_root=config.mail_root,
        recipient_delimiter=config.accounts.recipient_delimiter,
        default_quota=QuotaLimits(
            storage_bytes=config.accounts.default_quota,
            messages=config.accounts.default_quota_messages,
        ),
    )
    set_store_threads(config.store_threads)
    store = MaildirStore(accounts, config.spool_dir)
    return Runtime(config, accounts, store, Authenticator(accounts), tls_context)


def plan_listeners(rt: Runtime) -> list[Listener]:
    """One ``Listener`` per configured endpoint of every protocol that is built."""
    cfg = rt.config
    wanted = {
        "lmtp": (cfg.lmtp.listen, ()),
        "imap": (cfg.imap.listen, cfg.imap.listen_tls),
        "pop3": (cfg.pop3.listen, cfg.pop3.listen_tls),
        "managesieve": (cfg.managesieve.listen, ()),
    }
    listeners: list[Listener] = []
    for protocol, (plain, implicit) in wanted.items():
        if not plain and not implicit:
            continue
        builder = _FACTORIES[protocol]
        try:
            for description in plain:
                listeners.append(Listener(protocol, description, builder(rt, False)))
            for description in implicit:
                # The protocol wraps its own factory in TLS when asked for implicit TLS.
                factory = builder(rt, True)
                listeners.append(Listener(protocol + "s", description, factory))
        except ImportError as exc:
            if not _is_missing_protocol(exc, protocol):
                raise
            log.warn("{protocol}: not built yet, its listeners are skipped", protocol=protocol)
    return listeners


class MailstackService(service.MultiService):
    """The whole server: listens on every planned endpoint and closes the store on stop."""

    def __init__(self, runtime: Runtime, listeners: list[Listener]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.runtime = runtime
        self.listeners = listeners
        self.ports: list[Any] = []  # IListeningPort providers

    def privilegedStartService(self) -> None:
        from twisted.internet import reactor

        for listener in self.listeners:
            try:
                endpoint = endpoints.serverFromString(  # type: ignore[no-untyped-call]
                    reactor, listener.description
                )
            except (ValueError, TypeError, KeyError) as exc:
                raise SystemExit(
                    f"mailstack: [{listener.protocol}] listen: bad endpoint "
                    f"{listener.description!r} ({exc})"
                ) from None
            result: list[Any] = []
            endpoint.listen(listener.factory).addBoth(result.append)
            if result and isinstance(result[0], Failure):
                reason = result[0].getErrorMessage()
                self._close_ports()
                raise SystemExit(
                    f"mailstack: cannot listen on {listener.description} "
                    f"for {listener.protocol}: {reason}"
                )
            if result:
                port = result[0]
                self.ports.append(port)
                log.info(
                    "{protocol} listening on {address}",
                    protocol=listener.protocol,
                    address=_describe(port),
                )
        super().privilegedStartService()  # type: ignore[no-untyped-call]

    def startService(self) -> None:
        from twisted.internet import reactor

        super().startService()  # type: ignore[no-untyped-call]
        count = len(self.ports)
        cast(Any, reactor).callWhenRunning(
            lambda: log.info("mailstack ready: {count} listeners", count=count)
        )

    def _close_ports(self) -> None:
        for port in self.ports:
            port.stopListening()
        self.ports.clear()

    def stopService(self) -> defer.Deferred[None]:
        d = defer.maybeDeferred(super().stopService)

        async def close() -> None:
            await defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in self.ports])
            self.ports.clear()
            await self.runtime.store.close()
            log.info("mailstack stopped")

        def after(_: object) -> defer.Deferred[None]:
            return defer.Deferred.fromCoroutine(close())

        d.addCallback(after)
        return d


def _describe(port: Any) -> str:
    host = port.getHost()
    if hasattr(host, "host") and hasattr(host, "port"):
        return f"{host.host}:{host.port}"
    name = getattr(host, "name", None)
    if isinstance(name, bytes):
        return "unix:" + os.fsdecode(name)
    return str(host)


def build_service(config: Config) -> MailstackService:
    """Everything for ``twistd mailstack`` and ``mailstackd``."""
    runtime = build_runtime(config)
    return MailstackService(runtime, plan_listeners(runtime))
