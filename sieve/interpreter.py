"""Evaluate a compiled Sieve script against one message (RFC 5228 §2.10).

:func:`evaluate` is pure: everything it needs from outside (whether a
mailbox exists, duplicate and vacation history, the time, environment
items) comes through :class:`SieveContext`.  It returns the final action
list (implicit keep included); a run-time failure raises
:class:`~sieve.ast.SieveRuntimeError` and the caller keeps the message.
Commands and tests are methods named after them, found in two tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sieve.actions import (
    Action,
    ActionCollector,
    FileInto,
    Redirect,
    Reject,
    merge_flags,
)
from sieve.ast import Command, Conditional, IncludeKey, Node, Script, SieveRuntimeError, Test
from sieve.conditions import TESTS
from sieve.match import match_values
from sieve.message import SieveEnvelope, SieveMessage
from sieve.vacation import DAY, DEFAULT_SECONDS, build, reply_due
from sieve.variables import Frame, apply_modifiers

__all__ = ["SieveContext", "SieveRuntimeError", "evaluate"]


def _no_mailbox(_name: str) -> bool:
    return False


def _never_seen(_handle: str, _key: str) -> bool:
    return False


def _never_replied(_sender: str, _handle: str, _seconds: int) -> bool:
    return False


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class SieveContext:
    """What a run may ask the outside world, as injected callables.

    ``duplicate_seen(handle, key)`` answers RFC 7352; ``vacation_replied(sender,
    handle, seconds)`` answers RFC 5230 §4.2 (a reply already sent within the
    period); ``environment`` supplies RFC 5183 items.
    """

    user_addresses: tuple[str, ...] = ()
    mailbox_exists: Callable[[str], bool] = _no_mailbox
    duplicate_seen: Callable[[str, str], bool] = _never_seen
    vacation_replied: Callable[[str, str, int], bool] = _never_replied
    now: Callable[[], dt.datetime] = _utc_now
    environment: Mapping[str, str] = field(default_factory=dict)
    subaddress_separator: str = "+"
    max_vacation_seconds: int = 90 * DAY


class _Stop(Exception):
    """``stop`` (RFC 5228 §3.3): ends the whole run."""


class _Return(Exception):
    """``return`` (RFC 6609 §3.3): ends the current script."""


def evaluate(
    script: Script, envelope: SieveEnvelope, message: SieveMessage, context: SieveContext
) -> list[Action]:
    """Run ``script`` (RFC 5228 §2.10) and return the actions to apply."""
    run = Run(script, envelope, message, context)
    try:
        run.script(script)
    except _Stop:
        pass
    except RecursionError as exc:
        raise SieveRuntimeError("script nested too deeply") from exc
    return run.actions.finish(run.flags)


class Run:
    """One evaluation: the message, the collected actions, flags and variables."""

    def __init__(
        self, root: Script, envelope: SieveEnvelope, message: SieveMessage, context: SieveContext
    ) -> None:
        self.envelope = envelope
        self.message = message
        self.context = context
        self.limits = root.limits
        self.actions = ActionCollector(root.limits)
        self.flags: tuple[str, ...] = ()
        self.globals: dict[str, str] = {}
        self.included_once: set[IncludeKey] = set()
        self.frame = Frame(self.globals, root.limits)
        self.current = root

    # --- control ------------------------------------------------------------

    def script(self, script: Script) -> None:
        outer, outer_frame = self.current, self.frame
        self.current, self.frame = script, Frame(self.globals, self.limits)
        try:
            self.block(script.body)
        except _Return:
            pass
        finally:
            self.current, self.frame = outer, outer_frame

    def block(self, nodes: tuple[Node, ...]) -> None:
        for node in nodes:
            if isinstance(node, Conditional):
                self.conditional(node)
            else:
                self.command(node)

    def conditional(self, node: Conditional) -> None:
        for branch in node.branches:
            if self.test(branch.test):
                self.block(branch.block)
                return
        if node.otherwise is not None:
            self.block(node.otherwise)

    def command(self, command: Command) -> None:
        handler = _COMMANDS.get(command.name)
        if handler is None:
            raise SieveRuntimeError(f"unsupported command {command.name}")
        handler(self, command)

    def test(self, test: Test) -> bool:
        handler = TESTS.get(test.name)
        if handler is None:
            raise SieveRuntimeError(f"unsupported test {test.name}")
        return handler(self, test)

    # --- strings ------------------------------------------------------------

    def expand(self, value: str) -> str:
        if "variables" not in self.current.requires:
            return value
        return self.frame.expand(value)

    def strings(self, node: Command | Test, index: int) -> list[str]:
        return [self.expand(s) for s in node.strings(index)]

    def string(self, node: Command | Test, index: int) -> str:
        return self.expand(node.string(index))

    def tag_string(self, node: Command | Test, name: str) -> str | None:
        values = node.tag_strings(name)
        return None if values is None else self.expand(values[0] if values else "")

    def compare(self, test: Test, values: list[str], keys: list[str]) -> bool:
        result = match_values(test.match, values, keys, max_regex=self.limits.max_regex_length)
        if result.matched and result.variables is not None:
            self.frame.match = result.variables
        return result.matched

    def flag_list(self, values: list[str]) -> tuple[str, ...]:
        return merge_flags(tuple(f for v in values for f in v.split()))

    def current_flags(self, node: Command) -> tuple[str, ...]:
        given = node.tag_strings("flags")
        if given is not None:
            return self.flag_list([self.expand(v) for v in given])
        return self.flags if "imap4flags" in self.current.requires else ()


# --- commands --------------------------------------------------------------------


def _stop(run: Run, _c: Command) -> None:
    raise _Stop


def _return(run: Run, _c: Command) -> None:
    raise _Return


def _keep(run: Run, c: Command) -> None:
    run.actions.keep(run.current_flags(c))


def _discard(run: Run, _c: Command) -> None:
    run.actions.discard()


def _fileinto(run: Run, c: Command) -> None:
    mailbox = run.string(c, 0)
    if not mailbox:
        raise SieveRuntimeError("empty mailbox name")
    run.actions.fileinto(
        FileInto(mailbox, run.current_flags(c), create=c.has("create"), copy=c.has("copy"))
    )


def _redirect(run: Run, c: Command) -> None:
    address = run.string(c, 0).strip()
    if "@" not in address or any(ch.isspace() for ch in address):
        raise SieveRuntimeError("invalid redirect address")
    run.actions.redirect(Redirect(address, copy=c.has("copy")))


def _reject(run: Run, c: Command) -> None:
    run.actions.reject(Reject(run.string(c, 0), extended=c.name == "ereject"))


def _vacation(run: Run, c: Command) -> None:
    seconds = c.tag_number("seconds")
    if seconds is None:
        days = c.tag_number("days")
        seconds = DEFAULT_SECONDS if days is None else max(days, 1) * DAY
    seconds = min(seconds, run.context.max_vacation_seconds)
    extra = tuple(run.expand(a) for a in c.tag_strings("addresses") or ())
    own = (*run.context.user_addresses, run.envelope.rcpt_to, *extra)
    action = build(
        run.envelope,
        run.message,
        reason=run.string(c, 0),
        subject=run.tag_string(c, "subject"),
        from_address=run.tag_string(c, "from"),
        mime=c.has("mime"),
        handle=run.tag_string(c, "handle"),
        seconds=seconds,
    )
    due = reply_due(run.envelope, run.message, own) and not run.context.vacation_replied(
        action.recipient, action.handle, seconds
    )
    run.actions.vacation(action if due else None)


def _set(run: Run, c: Command) -> None:
    modifiers = {t.name for t in c.tags}
    run.frame.set(c.string(0), apply_modifiers(run.string(c, 1), modifiers))


def _global(run: Run, c: Command) -> None:
    run.frame.declared_global.update(n.lower() for n in c.strings(0))


def _flag_action(run: Run, c: Command) -> None:
    variable = c.string(0) if len(c.args) == 2 else None
    given = run.flag_list(run.strings(c, len(c.args) - 1))
    current = run.flag_list([run.frame.get(variable)]) if variable else run.flags
    if c.name == "setflag":
        result = given
    elif c.name == "addflag":
        result = merge_flags(current, given)
    else:
        drop = {f.lower() for f in given}
        result = tuple(f for f in current if f.lower() not in drop)
    if variable:
        run.frame.set(variable, " ".join(result))
    else:
        run.flags = result


def _include(run: Run, c: Command) -> None:
    key = IncludeKey(c.string(0), c.has("global"))
    if c.has("once") and key in run.included_once:
        return  # RFC 6609 §3.2: any earlier inclusion counts
    run.included_once.add(key)
    script = run.current.included(key)
    if script is None:
        if c.has("optional"):
            return
        raise SieveRuntimeError("included script missing")
    run.script(script)


_COMMANDS: dict[str, Callable[[Run, Command], None]] = {
    "stop": _stop,
    "return": _return,
    "keep": _keep,
    "discard": _discard,
    "fileinto": _fileinto,
    "redirect": _redirect,
    "reject": _reject,
    "ereject": _reject,
    "vacation": _vacation,
    "set": _set,
    "global": _global,
    "setflag": _flag_action,
    "addflag": _flag_action,
    "removeflag": _flag_action,
    "include": _include,
}
