"""``mailstack-admin quota get|recalc``: show and recount a user's quota usage (issue 3).

The index keeps usage up to date as mail is delivered and removed; ``recalc`` recounts it
from the mailboxes (after mail was copied in or removed by other programs).
"""

from __future__ import annotations

import argparse

from mailstack.admin import AdminContext, AdminError
from mailstack.reactor_call import run_coroutine
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.maildir.store import MaildirStore
from mailstore.types import QuotaUsage


def _format(user: str, usage: QuotaUsage) -> str:
    def limit(value: int) -> str:
        return str(value) if value else "unlimited"

    return (
        f"{user}: storage {usage.storage_bytes} of {limit(usage.limits.storage_bytes)} bytes, "
        f"messages {usage.messages} of {limit(usage.limits.messages)}"
    )


def _users(args: argparse.Namespace, ctx: AdminContext) -> list[str]:
    accounts = ctx.accounts()
    if args.all:
        return accounts.users()
    if not args.user:
        raise AdminError("name a USER or give --all")
    record = accounts.lookup(args.user)
    if record is None:
        raise AdminError(f"no such user: {args.user}")
    return [record.name]


def _run(args: argparse.Namespace, ctx: AdminContext, recalc: bool) -> int:
    users = _users(args, ctx)
    store = MaildirStore(ctx.accounts(), ctx.config.spool_dir)

    async def work() -> list[tuple[str, QuotaUsage]]:
        results = []
        try:
            for user in users:
                account = await store.account(user)
                usage = await (account.recalculate_quota() if recalc else account.quota())
                results.append((user, usage))
        finally:
            await store.close()
        return results

    try:
        for user, usage in run_coroutine(work):
            ctx.print(_format(user, usage))
    except StoreError as exc:
        if exc.kind is StoreErrorKind.NOT_FOUND:
            raise AdminError("no such user") from None
        raise AdminError(f"storage error: {exc.kind.value}") from None
    return 0


def add_quota_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``quota get`` and ``quota recalc``."""
    quota = subparsers.add_parser("quota", help="show or recount quota usage")
    commands = quota.add_subparsers(dest="quota_command", metavar="ACTION", required=True)
    for name, recalc, text in (
        ("get", False, "show usage and limits"),
        ("recalc", True, "recount usage from the mailboxes"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("user", nargs="?", help="the account (or --all)")
        sub.add_argument("--all", action="store_true", help="every account")
        sub.set_defaults(handler=lambda a, c, r=recalc: _run(a, c, r))
