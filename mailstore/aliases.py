"""The aliases file and recipient resolution: address → aliases → ``+detail`` → users.

The file reads like ``/etc/aliases`` (aliases(5)): ``name: target1, target2``, ``#``
comments, and a line starting with whitespace continues the entry above it. A name without
``@`` matches that local part in any domain, like a passwd-file user without a domain.

Resolution (``resolve_address``) follows Postfix: the address, then the address without its
``+detail`` (the delimiter may be several characters, any one of them splits, RFC 5233
subaddress), is looked up among the aliases first, then the users. Alias targets expand
recursively up to ``MAX_ALIAS_DEPTH``; an alias reached again on its own path is a loop
(logged, dropped) unless a user of that name exists, who then gets the mail, as in
sendmail. Targets that are neither users nor aliases (other domains, ``|command``,
``/file``, ``:include:``) are ignored with a log line: we only deliver locally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from twisted.logger import Logger

from mailstore.passwd_file import LineIssue, UserRecord

__all__ = [
    "MAX_ALIAS_DEPTH",
    "AliasTable",
    "Recipient",
    "parse_aliases",
    "resolve_address",
    "split_detail",
]

log = Logger(namespace="mailstore.aliases")

MAX_ALIAS_DEPTH = 10


@dataclass(frozen=True, slots=True)
class Recipient:
    """A local recipient an address resolved to (RFC 5233 ``user+detail``)."""

    user: str
    """Canonical user name."""
    detail: str | None
    """``"lists"`` for ``alice+lists@example.test``, else None."""
    address: str
    """The final address, e.g. ``alice+lists@example.test`` (for Delivered-To)."""


@dataclass(frozen=True, slots=True)
class AliasTable:
    """Alias name (lower-cased) → its targets, as written; and the lines that were skipped."""

    entries: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    issues: tuple[LineIssue, ...] = ()


def _logical_lines(data: bytes) -> tuple[list[tuple[int, str]], list[LineIssue]]:
    """Join continuation lines; returns (starting line number, text) pairs."""
    entries: list[tuple[int, str]] = []
    issues: list[LineIssue] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        raw = line.removesuffix(b"\r")
        if not raw.strip() or raw.startswith(b"#"):
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            issues.append(LineIssue(number, "not valid UTF-8; skipped"))
            continue
        if text[0] in " \t":
            if entries:
                start, previous = entries[-1]
                entries[-1] = (start, previous + " " + text.strip())
            else:
                issues.append(LineIssue(number, "continuation line without an entry; skipped"))
            continue
        entries.append((number, text))
    return entries, issues


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def parse_aliases(data: bytes) -> AliasTable:
    """Parse an aliases file; the first entry of a name wins (later ones are reported)."""
    lines, issues = _logical_lines(data)
    entries: dict[str, tuple[str, ...]] = {}
    for number, text in lines:
        name, sep, rest = text.partition(":")
        name = _unquote(name)
        if not sep or not name or any(c.isspace() for c in name):
            issues.append(LineIssue(number, "expected 'name: target, ...'; skipped"))
            continue
        targets = tuple(t for t in (_unquote(part) for part in rest.split(",")) if t)
        if not targets:
            issues.append(LineIssue(number, f"alias {name!r} has no targets; skipped"))
        elif name.lower() in entries:
            issues.append(LineIssue(number, f"duplicate alias {name!r}; skipped"))
        else:
            entries[name.lower()] = targets
    return AliasTable(MappingProxyType(entries), tuple(issues))


def split_detail(local: str, delimiters: str) -> tuple[str, str | None]:
    """``("alice+lists", "+-")`` → ``("alice", "lists")``: split at the first delimiter."""
    if not delimiters:
        return local, None
    for index, char in enumerate(local):
        if char in delimiters and index > 0:
            return local[:index], local[index + 1 :]
    return local, None


def _split_address(address: str) -> tuple[str, str | None]:
    local, at, domain = address.rpartition("@")
    return (local, domain) if at else (address, None)


def _variants(address: str, delimiters: str) -> list[tuple[str, str | None]]:
    """The lookup forms of an address, in order: (form, detail it drops)."""
    local, domain = _split_address(address)
    base, detail = split_detail(local, delimiters)
    forms: list[tuple[str, str | None]] = [(address, None)]
    if detail is not None:
        forms.append((base if domain is None else f"{base}@{domain}", detail))
    return forms


def _alias_key(table: AliasTable, form: str) -> str | None:
    key = form.lower()
    if key in table.entries:
        return key
    local, domain = _split_address(key)
    if domain is not None and local in table.entries:
        return local
    return None


UserFinder = Callable[[str], UserRecord | None]


@dataclass(slots=True)
class _Expansion:
    table: AliasTable
    find_user: UserFinder
    delimiters: str
    found: dict[str, Recipient] = field(default_factory=dict)

    def expand(self, address: str, path: tuple[str, ...]) -> None:
        forms = _variants(address, self.delimiters)
        for form, _ in forms:
            key = _alias_key(self.table, form)
            if key is None:
                continue
            if key in path:
                if not self._deliver(address, forms):
                    log.warn("alias loop at {alias!r} ({path}); dropped", alias=key, path=path)
                return
            if len(path) >= MAX_ALIAS_DEPTH:
                log.warn("alias {alias!r}: nested deeper than {limit}; dropped", alias=key,
                         limit=MAX_ALIAS_DEPTH)
                return
            self._expand_targets(key, address, (*path, key))
            return
        if not self._deliver(address, forms) and path:
            log.info("alias {alias!r}: target {target!r} is not a local user; ignored",
                     alias=path[-1], target=address)

    def _expand_targets(self, key: str, address: str, path: tuple[str, ...]) -> None:
        _, domain = _split_address(address)
        for target in self.table.entries[key]:
            if target.startswith(("|", "/", ":include:")):
                log.info("alias {alias!r}: command/file target not supported; ignored", alias=key)
                continue
            qualified = f"{target}@{domain}" if "@" not in target and domain else target
            self.expand(qualified, path)

    def _deliver(self, address: str, forms: list[tuple[str, str | None]]) -> bool:
        for form, detail in forms:
            record = self.find_user(form)
            if record is not None:
                key = record.name.lower()
                if key not in self.found:
                    self.found[key] = Recipient(record.name, detail, address)
                return True
        return False


def clean_address(address: str) -> str | None:
    """Strip blanks and ``<>``; None for an empty or hostile address."""
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text or any(c.isspace() or ord(c) < 0x20 or c in "/<>" for c in text):
        return None
    return text


def resolve_address(
    address: str, table: AliasTable, find_user: UserFinder, delimiters: str = "+"
) -> list[Recipient]:
    """Every local recipient of ``address`` (each user once, first path wins); [] if unknown."""
    text = clean_address(address)
    if text is None:
        return []
    expansion = _Expansion(table, find_user, delimiters)
    expansion.expand(text, ())
    return list(expansion.found.values())
