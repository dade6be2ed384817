"""``mailstack-admin sieve put|get|list|activate|delete``: a user's Sieve scripts from the shell.

The same storage the ManageSieve server and delivery use (``sieve.storage``), so a script
put here is what ``LISTSCRIPTS`` shows and what the next delivery runs. Register with
``register(subparsers)`` (a ``mailstack.admin`` command group).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from mailstack.admin import AdminContext, AdminError
from sieve.ast import SieveCompileError
from sieve.storage import SieveStorage, SieveStorageError, SieveStorageErrorKind

__all__ = ["register"]

_MESSAGES = {
    SieveStorageErrorKind.INVALID_NAME: "invalid script name",
    SieveStorageErrorKind.NOT_FOUND: "no such script",
    SieveStorageErrorKind.ALREADY_EXISTS: "a script of that name exists",
    SieveStorageErrorKind.ACTIVE: "the script is active (activate another one first)",
    SieveStorageErrorKind.QUOTA_MAXSCRIPTS: "too many scripts",
    SieveStorageErrorKind.QUOTA_MAXSIZE: "script too large",
    SieveStorageErrorKind.QUOTA: "script storage quota exceeded",
    SieveStorageErrorKind.INVALID_UTF8: "the script is not UTF-8",
}


def _storage(ctx: AdminContext, user: str) -> SieveStorage:
    accounts = ctx.accounts()
    if accounts.lookup(user) is None:
        raise AdminError(f"no such user: {user}")
    return SieveStorage(accounts.home(user))


def _binary(stream: object) -> BinaryIO | None:
    buffer = getattr(stream, "buffer", None)
    return buffer if buffer is not None else None


def _read_input(ctx: AdminContext, source: str) -> bytes:
    if source != "-":
        return Path(source).read_bytes()
    raw = _binary(ctx.stdin)
    return raw.read() if raw is not None else ctx.stdin.read().encode("utf-8")


def _run(args: argparse.Namespace, ctx: AdminContext) -> int:
    storage = _storage(ctx, args.user)
    try:
        return int(args.action(args, ctx, storage))
    except SieveStorageError as exc:
        raise AdminError(f"{_MESSAGES[exc.kind]}") from None
    except SieveCompileError as exc:
        raise AdminError(f"script error at line {exc.line}: {exc.message}") from None


def _put(args: argparse.Namespace, ctx: AdminContext, storage: SieveStorage) -> int:
    storage.put(args.name, _read_input(ctx, args.file))
    if args.activate:
        storage.activate(args.name)
    return 0


def _get(args: argparse.Namespace, ctx: AdminContext, storage: SieveStorage) -> int:
    content = storage.get(args.name)
    if args.file != "-":
        Path(args.file).write_bytes(content)
        return 0
    raw = _binary(ctx.stdout)
    if raw is not None:
        ctx.stdout.flush()
        raw.write(content)
        raw.flush()
    else:
        ctx.stdout.write(content.decode("utf-8", "replace"))
    return 0


def _list(args: argparse.Namespace, ctx: AdminContext, storage: SieveStorage) -> int:
    for name, active in storage.list():
        ctx.print(f"{name} (active)" if active else name)
    return 0


def _activate(args: argparse.Namespace, ctx: AdminContext, storage: SieveStorage) -> int:
    storage.activate(args.name)
    return 0


def _delete(args: argparse.Namespace, ctx: AdminContext, storage: SieveStorage) -> int:
    storage.delete(args.name)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sieve put|get|list|activate|delete`` to ``mailstack-admin``."""
    sieve = subparsers.add_parser("sieve", help="manage users' Sieve scripts")
    commands = sieve.add_subparsers(dest="sieve_command", metavar="COMMAND", required=True)

    put = commands.add_parser("put", help="store a script (checked first)")
    put.add_argument("user")
    put.add_argument("name")
    put.add_argument("file", nargs="?", default="-", help="script file (default: stdin)")
    put.add_argument("--activate", action="store_true", help="make it the active script")
    put.set_defaults(handler=_run, action=_put)

    get = commands.add_parser("get", help="print a script")
    get.add_argument("user")
    get.add_argument("name")
    get.add_argument("file", nargs="?", default="-", help="write here (default: stdout)")
    get.set_defaults(handler=_run, action=_get)

    listing = commands.add_parser("list", help="list a user's scripts")
    listing.add_argument("user")
    listing.set_defaults(handler=_run, action=_list)

    activate = commands.add_parser("activate", help="activate a script (none: deactivate)")
    activate.add_argument("user")
    activate.add_argument("name", nargs="?", default=None)
    activate.set_defaults(handler=_run, action=_activate)

    delete = commands.add_parser("delete", help="delete a script (not the active one)")
    delete.add_argument("user")
    delete.add_argument("name")
    delete.set_defaults(handler=_run, action=_delete)


if __name__ == "__main__":  # pragma: no cover - for trying it before it is registered
    from mailstack import admin

    if register not in admin.COMMAND_GROUPS:
        admin.COMMAND_GROUPS.append(register)
    sys.exit(admin.main())
