"""Not-authenticated state: STARTTLS, AUTHENTICATE, LOGIN (RFC 3501 6.2; SASL-IR RFC 4959).

Passwords are accepted only over TLS unless the listener allows plaintext logins
(``LOGINDISABLED``, RFC 3501 6.2.3 / 7.2.1, ``[PRIVACYREQUIRED]`` RFC 5530). A failed login
is answered after the ``Authenticator``'s delay with ``[AUTHENTICATIONFAILED]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from mailstore.passwords import Password
from protocols import sasl
from protocols.auth import AuthUnavailableError
from protocols.imap import commands as c
from protocols.imap.handlers import HandlerResult, bad, no
from protocols.imap.responses import (
    AtomsCode,
    CodeKind,
    Condition,
    Continuation,
    SimpleCode,
    StatusResponse,
)
from protocols.imap.session import Conversation

if TYPE_CHECKING:
    from protocols.imap.session import ImapSession

log = Logger()

_PRIVACY = SimpleCode(CodeKind.PRIVACYREQUIRED)


async def handle_starttls(cmd: c.StartTls, session: ImapSession) -> HandlerResult | None:
    """STARTTLS (RFC 3501 6.2.1): OK, drop pipelined input, then the TLS handshake."""
    if not session.tls_available or session.secure:
        return bad("TLS not available")
    await session.output.send(
        [StatusResponse(Condition.OK, "Begin TLS negotiation now", tag=cmd.tag)]
    )
    session.output.start_tls()
    return None


async def handle_login(cmd: c.Login, session: ImapSession) -> HandlerResult:
    """LOGIN (RFC 3501 6.2.3)."""
    if not session.plaintext_ok():
        return no("Plaintext login not allowed before STARTTLS", code=_PRIVACY)
    creds = sasl.Credentials(cmd.username, Password(cmd.password), None)
    return await _check(creds, session, "LOGIN completed")


async def handle_authenticate(cmd: c.Authenticate, session: ImapSession) -> HandlerResult | None:
    """AUTHENTICATE PLAIN/LOGIN (RFC 3501 6.2.2) with an optional initial response (4959)."""
    if cmd.mechanism not in sasl.MECHANISMS:
        return no("Unsupported authentication mechanism")
    if not session.plaintext_ok():
        return no("Plaintext authentication not allowed before STARTTLS", code=_PRIVACY)
    try:
        initial = (
            None
            if cmd.initial_response is None
            else sasl.decode_initial_response(cmd.initial_response)
        )
        step = sasl.start(cmd.mechanism, initial)
    except sasl.SaslError as exc:
        return _sasl_failure(exc)
    return await _continue(cmd.tag, step, session)


async def _continue(tag: bytes, step: sasl.SaslStep, session: ImapSession) -> HandlerResult | None:
    if isinstance(step, sasl.Done):
        return await _check(step.credentials, session, "AUTHENTICATE completed")
    challenge = step

    async def on_line(line: bytes) -> None:
        session.conversation = None
        session.output.set_raw_lines(False)
        try:
            result = await _continue(tag, challenge.respond(sasl.decode_base64(line)), session)
        except sasl.SaslError as exc:
            result = _sasl_failure(exc)
        if result is not None:
            await session.output.send(
                [StatusResponse(Condition(result.status), result.text, tag=tag, code=result.tagged)]
            )

    session.conversation = Conversation(tag, on_line)
    session.output.set_raw_lines(True)
    await session.output.send([Continuation(challenge=step.data)])
    return None


def _sasl_failure(exc: sasl.SaslError) -> HandlerResult:
    if exc.kind is sasl.SaslErrorKind.CANCELLED:
        return bad("Authentication cancelled")
    if exc.kind is sasl.SaslErrorKind.UNSUPPORTED_MECHANISM:
        return no("Unsupported authentication mechanism")
    return bad("Invalid authentication response")


async def _check(creds: sasl.Credentials, session: ImapSession, text: str) -> HandlerResult:
    try:
        user = await session.authenticator.authenticate(creds, peer=session.peer, protocol="imap")
    except AuthUnavailableError:
        return no("Authentication temporarily unavailable", code=SimpleCode(CodeKind.UNAVAILABLE))
    if user is None:
        return no("Authentication failed", code=SimpleCode(CodeKind.AUTHENTICATIONFAILED))
    account = await session.store.account(user)
    session.login(user, account)
    return HandlerResult([], AtomsCode(CodeKind.CAPABILITY, session.capabilities()), "OK", text)
