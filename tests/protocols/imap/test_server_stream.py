"""Streaming a big literal when its message vanishes midway (RFC 2180 4.1.3).

The literal's size is on the wire before its octets: if the store can no longer give
them, the only honest answer is to close the connection, with nothing more written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from mailstore.errors import StoreError, StoreErrorKind
from mailstore.types import FlagMode
from protocols.imap.responses import ExternalLiteral, FetchData, SectionItem
from protocols.imap.server import ImapProtocol, ImapSettings
from tests.protocols.imap.messages_env import Env, message


@pytest.fixture
def env(tmp_path: Path, reactor_thread: Any) -> Iterator[Env]:
    e = Env(tmp_path, reactor_thread)
    yield e
    e.close()


def _protocol() -> tuple[ImapProtocol, StringTransport]:
    proto = ImapProtocol(None, None, None, ImapSettings(), clock=Clock())  # type: ignore[arg-type]
    transport = StringTransport()
    proto.makeConnection(transport)
    transport.clear()
    return proto, transport


class _Vanishing:
    """A literal source that gives some octets, then finds its message gone."""

    async def chunks(self) -> AsyncIterator[bytes]:
        yield b"x" * 40
        raise StoreError(StoreErrorKind.NOT_FOUND, "message file vanished")


def test_vanishing_source_closes_the_connection(reactor_thread: Any) -> None:
    proto, transport = _protocol()
    item = SectionItem(b"BODY[]", ExternalLiteral(100, _Vanishing()))

    async def go() -> None:
        await proto.send([FetchData(1, (item,)), FetchData(2, (item,))])

    reactor_thread.run(go)
    assert transport.value() == b"* 1 FETCH (BODY[] {100}\r\n" + b"x" * 40
    assert transport.disconnecting


def test_message_expunged_before_its_literal_is_streamed(env: Env) -> None:
    body = b"".join(b"line %06d of a big body\r\n" % i for i in range(10000))
    sel = env.select([message(1, body), message(2)])
    result = env.command(sel, b"a FETCH 1:2 BODY.PEEK[]")
    first = result.untagged[0]
    assert isinstance(first, FetchData) and isinstance(first.items[0], SectionItem)
    assert isinstance(first.items[0].data, ExternalLiteral)  # big: streamed by the transport

    async def expunge_then_send() -> None:
        box = await (await env.account()).open_mailbox("INBOX")
        await box.store_flags([1], FlagMode.ADD, ["\\Deleted"])
        await box.expunge()
        await proto.send(result.untagged)

    proto, transport = _protocol()
    env.rt.run(expunge_then_send)
    size = len(message(1, body))
    assert transport.value() == b"* 1 FETCH (BODY[] {%d}\r\n" % size
    assert transport.disconnecting
