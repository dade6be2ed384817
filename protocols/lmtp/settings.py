"""The LMTP server's options (the ``[lmtp]`` config section).

Kept apart from the session because it is configuration, not protocol state: the app shell
(``mailstack.service``) builds it, and the Twisted edge and the session both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LmtpSettings:
    """Server options (the ``[lmtp]`` config section).

    ``max_line_length`` (octets before CRLF) bounds command lines and is what over-long DATA
    lines are measured against. 4096: RFC 5321 4.5.3.1 says 512 for commands and 1000 for
    text, but Postfix's ``line_length_limit`` is 2048 and its LMTP client re-joins longer
    lines it split, so real mail carries longer lines; 4096 leaves headroom without letting
    a client make the server buffer unbounded lines.
    """

    hostname: str = "localhost"
    max_message_size: int = 50 * MIB
    max_recipients: int = 100
    quota_tempfail: bool = False
    max_line_length: int = 4096
    idle_timeout: float = 300.0
