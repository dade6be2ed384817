"""A private Postfix instance for interop tests and the benchmark: own config, queue, data dirs.

Everything lives under one directory made world-traversable (Postfix's daemons run as the
``postfix`` user and its LMTP client must reach a unix socket there), never the system's
``/etc/postfix`` config, queue or pid file. Postfix must be started as root (Debian's
``postfix`` package provides the ``postfix`` user and ``postdrop`` group).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MASTER_CF = """\
{smtpd_listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {base}
maillog_file = {base}/postfix.log
myhostname = mta.test
mydomain = test
myorigin = mta.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {domain}
relay_recipient_maps =
transport_maps = inline:{{ {domain}={transport} }}
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_tls_security_level = none
smtp_tls_security_level = none
lmtp_tls_security_level = none
biff = no
default_process_limit = 20
lmtp_destination_concurrency_limit = {concurrency}
lmtp_destination_recipient_limit = 50
maximal_backoff_time = 10s
minimal_backoff_time = 5s
queue_run_delay = 5s
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    """True when Postfix is installed and we can start it (root)."""
    return shutil.which("postfix") is not None and os.geteuid() == 0


@dataclass
class PostfixInstance:
    """``postfix -c base/etc`` relaying ``domain`` to ``transport`` (e.g. ``lmtp:unix:/x``)."""

    base: Path
    domain: str
    transport: str
    concurrency: int = 10
    smtpd_port: int = 0

    def start(self) -> None:
        etc = self.base / "etc"
        for sub in ("etc", "queue", "data"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.smtpd_port = self.smtpd_port or free_port()
        (etc / "main.cf").write_text(
            MAIN_CF.format(base=self.base, domain=self.domain, transport=self.transport,
                           concurrency=self.concurrency))
        listen = f"127.0.0.1:{self.smtpd_port}"
        (etc / "master.cf").write_text(MASTER_CF.format(smtpd_listen=listen))
        shutil.chown(self.base / "data", "postfix")
        self.run("postfix", "-c", str(etc), "check")
        self.run("postfix", "-c", str(etc), "start")
        self._wait_listening()

    def _wait_listening(self, deadline: float = 30.0) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.smtpd_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"postfix smtpd did not listen; log:\n{self.log()}")

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.base / "etc"), "stop"],
                       capture_output=True, check=False, timeout=60)

    def run(self, *argv: str) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} failed: {done.stdout}{done.stderr}\n{self.log()}")
        return done.stdout

    def queue(self) -> list[dict[str, object]]:
        out = self.run("postqueue", "-c", str(self.base / "etc"), "-j")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def flush(self) -> None:
        self.run("postqueue", "-c", str(self.base / "etc"), "-f")

    def wait_drained(self, deadline: float = 120.0) -> None:
        """Poll the queue (bounded) until it is empty."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if not self.queue():
                return
            time.sleep(0.2)
        raise AssertionError(f"queue not drained: {self.queue()}\n{self.log()}")

    def log(self) -> str:
        path = self.base / "postfix.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else "(no log)"
