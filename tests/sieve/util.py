"""Helpers shared by the Sieve tests."""

from __future__ import annotations

import datetime as dt

from sieve import (
    Action,
    SieveContext,
    SieveEnvelope,
    SieveMessage,
    compile_script,
    evaluate,
)

NOW = dt.datetime(2024, 3, 5, 14, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))

MESSAGE = (
    b"Return-Path: <coyote@desert.example.org>\r\n"
    b"Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n"
    b"From: Wile Coyote <coyote@desert.example.org>\r\n"
    b"Sender: owner-ietf-mta-filters@imc.org\r\n"
    b"To: roadrunner@acme.example.com\r\n"
    b"Cc: me@example.com, =?utf-8?q?J=C3=B6rg?= <joerg+lists@example.net>\r\n"
    b"Subject: =?utf-8?q?I_have_a_pr=C3=A9sent?= for you\r\n"
    b"Message-ID: <1234@desert.example.org>\r\n"
    b"X-Caffeine: C8H10N4O2\r\n"
    b"X-Count: 12\r\n"
    b"X-Count: 3\r\n"
    b"\r\n"
    b"Look, I'm sorry about the whole anvil thing.\r\n"
)


def message(raw: bytes = MESSAGE, /, **headers: str) -> SieveMessage:
    """MESSAGE with extra headers prepended (name_with_underscores=value)."""
    extra = b"".join(f"{k.replace('_', '-')}: {v}\r\n".encode() for k, v in headers.items())
    return SieveMessage(extra + raw)


def run(
    script: str,
    msg: SieveMessage | None = None,
    *,
    envelope: SieveEnvelope | None = None,
    context: SieveContext | None = None,
    includes: dict[tuple[str, bool], str] | None = None,
) -> list[Action]:
    """Compile and evaluate ``script`` against ``msg``."""
    loader = None
    if includes is not None:
        table = includes

        def loader(name: str, is_global: bool) -> str | None:
            return table.get((name, is_global))

    compiled = compile_script(script, name="test", include_loader=loader)
    return evaluate(
        compiled,
        envelope or SieveEnvelope("coyote@desert.example.org", "roadrunner@acme.example.com"),
        msg or message(),
        context or SieveContext(now=lambda: NOW),
    )
