"""Subprocess worker for the crash and concurrency tests (not collected by pytest).

``python store_worker.py crash <base> <count>``: append messages in a loop, printing
``<uid> <sha256>`` after each append returned.
``python store_worker.py concurrent <base> <tag> <count>``: append ``count`` messages
tagged ``<tag>`` and flip flags on random messages in between; prints ``done``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from twisted.internet import task
from twisted.internet.defer import Deferred

from mailstore.maildir.store import MaildirStore
from mailstore.testing import USER, FakeUsers, digest
from mailstore.types import FLAGGED, SEEN, FlagMode


def crash_message(n: int) -> bytes:
    """Self-checking: the last line repeats the number, so a cut-off message shows."""
    body = b"line of text\r\n" * (1 + (n % 7) * 3000)
    return (
        b"Subject: crash " + str(n).encode() + b"\r\n\r\n" + body
        + b"END " + str(n).encode() + b"\r\n"
    )


def tagged_message(tag: str, n: int) -> bytes:
    return f"Subject: {tag} {n}\r\nX-Tag: {tag}-{n}\r\n\r\nbody {tag} {n}\r\n".encode()


async def crash(base: Path, count: int) -> None:
    store = MaildirStore(FakeUsers(base / "home"), base / "spool")
    account = await store.account(USER)
    box = await account.open_mailbox("INBOX")
    for n in range(count):
        msg = crash_message(n)
        result = await box.append(msg)
        sys.stdout.write(f"{result.uid} {digest(msg)}\n")
        sys.stdout.flush()
    await store.close()


async def concurrent(base: Path, tag: str, count: int) -> None:
    store = MaildirStore(FakeUsers(base / "home"), base / "spool")
    account = await store.account(USER)
    box = await account.open_mailbox("INBOX")
    rng = random.Random(tag)
    for n in range(count):
        await box.append(tagged_message(tag, n))
        snap = await box.snapshot()
        picks = [m.uid for m in snap.messages if rng.random() < 0.2]
        mode = rng.choice([FlagMode.ADD, FlagMode.REMOVE, FlagMode.REPLACE])
        await box.store_flags(picks, mode, rng.choice([[SEEN], [FLAGGED], [SEEN, "$Tag"]]))
    await store.close()
    sys.stdout.write("done\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    mode, base = argv[1], Path(argv[2])
    if mode == "crash":
        task.react(lambda _r: Deferred.fromCoroutine(crash(base, int(argv[3]))))
    else:
        task.react(lambda _r: Deferred.fromCoroutine(concurrent(base, argv[3], int(argv[4]))))


if __name__ == "__main__":
    main(sys.argv)
