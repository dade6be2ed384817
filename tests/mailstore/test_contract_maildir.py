"""The store contract (``mailstore.testing``) on ``MaildirStore`` over real directories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailstore.maildir.store import MaildirStore
from mailstore.testing import FakeUsers, StoreContract, StoreHarness


@pytest.fixture
def harness(tmp_path: Path, reactor_thread) -> Iterator[StoreHarness]:
    users = FakeUsers(tmp_path / "home")
    spool = tmp_path / "spool"
    h = StoreHarness(users, lambda u: MaildirStore(u, spool), reactor_thread.run)
    yield h
    reactor_thread.run(h.close_all)


class TestMaildirContract(StoreContract):
    pass
