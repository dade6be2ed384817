"""Compile Sieve text into a checked :class:`~sieve.ast.Script` (RFC 5228 §2.10.6, §3.2).

sievelib parses leniently; this step adds what RFC 5228 requires of a
conforming implementation and sievelib skips: ``require`` only at the start
(§3.2), unknown capabilities refused (§3.2), comparators declared before use
(§2.7.3), argument values checked (address headers, envelope parts, date
parts, zones, variable names, regex patterns, redirect addresses), and the
resource limits (script size, nesting, include depth).  Includes (RFC 6609)
are resolved here through the injected loader, so evaluation never does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sieve.ast import (
    Command,
    Comparator,
    Conditional,
    Converter,
    IncludeKey,
    MatchType,
    Node,
    Script,
    SieveCompileError,
    SieveLimits,
    Test,
    walk,
)
from sieve.grammar import GrammarError, command_line, parse
from sieve.match import regex_problem, supports
from sieve.message import DATE_PARTS, parse_zone

__all__ = ["CAPABILITIES", "IncludeLoader", "SieveCompileError", "compile_script"]

IncludeLoader = Callable[[str, bool], "str | None"]

#: What ``require`` may name: advertised over ManageSieve as the SIEVE list.
CAPABILITIES = frozenset(
    {
        "fileinto", "reject", "ereject", "envelope", "encoded-character", "copy", "body",
        "variables", "vacation", "vacation-seconds", "relational", "comparator-i;octet",
        "comparator-i;ascii-casemap", "comparator-i;ascii-numeric", "subaddress",
        "imap4flags", "mailbox", "date", "index", "include", "duplicate", "regex",
        "environment",
    }
)  # fmt: skip

ADDRESS_HEADERS = frozenset(
    {
        "from", "to", "cc", "bcc", "sender", "reply-to", "resent-from", "resent-to",
        "resent-cc", "resent-bcc", "resent-sender", "resent-reply-to", "return-path",
        "delivered-to", "x-original-to", "errors-to", "envelope-to", "x-envelope-to",
        "mail-followup-to", "mail-reply-to", "disposition-notification-to",
    }
)  # fmt: skip
ENVELOPE_PARTS = frozenset({"from", "to", "auth"})
_VARIABLE_NAME = re.compile(r"(global\.)?[A-Za-z_][A-Za-z0-9_]*\Z", re.IGNORECASE)
_ADDRESS = re.compile(r"[^\s@<>]+@[^\s@<>]+\Z")


def compile_script(
    text: str,
    *,
    name: str,
    include_loader: IncludeLoader | None = None,
    limits: SieveLimits = SieveLimits(),  # noqa: B008 - frozen, shared on purpose
) -> Script:
    """Parse and check ``text``; raise :class:`SieveCompileError` with a line number."""
    return _Compiler(include_loader, limits).script(text, name, ())


class _Compiler:
    def __init__(self, loader: IncludeLoader | None, limits: SieveLimits) -> None:
        self.loader = loader
        self.limits = limits
        self.included = 0

    def script(self, text: str, name: str, stack: tuple[IncludeKey, ...]) -> Script:
        if len(text.encode("utf-8", "surrogatepass")) > self.limits.max_script_bytes:
            raise SieveCompileError("script too large", 1)
        try:
            tree = parse(text)
        except GrammarError as exc:
            raise SieveCompileError(exc.message, exc.line) from exc
        _check_nesting(tree, self.limits.max_nesting)
        requires = _requires(tree)
        body = Converter(encoded_character="encoded-character" in requires).body(
            n for n in tree if n.name != "require"
        )
        _Checker(requires, self.limits).check(body)
        includes = self._includes(body, stack)
        return Script(name, requires, body, includes, self.limits)

    def _includes(
        self, body: tuple[Node, ...], stack: tuple[IncludeKey, ...]
    ) -> tuple[tuple[IncludeKey, Script], ...]:
        found: dict[IncludeKey, Script] = {}
        for node in walk(body):
            if not isinstance(node, Command) or node.name != "include":
                continue
            key = IncludeKey(node.string(0), node.has("global"))
            if key in found:
                continue
            if key in stack:
                raise SieveCompileError("include loop", node.line)
            if len(stack) >= self.limits.max_include_depth:
                raise SieveCompileError("includes nested too deeply", node.line)
            self.included += 1
            if self.included > self.limits.max_includes:
                raise SieveCompileError("too many includes", node.line)
            text = self.loader(key.name, key.is_global) if self.loader is not None else None
            if text is None:
                if node.has("optional"):
                    continue
                raise SieveCompileError(f"included script {key.name!r} not found", node.line)
            try:
                found[key] = self.script(text, key.name, (*stack, key))
            except SieveCompileError as exc:
                raise SieveCompileError(
                    f"in included script {key.name!r} line {exc.line}: {exc.message}", node.line
                ) from exc
        return tuple(found.items())


def _check_nesting(tree: list[Any], limit: int) -> None:
    """Refuse trees deeper than ``limit`` (iteratively: no recursion on input)."""
    pending: list[tuple[Any, int]] = [(node, 1) for node in tree]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            raise SieveCompileError("nesting too deep", command_line(node))
        children = list(node.children)
        for value in node.arguments.values():
            if isinstance(value, list):
                children.extend(v for v in value if hasattr(v, "arguments"))
            elif hasattr(value, "arguments"):
                children.append(value)
        pending.extend((child, depth + 1) for child in children)


def _requires(tree: list[Any]) -> frozenset[str]:
    """RFC 5228 §3.2: require only before other commands, only known capabilities."""
    names: set[str] = set()
    seen_other = False
    for node in tree:
        if node.name != "require":
            seen_other = True
            continue
        if seen_other:
            raise SieveCompileError("require must come before other commands", command_line(node))
        raw = node.arguments["capabilities"]
        for item in raw if isinstance(raw, list) else [raw]:
            capability = str(item).strip('"')
            if capability not in CAPABILITIES:
                raise SieveCompileError(
                    f"unsupported capability {capability!r}", command_line(node)
                )
            names.add(capability)
    for node in tree:
        for sub in node.walk():
            if sub.name == "require" and sub not in tree:
                raise SieveCompileError("require is only allowed at top level", command_line(sub))
    return frozenset(names)


class _Checker:
    """Argument checks on the typed tree that sievelib's tables cannot express."""

    def __init__(self, requires: frozenset[str], limits: SieveLimits) -> None:
        self.requires = requires
        self.limits = limits
        self.variables = "variables" in requires

    def check(self, body: tuple[Node, ...]) -> None:
        for node in walk(body):
            if isinstance(node, Test):
                self._test(node)
            else:
                self._command(node)
        _check_blocks(body)

    def _fail(self, message: str, line: int) -> None:
        raise SieveCompileError(message, line)

    def _constant(self, value: str) -> bool:
        return not (self.variables and "${" in value)

    def _test(self, test: Test) -> None:
        spec = test.match
        if spec.comparator is Comparator.ASCII_NUMERIC and (
            "comparator-i;ascii-numeric" not in self.requires
        ):
            self._fail("comparator i;ascii-numeric used without require", test.line)
        if not supports(spec.comparator, spec.match_type):
            self._fail("comparator does not support this match type", test.line)
        if spec.match_type is MatchType.REGEX:
            self._regex_keys(test)
        index = test.tag_number("index")
        if index is not None and index < 1:
            self._fail(":index must be 1 or more", test.line)
        if test.has("last") and index is None and test.name != "duplicate":
            self._fail(":last needs :index", test.line)
        check = getattr(self, "_test_" + test.name, None)
        if check is not None:
            check(test)

    def _regex_keys(self, test: Test) -> None:
        for key in test.strings(len(test.args) - 1):
            if self._constant(key):
                problem = regex_problem(key, self.limits.max_regex_length)
                if problem is not None:
                    self._fail(problem, test.line)

    def _test_address(self, test: Test) -> None:
        for header in test.strings(0):
            if self._constant(header) and header.lower() not in ADDRESS_HEADERS:
                self._fail(f"{header!r} is not an address header", test.line)

    def _test_envelope(self, test: Test) -> None:
        for part in test.strings(0):
            if self._constant(part) and part.lower() not in ENVELOPE_PARTS:
                self._fail(f"unknown envelope part {part!r}", test.line)

    def _test_date(self, test: Test) -> None:
        self._date_part(test, test.string(1))

    def _test_currentdate(self, test: Test) -> None:
        self._date_part(test, test.string(0))

    def _date_part(self, test: Test, part: str) -> None:
        if self._constant(part) and part.lower() not in DATE_PARTS:
            self._fail(f"unknown date part {part!r}", test.line)
        zone = test.tag_strings("zone")
        if zone and self._constant(zone[0]) and parse_zone(zone[0]) is None:
            self._fail("invalid time zone", test.line)

    def _command(self, command: Command) -> None:
        check = getattr(self, "_command_" + command.name, None)
        if check is not None:
            check(command)

    def _command_set(self, command: Command) -> None:
        if not _VARIABLE_NAME.match(command.string(0)):
            self._fail("invalid variable name", command.line)

    def _command_global(self, command: Command) -> None:
        if not self.variables:
            self._fail("global requires the variables extension", command.line)
        for item in command.strings(0):
            if not _VARIABLE_NAME.match(item):
                self._fail("invalid variable name", command.line)

    def _command_redirect(self, command: Command) -> None:
        address = command.string(0)
        if self._constant(address) and not _ADDRESS.match(address.strip()):
            self._fail("invalid redirect address", command.line)

    def _command_include(self, command: Command) -> None:
        name = command.string(0)
        if not name or "/" in name or name.startswith("."):
            self._fail("invalid script name", command.line)

    def _command_vacation(self, command: Command) -> None:
        days = command.tag_number("days")
        if days is not None and command.has("seconds"):
            self._fail(":days and :seconds are exclusive", command.line)


def _check_blocks(body: tuple[Node, ...]) -> None:
    """Control commands that sievelib lets through outside their place."""
    for node in body:
        if isinstance(node, Conditional):
            for branch in node.branches:
                _check_blocks(branch.block)
            if node.otherwise is not None:
                _check_blocks(node.otherwise)
        elif node.name in ("elsif", "else"):
            raise SieveCompileError(f"{node.name} without if", node.line)
