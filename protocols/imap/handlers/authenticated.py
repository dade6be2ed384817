"""Authenticated state: SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS,
APPEND, NAMESPACE, QUOTA, IDLE (RFC 3501 6.3; 7162 3.1.2/3.2.5; 4315 APPENDUID; 2342;
9208; 2177). LIST and LSUB live in ``listing``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailstore.errors import StoreError
from mailstore.types import MailboxSnapshot, SpecialUse
from protocols.imap import commands as c
from protocols.imap.handlers import HandlerResult, bad, from_store_error, no, ok
from protocols.imap.responses import (
    AppendUidCode,
    CodeKind,
    Condition,
    Continuation,
    ExistsData,
    FetchData,
    FlagsItem,
    ModSeqItem,
    NamespaceData,
    NumberCode,
    QuotaData,
    QuotaResource,
    QuotaRootData,
    RecentData,
    Response,
    SimpleCode,
    StatusData,
    StatusResponse,
    UidItem,
    VanishedData,
)
from protocols.imap.selected import SelectedMailbox
from protocols.imap.session import Conversation

if TYPE_CHECKING:
    from protocols.imap.session import ImapSession

_SPECIAL = {use.value.lower(): use for use in SpecialUse}


def _untagged(code: object, text: str) -> StatusResponse:
    return StatusResponse(Condition.OK, text, code=code)  # type: ignore[arg-type]


async def handle_select(cmd: c.Select | c.Examine, session: ImapSession) -> HandlerResult:
    """SELECT / EXAMINE (RFC 3501 6.3.1-2, RFC 7162 3.1.2 CONDSTORE, 3.2.5 QRESYNC)."""
    assert session.account is not None
    readonly = isinstance(cmd, c.Examine)
    had_selection = session.selected is not None
    session.deselect()
    prefix: list[Response] = []
    if had_selection and "QRESYNC" in session.enabled:
        prefix.append(_untagged(SimpleCode(CodeKind.CLOSED), "Previous mailbox closed"))
    if cmd.qresync is not None and "QRESYNC" not in session.enabled:
        return bad("QRESYNC not enabled")
    try:
        mailbox, snapshot = await session.account.select(cmd.mailbox, claim_recent=not readonly)
    except StoreError as exc:
        result = from_store_error(exc)
        result.untagged = prefix
        return result
    sel = SelectedMailbox(
        mailbox,
        snapshot,
        name=cmd.mailbox,
        readonly=readonly,
        origin=session.origin,
        enabled=frozenset(session.enabled),
        condstore=cmd.condstore or cmd.qresync is not None,
    )
    untagged = prefix + _select_data(snapshot, sel)
    if cmd.qresync is not None and cmd.qresync.uidvalidity == snapshot.uidvalidity:
        untagged += _qresync(cmd.qresync, snapshot, sel)
    sel.send = session.output.send
    session.select(sel)
    code = SimpleCode(CodeKind.READ_ONLY if readonly else CodeKind.READ_WRITE)
    verb = "EXAMINE" if readonly else "SELECT"
    return HandlerResult(untagged, code, "OK", f"{verb} completed")


def _select_data(snapshot: MailboxSnapshot, sel: SelectedMailbox) -> list[Response]:
    unseen = sel.first_unseen(snapshot)
    out: list[Response] = [
        *sel.flags_responses(),
        ExistsData(sel.exists()),
        RecentData(sel.recent_count()),
    ]
    if unseen:
        out.append(_untagged(NumberCode(CodeKind.UNSEEN, unseen), "First unseen"))
    out.append(_untagged(NumberCode(CodeKind.UIDVALIDITY, snapshot.uidvalidity), "UIDs valid"))
    out.append(_untagged(NumberCode(CodeKind.UIDNEXT, snapshot.uidnext), "Predicted next UID"))
    out.append(_untagged(NumberCode(CodeKind.HIGHESTMODSEQ, snapshot.highestmodseq), "Highest"))
    return out


def _qresync(q: c.QResync, snapshot: MailboxSnapshot, sel: SelectedMailbox) -> list[Response]:
    """VANISHED (EARLIER) and changed FLAGS since ``q.modseq`` (RFC 7162 3.2.5.1)."""
    present = {m.uid for m in snapshot.messages}
    top = snapshot.uidnext - 1
    if q.known_uids is not None and top > 0:
        known = q.known_uids.resolve(top)
        vanished = [uid for uid in known if uid not in present] if len(known) < 1_000_000 else []
    else:
        vanished = [uid for uid in range(1, top + 1) if uid not in present]
    out: list[Response] = []
    if vanished:
        out.append(VanishedData(tuple(vanished), earlier=True))
    for seq, message in enumerate(snapshot.messages, 1):
        if message.modseq > q.modseq:
            items = (
                UidItem(message.uid),
                FlagsItem(sel.flags_with_recent(message.uid)),
                ModSeqItem(message.modseq),
            )
            out.append(FetchData(seq, items))
    return out


async def handle_create(cmd: c.Create, session: ImapSession) -> HandlerResult:
    """CREATE (RFC 3501 6.3.3) with ``USE (...)`` (RFC 6154 3)."""
    assert session.account is not None
    special: SpecialUse | None = None
    for attr in cmd.special_use:
        special = _SPECIAL.get(attr.lower())
        if special is None:
            return no("Unsupported special-use attribute", code=SimpleCode(CodeKind.USEATTR))
    name = cmd.mailbox.rstrip("/")
    if not name:
        return no("Invalid mailbox name", code=SimpleCode(CodeKind.CANNOT))
    await session.account.create_mailbox(name, special)
    return ok("CREATE completed")


async def handle_delete(cmd: c.Delete, session: ImapSession) -> HandlerResult:
    """DELETE (RFC 3501 6.3.4)."""
    assert session.account is not None
    await session.account.delete_mailbox(cmd.mailbox)
    return ok("DELETE completed")


async def handle_rename(cmd: c.Rename, session: ImapSession) -> HandlerResult:
    """RENAME (RFC 3501 6.3.5; INBOX moves its messages, the store's rule)."""
    assert session.account is not None
    await session.account.rename_mailbox(cmd.mailbox, cmd.new_name)
    return ok("RENAME completed")


async def handle_subscribe(cmd: c.Subscribe, session: ImapSession) -> HandlerResult:
    """SUBSCRIBE (RFC 3501 6.3.6)."""
    assert session.account is not None
    await session.account.subscribe_mailbox(cmd.mailbox)
    return ok("SUBSCRIBE completed")


async def handle_unsubscribe(cmd: c.Unsubscribe, session: ImapSession) -> HandlerResult:
    """UNSUBSCRIBE (RFC 3501 6.3.7)."""
    assert session.account is not None
    await session.account.unsubscribe_mailbox(cmd.mailbox)
    return ok("UNSUBSCRIBE completed")


async def status_data(
    session: ImapSession, name: str, items: tuple[c.StatusItem, ...]
) -> StatusData:
    """The STATUS values of ``name`` (RFC 3501 6.3.10, 7162 3.1.6, 8438)."""
    assert session.account is not None
    status = await (await session.account.open_mailbox(name)).status()
    values = {
        c.StatusItem.MESSAGES: status.messages,
        c.StatusItem.RECENT: status.recent,
        c.StatusItem.UIDNEXT: status.uidnext,
        c.StatusItem.UIDVALIDITY: status.uidvalidity,
        c.StatusItem.UNSEEN: status.unseen,
        c.StatusItem.HIGHESTMODSEQ: status.highestmodseq,
        c.StatusItem.SIZE: status.size,
    }
    return StatusData(name, tuple((item, values[item]) for item in items), utf8=session.utf8)


async def handle_status(cmd: c.Status, session: ImapSession) -> HandlerResult:
    """STATUS (RFC 3501 6.3.10)."""
    return ok("STATUS completed", untagged=[await status_data(session, cmd.mailbox, cmd.items)])


async def handle_append(cmd: c.Append, session: ImapSession) -> HandlerResult:
    """APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315 3); big literals come spooled."""
    assert session.account is not None
    spool = session.take_spool() if not isinstance(cmd.message, bytes) else None
    if not isinstance(cmd.message, bytes) and spool is None:
        return no("Message data lost", code=SimpleCode(CodeKind.SERVERBUG))
    try:
        mailbox = await session.account.open_mailbox(cmd.mailbox)
    except StoreError as exc:
        if spool is not None:
            spool.abort()
        return from_store_error(exc, trycreate=True)
    date = None if cmd.date is None else cmd.date.timestamp()
    flags = [f for f in cmd.flags if f != "\\Recent"]
    if spool is None:
        assert isinstance(cmd.message, bytes)
        result = await mailbox.append(cmd.message, flags=flags, internal_date=date)
    else:
        staged = await spool.finish()
        try:
            result = await mailbox.append(staged, flags=flags, internal_date=date)
        finally:
            session.store.discard(staged)
    if session.selected is not None and session.selected.name == mailbox.name:
        session.selected.mark_dirty()
    code = AppendUidCode(result.uidvalidity, (result.uid,))
    return HandlerResult([], code, "OK", "APPEND completed")


async def handle_namespace(cmd: c.Namespace, session: ImapSession) -> HandlerResult:
    """NAMESPACE (RFC 2342 5): one personal namespace, separator ``/``."""
    return ok("NAMESPACE completed", untagged=[NamespaceData()])


async def _quota(session: ImapSession) -> QuotaData:
    assert session.account is not None
    usage = await session.account.quota()
    resources = []
    if usage.limits.storage_bytes:
        resources.append(
            QuotaResource(
                "STORAGE", (usage.storage_bytes + 1023) // 1024, usage.limits.storage_bytes // 1024
            )
        )
    if usage.limits.messages:
        resources.append(QuotaResource("MESSAGE", usage.messages, usage.limits.messages))
    return QuotaData("", tuple(resources))


async def handle_getquota(cmd: c.GetQuota, session: ImapSession) -> HandlerResult:
    """GETQUOTA (RFC 9208 4.2): the one root is ``""``."""
    if cmd.root != "":
        return no("No such quota root", code=SimpleCode(CodeKind.NONEXISTENT))
    return ok("GETQUOTA completed", untagged=[await _quota(session)])


async def handle_getquotaroot(cmd: c.GetQuotaRoot, session: ImapSession) -> HandlerResult:
    """GETQUOTAROOT (RFC 9208 4.3)."""
    assert session.account is not None
    if not await session.account.mailbox_exists(cmd.mailbox):
        return no("No such mailbox", code=SimpleCode(CodeKind.NONEXISTENT))
    root = QuotaRootData(cmd.mailbox, ("",), utf8=session.utf8)
    return ok("GETQUOTAROOT completed", untagged=[root, await _quota(session)])


async def handle_setquota(cmd: c.SetQuota, session: ImapSession) -> HandlerResult:
    """SETQUOTA (RFC 9208 4.1): limits are set by the administrator, not by users."""
    return no("Permission denied", code=SimpleCode(CodeKind.NOPERM))


async def handle_idle(cmd: c.Idle, session: ImapSession) -> HandlerResult | None:
    """IDLE (RFC 2177): ``+ idling``; changes are pushed as they happen until ``DONE``."""
    sel = session.selected
    pending = await session.updates(allow_expunge=True)
    cancel = sel.on_wake(session.wake) if sel is not None else (lambda: None)

    async def on_line(line: bytes) -> None:
        cancel()
        session.conversation = None
        session.output.set_raw_lines(False)
        if line.upper() != b"DONE":
            await session.output.send([StatusResponse(Condition.BAD, "Expected DONE", tag=cmd.tag)])
            return
        untagged = await session.updates(allow_expunge=True)
        done = StatusResponse(Condition.OK, "IDLE terminated", tag=cmd.tag)
        await session.output.send([*untagged, done])

    session.conversation = Conversation(cmd.tag, on_line, cancel)
    session.output.set_raw_lines(True)
    await session.output.send([*pending, Continuation("idling")])
    return None


__all__ = [
    "handle_append",
    "handle_create",
    "handle_delete",
    "handle_getquota",
    "handle_getquotaroot",
    "handle_idle",
    "handle_namespace",
    "handle_rename",
    "handle_select",
    "handle_setquota",
    "handle_status",
    "handle_subscribe",
    "handle_unsubscribe",
    "status_data",
]
