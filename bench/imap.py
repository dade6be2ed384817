"""IMAP INBOX timings: mailstack, and a private Dovecot on the same Maildir when installed.

Usage: ``python bench/imap.py [--sizes 10000[,100000]] [--seed 1]``

For each size N an INBOX of N messages (90 % 2-8 KiB, 10 % 20-60 KiB; LF line ends, as an
MDA writes them; about 1 % contain the word searched for) is written directly as a Maildir
(``cur/`` files with ``,S=`` and ``,W=`` sizes) and copied once for Dovecot before either
server touches it. mailstack's IMAP server runs in a child process (so client and server do
not share a GIL; its peak RSS is read from ``/proc/<pid>/status`` ``VmHWM``); when
``dovecot`` and its imap binary are installed, a private Dovecot (own config, base_dir,
state and log under the temp dir, loopback port, passwd-file userdb) serves the copy
afterwards; the system Dovecot service is neither used nor started. Both are plain IMAP on
loopback with LOGIN, no TLS, and are driven by the same ``imaplib`` client:

1. a first SELECT (cold: index build) in its own session, then in a second session
2. SELECT (warm, median of 5), ``UID FETCH 1:* (FLAGS)``, ``FETCH 1:* (ENVELOPE)``,
   ``FETCH 1:* BODY.PEEK[]`` (in ranges of 10,000 messages so the client's memory stays
   bounded; MB/s of literal bytes), ``UID SEARCH TEXT <word>``, ``STORE 1:* +FLAGS
   (\\Seen)``, ``STORE <odd> +FLAGS.SILENT (\\Deleted)`` (sequence sets of 1,000 numbers
   per command) and ``EXPUNGE``.

The Maildir is left to settle 2.5 s after it was written: the Maildir store rescans a
directory while its mtime is under 2 s old, and mail is normally delivered well before it is
read. Each step is timed once, except the warm SELECT (a millisecond step: the median of
``WARM_SELECTS`` in a row); the ratio is mailstack / Dovecot seconds.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import random
import shutil
import statistics
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
WORD = "zanzibar"
DOVECOT_IMAP = Path("/usr/lib/dovecot/imap")
SETTLE = 2.5
BODY_CHUNK = 10_000
FLAG_CHUNK = 1_000
WARM_SELECTS = 5
STEPS = (
    "SELECT (cold)",
    "SELECT",
    "UID FETCH 1:* (FLAGS)",
    "FETCH 1:* (ENVELOPE)",
    "FETCH 1:* BODY.PEEK[]",
    "UID SEARCH TEXT",
    "STORE 1:* +FLAGS (\\Seen)",
    "STORE odd +FLAGS (\\Deleted)",
    "EXPUNGE (half)",
)
"""Row names, in the order the steps run."""


# -- the messages -------------------------------------------------------------------------


def message(n: int, rng: random.Random) -> bytes:
    """One message with LF line ends (as on disk); about 1 % mention ``WORD``."""
    size = rng.randint(20_480, 61_440) if rng.random() < 0.10 else rng.randint(2048, 8192)
    head = (
        f"From: Sender {n} <s{n}@example.org>\nTo: Alice <{USER}@example.com>\n"
        f"Cc: c{n % 17}@example.net\nSubject: bench message {n}\n"
        f"Message-ID: <{n}.bench@example.org>\nDate: Mon, 6 Nov 2023 10:00:00 +0000\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
    ).encode()
    line = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in range(70)) + b"\n"
    body = bytearray(b"see you in %s\n" % WORD.encode() if rng.random() < 0.01 else b"")
    while len(head) + len(body) < size:
        body += line
    return head + bytes(body)


def build_maildir(maildir: Path, count: int, seed: int) -> int:
    """Write ``count`` messages into ``maildir/cur``; returns the total octets on disk."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    stamp = int(time.time()) - count
    total = 0
    for n in range(count):
        data = message(n, rng)
        vsize = len(data) + data.count(b"\n")
        name = f"{stamp + n}.M{n}P{os.getpid()}.bench,S={len(data)},W={vsize}:2,"
        (maildir / "cur" / name).write_bytes(data)
        total += len(data)
    return total


# -- the mailstack side (runs in the child process) --------------------------------------


def serve(base: Path, port_file: Path) -> None:
    """Child process: serve IMAP over ``base/mail/<user>/Maildir`` until killed."""
    from twisted.internet import defer, endpoints, reactor

    from mailstore.accounts import AccountDirectory
    from mailstore.maildir.store import MaildirStore
    from mailstore.passwords import Password
    from protocols.auth import Authenticator
    from protocols.imap.server import ImapSettings, build_factory

    (base / "passwd").touch()
    (base / "aliases").touch()
    accounts = AccountDirectory(base / "passwd", base / "aliases", mail_root=base / "mail")
    accounts.add_user(USER, Password(PASSWORD.encode()), rounds=4)
    store = MaildirStore(accounts, base / "spool")

    async def setup() -> None:
        settings = ImapSettings(hostname="bench", allow_plaintext_auth=True)
        factory = build_factory(store, Authenticator(accounts), None, settings, implicit_tls=False)
        make_endpoint: Any = endpoints.TCP4ServerEndpoint
        port = await make_endpoint(the_reactor, 0, interface="127.0.0.1").listen(factory)
        port_file.write_text(str(port.getHost().port))

    def failed(failure: object) -> None:
        print(failure, file=sys.stderr)
        the_reactor.stop()

    the_reactor: Any = reactor
    the_reactor.callWhenRunning(lambda: defer.Deferred.fromCoroutine(setup()).addErrback(failed))
    the_reactor.run()


# -- the client ---------------------------------------------------------------------------


def ok(result: tuple[str, Any], what: str) -> Any:
    typ, data = result
    if typ != "OK":
        raise RuntimeError(f"{what}: {typ} {data!r}")
    return data


def connect(port: int) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    ok(client.login(USER, PASSWORD), "LOGIN")
    return client


def sequence_sets(numbers: list[int], per: int) -> list[str]:
    return [",".join(map(str, numbers[i : i + per])) for i in range(0, len(numbers), per)]


def measure(port: int, count: int) -> tuple[dict[str, float], dict[str, float]]:
    """Run every step against the server on ``port``: (seconds per step, extra figures)."""
    times: dict[str, float] = {}
    extra: dict[str, float] = {}

    def timed(step: str, action: Any) -> Any:
        started = time.perf_counter()
        result = action()
        times[step] = time.perf_counter() - started
        return result

    cold = connect(port)
    exists = int(ok(timed("SELECT (cold)", lambda: cold.select("INBOX")), "SELECT")[0])
    cold.logout()
    if exists != count:
        raise RuntimeError(f"SELECT saw {exists} messages, expected {count}")
    client = connect(port)
    warm = []  # a millisecond step: the median of a few is less noisy than one
    for _ in range(WARM_SELECTS):
        ok(timed("SELECT", lambda: client.select("INBOX")), "SELECT")
        warm.append(times["SELECT"])
    times["SELECT"] = statistics.median(warm)
    flags = ok(
        timed("UID FETCH 1:* (FLAGS)", lambda: client.uid("FETCH", "1:*", "(FLAGS)")), "UID FETCH"
    )
    envelopes = ok(
        timed("FETCH 1:* (ENVELOPE)", lambda: client.fetch("1:*", "(ENVELOPE)")), "FETCH ENVELOPE"
    )
    del flags, envelopes

    def bodies() -> int:
        octets = 0
        for first in range(1, count + 1, BODY_CHUNK):
            last = "*" if first + BODY_CHUNK > count else str(first + BODY_CHUNK - 1)
            data = ok(client.fetch(f"{first}:{last}", "(BODY.PEEK[])"), "FETCH BODY")
            octets += sum(len(item[1]) for item in data if isinstance(item, tuple))
        return octets

    octets = timed("FETCH 1:* BODY.PEEK[]", bodies)
    extra["MB/s"] = octets / times["FETCH 1:* BODY.PEEK[]"] / 1e6
    found = ok(timed("UID SEARCH TEXT", lambda: client.uid("SEARCH", "TEXT", WORD)), "SEARCH")
    extra["search hits"] = len(found[0].split())
    ok(
        timed("STORE 1:* +FLAGS (\\Seen)", lambda: client.store("1:*", "+FLAGS", "(\\Seen)")),
        "STORE",
    )

    def delete_odd() -> None:
        for seqs in sequence_sets(list(range(1, count + 1, 2)), FLAG_CHUNK):
            ok(client.store(seqs, "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")

    timed("STORE odd +FLAGS (\\Deleted)", delete_odd)
    expunged = ok(timed("EXPUNGE (half)", client.expunge), "EXPUNGE")
    extra["expunged"] = len([e for e in expunged if e is not None])
    client.logout()
    return times, extra


# -- process handling ---------------------------------------------------------------------


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the Dovecot side ---------------------------------------------------------------------

DOVECOT_CONF = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{base}/mail/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/users
}}
userdb {{
  driver = passwd-file
  args = {base}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


# -- one size -----------------------------------------------------------------------------


def run_size(tmp: Path, count: int, seed: int) -> None:
    ours_base, theirs_base = tmp / f"mailstack-{count}", tmp / f"dovecot-{count}"
    maildir = ours_base / "mail" / USER / "Maildir"
    started = time.perf_counter()
    octets = build_maildir(maildir, count, seed)
    have_dovecot = Path(DOVECOT).exists() and DOVECOT_IMAP.exists()
    if have_dovecot:
        shutil.copytree(maildir, theirs_base / "mail" / USER / "Maildir")
    print(
        f"\n{count:,} messages, {octets / 1e6:.1f} MB on disk "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    time.sleep(SETTLE)
    port_file = tmp / f"port-{count}"
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(ours_base), str(port_file)],
        start_new_session=True,
    )
    try:
        wait_for(port_file, server, "mailstack", timeout=120)
        ours, ours_extra = measure(int(port_file.read_text()), count)
        rss = peak_rss_mib(server.pid)
    finally:
        stop(server)
    theirs: dict[str, float] = {}
    theirs_extra: dict[str, float] = {}
    if have_dovecot:
        dovecot, port = start_dovecot(theirs_base, DOVECOT_CONF, USER, PASSWORD)
        try:
            theirs, theirs_extra = measure(port, count)
        except (OSError, RuntimeError, imaplib.IMAP4.error):
            print((theirs_base / "dovecot.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop(dovecot)
    else:
        print("dovecot-imapd not installed: no comparison")
    print_table(ours, theirs, ours_extra, theirs_extra)
    print(f"mailstack peak RSS: {rss:.0f} MiB")


def print_table(
    ours: dict[str, float],
    theirs: dict[str, float],
    ours_extra: dict[str, float],
    theirs_extra: dict[str, float],
) -> None:
    print(f"{'step':30s} {'mailstack s':>12s} {'dovecot s':>10s} {'ratio':>7s}")
    for step in STEPS:
        mine, other = ours[step], theirs.get(step)
        cells = f"{other:10.4f} {mine / other:7.2f}" if other else f"{'-':>10s} {'-':>7s}"
        print(f"{step:30s} {mine:12.4f} {cells}")
    for key in ("MB/s", "search hits", "expunged"):
        other_value = theirs_extra.get(key)
        other_text = f"{other_value:10.1f}" if other_value is not None else f"{'-':>10s}"
        print(f"{'  ' + key:30s} {ours_extra[key]:12.1f} {other_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated INBOX sizes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORTFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]))
        return
    with tempfile.TemporaryDirectory(prefix="imapbench-") as tmp:
        for count in (int(size) for size in args.sizes.split(",")):
            run_size(Path(tmp), count, args.seed)


if __name__ == "__main__":
    main()
