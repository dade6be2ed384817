"""Child-process helpers the benchmarks share: ports, start-up files, stopping a session."""

from __future__ import annotations

import os
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
