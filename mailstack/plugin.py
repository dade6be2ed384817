"""The twistd service maker: ``twistd -n mailstack [--config FILE]``.

twistd imports the dropin (``twistd_plugins/mailstack_plugin.py``) on every plugin scan;
the dropin only names this module, which is imported when ``mailstack`` is actually run.
Configuration errors end start-up with one line on stderr and exit status 1.
"""

from __future__ import annotations

from pathlib import Path

from twisted.application import service
from twisted.python import usage

from mailstack.config import Config, ConfigError, load_config

DESCRIPTION = "mailstack: LMTP delivery, Sieve, Maildir, IMAP4, POP3 and ManageSieve in one process"


class Options(usage.Options):
    """Command-line options of the ``mailstack`` twistd subcommand."""

    synopsis = "[--config FILE]"
    longdesc = (
        "Runs every configured mailstack listener in one process. Without --config the "
        "embedded defaults are used: data in ./mailstack-data, loopback only, LMTP 2424, "
        "IMAP 1143/1993, POP3 1110/1995, ManageSieve 4190, a self-signed certificate "
        "created on first start. See README.md for the config reference."
    )
    optParameters = [
        ["config", "c", None, "TOML configuration file (default: embedded defaults)"],
    ]

    def postOptions(self) -> None:
        path = self["config"]
        try:
            self.loaded: Config = load_config(Path(path) if path else None)
        except ConfigError as exc:
            raise SystemExit(f"mailstack: {exc}") from None


def makeService(options: Options) -> service.MultiService:
    """Build the server from parsed options (called by twistd and ``mailstackd``)."""
    from mailstack.service import build_service

    try:
        return build_service(options.loaded)
    except ConfigError as exc:
        raise SystemExit(f"mailstack: {exc}") from None
