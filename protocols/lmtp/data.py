"""Pure streaming decoders for the message body: DATA (dot-stuffed) and BDAT (raw chunks).

DATA (RFC 5321 4.1.1.4, 4.5.2): the data ends at the first ``CRLF . CRLF`` of the raw
stream, where the start of the data counts as following a CRLF. Nothing else ends it: a
bare-LF ``LF . LF`` (or any mix such as ``CRLF . LF``) is an ordinary line, so it can
neither end the message early nor smuggle a second one (the SMTP-smuggling class of
CVE-2023-51764). That is Postfix's ``smtpd_forbid_bare_newline = normal`` (the default from
3.9): bare LF accepted as a line end, but only ``CRLF . CRLF`` ends the data. Dovecot
2.3.19's LMTP, probed here, ends the data at ``LF . LF`` and ``CRLF . LF`` and runs what
follows as commands; we deliberately do not. Bare LF and bare CR in the content are
normalised to CRLF (the store keeps CRLF line ends); a line starting with a dot loses that
dot, whatever line end preceded it.

The decoders never hold more than a few bytes of the input: each ``feed`` returns the
decoded bytes to stream to the spool. Size and line-length overruns are states, not errors:
once the size limit is passed the body is dropped (the caller aborts its spool) but the
input is still consumed up to the end marker so that the session stays in step; a line
longer than the limit is only reported (see ``protocols.lmtp.session`` for the policy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_END = b"\r\n.\r\n"
_HEADER_LIMIT = 65536
_MESSAGE_ID = re.compile(rb"(?im)^message-id[ \t]*:[ \t]*((?:[^\r\n]|\r\n[ \t])*)")


def split_lines(data: bytes) -> tuple[bytes, int]:
    """``data`` with bare CR and bare LF turned into CRLF, and the length of its longest
    piece between line ends (the last, unterminated one included).

    One ``bytes.splitlines`` (it breaks at CR, LF and CRLF, nothing else) does both: three
    ``count`` calls to check the line ends and a ``split`` to measure the lines cost twice as
    much on a 64 KiB chunk. ``data`` must not end inside a CRLF pair.
    """
    lines = data.splitlines()
    joined = b"\r\n".join(lines)
    if data.endswith((b"\r", b"\n")):
        joined += b"\r\n"
    return joined, max(map(len, lines), default=0)


@dataclass(frozen=True, slots=True)
class BodyChunk:
    """What one ``feed`` produced: decoded body bytes, whether the end was seen, and the
    bytes after the end (pipelined commands, RFC 2920)."""

    body: bytes
    done: bool = False
    rest: bytes = b""


class _Limits:
    """Size and line-length accounting shared by both decoders."""

    def __init__(self, max_size: int, max_line_length: int) -> None:
        self.max_size = max_size
        self.max_line_length = max_line_length
        self.size = 0
        self.too_large = False
        self.line_too_long = False
        self._line = 0

    def account(self, out: bytes, bound: int | None = None) -> bytes:
        """Count ``out``; return it, or ``b""`` once the message is over the size limit.

        ``bound``, when given, is at least the length of every piece of ``out`` between
        line ends: at or under the limit, no line needs measuring one by one.
        """
        if not out:
            return out
        self.size += len(out)
        self._lines(out, bound)
        if self.size > self.max_size:
            self.too_large = True
        return b"" if self.too_large else out

    def _lines(self, out: bytes, bound: int | None) -> None:
        first_break = out.find(b"\r\n")
        if first_break < 0:
            self._line += len(out)
            longest = self._line
        else:
            longest = self._line + first_break  # the line begun in an earlier segment
            unbounded = bound is None or bound > self.max_line_length
            if unbounded and self._line + len(out) > self.max_line_length:
                longest = max(longest, *map(len, out.split(b"\r\n")))
            self._line = len(out) - out.rfind(b"\r\n") - 2
        if longest > self.max_line_length:
            self.line_too_long = True


class DataDecoder:
    """Decode the DATA stream: find the end, normalise line ends, undo dot-stuffing.

    RFC 5321 4.5.2 (transparency) and 4.1.1.4; ``max_line_length`` counts octets before CRLF.
    """

    def __init__(self, max_size: int, max_line_length: int) -> None:
        self.limits = _Limits(max_size, max_line_length)
        self._tail = b"\r\n"  # the start of the data counts as following a CRLF
        self._skip = 2
        self._at_line_start = True
        self.done = False

    def feed(self, data: bytes) -> BodyChunk:
        """Consume input; once ``done`` the remainder is returned untouched in ``rest``."""
        if self.done:
            return BodyChunk(b"", True, data)
        raw = self._tail + data
        end = raw.find(_END)
        if end >= 0:
            self.done = True
            self._tail = b""
            return BodyChunk(self._decode(raw[: end + 2]), True, raw[end + 5 :])
        cut = max(len(raw) - 4, 0)
        if cut and raw[cut - 1] == 0x0D and raw[cut] == 0x0A:
            cut -= 1  # never split a CRLF pair between two segments
        self._tail = raw[cut:]
        return BodyChunk(self._decode(raw[:cut]))

    def _decode(self, segment: bytes) -> bytes:
        if self._skip:
            cut = min(self._skip, len(segment))
            segment, self._skip = segment[cut:], self._skip - cut
        if not segment:
            return b""
        normal, longest = split_lines(segment)
        out = normal[1:] if self._at_line_start and normal.startswith(b".") else normal
        self._at_line_start = normal.endswith(b"\r\n")
        # unstuffing only shortens lines: the longest stuffed piece bounds them all
        return self.limits.account(out.replace(b"\r\n.", b"\r\n"), longest)


class ChunkDecoder:
    """Decode BDAT chunks (RFC 3030): no dot-stuffing, no end marker; line ends normalised
    across chunk boundaries (a CR at the end of one chunk may pair with an LF in the next)."""

    def __init__(self, max_size: int, max_line_length: int) -> None:
        self.limits = _Limits(max_size, max_line_length)
        self._held_cr = False

    def feed(self, data: bytes) -> bytes:
        """Decode part of a chunk's octets."""
        if self._held_cr:
            data, self._held_cr = b"\r" + data, False
        if data.endswith(b"\r"):
            data, self._held_cr = data[:-1], True
        normal, longest = split_lines(data)
        return self.limits.account(normal, longest)

    def finish(self) -> bytes:
        """End of the last chunk: a held CR was a bare CR."""
        held, self._held_cr = self._held_cr, False
        return self.limits.account(b"\r\n") if held else b""


class HeaderScanner:
    """Keep the header block (up to 64 KiB) of a decoded body and find its Message-ID.

    Used for duplicate suppression only; the body itself is never kept.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._complete = False

    def feed(self, body: bytes) -> None:
        """Look at the next decoded bytes (CRLF line ends)."""
        if self._complete:
            return
        self._buffer += body
        if self._buffer.startswith(b"\r\n"):
            self._buffer.clear()
            self._complete = True
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end >= 0:
            del self._buffer[end + 2 :]
            self._complete = True
        elif len(self._buffer) > _HEADER_LIMIT:
            del self._buffer[_HEADER_LIMIT:]
            self._complete = True

    def message_id(self) -> str | None:
        """The unfolded Message-ID field value, or None."""
        match = _MESSAGE_ID.search(bytes(self._buffer))
        if match is None:
            return None
        value = re.sub(rb"\r\n[ \t]+", b" ", match.group(1)).strip()
        return value.decode("utf-8", "surrogateescape")[:998] or None
