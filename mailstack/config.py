"""The TOML configuration: embedded defaults, strict validation, one clear error line.

Every key has a default, so ``twistd -n mailstack`` runs with no file at all. A file
overrides keys; an unknown key or a value of the wrong type stops start-up with a
``ConfigError`` whose message names the key (``[imap] listen: expected a list of strings``).
Relative paths in the file are relative to the file's directory (``data_dir``) or to
``data_dir`` (everything below it); without a file, to the current directory.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailstore.blocking import STORE_THREADS
from mailstore.sizes import parse_size

DEFAULT_DATA_DIR = "mailstack-data"


class ConfigError(Exception):
    """A configuration problem, with a one-line message naming the key or file."""


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    """``[accounts]``: where users and aliases are and how addresses resolve."""

    passwd_file: Path
    aliases_file: Path
    recipient_delimiter: str
    default_quota: int
    default_quota_messages: int


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """``[tls]``: the one certificate every listener uses."""

    certificate: Path | None
    private_key: Path | None
    allow_plaintext_auth: bool


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """The listeners of one protocol, as Twisted endpoint descriptions."""

    listen: tuple[str, ...]
    listen_tls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LmtpConfig:
    """``[lmtp]``: listeners and delivery options."""

    listen: tuple[str, ...]
    max_message_size: int
    max_recipients: int
    quota_tempfail: bool
    quota_at_rcpt: bool
    detail_to_mailbox: bool
    duplicate_window: float


@dataclass(frozen=True, slots=True)
class SubmissionConfig:
    """``[submission]``: the SMTP relay Sieve's redirects, vacation replies and notices go
    through (an endpoint description; no AUTH, TLS not required: keep it on loopback)."""

    relay: str
    enabled: bool
    timeout: float


@dataclass(frozen=True, slots=True)
class SieveConfig:
    """``[sieve]``: per-user script quota (RFC 5804 HAVESPACE) and run-time limits."""

    enabled: bool
    max_scripts: int
    max_script_size: int
    max_total_size: int
    max_actions: int
    max_redirects: int
    redirect_sender: str
    """``"sender"``: redirects keep the original envelope sender; ``"recipient"``: the
    redirecting user's address (for sites without SRS)."""


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, with every path absolute."""

    config_file: Path | None
    data_dir: Path
    hostname: str
    mail_root: Path
    spool_dir: Path
    store_threads: int
    """Threads for disk work (``mailstore.blocking``)."""
    accounts: AccountsConfig
    tls: TLSConfig
    lmtp: LmtpConfig
    imap: ListenConfig
    pop3: ListenConfig
    managesieve: ListenConfig
    submission: SubmissionConfig
    sieve: SieveConfig


# The schema: section -> key -> (checker, default). A checker turns the TOML value into
# the typed value or raises ValueError with what was expected.
Checker = Callable[[Any], Any]


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number >= 0")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("expected a number of seconds >= 0")
    return float(value)


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('expected a size such as "500M" or 0')
    return parse_size(value)


def _endpoints(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(
            'expected a list of endpoint strings such as "tcp:1143:interface=127.0.0.1"'
        )
    return tuple(value)


def _relay(value: Any) -> str:
    text = _string(value)
    if not text.partition(":")[2]:
        raise ValueError('expected an endpoint string such as "tcp:127.0.0.1:25"')
    return text


def _positive(value: Any) -> int:
    if _count(value) == 0:
        raise ValueError("expected a whole number >= 1")
    return int(value)


def _redirect_sender(value: Any) -> str:
    if value not in ("sender", "recipient"):
        raise ValueError('expected "sender" or "recipient"')
    return str(value)


def _delimiter(value: Any) -> str:
    text = _string(value)
    if any(c.isspace() or c in '@<>"' for c in text):
        raise ValueError('expected delimiter characters such as "+" (no spaces, @, <, >)')
    return text


_TOP: dict[str, tuple[Checker, Any]] = {
    "data_dir": (_string, DEFAULT_DATA_DIR),
    "hostname": (_string, "localhost"),
    "mail_root": (_string, "mail"),
    "spool_dir": (_string, "spool"),
    "store_threads": (_positive, STORE_THREADS),
}
_SECTIONS: dict[str, dict[str, tuple[Checker, Any]]] = {
    "accounts": {
        "passwd_file": (_string, "users"),
        "aliases_file": (_string, "aliases"),
        "recipient_delimiter": (_delimiter, "+"),
        "default_quota": (_size, "1G"),
        "default_quota_messages": (_count, 0),
    },
    "tls": {
        "certificate": (_string, ""),
        "private_key": (_string, ""),
        "allow_plaintext_auth": (_bool, False),
    },
    "lmtp": {
        "listen": (_endpoints, ["tcp:2424:interface=127.0.0.1"]),
        "max_message_size": (_size, "50M"),
        "max_recipients": (_count, 100),
        "quota_tempfail": (_bool, False),
        "quota_at_rcpt": (_bool, True),
        "detail_to_mailbox": (_bool, True),
        "duplicate_window": (_seconds, 0),
    },
    "imap": {
        "listen": (_endpoints, ["tcp:1143:interface=127.0.0.1"]),
        "listen_tls": (_endpoints, ["tcp:1993:interface=127.0.0.1"]),
    },
    "pop3": {
        "listen": (_endpoints, ["tcp:1110:interface=127.0.0.1"]),
        "listen_tls": (_endpoints, ["tcp:1995:interface=127.0.0.1"]),
    },
    "managesieve": {
        "listen": (_endpoints, ["tcp:4190:interface=127.0.0.1"]),
    },
    "submission": {
        "relay": (_relay, "tcp:127.0.0.1:25"),
        "enabled": (_bool, True),
        "timeout": (_seconds, 60),
    },
    "sieve": {
        "enabled": (_bool, True),
        "max_scripts": (_count, 32),
        "max_script_size": (_size, "256K"),
        "max_total_size": (_size, "1M"),
        "max_actions": (_positive, 64),
        "max_redirects": (_count, 4),
        "redirect_sender": (_redirect_sender, "sender"),
    },
}


def _check_table(
    raw: Mapping[str, Any], schema: Mapping[str, tuple[Checker, Any]], where: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in raw:
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise ConfigError(f"{where}{key}: unknown key (known keys: {known})")
    for key, (checker, default) in schema.items():
        value = raw.get(key, default)
        try:
            values[key] = checker(value)
        except ValueError as exc:
            raise ConfigError(f"{where}{key}: {exc}") from None
    return values


def parse_config(raw: Mapping[str, Any], base_dir: Path, config_file: Path | None = None) -> Config:
    """Validate a parsed TOML document and build the ``Config`` (pure apart from ``resolve``)."""
    top_raw = {k: v for k, v in raw.items() if k not in _SECTIONS}
    top = _check_table(top_raw, _TOP, "")
    sections: dict[str, dict[str, Any]] = {}
    for name, schema in _SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}]: expected a table")
        sections[name] = _check_table(table, schema, f"[{name}] ")

    data_dir: Path = (base_dir / str(top["data_dir"])).absolute()
    hostname = top["hostname"].strip()
    if not hostname or any(c.isspace() for c in hostname):
        raise ConfigError("hostname: expected a host name without spaces")

    def under_data(value: str) -> Path:
        return (data_dir / value).absolute()

    def optional_path(key: str) -> Path | None:
        value: str = sections["tls"][key]
        return (base_dir / value).absolute() if value else None

    acc = sections["accounts"]
    tls = sections["tls"]
    lmtp = sections["lmtp"]
    certificate, private_key = optional_path("certificate"), optional_path("private_key")
    if (certificate is None) != (private_key is None):
        raise ConfigError(
            "[tls] certificate, private_key: give both files, or neither for a self-signed pair"
        )
    return Config(
        config_file=config_file,
        data_dir=data_dir,
        hostname=hostname,
        mail_root=under_data(top["mail_root"]),
        spool_dir=under_data(top["spool_dir"]),
        store_threads=top["store_threads"],
        accounts=AccountsConfig(
            passwd_file=under_data(acc["passwd_file"]),
            aliases_file=under_data(acc["aliases_file"]),
            recipient_delimiter=acc["recipient_delimiter"],
            default_quota=acc["default_quota"],
            default_quota_messages=acc["default_quota_messages"],
        ),
        tls=TLSConfig(certificate, private_key, tls["allow_plaintext_auth"]),
        lmtp=LmtpConfig(
            listen=lmtp["listen"],
            max_message_size=lmtp["max_message_size"],
            max_recipients=lmtp["max_recipients"],
            quota_tempfail=lmtp["quota_tempfail"],
            quota_at_rcpt=lmtp["quota_at_rcpt"],
            detail_to_mailbox=lmtp["detail_to_mailbox"],
            duplicate_window=lmtp["duplicate_window"],
        ),
        imap=ListenConfig(sections["imap"]["listen"], sections["imap"]["listen_tls"]),
        pop3=ListenConfig(sections["pop3"]["listen"], sections["pop3"]["listen_tls"]),
        managesieve=ListenConfig(sections["managesieve"]["listen"]),
        submission=SubmissionConfig(**sections["submission"]),
        sieve=SieveConfig(**sections["sieve"]),
    )


def load_config(path: Path | None) -> Config:
    """Read ``path`` (TOML); with ``None``, the embedded defaults in the current directory."""
    if path is None:
        return parse_config({}, Path.cwd())
    try:
        with path.open("rb") as fp:
            raw = tomllib.load(fp)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(raw, path.absolute().parent, config_file=path.absolute())
