"""RFC 3501 6.1.3: after LOGOUT's tagged OK the server closes the connection — over TLS too.

Twisted's TLS layer only shuts down once no producer is registered; before the fix a LOGOUT
on IMAPS or after STARTTLS left the connection open and mbsync waited forever.
"""

from __future__ import annotations

import socket
import ssl

import pytest
import trustme

from tests.interop.imap_clients import tls_context_for
from tests.interop.imap_env import listen, make_env


@pytest.fixture
def server(tmp_path, reactor_thread):
    ca = trustme.CA()
    env = make_env(tmp_path / "imap")
    reactor_thread.run(listen, env, tls_context_for(ca, tmp_path / "tls"))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    yield env, client
    reactor_thread.run(env.stop)


def read_to_eof(sock: socket.socket) -> bytes:
    sock.settimeout(30)  # a guard against hanging the suite, not a timing assertion
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


@pytest.mark.parametrize("mode", ["plain", "starttls", "imaps"])
def test_logout_closes_the_connection(server, mode):
    env, client = server
    port = env.tls_port if mode == "imaps" else env.plain_port
    sock = socket.create_connection(("localhost", port))
    if mode == "imaps":
        sock = client.wrap_socket(sock, server_hostname="localhost")
    sock.recv(4096)
    if mode == "starttls":
        sock.sendall(b"a STARTTLS\r\n")
        assert sock.recv(4096).startswith(b"a OK")
        sock = client.wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(b"1 LOGOUT\r\n")
        data = read_to_eof(sock)
    assert data.startswith(b"* BYE")
    assert data.endswith(b"1 OK LOGOUT completed\r\n")
