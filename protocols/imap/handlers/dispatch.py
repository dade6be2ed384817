"""Dispatch by command type to its handler (RFC 3501 6): one table, no ``getattr`` on verbs.

Session-level handlers take ``(cmd, session)``; the message handlers (FETCH, STORE, SEARCH,
COPY, MOVE) take ``(cmd, selected_mailbox)``. ``None`` means the handler wrote its own
tagged reply (LOGOUT, STARTTLS) or started a conversation (AUTHENTICATE, IDLE).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from protocols.imap import commands as c
from protocols.imap.handlers import (
    HandlerResult,
    any_state,
    authenticated,
    listing,
    messages,
    not_authenticated,
    selected_state,
)

if TYPE_CHECKING:
    from protocols.imap.session import ImapSession

Handler = Callable[[Any, "ImapSession"], Awaitable[HandlerResult | None]]

_SESSION: dict[type, Handler] = {
    c.Capability: any_state.handle_capability,
    c.Noop: any_state.handle_noop,
    c.Logout: any_state.handle_logout,
    c.Id: any_state.handle_id,
    c.Enable: any_state.handle_enable,
    c.StartTls: not_authenticated.handle_starttls,
    c.Authenticate: not_authenticated.handle_authenticate,
    c.Login: not_authenticated.handle_login,
    c.Select: authenticated.handle_select,
    c.Examine: authenticated.handle_select,
    c.Create: authenticated.handle_create,
    c.Delete: authenticated.handle_delete,
    c.Rename: authenticated.handle_rename,
    c.Subscribe: authenticated.handle_subscribe,
    c.Unsubscribe: authenticated.handle_unsubscribe,
    c.List: listing.handle_list,
    c.Lsub: listing.handle_lsub,
    c.Status: authenticated.handle_status,
    c.Append: authenticated.handle_append,
    c.Namespace: authenticated.handle_namespace,
    c.Idle: authenticated.handle_idle,
    c.GetQuota: authenticated.handle_getquota,
    c.GetQuotaRoot: authenticated.handle_getquotaroot,
    c.SetQuota: authenticated.handle_setquota,
    c.Check: selected_state.handle_check,
    c.Close: selected_state.handle_close,
    c.Unselect: selected_state.handle_unselect,
    c.Expunge: selected_state.handle_expunge,
}

_MESSAGES: dict[type, Callable[[Any, Any], Awaitable[HandlerResult]]] = {
    c.Fetch: messages.handle_fetch,
    c.Store: messages.handle_store,
    c.Search: messages.handle_search,
    c.Copy: messages.handle_copy,
    c.Move: messages.handle_move,
}


async def dispatch(cmd: c.Command, session: ImapSession) -> HandlerResult | None:
    """Run the handler of ``cmd`` (its state was checked by the session)."""
    handler = _SESSION.get(type(cmd))
    if handler is not None:
        return await handler(cmd, session)
    message_handler = _MESSAGES[type(cmd)]
    assert session.selected is not None
    return await message_handler(cmd, session.selected)


__all__ = ["dispatch"]
