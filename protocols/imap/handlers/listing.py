"""LIST and LSUB (RFC 3501 6.3.8-9) with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819),
SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348) attributes.

Patterns: ``*`` matches anything, ``%`` anything but the separator ``/``; the reference is
prefixed to the pattern (RFC 3501 6.3.8); ``INBOX`` matches case-insensitively.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mailstore.errors import StoreError
from mailstore.types import HIERARCHY_SEPARATOR, INBOX, MailboxInfo
from protocols.imap import commands as c
from protocols.imap.handlers import HandlerResult, ok
from protocols.imap.responses import ListData, Response

if TYPE_CHECKING:
    from protocols.imap.session import ImapSession


def pattern_regex(reference: str, pattern: str) -> re.Pattern[str]:
    """The regular expression for ``reference`` + ``pattern`` (RFC 3501 6.3.8)."""
    full = reference + pattern
    if full.upper().startswith("INBOX") and (len(full) == 5 or full[5] in "/%*"):
        full = INBOX + full[5:]
    parts = []
    for char in full:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def _matches(regexes: list[re.Pattern[str]], name: str) -> bool:
    return any(regex.match(name) for regex in regexes)


def _attributes(info: MailboxInfo, cmd: c.List, subscribed: set[str]) -> tuple[str, ...]:
    attrs = ["\\HasChildren" if info.has_children else "\\HasNoChildren"]
    if not info.selectable:
        attrs.insert(0, "\\Noselect")
    if info.special_use is not None:
        attrs.append(info.special_use.value)
    wants_subscribed = (
        c.ListReturn.SUBSCRIBED in cmd.returns or c.ListSelect.SUBSCRIBED in cmd.selection
    )
    if wants_subscribed and info.name in subscribed:
        attrs.append("\\Subscribed")
    return tuple(attrs)


async def handle_list(cmd: c.List, session: ImapSession) -> HandlerResult:
    """LIST (RFC 3501 6.3.8, RFC 5258, 5819, 6154)."""
    assert session.account is not None
    if len(cmd.patterns) == 1 and cmd.patterns[0] == "" and not cmd.extended:
        root = ListData("", ("\\Noselect",), HIERARCHY_SEPARATOR, utf8=session.utf8)
        return ok("LIST completed", untagged=[root])
    regexes = [pattern_regex(cmd.reference, p) for p in cmd.patterns if p != ""]
    boxes = await session.account.list_mailboxes()
    subscribed = set(await session.account.subscriptions())
    only_subscribed = c.ListSelect.SUBSCRIBED in cmd.selection
    only_special = c.ListSelect.SPECIAL_USE in cmd.selection
    out: list[Response] = []
    for info in boxes:
        if not _matches(regexes, info.name):
            continue
        if only_subscribed and info.name not in subscribed:
            continue
        if only_special and info.special_use is None:
            continue
        out.append(ListData(info.name, _attributes(info, cmd, subscribed), utf8=session.utf8))
        if c.ListReturn.STATUS in cmd.returns and info.selectable:
            out += await _status(session, info.name, cmd.status_items)
    if only_subscribed:
        known = {info.name for info in boxes}
        for name in sorted(subscribed - known):
            if _matches(regexes, name):
                attrs = ("\\NonExistent", "\\Subscribed")
                out.append(ListData(name, attrs, utf8=session.utf8))
    return ok("LIST completed", untagged=out)


async def _status(
    session: ImapSession, name: str, items: tuple[c.StatusItem, ...]
) -> list[Response]:
    from protocols.imap.handlers.authenticated import status_data

    try:
        return [await status_data(session, name, items)]
    except StoreError:
        return []


async def handle_lsub(cmd: c.Lsub, session: ImapSession) -> HandlerResult:
    """LSUB (RFC 3501 6.3.9): subscribed names matching the pattern."""
    assert session.account is not None
    if cmd.pattern == "":
        root = ListData("", ("\\Noselect",), HIERARCHY_SEPARATOR, lsub=True, utf8=session.utf8)
        return ok("LSUB completed", untagged=[root])
    regex = pattern_regex(cmd.reference, cmd.pattern)
    boxes = {info.name: info for info in await session.account.list_mailboxes()}
    out: list[Response] = []
    for name in await session.account.subscriptions():
        if not regex.match(name):
            continue
        info = boxes.get(name)
        attrs = () if info is not None and info.selectable else ("\\Noselect",)
        out.append(ListData(name, attrs, lsub=True, utf8=session.utf8))
    return ok("LSUB completed", untagged=out)


__all__ = ["handle_list", "handle_lsub", "pattern_regex"]
