"""The one place that teaches sievelib's parser what it does not know.

sievelib (a parser only) lacks several commands, tests, tags and comparators
that mailstack supports, and records no line numbers on its nodes.  This
module registers, once, through ``sievelib.commands.add_commands`` and its
argument tables:

* RFC 5429 ``ereject``; RFC 6609 ``include``/``return``/``global``;
  RFC 7352 ``duplicate``; RFC 5490 ``mailboxexists``; RFC 5229 ``string``;
  RFC 5293 ``addheader``/``deleteheader``;
* RFC 5233 ``:user``/``:detail`` address parts; RFC 5260 ``:index``/``:last``
  on ``header``, ``address`` and ``date``; any ``:comparator`` name (the
  compile step checks it against the ``require``d comparators);
* a subclass of every command class that remembers the line it starts on.

:func:`parse` is the only entry point: text in, sievelib's tree out, or a
:class:`GrammarError` carrying the line.  The strict RFC 5228 checks the
parser skips (``require`` placement, unknown capabilities) live in
:mod:`sieve.compile`, not here.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator
from typing import Any

from sievelib import commands as sc
from sievelib.parser import Lexer, ParseError, Parser

__all__ = ["GrammarError", "parse"]


class GrammarError(Exception):
    """The script does not parse (RFC 5228 §8 grammar); ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _Position(threading.local):
    """The lexer in use on this thread, to stamp new nodes with their line."""

    def __init__(self) -> None:
        self.lexer: _LineLexer | None = None


_position = _Position()
_NEWLINE = re.compile(rb"\n")


class _LineLexer(Lexer):  # type: ignore[misc]
    """sievelib's lexer, plus an O(log n) line lookup for the current token."""

    def scan(self, text: bytes) -> Iterator[tuple[str, bytes]]:
        self.newlines = [m.start() for m in _NEWLINE.finditer(text)]
        _position.lexer = self
        yield from super().scan(text)

    def line(self) -> int:
        return bisect.bisect_left(self.newlines, self.pos) + 1

    def curlineno(self) -> int:
        return self.line()


def _current_line() -> int:
    lexer = _position.lexer
    return lexer.line() if lexer is not None else 0


# --- argument tables -------------------------------------------------------

_COMPARATOR: dict[str, Any] = {
    "name": "comparator",
    "type": ["tag"],
    "values": [":comparator"],
    "extra_arg": {"type": "string"},
    "required": False,
}
_INDEX: dict[str, Any] = {
    "name": "index",
    "type": ["tag"],
    "values": [":index"],
    "extra_arg": {"type": "number"},
    "extension": "index",
    "required": False,
}
_INDEX_LAST: dict[str, Any] = {
    "name": "last",
    "type": ["tag"],
    "values": [":last"],
    "extension": "index",
    "required": False,
}


def _patch_shared_tables() -> None:
    """Widen the shared comparator / relational / address-part tables.

    Comparator names and relational operators are checked by the compile step
    (unknown comparators, ``"GE"`` as well as ``"ge"``); RFC 5233 adds two
    address parts.
    """
    sc.comparator["extra_arg"].pop("values", None)
    sc.match_type["extra_arg"].pop("values", None)  # RFC 5231 operators are case-insensitive
    sc.address_part["extension_values"] = {":user": "subaddress", ":detail": "subaddress"}


def _tag(name: str, extension: str | None = None, extra: str | None = None) -> dict[str, Any]:
    arg: dict[str, Any] = {
        "name": name,
        "type": ["tag"],
        "values": [":" + name],
        "required": False,
    }
    if extension is not None:
        arg["extension"] = extension
    if extra is not None:
        arg["extra_arg"] = {"type": extra}
    return arg


def _positional(name: str, kind: str, *, required: bool = True) -> dict[str, Any]:
    types = ["string", "stringlist"] if kind == "stringlist" else [kind]
    return {"name": name, "type": types, "required": required}


class ErejectCommand(sc.ActionCommand):  # type: ignore[misc]
    """RFC 5429 §2.1 ``ereject <reason: string>``."""

    extension = "ereject"
    args_definition = [_positional("text", "string")]


class IncludeCommand(sc.ControlCommand):  # type: ignore[misc]
    """RFC 6609 §3.2 ``include [:personal / :global] [:once] [:optional] <name>``."""

    extension = "include"
    args_definition = [
        {
            "name": "location",
            "type": ["tag"],
            "values": [":personal", ":global"],
            "required": False,
        },
        _tag("once"),
        _tag("optional"),
        _positional("script-name", "string"),
    ]


class ReturnCommand(sc.ControlCommand):  # type: ignore[misc]
    """RFC 6609 §3.3 ``return``."""

    extension = "include"
    args_definition: list[dict[str, Any]] = []


class GlobalCommand(sc.ControlCommand):  # type: ignore[misc]
    """RFC 6609 §3.4 ``global <value: string-list>``."""

    extension = "include"
    args_definition = [_positional("names", "stringlist")]


class DuplicateCommand(sc.TestCommand):  # type: ignore[misc]
    """RFC 7352 §3 ``duplicate [:handle] [:header / :uniqueid] [:seconds] [:last]``."""

    extension = "duplicate"
    args_definition = [
        _tag("handle", extra="string"),
        {
            "name": "id",
            "type": ["tag"],
            "values": [":header", ":uniqueid"],
            "extra_arg": {"type": "string"},
            "required": False,
        },
        _tag("seconds", extra="number"),
        _tag("last"),
    ]
    # Every argument is optional: sievelib would call the test complete
    # before its tags.  It stays open until the token after it (``{``, ``,``
    # or ``)``) makes the parser call reassign_arguments().
    non_deterministic_args = True
    _closed = False

    def reassign_arguments(self) -> None:
        self._closed = True

    def iscomplete(self, atype: str | None = None, avalue: str | None = None) -> bool:
        return self._closed and bool(super().iscomplete(atype, avalue))


class MailboxexistsCommand(sc.TestCommand):  # type: ignore[misc]
    """RFC 5490 §3.1 ``mailboxexists <mailbox-names: string-list>``."""

    extension = "mailbox"
    args_definition = [_positional("mailbox-names", "stringlist")]


class StringCommand(sc.TestCommand):  # type: ignore[misc]
    """RFC 5229 §5 ``string [COMPARATOR] [MATCH-TYPE] <source> <key-list>``."""

    extension = "variables"
    args_definition = [
        sc.comparator,
        sc.match_type,
        _positional("source", "stringlist"),
        _positional("key-list", "stringlist"),
    ]


class AddheaderCommand(sc.ActionCommand):  # type: ignore[misc]
    """RFC 5293 §4 ``addheader [:last] <field-name> <value>``."""

    extension = "editheader"
    args_definition = [
        _tag("last"),
        _positional("field-name", "string"),
        _positional("value", "string"),
    ]


class DeleteheaderCommand(sc.ActionCommand):  # type: ignore[misc]
    """RFC 5293 §5 ``deleteheader [:index N [:last]] [COMPARATOR] [MATCH-TYPE] <field>
    [<value-patterns>]``."""

    extension = "editheader"
    args_definition = [
        _tag("index", extra="number"),
        _tag("last"),
        sc.comparator,
        sc.match_type,
        _positional("field-name", "string"),
        _positional("value-patterns", "stringlist", required=False),
    ]


def _with_index(base: type[Any]) -> type[Any]:
    """``base`` with RFC 5260 §6 ``:index``/``:last`` in front of its arguments."""
    return type(
        base.__name__,
        (base,),
        {"args_definition": [_INDEX, _INDEX_LAST, *base.args_definition]},
    )


_NEW: tuple[type[Any], ...] = (
    ErejectCommand,
    IncludeCommand,
    ReturnCommand,
    GlobalCommand,
    DuplicateCommand,
    MailboxexistsCommand,
    StringCommand,
    AddheaderCommand,
    DeleteheaderCommand,
)
_BUILTIN = [
    "Require",
    "If",
    "Elsif",
    "Else",
    "Stop",
    "Fileinto",
    "Redirect",
    "Reject",
    "Keep",
    "Discard",
    "Setflag",
    "Addflag",
    "Removeflag",
    "Notify",
    "Address",
    "Allof",
    "Anyof",
    "Envelope",
    "Exists",
    "True",
    "False",
    "Header",
    "Body",
    "Not",
    "Size",
    "Hasflag",
    "Date",
    "Currentdate",
    "Environment",
    "Vacation",
    "Set",
]


def _line_stamped(base: type[Any]) -> type[Any]:
    """A subclass of ``base`` whose instances carry ``sieve_line``."""

    def __init__(self: Any, parent: Any = None) -> None:
        base.__init__(self, parent)
        self.sieve_line = _current_line()

    return type(base.__name__, (base,), {"__init__": __init__})


def _register() -> None:
    _patch_shared_tables()
    classes: list[type[Any]] = []
    for name in _BUILTIN:
        cls: type[Any] = getattr(sc, name + "Command")
        if name in ("Header", "Address", "Date"):
            cls = _with_index(cls)
        classes.append(cls)
    classes.extend(_NEW)
    sc.add_commands([_line_stamped(cls) for cls in classes])


_register()


def command_line(node: Any) -> int:
    """The 1-based line on which a parsed sievelib node starts."""
    line = getattr(node, "sieve_line", 0)
    return line if isinstance(line, int) else 0


def parse(text: str) -> list[Any]:
    """Parse ``text`` with sievelib; raise :class:`GrammarError` with the line."""
    parser = Parser()
    parser.lexer = _LineLexer(Parser.lrules)
    try:
        ok = parser.parse(text.encode("utf-8", "surrogatepass"))
    except (ParseError, sc.CommandError, RecursionError) as exc:  # escaped sievelib
        raise GrammarError(f"syntax error: {exc}", _current_line() or 1) from exc
    finally:
        _position.lexer = None
    if not ok:
        line = parser.error_pos[0] if hasattr(parser, "error_pos") else 1
        message = str(parser.error).split(": ", 1)[-1].removeprefix("parsing error: ")
        raise GrammarError(message, line)
    if getattr(parser, "_Parser__curcommand", None) is not None:
        # sievelib accepts a final command cut off before its ";" or "}"
        raise GrammarError("end of script reached while semicolon expected", text.count("\n") + 1)
    return list(parser.result)
