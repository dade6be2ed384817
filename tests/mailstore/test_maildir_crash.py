"""Crash safety and multi-process concurrency of MaildirStore, with real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mailstore.maildir.filenames import parse_name
from mailstore.maildir.store import MaildirStore
from mailstore.testing import USER, FakeUsers, digest
from mailstore.types import INBOX

WORKER = Path(__file__).with_name("store_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, env=env, cwd=REPO
    )


def _open_all(reactor_thread, base: Path):
    async def body():
        store = MaildirStore(FakeUsers(base / "home"), base / "spool")
        account = await store.account(USER)
        box = await account.open_mailbox(INBOX)
        snap = await box.snapshot()
        contents = {m.uid: await box.read(m.uid) for m in snap.messages}
        await store.close()
        return snap, contents

    return reactor_thread.run(body)


@pytest.mark.slow
def test_sigkill_during_appends_loses_nothing_reported(tmp_path: Path, reactor_thread) -> None:
    proc = _spawn("crash", str(tmp_path), "100000")
    assert proc.stdout is not None
    reported: dict[int, str] = {}
    for _ in range(40):
        line = proc.stdout.readline()
        assert line, "worker died early"
        uid_text, sha = line.decode().split()
        reported[int(uid_text)] = sha
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate()
    for raw in rest.decode().splitlines():
        uid_text, sha = raw.split()
        reported[int(uid_text)] = sha
    snap, contents = _open_all(reactor_thread, tmp_path)
    for uid, sha in reported.items():
        assert uid in contents, f"reported uid {uid} missing"
        assert digest(contents[uid]) == sha
    for uid, data in contents.items():
        n = data.split(b"\r\n", 1)[0].split()[-1]
        assert data.endswith(b"END " + n + b"\r\n"), f"partial message {uid} visible"
    uids = [m.uid for m in snap.messages]
    assert uids == sorted(set(uids))
    maildir = tmp_path / "home" / USER / "Maildir"
    visible = os.listdir(maildir / "cur") + os.listdir(maildir / "new")
    assert len(visible) == len(uids)


@pytest.mark.slow
def test_two_processes_append_and_flag_at_once(tmp_path: Path, reactor_thread) -> None:
    count = 40
    procs = [_spawn("concurrent", str(tmp_path), tag, str(count)) for tag in ("p1", "p2")]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out == b"done\n"
    snap, contents = _open_all(reactor_thread, tmp_path)
    tags = sorted(
        line.split(b": ", 1)[1].decode()
        for data in contents.values()
        for line in data.split(b"\r\n")
        if line.startswith(b"X-Tag: ")
    )
    expected = sorted(f"{t}-{n}" for t in ("p1", "p2") for n in range(count))
    assert tags == expected
    uids = [m.uid for m in snap.messages]
    assert len(uids) == len(set(uids)) == 2 * count
    maildir = tmp_path / "home" / USER / "Maildir"
    files = os.listdir(maildir / "cur") + os.listdir(maildir / "new")
    assert len(files) == len(uids)
    letters = sorted(parse_name(f).letters.replace("a", "") for f in files)
    from_index = sorted(
        "".join(sorted({"\\Flagged": "F", "\\Seen": "S"}[f] for f in m.flags if f != "$Tag"))
        for m in snap.messages
    )
    assert letters == from_index
