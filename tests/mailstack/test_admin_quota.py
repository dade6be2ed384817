"""``mailstack-admin quota get|recalc`` against a real store on disk."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from mailstack.admin import main
from mailstack.config import load_config
from mailstore.accounts import AccountDirectory
from mailstore.maildir.store import MaildirStore
from mailstore.passwords import Password
from mailstore.types import QuotaLimits

ROOT = Path(__file__).resolve().parents[2]


def setup(tmp_path: Path) -> Path:
    config = tmp_path / "mailstack.toml"
    config.write_text('data_dir = "data"\n')
    cfg = load_config(config)
    accounts = AccountDirectory(
        cfg.accounts.passwd_file, cfg.accounts.aliases_file, mail_root=cfg.mail_root
    )
    accounts.add_user("alice@example.test", Password(b"pw"), QuotaLimits(10_000, 5), rounds=4)
    return config


def test_recalc_counts_mail_dropped_in_by_hand(tmp_path, reactor_thread, capsys, monkeypatch):
    config = setup(tmp_path)
    cfg = load_config(config)
    accounts = AccountDirectory(
        cfg.accounts.passwd_file, cfg.accounts.aliases_file, mail_root=cfg.mail_root
    )
    store = MaildirStore(accounts, cfg.spool_dir)

    async def deliver() -> None:
        account = await store.account("alice@example.test")
        inbox = await account.open_mailbox("INBOX")
        await inbox.append(b"Subject: one\r\n\r\nbody\r\n")
        await store.close()

    reactor_thread.run(deliver)
    home = accounts.home("alice@example.test")
    (home / "Maildir" / "new" / "1700000000.M1P1.elsewhere").write_bytes(
        b"Subject: x\r\n\r\n12345\r\n"
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO())

    assert main(["--config", str(config), "quota", "recalc", "alice@example.test"]) == 0
    out = capsys.readouterr().out
    assert "alice@example.test: storage " in out
    assert "of 10000 bytes, messages 2 of 5" in out

    assert main(["--config", str(config), "quota", "get", "--all"]) == 0
    assert "messages 2 of 5" in capsys.readouterr().out


def test_unknown_user_is_one_line(tmp_path, capsys):
    config = setup(tmp_path)
    assert main(["--config", str(config), "quota", "get", "bob@example.test"]) == 1
    assert capsys.readouterr().err == "mailstack-admin: error: no such user: bob@example.test\n"


def test_runs_its_own_reactor_as_a_command(tmp_path):
    config = setup(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from mailstack.admin import main; sys.exit(main())",
            "--config",
            str(config),
            "quota",
            "get",
            "alice@example.test",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "alice@example.test: storage 0 of 10000 bytes, messages 0 of 5\n"
