"""The shared reactor-thread fixture runs coroutines and thread-pool work."""

from __future__ import annotations

import threading

from mailstore.blocking import run_blocking


def test_run_blocking_goes_to_a_pool_thread(reactor_thread):
    async def probe() -> tuple[str, str]:
        here = threading.current_thread().name
        there = await run_blocking(lambda: threading.current_thread().name)
        return here, there

    here, there = reactor_thread.run(probe)
    assert here == "reactor"
    assert there != "reactor"
