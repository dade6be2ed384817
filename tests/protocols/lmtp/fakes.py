"""A fake DeliveryAgent for LMTP tests: users by name, spool writers that record their fate."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailstore.aliases import Recipient
from mailstore.delivery import DeliveryEnvelope, DeliveryResult, RecipientCheck, RecipientStatus
from mailstore.errors import StoreError, StoreErrorKind
from mailstore.types import StagedMessage


class FakeWriter:
    def __init__(self, agent: FakeAgent) -> None:
        self.agent = agent
        self.data = bytearray()
        self.state = "open"
        self.token = f"t{len(agent.writers)}"

    def write(self, data: bytes) -> None:
        assert self.state == "open"
        self.data += data

    async def finish(self) -> StagedMessage:
        assert self.state == "open"
        if self.agent.fail_finish:
            raise StoreError(StoreErrorKind.TEMPORARY, "disk full")
        self.state = "finished"
        self.agent.staged[self.token] = bytes(self.data)
        return StagedMessage(self.token, len(self.data))

    def abort(self) -> None:
        if self.state == "open":
            self.state = "aborted"


@dataclass
class Delivery:
    address: str
    envelope: DeliveryEnvelope
    body: bytes


@dataclass
class FakeAgent:
    """Known users: alice, bob, carol; ``full`` is over quota at RCPT; ``late-full`` passes RCPT
    but is over quota at delivery; ``broken`` raises in deliver; ``flaky`` tempfails at RCPT."""

    users: tuple[str, ...] = ("alice", "bob", "carol", "late-full", "broken", "jörg")
    writers: list[FakeWriter] = field(default_factory=list)
    staged: dict[str, bytes] = field(default_factory=dict)
    discarded: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    checks: list[tuple[str, int | None]] = field(default_factory=list)
    fail_finish: bool = False

    async def check_recipient(self, address: str, size_hint: int | None) -> RecipientCheck:
        self.checks.append((address, size_hint))
        local = address.partition("@")[0]
        user, _, detail = local.partition("+")
        if user == "full":
            return RecipientCheck(RecipientStatus.OVER_QUOTA, None)
        if user == "flaky":
            return RecipientCheck(RecipientStatus.TEMPORARY_FAILURE, None)
        if user == "explode":
            raise RuntimeError("boom")
        if user not in self.users:
            return RecipientCheck(RecipientStatus.UNKNOWN_USER, None)
        recipient = Recipient(user, detail or None, address)
        return RecipientCheck(RecipientStatus.ACCEPTED, recipient)

    def spool(self) -> FakeWriter:
        writer = FakeWriter(self)
        self.writers.append(writer)
        return writer

    async def deliver(
        self, staged: StagedMessage, envelope: DeliveryEnvelope, recipient: Recipient
    ) -> DeliveryResult:
        if recipient.user == "broken":
            raise RuntimeError("store exploded")
        if recipient.user == "late-full":
            return DeliveryResult(False, None, None, StoreErrorKind.OVER_QUOTA)
        self.deliveries.append(Delivery(recipient.address, envelope, self.staged[staged.token]))
        return DeliveryResult(True, "INBOX", len(self.deliveries), None)

    def discard(self, staged: StagedMessage) -> None:
        self.discarded.append(staged.token)
