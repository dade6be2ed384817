"""Helpers for driving real IMAP client programs (mbsync, offlineimap, mutt) against the
IMAP server of ``tests.interop.imap_env``: an IMAPS listener whose certificate names
``localhost`` (SAN and CN) issued by a throwaway CA, bounded subprocess runs, a local Maildir
reader, and a tmux pane driver that polls the screen with a deadline."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from protocols.tls import server_context
from tests.interop.imap_env import ImapEnv, listen, make_env

RUN_TIMEOUT = 60.0
"""Upper bound (seconds) for one run of a client program."""


@dataclass(frozen=True, slots=True)
class ClientEnv:
    """A running IMAP server plus what a client program needs to reach it."""

    env: ImapEnv
    ca_pem: Path
    home: Path


def tls_context_for(ca: trustme.CA, directory: Path) -> Any:
    """A server context for ``localhost`` (SAN and subject CN) issued by ``ca``."""
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", common_name="localhost")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    cert.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return server_context(cert, key, data_dir=directory, hostname="localhost")


def start_env(tmp_path: Path, reactor_thread: Any) -> Iterator[ClientEnv]:
    """Generator behind the tests' ``client_env`` fixtures: server up, then torn down."""
    ca = trustme.CA()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    env = make_env(tmp_path / "imap")
    reactor_thread.run(listen, env, tls_context_for(ca, tmp_path / "tls"))
    home = tmp_path / "home"
    home.mkdir()
    try:
        yield ClientEnv(env, ca_pem, home)
    finally:
        reactor_thread.run(env.stop)


def run_program(argv: Sequence[str], home: Path, timeout: float = RUN_TIMEOUT) -> tuple[int, str]:
    """Run a client program with ``HOME=home``; ``(exit status, stdout + stderr)``."""
    env = {**os.environ, "HOME": str(home), "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.run(
            list(argv), env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        pytest.fail(f"{argv[0]} did not finish in {timeout} s; its output:\n{output}")
    return proc.returncode, proc.stdout + proc.stderr


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def maildir_messages(folder: Path) -> dict[str, tuple[bytes, str]]:
    """``{Message-ID: (content, maildir info flags)}`` for a local Maildir folder."""
    found: dict[str, tuple[bytes, str]] = {}
    for sub in ("cur", "new"):
        for path in sorted((folder / sub).iterdir()):
            content = path.read_bytes()
            flags = path.name.rpartition(":2,")[2] if ":2," in path.name else ""
            found[message_id(content)] = (content, flags)
    return found


def message_id(message: bytes) -> str:
    """The Message-ID header value of ``message`` ("" if none)."""
    for line in message.splitlines():
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii")
        if not line.strip():
            break
    return ""


async def store_messages(
    env: ImapEnv, user: str, mailbox: str
) -> dict[str, tuple[bytes, frozenset[str]]]:
    """``{Message-ID: (content, flags)}`` of a mailbox, read through the store."""
    account = await env.store.account(user)
    box = await account.open_mailbox(mailbox)
    snap = await box.snapshot()
    found: dict[str, tuple[bytes, frozenset[str]]] = {}
    for info in snap.messages:
        content = await box.read(info.uid)
        found[message_id(content)] = (content, info.flags)
    return found


async def store_state(env: ImapEnv, user: str, mailbox: str) -> dict[str, frozenset[str]]:
    """``{Message-ID: flags}`` of a mailbox, read through the store."""
    found = await store_messages(env, user, mailbox)
    return {mid: flags for mid, (_content, flags) in found.items()}


def wait_for(
    probe: Callable[[], str], predicate: Callable[[str], bool], timeout: float, what: str
) -> str:
    """Poll ``probe()`` until ``predicate`` holds on its result; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    seen = probe()
    while not predicate(seen):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; last screen:\n{seen}")
        time.sleep(0.1)
        seen = probe()
    return seen


class Tmux:
    """One detached tmux session on a private socket, driven by send-keys/capture-pane."""

    def __init__(self, tmux: str, socket: Path, home: Path) -> None:
        self.tmux = tmux
        self.socket = socket
        self.home = home
        self.config = socket.with_suffix(".conf")
        # remain-on-exit from the start: the pane (and its last screen) outlives the program.
        self.config.write_text("set-option -g remain-on-exit on\n")

    def _cmd(self, *args: str) -> str:
        argv = [self.tmux, "-S", str(self.socket), "-f", str(self.config), *args]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={**os.environ, "HOME": str(self.home)},
        )
        return proc.stdout

    def start(self, command: str) -> None:
        """Start ``command`` (a shell string) in a 200x50 detached session."""
        self._cmd("new-session", "-d", "-x", "200", "-y", "50", "-s", "t", command)

    def keys(self, *keys: str, literal: bool = False) -> None:
        """``send-keys``: tmux key names, or text with ``literal``."""
        self._cmd("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        """The visible pane text."""
        return self._cmd("capture-pane", "-p", "-t", "t")

    def wait(self, predicate: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Poll the pane until ``predicate`` holds; the screen then."""
        return wait_for(self.screen, predicate, timeout, what)

    def pane_dead(self) -> bool:
        """Whether the program in the pane has exited."""
        return self._cmd("display-message", "-p", "-t", "t", "#{pane_dead}").strip() == "1"

    def kill(self) -> None:
        """Kill the tmux server of this socket (only ours: the socket is private)."""
        subprocess.run(
            [self.tmux, "-S", str(self.socket), "kill-server"],
            capture_output=True,
            timeout=30,
            check=False,
        )
