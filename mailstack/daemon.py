"""``mailstackd``: twistd with the mailstack service maker built in.

It works in every install mode (also a default editable install, where twistd's plugin
scan cannot see the dropin). ``mailstackd [twistd options] [-- ] [--config FILE]``:
it runs in the foreground with no pid file unless twistd options say otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from twisted.application import app, service
from twisted.scripts.twistd import ServerOptions, runApp  # type: ignore[attr-defined]

from mailstack.plugin import DESCRIPTION

_MAKER = service.ServiceMaker(  # type: ignore[no-untyped-call]
    "mailstack", "mailstack.plugin", DESCRIPTION, "mailstack"
)
_TWISTD_FLAGS = {"-n", "--nodaemon", "--pidfile", "-l", "--logfile", "-u", "-g", "--uid", "--gid"}


class MailstackServerOptions(ServerOptions):  # type: ignore[misc,unused-ignore]
    """twistd's options with our service maker as the only subcommand."""

    def _getPlugins(self, interface: Any, package: Any = None) -> list[Any]:
        if interface is service.IServiceMaker:
            return [_MAKER]
        return list(super()._getPlugins(interface, package))


def twistd_argv(args: Sequence[str]) -> list[str]:
    """Split our arguments into twistd's (before ``mailstack``) and the subcommand's."""
    twistd_args: list[str] = []
    rest = list(args)
    while rest and rest[0].split("=", 1)[0] in _TWISTD_FLAGS:
        flag = rest.pop(0)
        twistd_args.append(flag)
        takes_value = flag in {"--pidfile", "-l", "--logfile", "-u", "-g", "--uid", "--gid"}
        if takes_value and rest:
            twistd_args.append(rest.pop(0))
    if not any(a in {"-n", "--nodaemon"} for a in twistd_args):
        twistd_args.insert(0, "--nodaemon")
    if not any(a.startswith("--pidfile") for a in twistd_args):
        twistd_args.append("--pidfile=")
    if rest and rest[0] == "--":
        rest.pop(0)
    return [*twistd_args, "mailstack", *rest]


def main(argv: Sequence[str] | None = None) -> None:
    """Console script entry point."""
    args = sys.argv[1:] if argv is None else list(argv)
    sys.argv = ["mailstackd", *twistd_argv(args)]
    app.run(runApp, MailstackServerOptions)  # type: ignore[no-untyped-call]
