"""The STARTTLS switch shared by IMAP (STARTTLS), POP3 (STLS) and ManageSieve (STARTTLS).

Anything a client pipelined behind the STARTTLS command arrived in plaintext and may have
been injected by a man in the middle (CVE-2011-0411 and its IMAP/POP3 siblings): RFC 3207
section 4.2, RFC 2595 section 3.1 and RFC 9051 section 6.2.1 require the server to discard
it. So the one rule is: write the positive reply, then call ``start_tls``, which drops every
buffered byte before handing the connection to TLS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver

from protocols.tls import is_secure

__all__ = ["start_tls"]

log = Logger()


def start_tls(
    protocol: LineReceiver,
    context: object,
    clear_buffers: Callable[[], object] | None = None,
) -> None:
    """Discard all input buffered after the STARTTLS line, then start TLS on the transport.

    Call it from ``lineReceived`` right after writing the positive reply. ``clear_buffers``
    empties any buffer the protocol keeps itself (a pending literal, a queue of pipelined
    commands); the ``LineReceiver`` buffer is always cleared. ``context`` is the
    ``CertificateOptions`` from ``protocols.tls.server_context``.

    Raises ``RuntimeError`` if the transport cannot start TLS or already is TLS: the protocol
    must refuse STARTTLS with its own reply before writing a positive one.
    """
    transport: Any = protocol.transport
    if getattr(transport, "startTLS", None) is None or is_secure(transport):
        raise RuntimeError("start_tls on a transport that cannot (re)start TLS")
    dropped = len(cast(Any, protocol).clearLineBuffer())
    if clear_buffers is not None:
        clear_buffers()
    if dropped:
        peer = transport.getPeer()
        log.warn(
            "discarded {dropped} bytes pipelined after STARTTLS from {peer}",
            dropped=dropped,
            peer=getattr(peer, "host", str(peer)),
        )
    transport.startTLS(context)
