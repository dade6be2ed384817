"""Variable storage, ``${...}`` expansion and ``set`` modifiers (RFC 5229, RFC 6609 §3.4).

A :class:`Frame` is one script's view while it runs: its own variables and
match variables, plus the names it declared ``global`` (shared with every
included script through the run's global store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sieve.ast import SieveLimits, SieveRuntimeError

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?|[0-9]+)\}")
_WILDCARDS = re.compile(r"([*?\\])")
_REGEX_SPECIALS = re.compile(r"([\\^$.|?*+()\[\]{}])")


@dataclass
class Frame:
    """Variables of one running script (RFC 5229 §3); ``globals_`` is shared."""

    globals_: dict[str, str]
    limits: SieveLimits
    local: dict[str, str] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)
    match: tuple[str, ...] = ()

    def _store_for(self, name: str) -> tuple[dict[str, str], str]:
        key = name.lower()
        if key.startswith("global."):
            return self.globals_, key[len("global.") :]
        if key in self.declared_global:
            return self.globals_, key
        return self.local, key

    def get(self, name: str) -> str:
        """A variable's value; unknown names expand to "" (§3)."""
        if name.isdigit():
            index = int(name)
            return self.match[index] if index < len(self.match) else ""
        store, key = self._store_for(name)
        return store.get(key, "")

    def set(self, name: str, value: str) -> None:
        """Assign, truncating to the configured size (§4: implementations may limit)."""
        store, key = self._store_for(name)
        if key not in store and len(store) >= self.limits.max_variables:
            raise SieveRuntimeError("too many variables")
        encoded = value.encode("utf-8", "surrogatepass")
        if len(encoded) > self.limits.max_variable_bytes:
            value = encoded[: self.limits.max_variable_bytes].decode("utf-8", "ignore")
        store[key] = value

    def expand(self, text: str) -> str:
        """Replace ``${name}`` references (§3); malformed references stay literal."""
        if "${" not in text:
            return text
        return _REFERENCE.sub(lambda m: self.get(m.group(1)), text)


def apply_modifiers(value: str, modifiers: set[str]) -> str:
    """RFC 5229 §4.1 modifiers, highest precedence first (and regex :quoteregex)."""
    if "lower" in modifiers:
        value = value.lower()
    if "upper" in modifiers:
        value = value.upper()
    if "lowerfirst" in modifiers:
        value = value[:1].lower() + value[1:]
    if "upperfirst" in modifiers:
        value = value[:1].upper() + value[1:]
    if "quotewildcard" in modifiers:
        value = _WILDCARDS.sub(r"\\\1", value)
    if "quoteregex" in modifiers:
        value = _REGEX_SPECIALS.sub(r"\\\1", value)
    if "length" in modifiers:
        value = str(len(value))
    return value
