"""Sieve actions and the rules for combining them (RFC 5228 §2.10, §4).

The interpreter feeds every executed action to an :class:`ActionCollector`.
It enforces the action limits and the conflicts (RFC 5429 §2.1: reject with
keep/fileinto/redirect/vacation; one vacation per run, RFC 5230 §4), cancels
the implicit keep where RFC 5228 §2.10.2 says so, and folds duplicates
(§2.10.3: the same mailbox or address acted on twice is acted on once;
``fileinto "INBOX"`` is ``keep``).  :meth:`ActionCollector.finish` returns
the final list the delivery layer applies, the implicit keep included.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sieve.ast import SieveLimits, SieveRuntimeError


@dataclass(frozen=True, slots=True)
class Keep:
    """Deliver to INBOX (RFC 5228 §4.3), with RFC 5232 flags; ``implicit`` if §2.10.2."""

    flags: tuple[str, ...] = ()
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class FileInto:
    """Deliver to ``mailbox`` (RFC 5228 §4.1, RFC 3894 :copy, RFC 5490 :create)."""

    mailbox: str
    flags: tuple[str, ...] = ()
    create: bool = False
    copy: bool = False


@dataclass(frozen=True, slots=True)
class Redirect:
    """Forward to ``address`` (RFC 5228 §4.2, RFC 3894 :copy)."""

    address: str
    copy: bool = False


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the message (RFC 5429): ``extended`` is ereject (refuse in-protocol)."""

    reason: str
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Discard:
    """Drop the message silently (RFC 5228 §4.4); present only if nothing else keeps it."""


@dataclass(frozen=True, slots=True)
class Vacation:
    """Send an auto-reply (RFC 5230 §4) to ``recipient``; the sender records ``handle``."""

    recipient: str
    reason: str
    subject: str | None = None
    from_address: str | None = None
    mime: bool = False
    handle: str = ""
    seconds: int = 7 * 86400


@dataclass(frozen=True, slots=True)
class TrackDuplicate:
    """Remember ``key`` for ``seconds`` once delivery succeeded (RFC 7352 §3.1)."""

    handle: str
    key: str
    seconds: int


Action = Keep | FileInto | Redirect | Reject | Discard | Vacation | TrackDuplicate

_DELIVERING = (Keep, FileInto, Redirect)


def merge_flags(*lists: tuple[str, ...]) -> tuple[str, ...]:
    """The union of flag lists, first spelling kept, compared case-insensitively."""
    seen: dict[str, str] = {}
    for flags in lists:
        for flag in flags:
            seen.setdefault(flag.lower(), flag)
    return tuple(seen.values())


class ActionCollector:
    """Collects executed actions and applies RFC 5228 §2.10 rules."""

    def __init__(self, limits: SieveLimits) -> None:
        self._limits = limits
        self._actions: list[Action] = []
        self._implicit_keep = True
        self._discarded = False
        self._vacation_seen = False
        self._count = 0

    @property
    def implicit_keep(self) -> bool:
        """Whether the implicit keep is still in force (§2.10.2)."""
        return self._implicit_keep

    def _check_room(self) -> None:
        self._count += 1
        if self._count > self._limits.max_actions:
            raise SieveRuntimeError("too many actions")

    def _rejected(self) -> bool:
        return any(isinstance(a, Reject) for a in self._actions)

    def _refuse_if_rejected(self, what: str) -> None:
        if self._rejected():
            raise SieveRuntimeError(f"reject conflicts with {what}")

    def keep(self, flags: tuple[str, ...]) -> None:
        """RFC 5228 §4.3: explicit keep (cancels the implicit one, keeps anyway)."""
        self._check_room()
        self._refuse_if_rejected("keep")
        self._implicit_keep = False
        self._add_keep(Keep(flags))

    def _add_keep(self, keep: Keep) -> None:
        for i, old in enumerate(self._actions):
            if isinstance(old, Keep):
                self._actions[i] = Keep(merge_flags(old.flags, keep.flags), keep.implicit)
                return
        self._actions.append(keep)

    def fileinto(self, action: FileInto) -> None:
        """RFC 5228 §4.1; INBOX folds into keep, repeats fold into one (§2.10.3)."""
        self._check_room()
        self._refuse_if_rejected("fileinto")
        if not action.copy:
            self._implicit_keep = False
        if action.mailbox.upper() == "INBOX":
            self._add_keep(Keep(action.flags))
            return
        for i, old in enumerate(self._actions):
            if isinstance(old, FileInto) and old.mailbox == action.mailbox:
                self._actions[i] = replace(
                    old,
                    flags=merge_flags(old.flags, action.flags),
                    create=old.create or action.create,
                    copy=old.copy and action.copy,
                )
                return
        self._actions.append(action)

    def redirect(self, action: Redirect) -> None:
        """RFC 5228 §4.2; the same address twice is redirected once."""
        self._check_room()
        self._refuse_if_rejected("redirect")
        if not action.copy:
            self._implicit_keep = False
        for i, old in enumerate(self._actions):
            if isinstance(old, Redirect) and old.address.lower() == action.address.lower():
                self._actions[i] = replace(old, copy=old.copy and action.copy)
                return
        redirects = sum(isinstance(a, Redirect) for a in self._actions)
        if redirects >= self._limits.max_redirects:
            raise SieveRuntimeError("too many redirects")
        self._actions.append(action)

    def reject(self, action: Reject) -> None:
        """RFC 5429 §2.1-2.2: incompatible with delivery, vacation and another reject."""
        self._check_room()
        if any(isinstance(a, (*_DELIVERING, Vacation, Reject)) for a in self._actions):
            raise SieveRuntimeError("reject conflicts with an earlier action")
        self._implicit_keep = False
        self._actions.append(action)

    def discard(self) -> None:
        """RFC 5228 §4.4: cancel the implicit keep."""
        self._implicit_keep = False
        self._discarded = True

    def vacation(self, action: Vacation | None) -> None:
        """RFC 5230 §4: at most one vacation per run; ``None`` if no reply is due."""
        self._check_room()
        self._refuse_if_rejected("vacation")
        if self._vacation_seen:
            raise SieveRuntimeError("vacation executed twice")
        self._vacation_seen = True
        if action is not None:
            self._actions.append(action)

    def track(self, action: TrackDuplicate) -> None:
        """RFC 7352: an ID to record when delivery succeeds."""
        if action not in self._actions:
            self._actions.append(action)

    def finish(self, flags: tuple[str, ...]) -> list[Action]:
        """The final actions: implicit keep (with ``flags``) added if still due."""
        actions = list(self._actions)
        if self._implicit_keep:
            keep = next((a for a in actions if isinstance(a, Keep)), None)
            if keep is None:
                actions.insert(0, Keep(flags, implicit=True))
        delivers = any(isinstance(a, (Keep, FileInto, Reject)) for a in actions)
        if self._discarded and not delivers:
            actions.append(Discard())
        return actions
