"""Config loading: embedded defaults, paths, and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailstack.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailstack.toml"
    path.write_text(text)
    return path


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.data_dir == tmp_path / "mailstack-data"
    assert cfg.accounts.passwd_file == tmp_path / "mailstack-data" / "users"
    assert cfg.accounts.default_quota == 1 << 30
    assert cfg.imap.listen == ("tcp:1143:interface=127.0.0.1",)
    assert cfg.imap.listen_tls == ("tcp:1993:interface=127.0.0.1",)
    assert cfg.lmtp.listen == ("tcp:2424:interface=127.0.0.1",)
    assert cfg.pop3.listen_tls == ("tcp:1995:interface=127.0.0.1",)
    assert cfg.managesieve.listen == ("tcp:4190:interface=127.0.0.1",)
    assert cfg.tls.certificate is None and cfg.tls.allow_plaintext_auth is False
    assert cfg.hostname == "localhost"
    assert cfg.store_threads == 4


def test_paths_relative_to_the_file(tmp_path):
    path = write(
        tmp_path,
        """
data_dir = "state"
hostname = "mx.example.test"
[accounts]
passwd_file = "/etc/mailstack/users"
default_quota = "500M"
recipient_delimiter = "+-"
[tls]
certificate = "tls/cert.pem"
private_key = "tls/key.pem"
[imap]
listen = []
listen_tls = ["tcp:993"]
[lmtp]
listen = ["unix:/run/mailstack/lmtp"]
quota_tempfail = true
""",
    )
    cfg = load_config(path)
    assert cfg.config_file == path
    assert cfg.data_dir == tmp_path / "state"
    assert cfg.accounts.passwd_file == Path("/etc/mailstack/users")
    assert cfg.accounts.aliases_file == tmp_path / "state" / "aliases"
    assert cfg.accounts.default_quota == 500 << 20
    assert cfg.accounts.recipient_delimiter == "+-"
    assert cfg.tls.certificate == tmp_path / "tls" / "cert.pem"
    assert cfg.imap.listen == () and cfg.imap.listen_tls == ("tcp:993",)
    assert cfg.lmtp.listen == ("unix:/run/mailstack/lmtp",) and cfg.lmtp.quota_tempfail


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1", "colour: unknown key"),
        ("[imap]\nlisten = 'tcp:1143'", "[imap] listen: expected a list"),
        ("[imap]\nlisten = [1143]", "[imap] listen: expected a list"),
        ("[imap]\nport = 1", "[imap] port: unknown key"),
        ("[accounts]\ndefault_quota = 'lots'", "[accounts] default_quota: not a size"),
        ("[accounts]\ndefault_quota_messages = -1", "[accounts] default_quota_messages"),
        ("[accounts]\nrecipient_delimiter = '@'", "[accounts] recipient_delimiter"),
        ("[tls]\nallow_plaintext_auth = 'yes'", "[tls] allow_plaintext_auth: expected true"),
        ("[tls]\ncertificate = 'c.pem'", "[tls] certificate, private_key: give both"),
        ("imap = 3", "[imap]: expected a table"),
        ("hostname = 'two words'", "hostname:"),
        ("data_dir = 7", "data_dir: expected a string"),
        ("store_threads = 0", "store_threads: expected a whole number >= 1"),
        ("[lmtp\n", "not valid TOML"),
        ("[submission]\nrelay = 'localhost'", "[submission] relay: expected an endpoint"),
        ("[submission]\nrelay = 25", "[submission] relay: expected a string"),
        ("[submission]\nenabled = 1", "[submission] enabled: expected true"),
        ("[submission]\nfrom = 'x'", "[submission] from: unknown key"),
        ("[sieve]\nmax_scripts = -1", "[sieve] max_scripts: expected a whole number"),
        ("[sieve]\nmax_script_size = 'big'", "[sieve] max_script_size: not a size"),
        ("[sieve]\nmax_actions = 0", "[sieve] max_actions: expected a whole number >= 1"),
        ("[sieve]\nredirect_sender = 'author'", "[sieve] redirect_sender: expected"),
    ],
)
def test_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_submission_and_sieve_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.submission.relay == "tcp:127.0.0.1:25"
    assert cfg.submission.enabled and cfg.submission.timeout == 60.0
    assert cfg.sieve.enabled and cfg.sieve.max_scripts == 32
    assert cfg.sieve.max_script_size == 256 << 10 and cfg.sieve.max_total_size == 1 << 20
    assert cfg.sieve.max_actions == 64 and cfg.sieve.max_redirects == 4
    assert cfg.sieve.redirect_sender == "sender"


def test_submission_and_sieve_from_file(tmp_path):
    path = write(
        tmp_path,
        """
[submission]
relay = "unix:/run/postfix/submit"
enabled = false
timeout = 5
[sieve]
max_scripts = 3
max_script_size = "8K"
max_redirects = 1
redirect_sender = "recipient"
""",
    )
    cfg = load_config(path)
    assert cfg.submission.relay == "unix:/run/postfix/submit"
    assert not cfg.submission.enabled and cfg.submission.timeout == 5.0
    assert cfg.sieve.max_scripts == 3 and cfg.sieve.max_script_size == 8 << 10
    assert cfg.sieve.max_redirects == 1 and cfg.sieve.redirect_sender == "recipient"
