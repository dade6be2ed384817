"""Every transcript under ``transcripts/`` replayed through the real protocol and store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.protocols.imap.imap_transcript import replay

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.txt"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, tmp_path: Path, reactor_thread: Any) -> None:
    reactor_thread.run(replay, tmp_path, path.read_text())
