"""Sequence sets (RFC 3501 9, 6.4.8): parse, serialize, resolve against a mailbox.

ABNF (RFC 3501 9)::

    seq-number      = nz-number / "*"
    seq-range       = seq-number ":" seq-number
    sequence-set    = (seq-number / seq-range) *("," sequence-set)

``*`` is the largest number in use: the message count for sequence numbers, the highest UID
for UID sets. ``n:*`` with ``n`` above it still means ``*:n``, i.e. the last message
(RFC 3501 6.4.8). A ``SequenceSet`` keeps what the client sent (so it serializes back);
``resolve()`` turns it into sorted disjoint ranges, which answer membership by bisection
and select from a sorted UID list without ever expanding ``1:*``.
SEARCHRES ``$`` (RFC 5182) is not supported.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from protocols.imap.grammar.lexer import MAX_NUMBER, Reader, syntax_error

STAR = 0
"""Stands for ``*`` in ``SequenceSet.ranges`` (0 is never a valid seq-number)."""

_CHARS = re.compile(rb"[0-9:,*]+")
_ELEMENT = re.compile(rb"([1-9][0-9]{0,9}|\*)(?::([1-9][0-9]{0,9}|\*))?\Z")


@dataclass(frozen=True, slots=True)
class ResolvedSet:
    """Sorted, disjoint, non-adjacent inclusive ranges ``starts[i]..ends[i]``."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        i = bisect_right(self.starts, number) - 1
        return i >= 0 and number <= self.ends[i]

    def __iter__(self) -> Iterator[int]:
        for start, end in zip(self.starts, self.ends, strict=True):
            yield from range(start, end + 1)

    def __len__(self) -> int:
        return sum(end - start + 1 for start, end in zip(self.starts, self.ends, strict=True))

    def select(self, values: Sequence[int]) -> list[int]:
        """The members of ``values`` (sorted ascending) in this set, in order."""
        out: list[int] = []
        for start, end in zip(self.starts, self.ends, strict=True):
            out.extend(values[bisect_left(values, start) : bisect_right(values, end)])
        return out

    def positions(self, values: Sequence[int]) -> list[int]:
        """Indexes into ``values`` (sorted ascending) of its members in this set."""
        out: list[int] = []
        for start, end in zip(self.starts, self.ends, strict=True):
            out.extend(range(bisect_left(values, start), bisect_right(values, end)))
        return out


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A ``sequence-set`` as sent: ``(first, last)`` pairs, ``STAR`` (0) for ``*``."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, data: bytes) -> SequenceSet:
        """Parse a whole ``sequence-set`` (raises ``ParseError``)."""
        ranges: list[tuple[int, int]] = []
        for element in data.split(b","):
            match = _ELEMENT.match(element)
            if match is None:
                raise syntax_error("Invalid sequence set")
            first = _seq_number(match.group(1))
            last = first if match.group(2) is None else _seq_number(match.group(2))
            ranges.append((first, last))
        return cls(tuple(ranges))

    @classmethod
    def from_numbers(cls, numbers: Iterable[int]) -> SequenceSet:
        """The shortest set naming exactly ``numbers`` (for COPYUID, ESEARCH ALL ...)."""
        ranges: list[tuple[int, int]] = []
        for number in sorted(set(numbers)):
            if ranges and ranges[-1][1] == number - 1:
                ranges[-1] = (ranges[-1][0], number)
            else:
                ranges.append((number, number))
        return cls(tuple(ranges))

    def serialize(self) -> bytes:
        """The wire form (``1:3,5,7:*``)."""
        return b",".join(_element(first, last) for first, last in self.ranges)

    def resolve(self, largest: int) -> ResolvedSet:
        """Normalise with ``*`` = ``largest``: sorted, merged ranges, O(r log r)."""
        pairs = sorted(
            (min(a, b), max(a, b))
            for a, b in (
                (largest if first == STAR else first, largest if last == STAR else last)
                for first, last in self.ranges
            )
        )
        starts: list[int] = []
        ends: list[int] = []
        for start, end in pairs:
            if ends and start <= ends[-1] + 1:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        return ResolvedSet(tuple(starts), tuple(ends))

    def contains(self, number: int, largest: int) -> bool:
        """Membership of one number (resolve once instead when testing many)."""
        return number in self.resolve(largest)

    @property
    def uses_star(self) -> bool:
        """True if ``*`` occurs (a static set has a fixed meaning)."""
        return any(STAR in pair for pair in self.ranges)


def _seq_number(token: bytes) -> int:
    if token == b"*":
        return STAR
    value = int(token)
    if value > MAX_NUMBER:
        raise syntax_error("Invalid sequence set")
    return value


def _element(first: int, last: int) -> bytes:
    a = b"*" if first == STAR else str(first).encode()
    if first == last:
        return a
    return a + b":" + (b"*" if last == STAR else str(last).encode())


def parse_sequence_set(reader: Reader) -> SequenceSet:
    """Read a ``sequence-set`` at the reader's position."""
    return SequenceSet.parse(reader.take(_CHARS))


def format_numbers(numbers: Iterable[int]) -> bytes:
    """Compress numbers into a set's wire form (``1:3,7``); empty input gives ``b""``."""
    return SequenceSet.from_numbers(numbers).serialize()
