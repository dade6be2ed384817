"""The typed Sieve tree (RFC 5228 §8), converted once from sievelib's nodes.

sievelib keeps raw tokens: quoted strings with their quotes and escapes,
``text:`` blocks still dot-stuffed, numbers as ``"100K"``.  :func:`convert`
turns its tree into frozen values: strings unquoted (§2.4.2), multi-line
text un-dot-stuffed (§2.4.2), encoded characters decoded when required
(§2.4.2.4), numbers with their K/M/G quantifier applied (§2.4.1), tags
lower-cased without their colon, and ``if``/``elsif``/``else`` folded into one
:class:`Conditional`.  Errors, limits and the matching enums live here too:
this module is the leaf every other ``sieve`` module imports.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sieve.grammar import command_line

# --- errors and limits ------------------------------------------------------


class SieveCompileError(Exception):
    """The script is invalid (RFC 5228 §2.10.6 "errors"); ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line


class SieveRuntimeError(Exception):
    """Evaluation failed (RFC 5228 §2.10.6): the caller does implicit keep."""


@dataclass(frozen=True, slots=True)
class SieveLimits:
    """Resource limits on compiling and running one script."""

    max_script_bytes: int = 1 << 20
    max_nesting: int = 32
    max_actions: int = 64
    max_redirects: int = 4
    max_include_depth: int = 5
    max_includes: int = 64
    max_regex_length: int = 256
    max_variable_bytes: int = 4096
    max_variables: int = 256


# --- matching vocabulary (RFC 5228 §2.7) -----------------------------------


class MatchType(enum.Enum):
    """RFC 5228 §2.7.1, RFC 5231 §4 (count/value), regex draft."""

    IS = "is"
    CONTAINS = "contains"
    MATCHES = "matches"
    REGEX = "regex"
    COUNT = "count"
    VALUE = "value"


class Relation(enum.Enum):
    """RFC 5231 §5 relational operators."""

    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    EQ = "eq"
    NE = "ne"


class Comparator(enum.Enum):
    """RFC 4790 collations used by Sieve (RFC 5228 §2.7.3)."""

    OCTET = "i;octet"
    ASCII_CASEMAP = "i;ascii-casemap"
    ASCII_NUMERIC = "i;ascii-numeric"


class AddressPart(enum.Enum):
    """RFC 5228 §2.7.4 and RFC 5233 §4 (user/detail)."""

    ALL = "all"
    LOCALPART = "localpart"
    DOMAIN = "domain"
    USER = "user"
    DETAIL = "detail"


@dataclass(frozen=True, slots=True)
class MatchSpec:
    """How a test compares (comparator, match type, relation for count/value)."""

    comparator: Comparator = Comparator.ASCII_CASEMAP
    match_type: MatchType = MatchType.IS
    relation: Relation | None = None


# --- the tree ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringList:
    """A string or string list argument (§2.4.2); ``single`` if it had no brackets."""

    items: tuple[str, ...]
    single: bool = False


@dataclass(frozen=True, slots=True)
class Number:
    """A number argument with its quantifier applied (§2.4.1)."""

    value: int


Argument = StringList | Number


@dataclass(frozen=True, slots=True)
class Tag:
    """A tagged argument (§2.6.2): ``name`` without colon, and its parameter."""

    name: str
    value: Argument | None = None


class _Args:
    """Accessors shared by tests and commands."""

    __slots__ = ()
    tags: tuple[Tag, ...]
    args: tuple[Argument, ...]

    def tag(self, name: str) -> Tag | None:
        """The tag ``name`` if present."""
        return next((t for t in self.tags if t.name == name), None)

    def has(self, name: str) -> bool:
        """Whether the tag ``name`` was given."""
        return self.tag(name) is not None

    def tag_strings(self, name: str) -> tuple[str, ...] | None:
        """The string-list parameter of tag ``name`` (None if absent)."""
        tag = self.tag(name)
        return tag.value.items if tag is not None and isinstance(tag.value, StringList) else None

    def tag_number(self, name: str) -> int | None:
        """The number parameter of tag ``name`` (None if absent)."""
        tag = self.tag(name)
        return tag.value.value if tag is not None and isinstance(tag.value, Number) else None

    def strings(self, index: int) -> tuple[str, ...]:
        """Positional argument ``index`` as a string list."""
        arg = self.args[index]
        if not isinstance(arg, StringList):
            raise SieveRuntimeError("string expected")
        return arg.items

    def string(self, index: int) -> str:
        """Positional argument ``index`` as one string."""
        items = self.strings(index)
        return items[0] if items else ""

    def number(self, index: int) -> int:
        """Positional argument ``index`` as a number."""
        arg = self.args[index]
        if not isinstance(arg, Number):
            raise SieveRuntimeError("number expected")
        return arg.value


@dataclass(frozen=True, slots=True)
class Test(_Args):
    """A test (§5): ``tests`` holds the operands of allof/anyof/not."""

    name: str
    line: int
    tags: tuple[Tag, ...] = ()
    args: tuple[Argument, ...] = ()
    tests: tuple[Test, ...] = ()
    match: MatchSpec = field(default_factory=MatchSpec)


@dataclass(frozen=True, slots=True)
class Command(_Args):
    """An action or control command other than if/elsif/else (§3, §4)."""

    name: str
    line: int
    tags: tuple[Tag, ...] = ()
    args: tuple[Argument, ...] = ()


@dataclass(frozen=True, slots=True)
class Branch:
    """One ``if``/``elsif`` arm (§3.1)."""

    test: Test
    block: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Conditional:
    """An ``if`` with its ``elsif`` arms and optional ``else`` block (§3.1)."""

    line: int
    branches: tuple[Branch, ...]
    otherwise: tuple[Node, ...] | None = None


Node = Command | Conditional


@dataclass(frozen=True, slots=True)
class IncludeKey:
    """An included script: RFC 6609 §3.2 name and location."""

    name: str
    is_global: bool


@dataclass(frozen=True, slots=True)
class Script:
    """A compiled script: its capabilities, body and resolved includes."""

    name: str
    requires: frozenset[str]
    body: tuple[Node, ...]
    includes: tuple[tuple[IncludeKey, Script], ...] = ()
    limits: SieveLimits = field(default_factory=SieveLimits)

    def included(self, key: IncludeKey) -> Script | None:
        """The compiled script for ``include`` ``key`` (None if optional and missing)."""
        return next((s for k, s in self.includes if k == key), None)


def walk(nodes: Iterable[Node]) -> Iterator[Command | Test]:
    """Every command and test below ``nodes``, depth first."""
    for node in nodes:
        if isinstance(node, Command):
            yield node
            continue
        for branch in node.branches:
            yield from _walk_test(branch.test)
            yield from walk(branch.block)
        if node.otherwise is not None:
            yield from walk(node.otherwise)


def _walk_test(test: Test) -> Iterator[Test]:
    yield test
    for sub in test.tests:
        yield from _walk_test(sub)


# --- conversion from sievelib -----------------------------------------------

_QUANTIFIERS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ENCODED = re.compile(r"\$\{(hex|unicode):([^}]*)\}", re.IGNORECASE)


def decode_string(raw: str, *, encoded_character: bool = False) -> str:
    """Unquote (§2.4.2) or un-dot-stuff a ``text:`` block; decode §2.4.2.4 if asked."""
    if raw.startswith('"'):
        value = _ESCAPE.sub(r"\1", raw[1:-1])
    else:
        lines = raw.split("\n")[1:-1]  # drop "text: ...\n" and the final "."
        value = "".join((line[1:] if line.startswith("..") else line) + "\n" for line in lines)
    return _decode_encoded(value) if encoded_character else value


def _decode_encoded(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        kind, body = match.group(1).lower(), match.group(2).split()
        try:
            if kind == "hex":
                return bytes(int(h, 16) for h in body).decode("utf-8")
            codes = [int(h, 16) for h in body]
            if any(c > 0x10FFFF or 0xD800 <= c <= 0xDFFF for c in codes):
                return match.group(0)
            return "".join(chr(c) for c in codes)
        except (ValueError, UnicodeDecodeError):
            return match.group(0)  # §2.4.2.4: malformed sequences stay as they are

    return _ENCODED.sub(one, value)


def parse_number(raw: str) -> int:
    """A §2.4.1 number with its K/M/G quantifier applied."""
    unit = raw[-1:].lower()
    if unit in _QUANTIFIERS:
        return int(raw[:-1]) * _QUANTIFIERS[unit]
    return int(raw)


_MATCH_TYPES = {m.value: m for m in MatchType}


def _match_spec(tags: tuple[Tag, ...], line: int) -> MatchSpec:
    """The comparator / match type / relation given by a test's tags (§2.7)."""
    spec = MatchSpec()
    for tag in tags:
        if tag.name in _MATCH_TYPES:
            relation = None
            if isinstance(tag.value, StringList) and tag.value.items:
                try:
                    relation = Relation(tag.value.items[0].lower())
                except ValueError:
                    raise SieveCompileError("unknown relational operator", line) from None
            spec = MatchSpec(spec.comparator, _MATCH_TYPES[tag.name], relation)
        elif tag.name == "comparator" and isinstance(tag.value, StringList):
            name = tag.value.items[0].lower() if tag.value.items else ""
            try:
                spec = MatchSpec(Comparator(name), spec.match_type, spec.relation)
            except ValueError:
                raise SieveCompileError(f"unknown comparator {name!r}", line) from None
    if spec.match_type in (MatchType.COUNT, MatchType.VALUE) and spec.relation is None:
        raise SieveCompileError("relational match type needs an operator", line)
    return spec


class Converter:
    """Builds the typed tree from sievelib's nodes (one instance per script)."""

    def __init__(self, *, encoded_character: bool) -> None:
        self.encoded_character = encoded_character

    def body(self, nodes: Iterable[Any]) -> tuple[Node, ...]:
        """Convert a block (top level or braces), folding if/elsif/else."""
        out: list[Node] = []
        for node in nodes:
            name = node.name
            if name == "if":
                out.append(Conditional(command_line(node), (self._branch(node),)))
            elif name in ("elsif", "else") and out and isinstance(out[-1], Conditional):
                last = out[-1]
                if name == "elsif":
                    out[-1] = Conditional(last.line, (*last.branches, self._branch(node)))
                else:
                    out[-1] = Conditional(last.line, last.branches, self.body(node.children))
            else:
                tags, args = self._arguments(node)
                out.append(Command(name, command_line(node), tags, args))
        return tuple(out)

    def _branch(self, node: Any) -> Branch:
        return Branch(self.test(node.arguments["test"]), self.body(node.children))

    def test(self, node: Any) -> Test:
        """Convert one test node."""
        if node.name in ("allof", "anyof"):
            subs = tuple(self.test(t) for t in node.arguments.get("tests", []))
            return Test(node.name, command_line(node), tests=subs)
        if node.name == "not":
            return Test("not", command_line(node), tests=(self.test(node.arguments["test"]),))
        tags, args = self._arguments(node)
        line = command_line(node)
        return Test(node.name, line, tags, args, match=_match_spec(tags, line))

    def _arguments(self, node: Any) -> tuple[tuple[Tag, ...], tuple[Argument, ...]]:
        tags: list[Tag] = []
        args: list[Argument] = []
        for definition in node.args_definition:
            key = definition["name"]
            if key not in node.arguments:
                continue
            value = node.arguments[key]
            if "tag" in definition["type"]:
                extra = node.extra_arguments.get(key)
                param = None if extra is None else self._value(extra)
                tags.append(Tag(str(value).lower().lstrip(":"), param))
            else:
                args.append(self._value(value))
        return tuple(tags), tuple(args)

    def _value(self, raw: Any) -> Argument:
        if isinstance(raw, list):
            return StringList(tuple(self._string(s) for s in raw))
        text = str(raw)
        if text[:1].isdigit():
            return Number(parse_number(text))
        return StringList((self._string(text),), single=True)

    def _string(self, raw: str) -> str:
        return decode_string(raw, encoded_character=self.encoded_character)
