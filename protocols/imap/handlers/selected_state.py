"""Selected state: CHECK, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE (RFC 3501 6.4.1-3,
RFC 3691, RFC 4315 2.1). FETCH, STORE, SEARCH, COPY and MOVE live in ``messages``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocols.imap import commands as c
from protocols.imap.handlers import HandlerResult, no, ok
from protocols.imap.responses import CodeKind, SimpleCode

if TYPE_CHECKING:
    from protocols.imap.session import ImapSession

_READ_ONLY = SimpleCode(CodeKind.READ_ONLY)


async def handle_check(cmd: c.Check, session: ImapSession) -> HandlerResult:
    """CHECK (RFC 3501 6.4.1): the store is always durable; acts like NOOP."""
    if session.selected is not None:
        session.selected.mark_dirty()
    return ok("CHECK completed")


async def handle_close(cmd: c.Close, session: ImapSession) -> HandlerResult:
    """CLOSE (RFC 3501 6.4.2): silently expunge (unless read-only), then deselect."""
    sel = session.selected
    assert sel is not None
    session.deselect()
    if not sel.readonly:
        await sel.mailbox.expunge(origin=sel.origin)
    return ok("CLOSE completed")


async def handle_unselect(cmd: c.Unselect, session: ImapSession) -> HandlerResult:
    """UNSELECT (RFC 3691 2): deselect without expunging."""
    session.deselect()
    return ok("UNSELECT completed")


async def handle_expunge(cmd: c.Expunge, session: ImapSession) -> HandlerResult:
    """EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1)."""
    sel = session.selected
    assert sel is not None
    if sel.readonly:
        return no("Mailbox is read-only", code=_READ_ONLY)
    uids = None
    if cmd.uids is not None:
        uids = sel.resolve(cmd.uids, uid=True)
        if not uids:
            return ok("EXPUNGE completed")
    removed = await sel.mailbox.expunge(uids, origin=sel.origin)
    return ok("EXPUNGE completed", untagged=sel.remove(removed))


__all__ = ["handle_check", "handle_close", "handle_expunge", "handle_unselect"]
