"""``mailstack-admin``: the command line for accounts (and later quota and Sieve scripts).

Commands are registered by group: each group is a function that adds its sub-parsers and
sets ``handler`` on each (``parser.set_defaults(handler=...)``). A handler gets the parsed
arguments and an ``AdminContext`` and returns the exit code; it reports a failure by raising
``AdminError`` (or ``ValueError`` with a message fit for the user), which ``main`` prints as
one line on stderr with exit code 1 — never a traceback. New groups (``quota``, ``sieve``)
live in their own modules and are added to ``COMMAND_GROUPS``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailstack.config import Config, ConfigError, load_config
from mailstore.accounts import AccountDirectory
from mailstore.passwords import Password
from mailstore.sizes import parse_size
from mailstore.types import QuotaLimits

__all__ = [
    "COMMAND_GROUPS",
    "AdminContext",
    "AdminError",
    "Handler",
    "account_directory",
    "main",
]

PROG = "mailstack-admin"


class AdminError(Exception):
    """A failure to report to the admin as one line (the message), exit code 1."""


@dataclass(slots=True)
class AdminContext:
    """What a command handler works with: the configuration and the console streams."""

    config_path: Path | None
    stdin: TextIO
    stdout: TextIO
    _config: Config | None = None

    @property
    def config(self) -> Config:
        """The configuration, loaded on first use (``ConfigError`` is reported by ``main``)."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def accounts(self) -> AccountDirectory:
        """The account directory the configuration names."""
        return account_directory(self.config)

    def print(self, text: str) -> None:
        """Write one line of output."""
        self.stdout.write(text + "\n")


Handler = Callable[[argparse.Namespace, AdminContext], int]


def account_directory(config: Config) -> AccountDirectory:
    """Build the ``AccountDirectory`` from ``[accounts]`` of the configuration."""
    accounts = config.accounts
    return AccountDirectory(
        accounts.passwd_file,
        accounts.aliases_file,
        mail_root=config.mail_root,
        recipient_delimiter=accounts.recipient_delimiter,
        default_quota=QuotaLimits(accounts.default_quota, accounts.default_quota_messages),
    )


# --- reading passwords ----------------------------------------------------------------------


def read_password(args: argparse.Namespace, ctx: AdminContext) -> Password:
    """One line from stdin (``--password-stdin``) or typed twice without echo."""
    if args.password_stdin:
        line = ctx.stdin.readline()
        if not line:
            raise AdminError("no password on standard input")
        text = line.removesuffix("\n")
    else:
        try:
            text = getpass.getpass("New password: ")
            again = getpass.getpass("Retype new password: ")
        except (EOFError, KeyboardInterrupt):
            raise AdminError("no password entered") from None
        if text != again:
            raise AdminError("the passwords do not match")
    if not text:
        raise AdminError("empty password refused")
    try:
        return Password(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise AdminError("the password is not valid text") from None


# --- user commands --------------------------------------------------------------------------


def _user_add(args: argparse.Namespace, ctx: AdminContext) -> int:
    directory = ctx.accounts()
    quota: QuotaLimits | None = None
    if args.quota is not None or args.quota_messages is not None:
        default = directory.default_quota
        quota = QuotaLimits(
            default.storage_bytes if args.quota is None else args.quota,
            default.messages if args.quota_messages is None else args.quota_messages,
        )
    if directory.lookup(args.user) is not None:
        raise AdminError(f"user {args.user!r} already exists")
    directory.add_user(args.user, read_password(args, ctx), quota)
    ctx.print(f"added user {args.user}")
    return 0


def _user_passwd(args: argparse.Namespace, ctx: AdminContext) -> int:
    directory = ctx.accounts()
    if directory.lookup(args.user) is None:
        raise AdminError(f"no such user {args.user!r}")
    directory.set_password(args.user, read_password(args, ctx))
    ctx.print(f"changed the password of {args.user}")
    return 0


def _user_del(args: argparse.Namespace, ctx: AdminContext) -> int:
    directory = ctx.accounts()
    record = directory.lookup(args.user)
    if record is None:
        raise AdminError(f"no such user {args.user!r}")
    home = directory.home(record.name)
    directory.delete_user(record.name)
    ctx.print(f"deleted user {record.name} (mail in {home} is kept)")
    return 0


def _user_list(args: argparse.Namespace, ctx: AdminContext) -> int:
    for name in ctx.accounts().users():
        ctx.print(name)
    return 0


def _size_argument(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count_argument(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number >= 0: {text!r}")
    return int(text)


def add_user_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``user add|passwd|del|list``."""
    user = subparsers.add_parser("user", help="manage accounts in the passwd-file")
    commands = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="add an account")
    add.add_argument("user")
    add.add_argument(
        "--quota",
        type=_size_argument,
        metavar="SIZE",
        help="storage quota such as 500M or 2G (0: unlimited)",
    )
    add.add_argument(
        "--quota-messages",
        type=_count_argument,
        metavar="N",
        help="message count quota (0: unlimited)",
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password as one line from standard input",
    )
    add.set_defaults(handler=_user_add)

    passwd = commands.add_parser("passwd", help="change an account's password")
    passwd.add_argument("user")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password as one line from standard input",
    )
    passwd.set_defaults(handler=_user_passwd)

    delete = commands.add_parser("del", help="delete an account (its mail stays on disk)")
    delete.add_argument("user")
    delete.set_defaults(handler=_user_del)

    listing = commands.add_parser("list", help="list the accounts")
    listing.set_defaults(handler=_user_list)


CommandGroup = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
COMMAND_GROUPS: list[CommandGroup] = [add_user_commands]
"""Every command group; a module adding commands appends its function here (or is listed)."""


# --- entry point ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered command group."""
    parser = argparse.ArgumentParser(prog=PROG, description="Administer a mailstack server.")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML configuration file (default: built-in defaults)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group(subparsers)
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run ``mailstack-admin``; returns the exit code (0 ok, 1 error, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    ctx = AdminContext(args.config, sys.stdin, sys.stdout)
    handler: Handler = args.handler
    try:
        return handler(args, ctx)
    except (AdminError, ConfigError, ValueError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}")


def _register_groups() -> None:
    """Add the command groups that live in their own modules (imported late: they import us)."""
    from mailstack.admin_quota import add_quota_commands
    from mailstack.admin_sieve import register as add_sieve_commands

    for group in (add_quota_commands, add_sieve_commands):
        if group not in COMMAND_GROUPS:
            COMMAND_GROUPS.append(group)


_register_groups()


if __name__ == "__main__":
    sys.exit(main())
