"""Real Postfix relays a domain to mailstack over LMTP, over TCP and over a unix socket.

The test starts its own Postfix (``postfix -c DIR start``: config, queue and data dirs in
a private temp dir, smtpd on a free loopback port, ``transport_maps`` sending ``lmtp.test``
to ``lmtp:inet:[127.0.0.1]:PORT`` or ``lmtp:unix:/path``), submits 20 messages over SMTP
(one to three recipients, one to an unknown user), waits for the queue to drain and reads
the store: every message in the right mailbox, and the bounce for the unknown user back in
the sender's INBOX (the sender is a local user too).
"""

from __future__ import annotations

import shutil
import smtplib
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from mailstore.types import QuotaLimits
from tests.interop import postfix_instance
from tests.interop.lmtp_env import listen, make_env, read_mailbox

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(
        not postfix_instance.available(), reason="postfix not installed (or not root)"
    ),
]

USERS = ("alice", "bob", "carol", "sender")


def plan() -> list[tuple[list[str], str]]:
    """20 messages: (recipients, subject)."""
    singles = ["alice", "bob", "carol", "alice+lists", "carol+nosuch"]
    messages = [([f"{singles[n % 5]}@lmtp.test"], f"single {n}") for n in range(18)]
    messages.append((["alice@lmtp.test", "bob@lmtp.test", "carol@lmtp.test"], "three"))
    messages.append((["nobody@lmtp.test"], "unknown"))
    return messages


def where_it_lands(address: str) -> tuple[str, str]:
    local = address.split("@", maxsplit=1)[0]
    user, _, detail = local.partition("+")
    return user, "lists" if detail == "lists" else "INBOX"


@pytest.mark.parametrize("family", ["inet", "unix"])
def test_postfix_relays_over_lmtp(reactor_thread, family: str) -> None:
    base = Path(tempfile.mkdtemp(prefix="mailstack-postfix-", dir="/tmp"))
    try:
        run(reactor_thread, base, family)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(reactor_thread, base: Path, family: str) -> None:
    base.chmod(0o755)
    env = make_env(base / "store", {user: QuotaLimits() for user in USERS})

    async def prepare():
        await (await env.store.account("alice")).create_mailbox("lists")

    reactor_thread.run(prepare)
    listening = reactor_thread.run(listen, env, base / "lmtp.sock")
    transport = (f"lmtp:inet:[127.0.0.1]:{listening.tcp_port}" if family == "inet"
                 else f"lmtp:unix:{listening.unix_path}")
    postfix = postfix_instance.PostfixInstance(base / "postfix", "lmtp.test", transport)
    try:
        postfix.start()
        with smtplib.SMTP("127.0.0.1", postfix.smtpd_port, timeout=30) as smtp:
            for recipients, subject in plan():
                smtp.sendmail("sender@lmtp.test", recipients,
                              f"From: sender@lmtp.test\r\nSubject: {subject}\r\n\r\n"
                              f"Body of {subject}.\r\n.leading dot\r\n".encode())
        postfix.wait_drained(deadline=120)
        check_store(reactor_thread, env, postfix.log())
    finally:
        postfix.stop()
        reactor_thread.run(listening.stop)


def subjects(messages: list[bytes]) -> set[str]:
    found = set()
    for message in messages:
        for line in message.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                found.add(line[9:].decode())
                break
    return found


def check_store(reactor_thread, env, log: str) -> None:
    expected: dict[tuple[str, str], set[str]] = defaultdict(set)
    for recipients, subject in plan():
        for address in recipients:
            if not address.startswith("nobody"):
                expected[where_it_lands(address)].add(subject)
    for (user, mailbox), wanted in expected.items():
        stored = reactor_thread.run(read_mailbox, env, user, mailbox)
        assert subjects(stored) == wanted, (user, mailbox, log)
        assert len(stored) == len(wanted)
        for message in stored:
            assert b"\r\nReceived: from mta.test (" in message
            assert b".leading dot\r\n" in message
    (bounce,) = reactor_thread.run(read_mailbox, env, "sender")
    assert bounce.startswith(b"Return-Path: <>\r\n")
    assert b"nobody@lmtp.test" in bounce and b"5.1.1" in bounce
