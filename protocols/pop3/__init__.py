"""POP3 and POP3S access to INBOX (RFC 1939, 2449, 2595, 3206, 5034) over the shared store.

``build_factory`` is what the application shell calls once per ``[pop3] listen`` endpoint
(``implicit_tls=False``: STLS offered when a TLS context is given) and per ``listen_tls``
endpoint (``implicit_tls=True``: the factory is wrapped for TLS from the first byte).
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.interfaces import IProtocolFactory

from mailstore.api import Store
from protocols.auth import Authenticator
from protocols.pop3.locks import MaildropLocks, locks_for
from protocols.pop3.server import Pop3Factory, Pop3Protocol
from protocols.pop3.session import Pop3Session, Pop3Settings, uidl
from protocols.tls import wrap_tls

__all__ = [
    "MaildropLocks",
    "Pop3Factory",
    "Pop3Protocol",
    "Pop3Session",
    "Pop3Settings",
    "build_factory",
    "uidl",
]


def build_factory(
    store: Store,
    authenticator: Authenticator,
    tls_context: Any,
    settings: Pop3Settings,
    *,
    implicit_tls: bool,
    clock: Any = None,
    locks: MaildropLocks | None = None,
) -> IProtocolFactory:
    """A factory for one POP3 listener.

    ``tls_context`` is the ``CertificateOptions`` from ``protocols.tls.server_context`` (None:
    no STLS, and ``implicit_tls`` is then an error). With ``implicit_tls`` the returned
    factory is ``wrap_tls(Pop3Factory(...))`` (POP3S, RFC 8314), otherwise the
    ``Pop3Factory`` itself, a ``ServerFactory``. Every factory over the same ``store`` shares
    one in-process maildrop lock registry unless ``locks`` is given.
    """
    if implicit_tls and tls_context is None:
        raise ValueError("implicit TLS needs a TLS context")
    factory = Pop3Factory(
        store,
        authenticator,
        tls_context,
        settings,
        locks if locks is not None else locks_for(store),
        clock=clock,
    )
    if implicit_tls:
        return wrap_tls(cast(IProtocolFactory, factory), tls_context)
    return cast(IProtocolFactory, factory)
