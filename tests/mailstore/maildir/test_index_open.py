"""Several processes opening one brand-new index at the same moment (all switch it to WAL)."""

from __future__ import annotations

import multiprocessing
import time
import traceback
from pathlib import Path
from typing import Any

from mailstore.maildir import index

ROUNDS = 15
PROCESSES = 3


def _open(path: str, start: float, results: Any) -> None:
    while time.time() < start:
        pass
    try:
        conn = index.connect(Path(path))
        with index.write_transaction(conn):
            conn.execute("SELECT 1")
        conn.close()
        results.put("ok")
    except BaseException:
        results.put(traceback.format_exc())


def test_concurrent_first_opens_all_succeed(tmp_path: Path) -> None:
    # "database is locked" came back at once from PRAGMA journal_mode=WAL (no busy wait)
    # for about 1 opener in 20; the two-process crash test failed 1 run in 8 from it.
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    failures = []
    for round_ in range(ROUNDS):
        path = tmp_path / f"index-{round_}.sqlite"
        start = time.time() + 0.2
        workers = [
            context.Process(target=_open, args=(str(path), start, results))
            for _ in range(PROCESSES)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        failures += [r for r in (results.get(timeout=10) for _ in workers) if r != "ok"]
    assert failures == []
