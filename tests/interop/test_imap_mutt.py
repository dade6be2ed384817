"""Real mutt driven under tmux against the IMAP server over IMAPS, the certificate verified
against the test CA (``certificate_file``, ``ssl_verify_host``): open INBOX, read a message,
flag it, save it to a new folder, quit; then check through the store that it moved to Archive
with \\Seen and \\Flagged and that INBOX kept the others untouched."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mailstore.types import FLAGGED, INBOX, SEEN
from tests.interop.imap_clients import ClientEnv, Tmux, start_env, store_state
from tests.interop.imap_env import PASSWORD, sample

MUTT = shutil.which("mutt")
TMUX = shutil.which("tmux")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(MUTT is None, reason="mutt is not installed"),
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
]

MUTTRC = """\
set folder="imaps://alice@localhost:{port}/"
set spoolfile="+INBOX"
set imap_user="alice"
set imap_pass="{password}"
set certificate_file="{ca}"
set ssl_verify_host=yes
set ssl_force_tls=yes
set delete=yes
set move=no
set confirmappend=no
set confirmcreate=yes
set mark_old=no
set header_cache=""
set message_cachedir=""
set record=""
set sort=date
set timeout=5
set mail_check=60
set imap_keepalive=300
set wait_key=no
set help=no
set resolve=no
"""


def saved(screen: str) -> bool:
    """The pager's status line shows message 2 deleted (saved) and flagged: ``-?D!- 2/3:``."""
    return re.search(r"(?m)^-\S*D\S*!\S*- 2/3:", screen) is not None


def mutt_command(home: Path, muttrc: Path) -> str:
    assert MUTT is not None
    return f"HOME={shlex.quote(str(home))} TERM=screen {MUTT} -n -F {shlex.quote(str(muttrc))}"


@pytest.fixture
def client_env(tmp_path: Path, reactor_thread: Any) -> Iterator[ClientEnv]:
    yield from start_env(tmp_path, reactor_thread)


@pytest.fixture
def tmux(tmp_path: Path, client_env: ClientEnv) -> Iterator[Tmux]:
    assert TMUX is not None
    driver = Tmux(TMUX, tmp_path / "tmux.sock", client_env.home)
    yield driver
    driver.kill()


def test_read_flag_and_save_to_another_folder(
    client_env: ClientEnv, tmux: Tmux, reactor_thread: Any
) -> None:
    env, home = client_env.env, client_env.home
    reactor_thread.run(env.deliver, "alice", [sample(1), sample(2, body_lines=5), sample(3)])
    muttrc = home / "muttrc"
    muttrc.write_text(MUTTRC.format(port=env.tls_port, password=PASSWORD, ca=client_env.ca_pem))
    tmux.start(mutt_command(home, muttrc))

    tmux.wait(lambda s: "message 3" in s and "message 1" in s, "the INBOX index")
    tmux.keys("2")  # jump to message 2
    tmux.keys("Enter")
    tmux.keys("Enter")
    screen = tmux.wait(lambda s: "line 4 of message 2" in s, "the body of message 2 in the pager")
    assert "Subject: message 2" in screen
    tmux.keys("F")  # flag it (from the pager)
    tmux.keys("s")
    tmux.wait(lambda s: "Save to mailbox" in s, "the save prompt")
    tmux.keys("C-u")
    tmux.keys("=Archive", literal=True)
    tmux.keys("Enter")
    screen = tmux.wait(lambda s: saved(s) or "Create " in s, "the save confirmation")
    if not saved(screen):  # Archive did not exist yet: confirm its creation
        tmux.keys("y")
        tmux.wait(saved, "the save confirmation")
    tmux.keys("q")  # pager -> index
    tmux.wait(lambda s: "Del:1" in s and "Flag:1" in s, "the index with message 2 deleted")
    tmux.keys("q")  # quit: purge the deleted message (delete=yes)
    tmux.wait(lambda _s: tmux.pane_dead(), "mutt to exit")

    inbox = reactor_thread.run(store_state, env, "alice", INBOX)
    archive = reactor_thread.run(store_state, env, "alice", "Archive")
    assert inbox == {"<1@example.org>": frozenset(), "<3@example.org>": frozenset()}
    assert archive == {"<2@example.org>": frozenset({SEEN, FLAGGED})}


def test_certificate_from_another_ca_is_not_trusted(
    client_env: ClientEnv, tmux: Tmux, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    home = client_env.home
    muttrc = home / "muttrc"
    muttrc.write_text(MUTTRC.format(port=client_env.env.tls_port, password=PASSWORD, ca=other))
    tmux.start(mutt_command(home, muttrc))
    screen = tmux.wait(lambda s: "(r)eject" in s, "mutt's untrusted-certificate question")
    assert "INBOX" not in screen.splitlines()[-1]
    tmux.keys("r")
