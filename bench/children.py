"""Child-process helpers the benchmarks share: ports, start-up files, stopping a session."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def wait_for(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 600) -> None:
    """Wait until a child wrote ``path`` (e.g. its port), or fail if it died or took too long."""
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child started with ``start_new_session=True`` (its own process group only)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
NOBODY = 65534  # Dovecot refuses uid 0 for mail users: the copy is served as "nobody"


def start_dovecot(
    base: Path, conf_template: str, user: str, password: str
) -> tuple[subprocess.Popen[bytes], int]:
    """A private Dovecot over ``base/mail/<user>`` (already holding the copied Maildir).

    ``conf_template`` is formatted with ``base`` and ``port``; its passdb/userdb read
    ``base/users``. Returns the process (its own session: stop it with ``stop``) and the port.
    """
    for sub in ("run", "state"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    base.parent.chmod(0o711)  # the auth process runs as the dovecot user: it must reach users
    base.chmod(0o711)
    for path in [base / "mail", *(base / "mail").rglob("*")]:
        os.chown(path, NOBODY, NOBODY)
    (base / "users").write_text(
        f"{user}:{{PLAIN}}{password}:{NOBODY}:{NOBODY}::{base}/mail/{user}::\n"
    )
    port = free_port()
    conf = base / "dovecot.conf"
    conf.write_text(conf_template.format(base=base, port=port))
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = base / "dovecot.log"
                raise RuntimeError(
                    "dovecot did not start: " + (log.read_text() if log.exists() else "")
                ) from None
            time.sleep(0.05)
