"""Sieve at delivery: deliveries/s with a 50-rule script against no script.

    /work/venv/bin/python bench/sieve_delivery.py [--messages 400] [--concurrency 4]

In process, no sockets: each message is staged through ``LocalDelivery.spool()`` and
delivered to one of 10 users with ``LocalDelivery.deliver`` over the real
``AccountDirectory`` + ``MaildirStore`` (fsync as always), in three set-ups:

- ``no filter``: LocalDelivery without a filter (what a site without Sieve runs);
- ``no script``: the Sieve hook installed, no user has an active script;
- ``50 rules``: every user's active script has 50 ``if`` rules (header, address, size,
  body and envelope tests, ``fileinto`` with ``:flags``), the last of which files most
  messages into a folder; nothing is redirected or answered (no relay).

Prints deliveries/s for each and the ratio of ``50 rules`` to ``no script``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twisted.internet import defer, task  # noqa: E402

from mailstore.accounts import AccountDirectory  # noqa: E402
from mailstore.delivery import DeliveryEnvelope, LocalDelivery  # noqa: E402
from mailstore.maildir.store import MaildirStore  # noqa: E402
from mailstore.passwords import Password  # noqa: E402
from mailstore.types import QuotaLimits  # noqa: E402
from sieve.delivery import SieveDelivery  # noqa: E402
from sieve.filter import SieveFilter  # noqa: E402
from sieve.storage import SieveStorage  # noqa: E402

USERS = [f"user{n}" for n in range(10)]
DOMAIN = "bench.test"


def script_50() -> bytes:
    """50 rules of the kinds real filters have; the last one matches every bench message."""
    rules = ['require ["fileinto", "imap4flags", "body", "envelope", "mailbox"];']
    kinds = [
        'if header :contains "subject" "[list-{n}]" {{ fileinto "List{n}"; stop; }}',
        'if address :is :domain "from" "sender{n}.example" {{ fileinto "Dom{n}"; stop; }}',
        'if header :matches "x-mailer" "*Tool{n}*" {{ addflag "$Tool{n}"; }}',
        'if envelope :is "from" "robot{n}@example.org" {{ discard; stop; }}',
        'if allof (size :over 5M, header :is "x-big" "{n}") {{ fileinto "Big"; stop; }}',
    ]
    for n in range(49):
        rules.append(kinds[n % len(kinds)].format(n=n))
    rules.append('if body :contains "needle" { fileinto :create :flags "\\\\Seen" "Bench"; }')
    return "\n".join(rules).encode() + b"\n"


def message(serial: int) -> bytes:
    head = (
        f"From: Bench <bench@{DOMAIN}>\r\nTo: someone@{DOMAIN}\r\nSubject: bench {serial}\r\n"
        f"X-Mailer: BenchMailer 1.0\r\nMessage-ID: <b{serial}-{time.time_ns()}@{DOMAIN}>\r\n\r\n"
    ).encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789 " * 2 + b"\r\n"
    return head + line * 50 + b"the needle line\r\n"


ENVELOPE = DeliveryEnvelope(
    mail_from=f"bench@{DOMAIN}", client_helo="bench", client_address="[127.0.0.1]",
    queue_id="BENCH", smtputf8=False, body_8bit=False,
)  # fmt: skip


async def run_setup(root: Path, mode: str, messages: int, concurrency: int) -> float:
    (root / "passwd").touch()
    (root / "aliases").touch()
    accounts = AccountDirectory(root / "passwd", root / "aliases", mail_root=root / "mail")
    for user in USERS:
        accounts.add_user(user, Password(b"pw"), QuotaLimits(), rounds=4)
        if mode == "50 rules":
            storage = SieveStorage(accounts.home(user))
            storage.put("bench", script_50())
            storage.activate("bench")
    store = MaildirStore(accounts, root / "spool")
    delivery = LocalDelivery(accounts, store, hostname="bench")
    if mode != "no filter":
        delivery.filter = SieveDelivery(accounts, store, SieveFilter())
    recipients = [accounts.resolve(f"{u}@{DOMAIN}")[0] for u in USERS]
    bodies = [message(n) for n in range(messages)]

    async def one(serial: int) -> None:
        writer = delivery.spool()
        writer.write(bodies[serial])
        staged = await writer.finish()
        try:
            result = await delivery.deliver(staged, ENVELOPE, recipients[serial % len(USERS)])
        finally:
            delivery.discard(staged)
        if not result.ok:
            raise SystemExit(f"delivery failed: {result}")

    async def worker(serials: list[int]) -> None:
        for serial in serials:
            await one(serial)

    await worker([0])  # warm up: open indexes, compile and cache the scripts
    started = time.perf_counter()
    slices = [list(range(1 + k, messages, concurrency)) for k in range(concurrency)]
    await defer.gatherResults(
        [defer.Deferred.fromCoroutine(worker(s)) for s in slices]
    )
    elapsed = time.perf_counter() - started
    if mode == "50 rules":  # the script really ran: the last rule filed into "Bench"
        box = await (await store.account(USERS[0])).open_mailbox("Bench")
        if not (await box.snapshot()).messages:
            raise SystemExit("the 50-rule script did not file into Bench")
    await store.close()
    return (messages - 1) / elapsed


async def main(reactor: Any, args: argparse.Namespace) -> None:
    figures: dict[str, float] = {}
    for mode in ("no filter", "no script", "50 rules"):
        with tempfile.TemporaryDirectory(prefix="bench-sieve-") as tmp:
            figures[mode] = await run_setup(Path(tmp), mode, args.messages, args.concurrency)
        print(f"{mode:>10}: {figures[mode]:8.1f} deliveries/s", flush=True)
    ratio = figures["50 rules"] / figures["no script"]
    print(f"50 rules / no script = {ratio:.2f}  (50 rules / no filter = "
          f"{figures['50 rules'] / figures['no filter']:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    arguments = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor, arguments)))
