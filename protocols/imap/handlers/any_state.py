"""Commands valid in every state: CAPABILITY, NOOP, LOGOUT (RFC 3501 6.1), ID (RFC 2971),
and ENABLE (RFC 5161, authenticated only, but stateless like these)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from protocols.imap import commands as c
from protocols.imap.handlers import HandlerResult, ok
from protocols.imap.responses import (
    CapabilityData,
    Condition,
    EnabledData,
    IdData,
    StatusResponse,
)

if TYPE_CHECKING:
    from protocols.imap.session import ImapSession

log = Logger()


async def handle_capability(cmd: c.Capability, session: ImapSession) -> HandlerResult:
    """``* CAPABILITY ...`` (RFC 3501 6.1.1)."""
    return ok("CAPABILITY completed", untagged=[CapabilityData(session.capabilities())])


async def handle_noop(cmd: c.Noop, session: ImapSession) -> HandlerResult:
    """NOOP (RFC 3501 6.1.2): a poll; the session reports pending changes after it."""
    if session.selected is not None:
        session.selected.mark_dirty()
    return ok("NOOP completed")


async def handle_logout(cmd: c.Logout, session: ImapSession) -> HandlerResult | None:
    """LOGOUT (RFC 3501 6.1.3): BYE, tagged OK, close."""
    await session.output.send(
        [
            StatusResponse(Condition.BYE, "Logging out"),
            StatusResponse(Condition.OK, "LOGOUT completed", tag=cmd.tag),
        ]
    )
    session.logout()
    session.output.close()
    return None


async def handle_id(cmd: c.Id, session: ImapSession) -> HandlerResult:
    """ID (RFC 2971 3.1): log the client's identification, answer ours."""
    if cmd.params:
        names = {k.lower(): v for k, v in cmd.params[:8]}
        log.info(
            "client id peer={peer} name={name} version={version}",
            peer=session.peer,
            name=(names.get("name") or "")[:64],
            version=(names.get("version") or "")[:64],
        )
    return ok("ID completed", untagged=[IdData(session.settings.server_id)])


async def handle_enable(cmd: c.Enable, session: ImapSession) -> HandlerResult:
    """ENABLE (RFC 5161 3.1); QRESYNC implies CONDSTORE (RFC 7162 3.2.3)."""
    from protocols.imap.session import ENABLEABLE

    newly: list[str] = []
    for name in cmd.capabilities:
        wanted = [name, "CONDSTORE"] if name == "QRESYNC" else [name]
        for item in wanted:
            if item in ENABLEABLE and item not in session.enabled:
                session.enabled.add(item)
                newly.append(item)
    if session.selected is not None:
        session.selected.enabled = frozenset(session.enabled)
        session.selected.condstore = session.selected.condstore or "CONDSTORE" in newly
    return ok("ENABLE completed", untagged=[EnabledData(tuple(newly))])
