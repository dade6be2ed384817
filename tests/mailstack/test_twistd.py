"""The launcher: ``mailstackd`` and ``twistd mailstack`` start, log listeners, stop on SIGTERM.

These run the real programs in subprocesses. The fresh-virtualenv test installs the
project (without dependencies: a ``.pth`` file lends it this environment's packages)
and proves that twistd's plugin scan finds the dropin.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, lmtp_port: int = 0) -> Path:
    path = tmp_path / "mailstack.toml"
    path.write_text(
        f"""
data_dir = "data"
[lmtp]
listen = ["tcp:{lmtp_port}:interface=127.0.0.1"]
[imap]
listen = ["tcp:0:interface=127.0.0.1"]
listen_tls = ["tcp:0:interface=127.0.0.1"]
[pop3]
listen = ["tcp:0:interface=127.0.0.1"]
listen_tls = ["tcp:0:interface=127.0.0.1"]
[managesieve]
listen = ["tcp:0:interface=127.0.0.1"]
"""
    )
    return path


class Server:
    """A server subprocess whose output is collected line by line."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> list[str]:
        def found() -> list[str]:
            return [line for line in self.lines if text in line]

        with self._seen:
            self._seen.wait_for(
                lambda: len(found()) >= count or self.proc.poll() is not None, timeout=timeout
            )
            hits = found()
        assert len(hits) >= count, "\n".join(self.lines)
        return hits

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


# The source tree first, whichever way the project is installed here.
SOURCE_ENV = {"PYTHONPATH": str(ROOT)}


def mailstackd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from mailstack.daemon import main; main()", *args]


@pytest.mark.slow
def test_mailstackd_starts_logs_listeners_and_stops(tmp_path):
    server = Server(
        mailstackd("--config", str(write_config(tmp_path))), cwd=tmp_path, env=SOURCE_ENV
    )
    try:
        server.wait_for("mailstack ready")
        lines = server.wait_for("listening on", count=6)
        for protocol in ("lmtp", "imap", "imaps", "pop3", "pop3s", "managesieve"):
            assert any(f"] {protocol} listening on 127.0.0.1:" in line for line in lines), lines
        # The implicit-TLS listeners speak TLS once (not twice) with the self-signed pair.
        context = ssl.create_default_context(cafile=tmp_path / "data" / "tls" / "selfsigned.crt")
        for protocol, greeting in (("imaps", b"* OK"), ("pop3s", b"+OK")):
            line = next(x for x in lines if f"] {protocol} listening on" in x)
            port = int(line.rsplit(":", 1)[1])
            raw = socket.create_connection(("127.0.0.1", port), timeout=30)
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.recv(100).startswith(greeting)
    finally:
        code = server.stop()
    # twistd re-raises the signal it stopped on, as a well-behaved daemon does.
    assert code in (0, -signal.SIGTERM), "\n".join(server.lines)
    assert any("mailstack stopped" in line for line in server.lines), "\n".join(server.lines)
    assert (tmp_path / "data" / "tls" / "selfsigned.crt").exists()
    assert "Traceback" not in "\n".join(server.lines)


def test_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[imap]\nlisten = 'tcp:1143'\n")
    proc = subprocess.run(
        mailstackd("--config", str(bad)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **SOURCE_ENV},
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip() == "mailstack: [imap] listen: expected a list of endpoint strings "
        'such as "tcp:1143:interface=127.0.0.1"'
    )


@pytest.mark.slow
def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            mailstackd("--config", str(write_config(tmp_path, lmtp_port=port))),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **SOURCE_ENV},
        )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    # twistd sends stderr to its log (stdout with -n): the one line is the last one.
    last = (proc.stderr + proc.stdout).strip().splitlines()[-1]
    assert f"mailstack: cannot listen on tcp:{port}:interface=127.0.0.1 for lmtp" in last


@pytest.mark.slow
def test_twistd_finds_the_plugin_in_a_fresh_virtualenv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    inner_site = Path(
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # Lend this environment's packages (twisted, ...) to the new one, after its own.
    (inner_site / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-deps",
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )
    assert (inner_site / "twisted" / "plugins" / "mailstack_plugin.py").exists()
    assert not (inner_site / "twisted_plugins").exists()
    twistd = [str(venv / "bin" / "python"), "-c", "from twisted.scripts.twistd import run; run()"]
    help_text = subprocess.run(
        [*twistd, "--help"], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert "mailstack" in help_text
    server = Server(
        [*twistd, "-n", "--pidfile=", "mailstack", "--config", str(write_config(tmp_path))],
        cwd=tmp_path,
    )
    try:
        server.wait_for("mailstack ready")
    finally:
        code = server.stop()
    # twistd re-raises the signal it stopped on, as a well-behaved daemon does.
    assert code in (0, -signal.SIGTERM), "\n".join(server.lines)
