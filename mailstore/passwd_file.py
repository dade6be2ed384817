"""Dovecot's passwd-file format, parsed and written without any I/O.

One user per line: ``user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields``; only
``user:password`` is required, the other fields may be missing or empty. ``extra_fields`` is
the rest of the line (it may hold ``:``, as in ``userdb_quota_rule=*:storage=500M``), a
space-separated list of ``key=value``. Blank lines and ``#`` comments are not users.

A malformed line is never fatal: ``parse_passwd`` skips it and reports its number and why in
``PasswdFile.issues`` (never the hash), for the caller to log.

Quota rules follow Dovecot's ``quota_rule``: ``*:storage=500M``, ``*:bytes=1000``,
``*:messages=10000``, several limits may share a rule (``*:storage=1G:messages=500``). As in
Dovecot, a ``storage`` number without a unit is in kilobytes; we write an explicit unit
(``*:storage=500M``, ``*:storage=1000B``) so both programs read the same number of bytes.
Only the ``*`` (whole account) rules count; per-mailbox rules are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mailstore.sizes import parse_size
from mailstore.types import QuotaLimits

__all__ = [
    "UNLIMITED",
    "LineIssue",
    "PasswdFile",
    "UserRecord",
    "check_user_name",
    "format_quota_fields",
    "format_user_line",
    "is_comment_or_blank",
    "parse_extra_fields",
    "parse_passwd",
    "parse_passwd_line",
    "quota_from_extra",
    "replace_password_field",
    "user_name_of",
]

MAX_NAME_LENGTH = 255
UNLIMITED = QuotaLimits()
_QUOTA_KEY = re.compile(r"(?:userdb_)?quota_rule\d*")


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One account of the passwd-file."""

    name: str
    """Canonical, as written in the file, e.g. ``alice@example.test``."""
    password_hash: str
    """As in the file, e.g. ``{BLF-CRYPT}$2y$12$...``."""
    uid: str
    gid: str
    gecos: str
    home: str
    shell: str
    extra: tuple[tuple[str, str], ...]
    quota: QuotaLimits
    """From the extra fields' quota rules, else the directory's default."""


@dataclass(frozen=True, slots=True)
class LineIssue:
    """A line of a passwd or aliases file that was skipped (or partly ignored), for the log."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class PasswdFile:
    """The users of a passwd-file, in file order, and the problems met on the way."""

    users: tuple[UserRecord, ...]
    issues: tuple[LineIssue, ...]


def check_user_name(name: str) -> str | None:
    """Why ``name`` cannot be an account name, or None if it can.

    Refused: empty, ``/``, NUL and other control characters, whitespace, ``:``, a leading
    ``.`` (names become directory names under the mail root).
    """
    if not name:
        return "empty user name"
    if len(name) > MAX_NAME_LENGTH:
        return "user name too long"
    if name.startswith("."):
        return "user name starts with '.'"
    for char in name:
        if char in "/:" or char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F:
            return f"user name contains {char!r}"
    return None


def parse_extra_fields(text: str) -> tuple[tuple[str, str], ...]:
    """``"a=1 nopassword b=x:y"`` → ``(("a", "1"), ("nopassword", ""), ("b", "x:y"))``."""
    fields: list[tuple[str, str]] = []
    for token in text.split():
        key, _, value = token.partition("=")
        fields.append((key, value))
    return tuple(fields)


def _parse_limits(limits: str) -> tuple[int | None, int | None]:
    """``"storage=1G:messages=10"`` → ``(bytes, messages)``; ``ValueError`` if unusable."""
    storage: int | None = None
    messages: int | None = None
    for item in limits.split(":"):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ValueError(f"limit {item!r} has no value")
        if value.startswith(("+", "-")) or value.endswith("%"):
            raise ValueError("relative limits are not supported")
        if key == "storage":
            unitless = value.strip().isdigit()
            storage = parse_size(value) * (1024 if unitless else 1)
        elif key == "bytes":
            storage = parse_size(value)
        elif key == "messages":
            messages = parse_size(value)
        else:
            raise ValueError(f"unknown limit {key!r}")
    return storage, messages


def quota_from_extra(
    extra: tuple[tuple[str, str], ...], default: QuotaLimits
) -> tuple[QuotaLimits, list[str]]:
    """The limits set by ``*`` quota rules in ``extra`` over ``default``, and problems found.

    Each limit a rule names replaces the default's; limits no rule names keep the default.
    """
    quota = default
    problems: list[str] = []
    for key, value in extra:
        if not _QUOTA_KEY.fullmatch(key):
            continue
        mailbox, sep, limits = value.partition(":")
        if not sep:
            problems.append(f"{key}: expected '<mailbox>:<limits>'")
            continue
        if mailbox != "*":
            continue
        try:
            storage, messages = _parse_limits(limits)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
            continue
        if storage is not None:
            quota = replace(quota, storage_bytes=storage)
        if messages is not None:
            quota = replace(quota, messages=messages)
    return quota, problems


def parse_passwd_line(
    line: str, default_quota: QuotaLimits = UNLIMITED
) -> tuple[UserRecord | None, list[str]]:
    """One non-comment line → the record (None if it must be skipped) and problems found."""
    fields = line.split(":", 7)
    if len(fields) < 2:
        return None, ["expected at least 'user:password'"]
    fields += [""] * (8 - len(fields))
    name, password_hash, uid, gid, gecos, home, shell, extra_text = fields
    reason = check_user_name(name)
    if reason is not None:
        return None, [reason]
    problems: list[str] = []
    if home and not home.startswith("/"):
        problems.append("home is not an absolute path; ignored")
        home = ""
    extra = parse_extra_fields(extra_text)
    quota, quota_problems = quota_from_extra(extra, default_quota)
    problems += quota_problems
    record = UserRecord(name, password_hash, uid, gid, gecos, home, shell, extra, quota)
    return record, problems


def is_comment_or_blank(line: bytes) -> bool:
    """True for lines that are not users: blank, or ``#`` after optional blanks."""
    stripped = line.strip()
    return not stripped or stripped.startswith(b"#")


def parse_passwd(data: bytes, default_quota: QuotaLimits = UNLIMITED) -> PasswdFile:
    """Parse a whole passwd-file; a name already seen (case-insensitively) is skipped."""
    users: list[UserRecord] = []
    issues: list[LineIssue] = []
    seen: set[str] = set()
    for number, line_bytes in enumerate(data.split(b"\n"), start=1):
        raw = line_bytes.removesuffix(b"\r")
        if is_comment_or_blank(raw):
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            issues.append(LineIssue(number, "not valid UTF-8; skipped"))
            continue
        record, problems = parse_passwd_line(line, default_quota)
        if record is not None and record.name.lower() in seen:
            record, problems = None, ["duplicate user name"]
        for problem in problems:
            suffix = "" if record is not None else "; skipped"
            issues.append(LineIssue(number, problem + suffix))
        if record is not None:
            seen.add(record.name.lower())
            users.append(record)
    return PasswdFile(tuple(users), tuple(issues))


def user_name_of(raw: bytes) -> str | None:
    """The user name of a passwd-file line, lower-cased, or None for comments and junk."""
    if is_comment_or_blank(raw):
        return None
    name, sep, _ = raw.partition(b":")
    if not sep:
        return None
    try:
        return name.decode("utf-8").lower()
    except UnicodeDecodeError:
        return None


def _format_size(size: int) -> str:
    for unit, factor in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def format_quota_fields(quota: QuotaLimits) -> str:
    """``userdb_quota_rule=*:storage=500M userdb_quota_rule2=*:messages=10000``."""
    return (
        f"userdb_quota_rule=*:storage={_format_size(quota.storage_bytes)} "
        f"userdb_quota_rule2=*:messages={quota.messages}"
    )


def format_user_line(name: str, password_hash: str, quota: QuotaLimits | None = None) -> bytes:
    """A new passwd-file line (with its newline) for ``add_user``."""
    reason = check_user_name(name)
    if reason is not None:
        raise ValueError(reason)
    if ":" in password_hash or "\n" in password_hash:
        raise ValueError("password hash contains ':' or a newline")
    line = f"{name}:{password_hash}"
    if quota is not None:
        line += "::::::" + format_quota_fields(quota)
    return (line + "\n").encode("utf-8")


def replace_password_field(raw: bytes, password_hash: str) -> bytes:
    """The same line with only its password field replaced (the rest kept byte for byte)."""
    body = raw.rstrip(b"\r\n")
    ending = raw[len(body) :]
    name, _, rest = body.partition(b":")
    _, sep, tail = rest.partition(b":")
    return name + b":" + password_hash.encode("utf-8") + sep + tail + ending
