"""Sans-IO IMAP command framer: bytes in, whole commands (lines and literals) out.

RFC 3501 2.2 / 4.3: a command is one or more lines; a line ending in ``{n}`` announces a
synchronising literal of ``n`` octets that the client sends only after the server's ``+``
continuation, and ``{n+}`` (RFC 7888 LITERAL+) a literal sent at once. The framer knows
nothing about commands; it only finds where each command ends, enforces size limits before
reading data, and hands the caller a ``CommandFrame``.

Shaped like h11: ``receive_data()`` buffers, ``next_event()`` returns one event at a time (or
``None`` when more input, or a decision, is needed), and ``feed()`` does both and drains.
The caller decides about a synchronising literal (``accept_literal()`` to send ``+ Ready``,
``reject_literal()`` after answering NO/BAD) and switches to raw-line mode for IDLE's
``DONE`` and AUTHENTICATE's responses (``set_line_mode(True)``). Oversized literals are
refused before any of their octets are read; a non-synchronising one is then skipped
(RFC 7888 4) together with the rest of its command. Literals at or above ``chunk_threshold``
are not held whole: their octets arrive as ``LiteralChunk`` events and the frame carries a
``StreamedLiteral`` placeholder.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_LITERAL = 64 * 1024 * 1024
DEFAULT_MAX_COMMAND = DEFAULT_MAX_LITERAL + 1024 * 1024

_MARKER = re.compile(rb"\{([0-9]{1,10})(\+?)\}\Z")
_TAG = re.compile(rb'[^(){ \x00-\x1f\x7f-\xff%*"\\\\+]{1,64}')
_COMPACT_AT = 64 * 1024


@dataclass(frozen=True, slots=True)
class StreamedLiteral:
    """Placeholder in a frame for a literal delivered as ``LiteralChunk`` events."""

    size: int


@dataclass(frozen=True, slots=True)
class CommandFrame:
    """A whole command: ``lines[i]`` (CRLF removed) is followed by ``literals[i]``.

    Every line but the last ends with its literal marker (``{n}`` or ``{n+}``), so
    ``len(lines) == len(literals) + 1``.
    """

    lines: tuple[bytes, ...]
    literals: tuple[bytes | StreamedLiteral, ...] = ()

    @property
    def tag(self) -> bytes | None:
        """The first token of the command, if it looks like a tag."""
        return _tag_of(self.lines[0])

    @property
    def parts(self) -> tuple[bytes | StreamedLiteral, ...]:
        """Lines and literals interleaved, in wire order."""
        out: list[bytes | StreamedLiteral] = []
        for i, line in enumerate(self.lines):
            out.append(line)
            if i < len(self.literals):
                out.append(self.literals[i])
        return tuple(out)


@dataclass(frozen=True, slots=True)
class NeedContinuation:
    """A synchronising literal was announced: call ``accept_literal()`` or ``reject_literal()``."""

    tag: bytes | None
    size: int


@dataclass(frozen=True, slots=True)
class LiteralChunk:
    """Octets of a streamed literal; ``final`` on the last chunk."""

    tag: bytes | None
    data: bytes
    final: bool


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line over ``max_line``: the command was dropped up to the end of that line."""

    tag: bytes | None


@dataclass(frozen=True, slots=True)
class CommandTooLong:
    """A command whose lines and literals exceed ``max_command``; it was dropped."""

    tag: bytes | None


@dataclass(frozen=True, slots=True)
class LiteralTooLarge:
    """A literal over the limit, refused before its data was read (RFC 7888 4).

    A non-synchronising literal's octets and the rest of its command are skipped; for a
    synchronising one the client sends nothing once it sees the tagged answer.
    """

    tag: bytes | None
    size: int
    synchronizing: bool


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line, read in raw-line mode (IDLE ``DONE``, AUTHENTICATE responses)."""

    line: bytes


FrameEvent = (
    CommandFrame
    | NeedContinuation
    | LiteralChunk
    | LineTooLong
    | CommandTooLong
    | LiteralTooLarge
    | RawLine
)


class _Mode(enum.Enum):
    LINE = "line"
    LITERAL = "literal"
    WAIT = "wait"
    SKIP = "skip"
    DISCARD_LINE = "discard-line"
    DISCARD_COMMAND = "discard-command"


def _tag_of(line: bytes) -> bytes | None:
    match = _TAG.match(line)
    if match is None:
        return None
    end = match.end()
    if end < len(line) and line[end] != 0x20:
        return None
    return match.group()


class Framer:
    """Cut a byte stream into IMAP commands (RFC 3501 2.2, 7888)."""

    def __init__(
        self,
        max_line: int = DEFAULT_MAX_LINE,
        max_literal: int = DEFAULT_MAX_LITERAL,
        max_command: int = DEFAULT_MAX_COMMAND,
        chunk_threshold: int | None = None,
    ) -> None:
        self.max_line = max_line
        self.max_literal = max_literal
        self.max_command = max_command
        self.chunk_threshold = chunk_threshold
        self._buf = bytearray()
        self._pos = 0
        self._scanned = 0
        """Octets after ``_pos`` already known to hold no LF (keeps long lines linear)."""
        self._mode = _Mode.LINE
        self._raw = False
        self._lines: list[bytes] = []
        self._literals: list[bytes | StreamedLiteral] = []
        self._size = 0
        self._remaining = 0
        self._streaming = False
        self._pending: list[bytes] = []
        self._literal_size = 0

    # -- public API ------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer ``data``; call ``next_event()`` to get what it completes."""
        self._buf += data

    def feed(self, data: bytes) -> list[FrameEvent]:
        """Buffer ``data`` and return every event available now."""
        self.receive_data(data)
        events: list[FrameEvent] = []
        while (event := self.next_event()) is not None:
            events.append(event)
        return events

    def next_event(self) -> FrameEvent | None:
        """The next event, or None if more data (or a literal decision) is needed."""
        while True:
            if self._mode is _Mode.WAIT:
                return None
            if self._mode in (_Mode.LITERAL, _Mode.SKIP):
                event, progressed = self._take_literal()
            else:
                event, progressed = self._take_line()
            if event is not None:
                self._compact()
                return event
            if not progressed:
                self._compact()
                return None

    @property
    def awaiting_decision(self) -> bool:
        """True between ``NeedContinuation`` and ``accept_literal()``/``reject_literal()``."""
        return self._mode is _Mode.WAIT

    def accept_literal(self) -> None:
        """Read the announced synchronising literal (the caller sends ``+ Ready``)."""
        if self._mode is not _Mode.WAIT:
            raise RuntimeError("no literal is waiting")
        self._mode = _Mode.LITERAL

    def reject_literal(self) -> None:
        """Drop the command whose literal was announced (the caller answers NO/BAD)."""
        if self._mode is not _Mode.WAIT:
            raise RuntimeError("no literal is waiting")
        self._reset_command()
        self._mode = _Mode.LINE

    def set_line_mode(self, raw: bool) -> None:
        """In raw-line mode every line is a ``RawLine``, with no literal processing."""
        self._raw = raw

    def clear(self) -> None:
        """Drop everything buffered and any partial command (after STARTTLS, RFC 3501 6.2.1)."""
        self._buf = bytearray()
        self._pos = 0
        self._scanned = 0
        self._reset_command()
        self._mode = _Mode.LINE

    @property
    def buffered(self) -> int:
        """Octets received but not yet framed."""
        return len(self._buf) - self._pos

    # -- internals -------------------------------------------------------------------------

    def _compact(self) -> None:
        if self._pos >= _COMPACT_AT or self._pos == len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0

    def _reset_command(self) -> None:
        self._lines = []
        self._literals = []
        self._size = 0
        self._pending = []
        self._streaming = False

    def _current_tag(self, line: bytes | None = None) -> bytes | None:
        first = self._lines[0] if self._lines else line
        return None if first is None else _tag_of(first)

    def _take_line(self) -> tuple[FrameEvent | None, bool]:
        nl = self._buf.find(b"\n", self._pos + self._scanned)
        if nl < 0:
            self._scanned = self.buffered
            if self._mode is not _Mode.DISCARD_LINE and self.buffered > self.max_line + 1:
                event = self._too_long(bytes(self._buf[self._pos : self._pos + 80]))
                self._mode = _Mode.DISCARD_LINE
                self._pos = len(self._buf)
                self._scanned = 0
                return event, True
            if self._mode is _Mode.DISCARD_LINE:
                self._pos = len(self._buf)
                self._scanned = 0
            return None, False
        line = bytes(self._buf[self._pos : nl])
        self._pos = nl + 1
        self._scanned = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if self._mode is _Mode.DISCARD_LINE:
            self._mode = _Mode.LINE
            return None, True
        if len(line) > self.max_line:
            event = self._too_long(line)
            self._mode = _Mode.LINE
            return event, True
        if self._mode is _Mode.DISCARD_COMMAND:
            self._discard_line(line)
            return None, True
        if self._raw:
            return RawLine(line), True
        return self._command_line(line), True

    def _too_long(self, line: bytes) -> LineTooLong | None:
        """Drop the rest of an over-long line; report it unless already discarding."""
        discarding = self._mode is _Mode.DISCARD_COMMAND
        tag = self._current_tag(line)
        self._reset_command()
        return None if discarding else LineTooLong(tag)

    def _discard_line(self, line: bytes) -> None:
        match = _MARKER.search(line)
        if match is not None and match.group(2):
            self._remaining = int(match.group(1))
            self._mode = _Mode.SKIP
        else:
            self._mode = _Mode.LINE

    def _command_line(self, line: bytes) -> FrameEvent | None:
        self._lines.append(line)
        self._size += len(line)
        match = _MARKER.search(line)
        tag = self._current_tag()
        if self._size > self.max_command:
            self._reset_command()
            if match is not None:
                self._discard_line(line)
            return CommandTooLong(tag)
        if match is None:
            frame = CommandFrame(tuple(self._lines), tuple(self._literals))
            self._reset_command()
            return frame
        size = int(match.group(1))
        sync = not match.group(2)
        if size > self.max_literal or self._size + size > self.max_command:
            self._reset_command()
            if sync:
                self._mode = _Mode.LINE
            else:
                self._remaining = size
                self._mode = _Mode.SKIP
            return LiteralTooLarge(tag, size, sync)
        self._remaining = size
        self._literal_size = size
        self._size += size
        self._streaming = self.chunk_threshold is not None and size >= self.chunk_threshold
        if sync:
            self._mode = _Mode.WAIT
            return NeedContinuation(tag, size)
        self._mode = _Mode.LITERAL
        return None

    def _take_literal(self) -> tuple[FrameEvent | None, bool]:
        take = min(self._remaining, self.buffered)
        if take == 0 and self._remaining > 0:
            return None, False
        data = bytes(self._buf[self._pos : self._pos + take])
        self._pos += take
        self._remaining -= take
        done = self._remaining == 0
        if self._mode is _Mode.SKIP:
            if done:
                self._mode = _Mode.DISCARD_COMMAND
            return None, True
        if done:
            self._mode = _Mode.LINE
        if self._streaming:
            if done:
                self._literals.append(StreamedLiteral(self._literal_size))
            return LiteralChunk(self._current_tag(), data, done), True
        self._pending.append(data)
        if done:
            self._literals.append(b"".join(self._pending))
            self._pending = []
        return None, True
