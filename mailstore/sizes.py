"""Sizes as people write them in config files and quota rules: ``500M``, ``1G``, ``0``."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """``"500M"`` → 524288000. Units K, M, G, T (powers of 1024), optional ``B``/``iB``.

    Raises ``ValueError`` for anything else (negative numbers included).
    """
    if isinstance(text, bool):
        raise ValueError("size must be a number or a string like '500M'")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("size must not be negative")
        return text
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (use e.g. 500M, 1G, 0)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]
