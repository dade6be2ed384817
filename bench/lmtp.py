"""LMTP delivery benchmark: N messages over M concurrent sessions, mailstack vs Dovecot.

    python bench/lmtp.py [--messages 500] [--sessions 10] [--sizes 1024,102400] [--rounds 3]

mailstack runs in a child process (LocalDelivery over AccountDirectory + MaildirStore, fsync
as always); when Dovecot (``dovecot-lmtpd``) is installed and we are root, a private Dovecot
runs with its own base_dir/state/config under a temp dir, a passwd-file userdb,
``mail_location = maildir:~/Maildir`` and ``mail_fsync = always``. The same asyncio client
(pipelined MAIL/RCPT/DATA, one recipient per message, users spread round-robin) drives both,
after a warm-up of 20 messages (it creates the mailboxes) and ``SETTLE`` seconds of rest.
Prints messages/s, per-recipient latency (end of data → that recipient's reply) and the CPU
time of the whole machine per message, for ``--rounds`` runs per server and size with the
servers taking turns to go first (the file system's state after the previous run weighs on
the next one), then the medians and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
USERS = [f"user{n}" for n in range(10)]
SETTLE = 2.5
"""Seconds between the warm-up (which creates the mailboxes) and the timed run: the Maildir
store lists a directory on every access while its mtime is under 2 s old, and a real
INBOX exists long before the mail that is delivered to it (as in bench/pop3.py)."""
DOMAIN = "bench.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_body(size: int, serial: int) -> bytes:
    head = (
        f"From: bench@{DOMAIN}\r\nTo: someone@{DOMAIN}\r\nSubject: bench {serial}\r\n"
        f"Message-ID: <bench-{serial}-{time.time_ns()}@{DOMAIN}>\r\n\r\n"
    ).encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789 " * 2 + b"\r\n"
    body = head + line * max(0, (size - len(head)) // len(line))
    return body + b"x" * max(0, size - len(body) - 2) + b"\r\n"


# -- the client ---------------------------------------------------------------------------


async def read_reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return line


async def session(port: int, jobs: asyncio.Queue[tuple[int, bytes]], latencies: list[float],
                  failures: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await read_reply(reader)
    writer.write(b"LHLO bench.client\r\n")
    await read_reply(reader)
    while True:
        try:
            serial, body = jobs.get_nowait()
        except asyncio.QueueEmpty:
            break
        rcpt = f"{USERS[serial % len(USERS)]}@{DOMAIN}"
        writer.write(f"MAIL FROM:<bench@{DOMAIN}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        replies = [await read_reply(reader) for _ in range(3)]
        if not replies[2].startswith(b"354"):
            failures.append(b" | ".join(replies))
            writer.write(b"RSET\r\n")
            await read_reply(reader)
            continue
        writer.write(body + b".\r\n")
        await writer.drain()
        started = time.perf_counter()
        reply = await read_reply(reader)
        latencies.append(time.perf_counter() - started)
        if not reply.startswith(b"250"):
            failures.append(reply)
    writer.write(b"QUIT\r\n")
    await read_reply(reader)
    writer.close()


@dataclass
class Figures:
    rate: float
    p50: float
    p95: float
    worst: float
    failures: int


async def drive(port: int, messages: int, sessions: int, size: int) -> Figures:
    jobs: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for serial in range(messages):
        jobs.put_nowait((serial, make_body(size, serial)))
    latencies: list[float] = []
    failures: list[bytes] = []
    started = time.perf_counter()
    await asyncio.gather(*(session(port, jobs, latencies, failures) for _ in range(sessions)))
    elapsed = time.perf_counter() - started
    if failures:
        print(f"  {len(failures)} failures, first: {failures[0]!r}", file=sys.stderr)
    ordered = sorted(latencies) or [0.0]
    return Figures(
        rate=messages / elapsed,
        p50=statistics.median(ordered) * 1000,
        p95=ordered[int(len(ordered) * 0.95) - 1 if len(ordered) > 1 else 0] * 1000,
        worst=ordered[-1] * 1000,
        failures=len(failures),
    )


# -- the servers --------------------------------------------------------------------------


def wait_port(port: int, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start listening")


def serve_mailstack(base: Path, port: int) -> None:
    """Child process: LocalDelivery over real accounts and the Maildir store."""
    sys.path.insert(0, str(ROOT))
    from twisted.internet import endpoints, reactor

    from mailstore.accounts import AccountDirectory
    from mailstore.delivery import LocalDelivery
    from mailstore.maildir.store import MaildirStore
    from mailstore.passwords import Password
    from mailstore.types import QuotaLimits
    from protocols.lmtp import LmtpSettings, build_factory

    (base / "passwd").touch()
    (base / "aliases").touch()
    accounts = AccountDirectory(base / "passwd", base / "aliases", mail_root=base / "mail")
    for user in USERS:
        accounts.add_user(user, Password(b"pw"), QuotaLimits(), rounds=4)
    store = MaildirStore(accounts, base / "spool")
    delivery = LocalDelivery(accounts, store, hostname="mailstack.bench")
    factory = build_factory(delivery, LmtpSettings(hostname="mailstack.bench"))
    loop: Any = reactor
    endpoint = endpoints.serverFromString(loop, f"tcp:{port}:interface=127.0.0.1")  # type: ignore[no-untyped-call]
    endpoint.listen(factory)
    loop.run()


def start_mailstack(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve-mailstack", str(base), str(port)],
            stdout=subprocess.DEVNULL, stderr=log,
        )
    wait_port(port, process)
    return process, port


DOVECOT_CONF = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = lmtp
ssl = no
listen = 127.0.0.1
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:~/Maildir
mail_fsync = always
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = {base}/passwd
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service anvil {{
  chroot =
}}
"""


def start_dovecot(base: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    if shutil.which("dovecot") is None or not Path("/usr/lib/dovecot/lmtp").exists():
        return None
    if os.geteuid() != 0:
        return None
    port = free_port()
    for sub in ("run", "state", "home"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for path in (base.parent, base):  # the auth and lmtp processes run as other users
        os.chmod(path, 0o755)
    uid, gid = 8, 8  # Debian's "mail" user owns the test maildirs
    lines = []
    for user in USERS:
        home = base / "home" / user
        home.mkdir(exist_ok=True)
        os.chown(home, uid, gid)
        lines.append(f"{user}@{DOMAIN}:{{PLAIN}}pw:{uid}:{gid}::{home}::")
    (base / "passwd").write_text("\n".join(lines) + "\n")
    (base / "dovecot.conf").write_text(DOVECOT_CONF.format(base=base, port=port))
    process = subprocess.Popen(["dovecot", "-F", "-c", str(base / "dovecot.conf")])
    wait_port(port, process)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--sizes", default="1024,102400")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed runs per server and size (median reported)")
    parser.add_argument("--no-dovecot", action="store_true")
    parser.add_argument("--serve-mailstack", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mailstack:
        serve_mailstack(Path(args.serve_mailstack[0]), int(args.serve_mailstack[1]))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="mailstack-bench-", dir="/tmp") as tmp:
        base = Path(tmp)
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        servers["mailstack"] = start_mailstack(base / "mailstack")
        dovecot = None if args.no_dovecot else start_dovecot(base / "dovecot")
        if dovecot is not None:
            servers["dovecot"] = dovecot
        try:
            report(servers, sizes, args.messages, args.sessions, args.rounds)
        finally:
            for process, _port in servers.values():
                stop(process)


def machine_busy() -> int:
    """Busy jiffies of the whole machine so far (/proc/stat; all but idle and iowait), or 0."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except OSError:
        return 0
    return sum(fields) - fields[3] - fields[4]


def timed(port: int, messages: int, sessions: int, size: int) -> tuple[Figures, float]:
    """One warm-up, ``SETTLE`` seconds of rest, one timed run; the figures and the CPU
    time of the whole machine per message (ms: server, client and kernel together)."""
    asyncio.run(drive(port, min(20, messages), sessions, size))  # creates the mailboxes
    time.sleep(SETTLE)
    busy0 = machine_busy()
    figures = asyncio.run(drive(port, messages, sessions, size))
    busy1 = machine_busy()
    cpu_ms = (busy1 - busy0) / os.sysconf("SC_CLK_TCK") * 1000 / messages
    return figures, cpu_ms


def report(servers: dict[str, tuple[subprocess.Popen[bytes], int]], sizes: list[int],
           messages: int, sessions: int, rounds: int) -> None:
    print(f"{messages} messages, {sessions} sessions, 1 recipient each, fsync on, "
          f"{rounds} round(s) per size, the servers taking turns to go first")
    print(f"{'server':10} {'size':>8} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
          f"{'cpu ms/msg':>10} fail")
    for size in sizes:
        rates: dict[str, list[float]] = {name: [] for name in servers}
        for turn in range(rounds):
            order = list(servers.items())
            if turn % 2:
                order.reverse()
            for name, (_process, port) in order:
                figures, cpu_ms = timed(port, messages, sessions, size)
                rates[name].append(figures.rate)
                print(f"{name:10} {size:>8} {figures.rate:>8.1f} {figures.p50:>8.1f} "
                      f"{figures.p95:>8.1f} {figures.worst:>8.1f} {cpu_ms:>10.2f} "
                      f"{figures.failures}")
        medians = {name: statistics.median(values) for name, values in rates.items()}
        line = "  ".join(f"{name} {rate:.1f}" for name, rate in medians.items())
        print(f"{'median':10} {size:>8} msg/s: {line}")
        if "dovecot" in medians:
            ratio = medians["mailstack"] / medians["dovecot"]
            print(f"{'ratio':10} {size:>8} mailstack/dovecot = {ratio:.2f} (of the medians)")


if __name__ == "__main__":
    main()
