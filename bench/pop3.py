"""POP3 RETR throughput: mailstack, and a private Dovecot on the same Maildir when installed.

Usage: ``python bench/pop3.py [--messages 1000] [--seed 1]``

Builds a Maildir of mixed-size messages (70 % 2-10 KiB, 25 % 20-100 KiB, 5 % 0.5-2 MiB)
through ``MaildirStore``, serves it with mailstack's POP3 server in a child process (so the
client and server do not share a GIL), and RETRieves every message once, one command at a
time, with a raw-socket client that only looks for the ``CRLF.CRLF`` terminator. Each server
gets one untimed warm-up session (index build / page cache) and then the best of ``--rounds``
timed sessions is reported. Before each timed session the Maildir is left to settle for
2.5 s after the last change (delivery, or the previous session's QUIT flagging everything
``\\Seen``): the Maildir store rescans a directory on every access while its mtime is under
2 s old, and mail is normally delivered well before it is collected. When ``dovecot`` and its
pop3 binary are installed, a private instance (own config, base_dir, state and log under
the temp dir, loopback port, passwd-file userdb) serves a copy of the same Maildir and is
measured the same way; the system Dovecot service is neither used nor started. Plaintext
logins on loopback, no TLS, for both.
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from children import DOVECOT, start_dovecot, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER = "alice"
PASSWORD = "bench-secret"
DOVECOT_POP3 = Path("/usr/lib/dovecot/pop3")
SETTLE = 2.5
"""Seconds to wait after the Maildir changed before a timed session (see the docstring)."""


def message(n: int, size: int, rng: random.Random) -> bytes:
    head = (
        f"From: Sender {n} <s{n}@example.org>\r\nTo: {USER}@example.com\r\n"
        f"Subject: bench message {n}\r\nMessage-ID: <{n}.bench@example.org>\r\n"
        "Date: Mon, 6 Nov 2023 10:00:00 +0000\r\n\r\n"
    ).encode()
    line = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz .") for _ in range(76)) + b"\r\n"
    body = bytearray()
    while len(head) + len(body) < size:
        body += b"." + line if rng.random() < 0.02 else line
    return head + bytes(body)


def sizes(count: int, rng: random.Random) -> list[int]:
    out = []
    for _ in range(count):
        r = rng.random()
        if r < 0.70:
            out.append(rng.randint(2 * 1024, 10 * 1024))
        elif r < 0.95:
            out.append(rng.randint(20 * 1024, 100 * 1024))
        else:
            out.append(rng.randint(512 * 1024, 2 * 1024 * 1024))
    return out


# -- the mailstack side (runs in the child process) --------------------------------------


def build_and_serve(base: Path, count: int, seed: int, port_file: Path) -> None:
    """Child process: create the account and messages, then serve POP3 until killed."""
    from twisted.internet import defer, endpoints, reactor, task

    from mailstore.accounts import AccountDirectory
    from mailstore.maildir.store import MaildirStore
    from mailstore.passwords import Password
    from mailstore.types import INBOX
    from protocols.auth import Authenticator
    from protocols.pop3 import Pop3Settings, build_factory

    (base / "passwd").touch()
    (base / "aliases").touch()
    accounts = AccountDirectory(base / "passwd", base / "aliases", mail_root=base / "mail")
    accounts.add_user(USER, Password(PASSWORD.encode()), rounds=4)
    store = MaildirStore(accounts, base / "spool")

    async def setup() -> None:
        rng = random.Random(seed)
        box = await (await store.account(USER)).open_mailbox(INBOX)
        for n, size in enumerate(sizes(count, rng)):
            await box.append(message(n, size, rng))
        # Mail is normally delivered well before it is collected: let the store's 2 s
        # "directory may still change" window pass, so reads are not measured as rescans.
        await task.deferLater(reactor, SETTLE, lambda: None)
        await box.snapshot()
        settings = Pop3Settings(hostname="bench", allow_plaintext_auth=True)
        factory = build_factory(store, Authenticator(accounts), None, settings, implicit_tls=False)
        make_endpoint: Any = endpoints.TCP4ServerEndpoint
        endpoint = make_endpoint(reactor, 0, interface="127.0.0.1")
        port = await endpoint.listen(factory)
        port_file.write_text(str(port.getHost().port))

    def failed(failure: object) -> None:
        print(failure, file=sys.stderr)
        the_reactor.stop()

    the_reactor: Any = reactor
    the_reactor.callWhenRunning(lambda: defer.Deferred.fromCoroutine(setup()).addErrback(failed))
    the_reactor.run()


# -- the client ---------------------------------------------------------------------------


class Client:
    """A minimal POP3 client: status lines and multi-line bodies, nothing parsed further."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = bytearray()
        self.status()

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def status(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self.buf[:end])
        del self.buf[: end + 2]
        if not line.startswith(b"+OK"):
            raise RuntimeError(f"server said {line!r}")
        return line

    def command(self, line: str) -> bytes:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.status()

    def body(self) -> int:
        start = 0
        while True:
            end = self.buf.find(b"\r\n.\r\n", start)
            if end >= 0 or self.buf.startswith(b".\r\n"):
                size = end + 2 if end >= 0 else 0
                del self.buf[: size + 3]
                return size
            start = max(0, len(self.buf) - 4)
            self._fill()

    def login(self) -> tuple[int, int]:
        self.command(f"USER {USER}")
        self.command(f"PASS {PASSWORD}")
        _ok, count, octets = self.command("STAT").split()
        return int(count), int(octets)

    def quit(self) -> None:
        self.command("QUIT")
        self.sock.close()


def session(port: int, timed: bool) -> tuple[int, int, float]:
    """One session: RETR every message (when timed); returns (messages, octets, seconds)."""
    client = Client(port)
    count, octets = client.login()
    started = time.perf_counter()
    received = 0
    if timed:
        for n in range(1, count + 1):
            client.command(f"RETR {n}")
            received += client.body()
    elapsed = time.perf_counter() - started
    client.quit()
    return count, octets, elapsed


def measure(name: str, port: int, rounds: int) -> float:
    session(port, timed=True)  # warm-up: index build, page cache
    results = []
    for _ in range(rounds):
        time.sleep(SETTLE)  # QUIT just flagged every message \Seen (renamed their files)
        results.append(session(port, timed=True))
    best = min(results, key=lambda r: r[2])
    count, octets, seconds = best[0], best[1], best[2]
    rate = count / seconds
    print(
        f"{name:10s} {count} messages, {octets / 1e6:.1f} MB in {seconds:.2f} s: "
        f"{rate:,.0f} messages/s, {octets / seconds / 1e6:.1f} MB/s"
    )
    return rate


# -- the Dovecot side ---------------------------------------------------------------------

DOVECOT_CONF = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:{base}/mail/%u/Maildir
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/users
}}
userdb {{
  driver = passwd-file
  args = {base}/users
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORTFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        build_and_serve(Path(args.serve[0]), args.messages, args.seed, Path(args.serve[1]))
        return
    with tempfile.TemporaryDirectory(prefix="pop3bench-") as tmp:
        base = Path(tmp)
        port_file = base / "port"
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--messages",
                str(args.messages),
                "--seed",
                str(args.seed),
                "--serve",
                str(base / "mailstack"),
                str(port_file),
            ],
            start_new_session=True,
        )
        try:
            (base / "mailstack").mkdir()
            wait_for(port_file, server, "mailstack")
            ours = measure("mailstack", int(port_file.read_text()), args.rounds)
        finally:
            stop(server)
        if not (Path(DOVECOT).exists() and DOVECOT_POP3.exists()):
            print("dovecot-pop3d not installed: no comparison")
            return
        maildir = base / "mailstack" / "mail" / USER / "Maildir"
        target = base / "dovecot" / "mail" / USER / "Maildir"
        shutil.copytree(maildir, target, ignore=shutil.ignore_patterns("mailstack-*"))
        dovecot, port = start_dovecot(base / "dovecot", DOVECOT_CONF, USER, PASSWORD)
        try:
            theirs = measure("dovecot", port, args.rounds)
        except (OSError, RuntimeError):
            print((base / "dovecot" / "dovecot.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop(dovecot)
        print(f"ratio      mailstack/dovecot = {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
