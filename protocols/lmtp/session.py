"""The LMTP session as a sans-IO state machine: bytes and results in, actions out.

Why this shape: the protocol logic (RFC 2033, 5321, 3030, 2920) is kept apart from Twisted
and from storage so that every transcript can be replayed without sockets. The session
never awaits anything itself. Work that takes time (checking a recipient, delivering) is
returned as an action (``protocols.lmtp.actions``); the driver (``protocols.lmtp.server``)
performs it, pauses reading meanwhile, and feeds the result back with ``recipient_checked``
/ ``delivered``. While an action is outstanding, input is only buffered: pipelined
commands (RFC 2920) are handled strictly in order once the answer is in, so replies come
out in command order.

Input modes: COMMAND (lines), DATA (dot-stuffed stream until CRLF.CRLF), CHUNK (the octets
of one BDAT). Policy for over-long DATA lines: the message is accepted (Postfix and Dovecot
accept long lines too, and the MTA has already taken responsibility for the mail); the
decoder reports it and the driver logs it. Command lines over the limit get ``500``.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailstore.delivery import (
    DeliveryEnvelope,
    DeliveryResult,
    RecipientCheck,
    RecipientStatus,
)
from mailstore.errors import StoreErrorKind
from protocols.lmtp import commands as c
from protocols.lmtp.actions import (
    AbortSpool,
    Accepted,
    Action,
    CheckRecipient,
    Close,
    Deliver,
    OpenSpool,
    Send,
    WriteSpool,
)
from protocols.lmtp.data import ChunkDecoder, DataDecoder, HeaderScanner
from protocols.lmtp.replies import R, Reply, greeting, lhlo_reply, refusal
from protocols.lmtp.settings import LmtpSettings


class Mode(enum.Enum):
    """What the next input bytes are."""

    COMMAND = "command"
    DATA = "data"
    CHUNK = "chunk"
    CLOSED = "closed"


@dataclass(slots=True)
class _Transaction:
    """One mail transaction (RFC 5321 3.3), from MAIL to the end of the message."""

    mail: c.MailFrom
    queue_id: str
    recipients: list[Accepted] = field(default_factory=list)
    spooling: bool = False
    chunking: bool = False
    headers: HeaderScanner = field(default_factory=HeaderScanner)


def new_queue_id() -> str:
    """A random transaction id for logs and the Received line."""
    return secrets.token_hex(6).upper()


class LmtpSession:
    """One LMTP connection's protocol state (RFC 2033)."""

    def __init__(
        self,
        settings: LmtpSettings,
        client_address: str,
        *,
        new_id: Callable[[], str] = new_queue_id,
    ) -> None:
        self.settings = settings
        self.client_address = client_address
        self.mode = Mode.COMMAND
        self.helo: str | None = None
        self._new_id = new_id
        self._txn: _Transaction | None = None
        self._buffer = b""
        self._waiting = False
        self._discarding_line = False
        self._decoder: DataDecoder | ChunkDecoder | None = None
        self._chunk_left = 0
        self._chunk: c.Bdat | None = None
        self._chunk_error: R | None = None
        self._pending_rcpt: str | None = None
        self._out: list[Action] = []

    @property
    def waiting(self) -> bool:
        """True while an action's result is awaited (the driver should stop reading)."""
        return self._waiting

    @property
    def backlog(self) -> int:
        """Octets received and not processed yet (input that arrived while waiting)."""
        return len(self._buffer)

    def start(self) -> list[Action]:
        """The greeting (RFC 2033 4.1)."""
        return [Send(greeting(self.settings.hostname).to_bytes())]

    def receive(self, data: bytes) -> list[Action]:
        """Bytes from the client."""
        if self.mode is not Mode.CLOSED:
            self._buffer += data
            self._run()
        return self._flush()

    def recipient_checked(self, check: RecipientCheck) -> list[Action]:
        """The answer to ``CheckRecipient``."""
        address, self._pending_rcpt = self._pending_rcpt or "", None
        self._waiting = False
        if self._txn is not None and check.status is RecipientStatus.ACCEPTED:
            self._txn.recipients.append(Accepted(address, check))
            self._reply(R.RECIPIENT_OK)
        else:
            self._reply(self._refusal(check.status))
        self._run()
        return self._flush()

    def delivered(self, results: Sequence[DeliveryResult]) -> list[Action]:
        """The answer to ``Deliver``: one result per recipient, in RCPT order (RFC 2033 4.2)."""
        self._waiting = False
        txn, self._txn = self._txn, None
        if txn is not None:
            for accepted, result in zip(txn.recipients, results, strict=True):
                if result.refusal is not None:  # RFC 5429 2.1.1: refused in-protocol
                    self._send(refusal(accepted.address, result.refusal))
                else:
                    self._send(self._result_reply(result).with_address(accepted.address))
        self._run()
        return self._flush()

    def timed_out(self) -> list[Action]:
        """The idle timer fired: say so and close (RFC 5321 4.5.3.2)."""
        self._abort_transaction()
        self._reply(R.IDLE_TIMEOUT)
        self._close()
        return self._flush()

    def connection_lost(self) -> list[Action]:
        """The client went away: nothing half-received may remain."""
        self._abort_transaction()
        self.mode = Mode.CLOSED
        return self._flush()

    # -- internals -------------------------------------------------------------------------

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _send(self, reply: Reply) -> None:
        self._out.append(Send(reply.to_bytes()))

    def _reply(self, reply: R) -> None:
        self._send(reply.reply)

    def _close(self) -> None:
        self.mode = Mode.CLOSED
        self._buffer = b""
        self._out.append(Close())

    def _run(self) -> None:
        while self._buffer and not self._waiting and self.mode is not Mode.CLOSED:
            if self.mode is Mode.COMMAND:
                if not self._next_line():
                    return
            elif self.mode is Mode.DATA:
                self._data_input()
            else:
                self._chunk_input()

    def _next_line(self) -> bool:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > self.settings.max_line_length:
                self._discarding_line, self._buffer = True, b""
            return False
        line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
        line = line.removesuffix(b"\r")
        if self._discarding_line or len(line) > self.settings.max_line_length:
            self._discarding_line = False
            self._reply(R.LINE_TOO_LONG)
        else:
            self._command(line)
        return True

    def _command(self, line: bytes) -> None:
        try:
            command = c.parse_command(line)
        except c.CommandError as error:
            self._send(error.reply)
            return
        match command:
            case c.Lhlo():
                self._lhlo(command)
            case c.MailFrom():
                self._mail(command)
            case c.RcptTo():
                self._rcpt(command)
            case c.Data():
                self._data()
            case c.Bdat():
                self._bdat(command)
            case c.Rset():
                self._abort_transaction()
                self._reply(R.OK)
            case c.Noop():
                self._reply(R.OK)
            case c.Vrfy():
                self._reply(R.VRFY)
            case c.Help():
                self._reply(R.HELP)
            case c.Quit():
                self._reply(R.BYE)
                self._close()

    def _lhlo(self, command: c.Lhlo) -> None:
        self._abort_transaction()  # LHLO resets like EHLO (RFC 5321 4.1.4)
        self.helo = command.domain
        extensions = (
            "PIPELINING",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            f"SIZE {self.settings.max_message_size}",
            "CHUNKING",
            "SMTPUTF8",
        )
        self._send(lhlo_reply(self.settings.hostname, extensions))

    def _mail(self, command: c.MailFrom) -> None:
        if self.helo is None:
            self._reply(R.NEED_LHLO)
        elif self._txn is not None:
            self._reply(R.NESTED_MAIL)
        elif command.size is not None and command.size > self.settings.max_message_size:
            self._reply(R.MESSAGE_TOO_BIG)  # RFC 1870 6.1
        else:
            self._txn = _Transaction(command, self._new_id())
            self._reply(R.SENDER_OK)

    def _rcpt(self, command: c.RcptTo) -> None:
        txn = self._txn
        if self.helo is None:
            self._reply(R.NEED_LHLO)
        elif txn is None:
            self._reply(R.NEED_MAIL)
        elif txn.chunking:
            self._reply(R.BAD_SEQUENCE)
        elif not command.ascii and not txn.mail.smtputf8:
            self._reply(R.NEED_SMTPUTF8)
        elif len(txn.recipients) >= self.settings.max_recipients:
            self._reply(R.TOO_MANY_RECIPIENTS)
        else:
            self._pending_rcpt = command.address
            self._waiting = True
            self._out.append(CheckRecipient(command.address, txn.mail.size))

    def _sequence_error(self) -> R | None:
        if self.helo is None:
            return R.NEED_LHLO
        if self._txn is None:
            return R.NEED_MAIL
        if not self._txn.recipients:
            return R.NO_RECIPIENTS
        return None

    def _data(self) -> None:
        error = self._sequence_error()
        if error is None and self._txn is not None and self._txn.chunking:
            error = R.BAD_SEQUENCE
        if error is not None or self._txn is None:
            self._reply(error or R.BAD_SEQUENCE)
            return
        self._reply(R.START_INPUT)
        self._open_spool(self._txn)
        self._decoder = DataDecoder(self.settings.max_message_size, self.settings.max_line_length)
        self.mode = Mode.DATA

    def _bdat(self, command: c.Bdat) -> None:
        self._chunk_error = self._sequence_error()
        self._chunk, self._chunk_left = command, command.size
        txn = self._txn
        if self._chunk_error is None and txn is not None and not txn.chunking:
            txn.chunking = True
            self._open_spool(txn)
            self._decoder = ChunkDecoder(
                self.settings.max_message_size, self.settings.max_line_length
            )
        self.mode = Mode.CHUNK
        if command.size == 0:
            self._chunk_done()

    def _open_spool(self, txn: _Transaction) -> None:
        txn.spooling = True
        self._out.append(OpenSpool())

    def _body(self, data: bytes) -> None:
        txn, decoder = self._txn, self._decoder
        if txn is None or decoder is None:
            return
        if data and txn.spooling:
            txn.headers.feed(data)
            self._out.append(WriteSpool(data))
        if decoder.limits.too_large and txn.spooling:
            txn.spooling = False
            self._out.append(AbortSpool())

    def _data_input(self) -> None:
        decoder = self._decoder
        assert isinstance(decoder, DataDecoder)
        chunk = decoder.feed(self._buffer)
        self._buffer = chunk.rest
        self._body(chunk.body)
        if chunk.done:
            self.mode = Mode.COMMAND
            self._end_message()

    def _chunk_input(self) -> None:
        take = min(self._chunk_left, len(self._buffer))
        data, self._buffer = self._buffer[:take], self._buffer[take:]
        self._chunk_left -= take
        if self._chunk_error is None and isinstance(self._decoder, ChunkDecoder):
            self._body(self._decoder.feed(data))
        if self._chunk_left == 0:
            self._chunk_done()

    def _chunk_done(self) -> None:
        self.mode = Mode.COMMAND
        if self._chunk_error is not None:
            self._reply(self._chunk_error)
        elif self._chunk is not None and self._chunk.last:
            if isinstance(self._decoder, ChunkDecoder):
                self._body(self._decoder.finish())
            self._end_message()
        else:
            self._reply(R.CHUNK_OK)

    def _end_message(self) -> None:
        txn, decoder = self._txn, self._decoder
        self._decoder = None
        if txn is None or decoder is None:
            return
        if decoder.limits.too_large:
            self._txn = None
            for accepted in txn.recipients:
                self._send(R.MESSAGE_TOO_BIG.with_address(accepted.address))
            return
        self._waiting = True
        envelope = DeliveryEnvelope(
            mail_from=txn.mail.address,
            client_helo=self.helo or "",
            client_address=self.client_address,
            queue_id=txn.queue_id,
            smtputf8=txn.mail.smtputf8,
            body_8bit=txn.mail.body is c.BodyType.EIGHT_BIT_MIME,
            message_id=txn.headers.message_id(),
        )
        recipients = tuple(txn.recipients)
        limits = decoder.limits
        self._out.append(Deliver(envelope, recipients, limits.size, limits.line_too_long))

    def _abort_transaction(self) -> None:
        txn, self._txn = self._txn, None
        self._decoder = None
        if txn is not None and txn.spooling:
            self._out.append(AbortSpool())

    def _refusal(self, status: RecipientStatus) -> R:
        if status is RecipientStatus.UNKNOWN_USER:
            return R.UNKNOWN_USER
        if status is RecipientStatus.OVER_QUOTA:
            return R.OVER_QUOTA_TEMP if self.settings.quota_tempfail else R.OVER_QUOTA
        return R.TEMPORARY

    def _result_reply(self, result: DeliveryResult) -> R:
        if result.ok:
            return R.SAVED
        if result.error is StoreErrorKind.OVER_QUOTA:
            return self._refusal(RecipientStatus.OVER_QUOTA)
        if result.error is StoreErrorKind.TOO_LARGE:
            return R.MESSAGE_TOO_BIG
        if result.error is StoreErrorKind.NOT_FOUND:
            return R.UNKNOWN_USER
        return R.TEMPORARY
