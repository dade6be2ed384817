"""The Sieve delivery hook: ``LocalDelivery``'s filter, running each recipient's script.

:class:`SieveDelivery` is a ``mailstore.delivery.DeliveryFilter``. Per recipient it asks
``SieveFilter.decide`` for a :class:`~sieve.filter.FilterDecision` and turns it into a
``Routing`` (RFC 5228 §2.10):

- ``keep`` (implicit or explicit) files into the default mailbox (INBOX, or the ``+detail``
  mailbox), ``fileinto`` into its mailbox, each with its RFC 5232 flags and RFC 5490
  ``:create``; ``discard`` files nothing;
- ``reject``/``ereject`` (RFC 5429 §2.1, §2.1.1) refuse the recipient in-protocol (LMTP
  ``550 5.7.1``); with ``reject_in_protocol=False`` a plain ``reject`` is instead discarded
  and answered with an MDN through ``sieve.outgoing``;
- redirects are sent before the answer to LMTP, so that a redirect the relay did not take
  can fall back to keeping the message (no mail is lost). A message bigger than the filter's
  view (``mailstore.delivery.FILTER_VIEW_LIMIT``) can only be read back from a stored
  copy: it is also kept, and redirected from that copy once stored;
- vacation replies are sent after the delivery, in the background (a slow relay must not
  delay the LMTP answer), and recorded once the relay took them (RFC 5230 §4.2); duplicate
  IDs (RFC 7352) are recorded once the copy is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.logger import Logger

from mailstore.blocking import run_blocking
from mailstore.delivery import (
    DeliveryEnvelope,
    Filing,
    MessageView,
    Routing,
    Stored,
)
from mailstore.types import INBOX
from sieve.actions import Vacation
from sieve.filter import FilterDecision, SieveFilter
from sieve.message import SieveEnvelope, SieveMessage
from sieve.outgoing import Outgoing

if TYPE_CHECKING:
    from mailstore.aliases import Recipient
    from mailstore.api import Store, UserDirectory

__all__ = ["SieveDelivery"]

log = Logger()


class SieveDelivery:
    """``DeliveryFilter`` running users' active Sieve scripts (one instance for all users)."""

    def __init__(
        self,
        users: UserDirectory,
        store: Store,
        sieve_filter: SieveFilter,
        outgoing: Outgoing | None = None,
        *,
        reject_in_protocol: bool = True,
    ) -> None:
        self.users = users
        self.store = store
        self.filter = sieve_filter
        self.outgoing = outgoing
        self.reject_in_protocol = reject_in_protocol
        self._background: set[defer.Deferred[None]] = set()

    async def __call__(
        self,
        message: MessageView,
        envelope: DeliveryEnvelope,
        recipient: Recipient,
        default_mailbox: str,
    ) -> Routing:
        """Run ``recipient``'s script on ``message`` and say where the copy goes."""
        home = await run_blocking(self.users.home, recipient.user)
        account = await self.store.account(recipient.user)
        sieve_envelope = SieveEnvelope(envelope.mail_from, recipient.address)
        decision = await self.filter.decide(
            user=recipient.user,
            home=home,
            account=account,
            message=message.data,
            envelope=sieve_envelope,
            user_addresses=(recipient.address,),
        )
        run = _Run(self, decision, message, sieve_envelope, recipient, home)
        return await run.routing(default_mailbox)

    def spawn(self, work: defer.Deferred[None]) -> None:
        """Keep a background send alive until it ends; its failure is logged."""
        self._background.add(work)
        work.addErrback(lambda failure: log.failure("sieve background send failed", failure))
        work.addBoth(lambda _: self._background.discard(work))

    async def idle(self) -> None:
        """Wait for background sends (tests, shutdown)."""
        while self._background:
            await defer.DeferredList(list(self._background), consumeErrors=True)


class _Run:
    """One recipient's decision being carried out."""

    def __init__(  # noqa: PLR0917 - a private bundle of the call's values
        self,
        owner: SieveDelivery,
        decision: FilterDecision,
        message: MessageView,
        envelope: SieveEnvelope,
        recipient: Recipient,
        home: Path,
    ) -> None:
        self.owner = owner
        self.decision = decision
        self.message = message
        self.envelope = envelope
        self.user = recipient.user
        self.home = home

    async def routing(self, default_mailbox: str) -> Routing:
        decision = self.decision
        if decision.reject is not None:
            return self._reject(decision.reject, decision.ereject)
        targets = [
            Filing(default_mailbox if t.mailbox == INBOX else t.mailbox, t.flags, t.create)
            for t in decision.targets
        ]
        redirects = list(decision.redirects)
        if redirects and self.message.complete:
            if not await self._redirect(self.message.data, redirects) and not targets:
                log.warn("sieve redirect for {user} not sent: keeping the message",
                         user=self.user)
                targets.append(Filing(default_mailbox))
            redirects = []
        elif redirects and not targets:
            targets.append(Filing(default_mailbox))  # the only copy we can redirect from
        return Routing(tuple(targets), after=self._after_for(redirects))

    def _reject(self, reason: str, extended: bool) -> Routing:
        if extended or self.owner.reject_in_protocol or self.owner.outgoing is None:
            return Routing((), refusal=reason)
        outgoing = self.owner.outgoing
        original = SieveMessage(self.message.data)

        async def notify() -> None:
            await outgoing.reject_notice(reason, original, envelope=self.envelope, user=self.user)

        self.owner.spawn(defer.Deferred.fromCoroutine(notify()))
        return Routing(())

    async def _redirect(self, data: bytes, addresses: Sequence[str]) -> bool:
        outgoing = self.owner.outgoing
        if outgoing is None:
            log.warn("sieve redirect for {user}: no submission relay configured", user=self.user)
            return False
        return await outgoing.redirect(data, addresses, envelope=self.envelope, user=self.user)

    def _after_for(self, redirects: list[str]) -> _After | None:
        if not (redirects or self.decision.vacations or self.decision.track):
            return None
        return _After(self, redirects)


class _After:
    """``Routing.after``: what happens once the copies are stored."""

    def __init__(self, run: _Run, redirects: list[str]) -> None:
        self.run = run
        self.redirects = redirects

    async def __call__(self, stored: Stored) -> None:
        run = self.run
        owner = run.owner
        if self.redirects:
            data = await stored.read()
            if data is not None:
                await run._redirect(data, self.redirects)
        if run.decision.track:
            await owner.filter.record_duplicates(run.home, run.decision)
        for vacation in run.decision.vacations:
            owner.spawn(defer.Deferred.fromCoroutine(self._vacation(vacation)))

    async def _vacation(self, vacation: Vacation) -> None:
        run = self.run
        outgoing = run.owner.outgoing
        if outgoing is None:
            log.info("sieve vacation for {user}: no submission relay configured", user=run.user)
            return
        original = SieveMessage(run.message.data)
        if await outgoing.vacation(vacation, original, envelope=run.envelope, user=run.user):
            await run.owner.filter.record_vacation(run.home, vacation)
