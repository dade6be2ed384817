"""ManageSieve over a StringTransport: RFC 5804 exchanges, states, limits and hostile input."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from protocols.managesieve import ManageSieveSettings
from sieve import CAPABILITIES
from sieve.storage import SieveQuota, SieveStorage

from .util import Client

PLAIN = b'AUTHENTICATE "PLAIN" "AGFsaWNlAHNlY3JldA=="\r\n'


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def test_greeting_lists_capabilities(tmp_path: Path) -> None:
    client = Client(tmp_path)
    lines = client.greeting.split(b"\r\n")
    assert lines[0] == b'"IMPLEMENTATION" "mailstack"'
    assert lines[1] == b'"SASL" "PLAIN LOGIN"'
    assert lines[2] == b'"SIEVE" "' + " ".join(sorted(CAPABILITIES)).encode() + b'"'
    assert b'"STARTTLS"' in lines
    assert b'"VERSION" "1.0"' in lines
    assert b'"MAXREDIRECTS" "4"' in lines
    assert lines[-2].startswith(b"OK ")


def test_no_sasl_before_tls_unless_allowed(tmp_path: Path) -> None:
    client = Client(tmp_path, ManageSieveSettings())
    assert b'"SASL" ""\r\n' in client.greeting
    assert client.send(PLAIN) == b'NO (ENCRYPT-NEEDED) "Authentication requires TLS"\r\n'


def test_starttls_drops_pipelined_input_and_reissues_capabilities(tmp_path: Path) -> None:
    client = Client(tmp_path, ManageSieveSettings())
    out = client.send(b"STARTTLS\r\n" + PLAIN + b"LISTSCRIPTS\r\n")
    head, _, rest = out.partition(b"\r\n")
    assert head == b'OK "Begin TLS negotiation now"'
    assert client.transport.tls_started is not None
    assert b'"SASL" "PLAIN LOGIN"' in rest and b'"STARTTLS"' not in rest
    assert rest.endswith(b'OK "TLS negotiated"\r\n')
    assert client.services.logins == []  # the injected AUTHENTICATE was never run


def test_starttls_without_tls(tmp_path: Path) -> None:
    client = Client(tmp_path, tls=False)
    assert b'"STARTTLS"' not in client.greeting
    assert client.send(b"STARTTLS\r\n") == b'NO "TLS not available"\r\n'


TRANSCRIPT = [
    (b'PUTSCRIPT "main" {28+}\r\nrequire "fileinto";\r\nkeep;\r\n\r\n', b'OK "Script stored"\r\n'),
    (b'PUTSCRIPT "main" "fileinto \\"x\\";"\r\n',
     b'NO "line 1: extension \'fileinto\' not loaded"\r\n'),
    (b'CHECKSCRIPT {9+}\r\nif true {\r\n', None),
    (b'CHECKSCRIPT "keep;"\r\n', b'OK "Script is valid"\r\n'),
    (b'HAVESPACE "other" 100\r\n', b'OK "Putscript would succeed"\r\n'),
    (b'HAVESPACE "other" 999999\r\n', b'NO (QUOTA/MAXSIZE) "Script too large"\r\n'),
    (b"LISTSCRIPTS\r\n", b'"main"\r\nOK "Listscripts completed"\r\n'),
    (b'SETACTIVE "main"\r\n', b'OK "Script activated"\r\n'),
    (b'SETACTIVE "nope"\r\n', b'NO (NONEXISTENT) "No such script"\r\n'),
    (b"LISTSCRIPTS\r\n", b'"main" ACTIVE\r\nOK "Listscripts completed"\r\n'),
    (b'GETSCRIPT "main"\r\n',
     b'{28}\r\nrequire "fileinto";\r\nkeep;\r\n\r\nOK "Getscript completed"\r\n'),
    (b'DELETESCRIPT "main"\r\n', b'NO (ACTIVE) "Script is active"\r\n'),
    (b'RENAMESCRIPT "main" "renamed"\r\n', b'OK "Script renamed"\r\n'),
    (b'RENAMESCRIPT "nope" "x"\r\n', b'NO (NONEXISTENT) "No such script"\r\n'),
    (b'PUTSCRIPT "b" "keep;"\r\n', b'OK "Script stored"\r\n'),
    (b'RENAMESCRIPT "b" "renamed"\r\n', b'NO (ALREADYEXISTS) "Script already exists"\r\n'),
    (b"LISTSCRIPTS\r\n", b'"b"\r\n"renamed" ACTIVE\r\nOK "Listscripts completed"\r\n'),
    (b'SETACTIVE ""\r\n', b'OK "Scripts deactivated"\r\n'),
    (b'DELETESCRIPT "renamed"\r\n', b'OK "Script deleted"\r\n'),
    (b'GETSCRIPT "renamed"\r\n', b'NO (NONEXISTENT) "No such script"\r\n'),
    (b'PUTSCRIPT "a/b" "keep;"\r\n', b'NO "Invalid script name"\r\n'),
    (b'PUTSCRIPT ".." "keep;"\r\n', b'NO "Invalid script name"\r\n'),
    (b'GETSCRIPT "a\\\\b\x01"\r\n', b'NO "Invalid script name"\r\n'),
    (b'NOOP "tag-1"\r\n', b'OK (TAG "tag-1") "Done"\r\n'),
    (b"NOOP\r\n", b'OK "Done"\r\n'),
    (b'AUTHENTICATE "PLAIN"\r\n', b'NO "Command not valid in this state"\r\n'),
    (b"STARTTLS\r\n", b'NO "Command not valid in this state"\r\n'),
    (b"UNAUTHENTICATE\r\n", b'OK "Unauthenticated"\r\n'),
    (b"LISTSCRIPTS\r\n", b'NO "Command not valid in this state"\r\n'),
    (b"LOGOUT\r\n", b'OK "Logout completed"\r\n'),
    (b"NOOP\r\n", b""),
]  # fmt: skip


def test_script_transcript(tmp_path: Path) -> None:
    client = Client(
        tmp_path,
        ManageSieveSettings(allow_plaintext_auth=True, quota=SieveQuota(max_script_bytes=1000)),
    )
    client.login()
    for sent, expected in TRANSCRIPT:
        got = client.send(sent)
        if expected is None:
            assert got.startswith(b'NO "line 1: '), got
        else:
            assert got == expected, sent
    assert client.transport.disconnecting


def test_scripts_land_in_the_users_home(tmp_path: Path) -> None:
    client = Client(tmp_path)
    client.login()
    client.send(b'PUTSCRIPT "s" "keep;"\r\nSETACTIVE "s"\r\n')
    assert SieveStorage(tmp_path / "alice").list() == [("s", True)]


def test_pipelined_commands_answer_in_order(tmp_path: Path) -> None:
    client = Client(tmp_path)
    out = client.send(PLAIN + b'PUTSCRIPT "s" {5+}\r\nkeep;\r\nLISTSCRIPTS\r\nNOOP\r\n')
    assert out == (
        b'OK "Logged in"\r\nOK "Script stored"\r\n"s"\r\nOK "Listscripts completed"\r\n'
        b'OK "Done"\r\n'
    )


@pytest.mark.parametrize(
    ("exchange", "final"),
    [
        ([b'AUTHENTICATE "PLAIN"\r\n', b'"' + b64(b"\0alice\0secret") + b'"\r\n'],
         b'OK "Logged in"\r\n'),
        ([b'AUTHENTICATE "LOGIN"\r\n', b'"' + b64(b"alice") + b'"\r\n',
          b"{8+}\r\n" + b64(b"secret") + b"\r\n"], b'OK "Logged in"\r\n'),
        ([b'AUTHENTICATE "PLAIN"\r\n', b'"*"\r\n'], b'NO "Authentication cancelled"\r\n'),
        ([b'AUTHENTICATE "PLAIN"\r\n', b'"not base64!"\r\n'],
         b'NO "Malformed authentication exchange"\r\n'),
        ([b'AUTHENTICATE "PLAIN"\r\n', b"NOOP\r\n"], b'NO "Malformed authentication exchange"\r\n'),
        ([b'AUTHENTICATE "PLAIN" "' + b64(b"\0alice\0wrong") + b'"\r\n'],
         b'NO "Authentication failed"\r\n'),
        ([b'AUTHENTICATE "CRAM-MD5"\r\n'], b'NO "Unsupported mechanism"\r\n'),
        ([b'AUTHENTICATE "PLAIN" "' + b64(b"bob\0alice\0secret") + b'"\r\n'],
         b'NO "Authorization identity refused"\r\n'),
    ],
)  # fmt: skip
def test_sasl(tmp_path: Path, exchange: list[bytes], final: bytes) -> None:
    client = Client(tmp_path)
    out = b""
    for step in exchange:
        out = client.send(step)
    assert out.endswith(final)


def test_sasl_challenges_are_strings(tmp_path: Path) -> None:
    client = Client(tmp_path)
    assert client.send(b'AUTHENTICATE "LOGIN"\r\n') == b'"' + b64(b"Username:") + b'"\r\n'
    assert client.send(b'"' + b64(b"alice") + b'"\r\n') == b'"' + b64(b"Password:") + b'"\r\n'


def test_auth_unavailable_is_trylater(tmp_path: Path) -> None:
    client = Client(tmp_path)
    client.services.unavailable = True
    assert client.send(PLAIN) == b'NO (TRYLATER) "Authentication temporarily unavailable"\r\n'


def test_huge_literal_before_login_ends_connection_at_once(tmp_path: Path) -> None:
    client = Client(tmp_path)
    out = client.send(b'AUTHENTICATE "PLAIN" {100000000+}\r\nAAAA')
    assert out == b'BYE "Literal too large"\r\n'
    assert client.transport.disconnecting
    assert client.protocol.session is not None
    assert len(client.protocol.session.framer._buffer) == 0


def test_oversized_script_is_skipped_and_refused(tmp_path: Path) -> None:
    settings = ManageSieveSettings(allow_plaintext_auth=True, quota=SieveQuota(max_script_bytes=10))
    client = Client(tmp_path, settings)
    client.login()
    assert client.send(b'PUTSCRIPT "s" {30+}\r\nLOGOUT\r\nLOGOUT\r\nLOGOUT\r\n') == b""
    out = client.send(b"LOGOUT\r\nNOOP\r\n")
    assert out == b'NO (QUOTA/MAXSIZE) "Script too large"\r\nOK "Done"\r\n'
    assert not client.transport.disconnecting


def test_too_many_bad_commands(tmp_path: Path) -> None:
    client = Client(tmp_path, ManageSieveSettings(max_bad_commands=3))
    assert client.send(b"FROB\r\nFROB\r\n") == b'NO "Unknown command"\r\n' * 2
    assert client.send(b"FROB\r\nNOOP\r\n") == b'BYE "Too many errors"\r\n'
    assert client.transport.disconnecting


def test_long_line_refused(tmp_path: Path) -> None:
    client = Client(tmp_path, ManageSieveSettings(max_line=100))
    assert client.send(b"NOOP " + b"x" * 300 + b"\r\nNOOP\r\n") == (
        b'NO "Line too long"\r\nOK "Done"\r\n'
    )


def test_idle_timeout(tmp_path: Path) -> None:
    client = Client(tmp_path)
    client.clock.advance(client.settings.idle_timeout - 1)
    client.send(b"NOOP\r\n")
    client.clock.advance(client.settings.idle_timeout - 1)
    assert not client.transport.disconnecting
    client.clock.advance(2)
    assert client.take() == b'BYE "Idle timeout"\r\n'
    assert client.transport.disconnecting


def test_owner_capability_after_login(tmp_path: Path) -> None:
    client = Client(tmp_path)
    client.login()
    out = client.send(b"CAPABILITY\r\n")
    assert b'"OWNER" "alice"\r\n' in out
    assert b'"SASL" ""\r\n' in out
