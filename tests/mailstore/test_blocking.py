"""The storage pool and the hashing pool of ``mailstore.blocking``."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mailstore import blocking


def _thread_name() -> str:
    return threading.current_thread().name


def test_storage_work_runs_in_its_own_pool(reactor_thread: Any) -> None:
    async def both() -> tuple[str, str]:
        return await blocking.run_blocking(_thread_name), await blocking.run_hashing(_thread_name)

    storage, hashing = reactor_thread.run(both)
    assert "mailstack-store" in storage
    assert "mailstack-store" not in hashing and hashing != "reactor"


def test_errors_come_back_to_the_caller(reactor_thread: Any) -> None:
    def fail() -> None:
        raise OSError("disk gone")

    async def call() -> None:
        await blocking.run_blocking(fail)

    with pytest.raises(OSError, match="disk gone"):
        reactor_thread.run(call)


def test_pool_size_is_checked() -> None:
    with pytest.raises(ValueError, match="at least one"):
        blocking.set_store_threads(0)
