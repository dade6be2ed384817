"""The one error the IMAP grammar raises (RFC 3501 7.1.1 BAD, 7.1.2 NO).

A parser never lets any other exception escape: whatever the client sends, the session gets
a ``ParseError`` holding the tag (when one could be read), a fixed text that is safe to send
(never built from client input or from an exception), whether the tagged answer is ``NO``
rather than ``BAD`` (``[BADCHARSET]``), and whether the connection must be closed.
The ``detail`` is for the log only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from protocols.imap.responses import ResponseCode


class ParseError(Exception):
    """A command that cannot be parsed; answer with a tagged (or untagged) BAD, or NO."""

    def __init__(
        self,
        text: str,
        *,
        tag: bytes | None = None,
        code: ResponseCode | None = None,
        respond_no: bool = False,
        close: bool = False,
        detail: str = "",
    ) -> None:
        super().__init__(text)
        self.text = text
        """Fixed, client-safe response text."""
        self.tag = tag
        """The command tag, or None when it could not be read (answer ``* BAD``)."""
        self.code = code
        self.respond_no = respond_no
        self.close = close
        """The connection must be closed after the answer."""
        self.detail = detail
        """For the log only."""

    def with_tag(self, tag: bytes) -> ParseError:
        """The same error, carrying ``tag`` if it had none."""
        if self.tag is not None:
            return self
        return ParseError(
            self.text,
            tag=tag,
            code=self.code,
            respond_no=self.respond_no,
            close=self.close,
            detail=self.detail,
        )

    def __repr__(self) -> str:
        return f"ParseError({self.text!r}, tag={self.tag!r}, detail={self.detail!r})"


__all__ = ["ParseError"]
