"""Whole commands: tag, verb and arguments → a typed command (RFC 3501 9 ``command``).

ABNF (RFC 3501 9, abridged)::

    command         = tag SP (command-any / command-auth / command-nonauth /
                      command-select) CRLF
    command-any     = "CAPABILITY" / "LOGOUT" / "NOOP" / x-command / id
    command-auth    = append / create / delete / examine / list / lsub / rename /
                      select / status / subscribe / unsubscribe / enable / namespace /
                      idle / getquota / getquotaroot / setquota
    command-nonauth = login / authenticate / "STARTTLS"
    command-select  = "CHECK" / "CLOSE" / "EXPUNGE" / copy / fetch / store / uid /
                      search / move / "UNSELECT"
    uid             = "UID" SP (copy / move / fetch / search / store / uid-expunge)

Argument grammars for each verb are quoted on the functions below. Any failure is a
``ParseError`` carrying the tag (when it could be read); nothing else escapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from protocols.imap import commands as c
from protocols.imap.errors import ParseError
from protocols.imap.framing import CommandFrame, Framer, LiteralChunk, NeedContinuation
from protocols.imap.grammar.dates import parse_date_time
from protocols.imap.grammar.flags import parse_flag_list
from protocols.imap.grammar.lexer import MAX_NUMBER64, Reader, parenthesized, syntax_error
from protocols.imap.grammar.mailbox import parse_list_mailbox, parse_mailbox
from protocols.imap.grammar.selected import UID_VERBS
from protocols.imap.grammar.sequence import parse_sequence_set

_OPTION = re.compile(rb"[A-Za-z0-9-]+")

Parser = Callable[[Reader, bytes, bool], c.Command]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _word(reader: Reader) -> str:
    return reader.take(_OPTION).upper().decode("ascii")


# -- any state / not authenticated ---------------------------------------------------------


def _id(r: Reader, tag: bytes, _utf8: bool) -> c.Id:
    """``id = "ID" SP id-params-list``; ``id-params-list = "(" *(string SP nstring) ")" / nil``."""
    r.sp()
    if r.try_keyword(b"NIL"):
        return c.Id(tag, None)

    def pair(rr: Reader) -> tuple[str, str | None]:
        key = _text(rr.string())
        rr.sp()
        value = rr.nstring()
        return key, None if value is None else _text(value)

    params = parenthesized(r, pair)
    if len(params) > 30:
        raise syntax_error("Too many ID parameters")
    return c.Id(tag, tuple(params))


def _authenticate(r: Reader, tag: bytes, _utf8: bool) -> c.Authenticate:
    """``"AUTHENTICATE" SP auth-type [SP (base64 / "=")]`` (RFC 4959)."""
    r.sp()
    mechanism = r.atom().upper().decode("ascii")
    initial = None
    if not r.at_end():
        r.sp()
        initial = r.atom()
    return c.Authenticate(tag, mechanism, initial)


def _login(r: Reader, tag: bytes, _utf8: bool) -> c.Login:
    """``"LOGIN" SP userid SP password`` (both astring)."""
    r.sp()
    user = r.astring()
    r.sp()
    password = r.astring()
    try:
        return c.Login(tag, user.decode("utf-8"), password)
    except UnicodeDecodeError:
        raise syntax_error("Invalid user name") from None


def _enable(r: Reader, tag: bytes, _utf8: bool) -> c.Enable:
    """``"ENABLE" 1*(SP capability)`` (RFC 5161)."""
    caps = []
    while not r.at_end():
        r.sp()
        caps.append(r.atom().upper().decode("ascii"))
    if not caps:
        raise syntax_error("Missing capability")
    return c.Enable(tag, tuple(caps))


# -- authenticated -----------------------------------------------------------------------


def _qresync(r: Reader) -> c.QResync:
    """``"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"``."""
    r.char(b"(")
    uidvalidity = r.nz_number()
    r.sp()
    modseq = r.nz_number(MAX_NUMBER64)
    known = seqs = seq_uids = None
    if r.try_char(b" "):
        if r.peek() != 0x28:
            known = parse_sequence_set(r)
            if r.try_char(b" ") and r.peek() != 0x28:
                raise syntax_error()
        if r.peek() == 0x28:
            r.char(b"(")
            seqs = parse_sequence_set(r)
            r.sp()
            seq_uids = parse_sequence_set(r)
            r.char(b")")
    r.char(b")")
    return c.QResync(uidvalidity, modseq, known, seqs, seq_uids)


def _select(r: Reader, tag: bytes, utf8: bool, cls: type[c.Select | c.Examine]) -> c.Command:
    """``"SELECT" SP mailbox [SP "(" select-param *(SP select-param) ")"]`` (RFC 7162)."""
    r.sp()
    mailbox = parse_mailbox(r, utf8=utf8)
    condstore = False
    qresync = None
    if not r.at_end():
        r.sp()

        def param(rr: Reader) -> None:
            nonlocal condstore, qresync
            word = _word(rr)
            if word == "CONDSTORE":
                condstore = True
            elif word == "QRESYNC":
                rr.sp()
                qresync = _qresync(rr)
            else:
                raise syntax_error("Unknown SELECT parameter")

        parenthesized(r, param, empty=False)
    return cls(tag, mailbox, condstore, qresync)


def _create(r: Reader, tag: bytes, utf8: bool) -> c.Create:
    """``"CREATE" SP mailbox [SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")"]``."""
    r.sp()
    mailbox = parse_mailbox(r, utf8=utf8)
    uses: list[str] = []
    if not r.at_end():
        r.sp()

        def param(rr: Reader) -> None:
            if _word(rr) != "USE":
                raise syntax_error("Unknown CREATE parameter")
            rr.sp()
            for attr in parenthesized(rr, lambda x: x.atom() if x.try_char(b"\\") else b""):
                if not attr:
                    raise syntax_error("Invalid special-use attribute")
                uses.append("\\" + attr.decode("ascii"))

        parenthesized(r, param, empty=False)
    return c.Create(tag, mailbox, tuple(uses))


def _one_mailbox(cls: type[c.Delete | c.Subscribe | c.Unsubscribe | c.GetQuotaRoot]) -> Parser:
    def parse(r: Reader, tag: bytes, utf8: bool) -> c.Command:
        r.sp()
        return cls(tag, parse_mailbox(r, utf8=utf8))

    return parse


def _rename(r: Reader, tag: bytes, utf8: bool) -> c.Rename:
    """``"RENAME" SP mailbox SP mailbox``."""
    r.sp()
    old = parse_mailbox(r, utf8=utf8)
    r.sp()
    return c.Rename(tag, old, parse_mailbox(r, utf8=utf8))


def _status_items(r: Reader) -> tuple[c.StatusItem, ...]:
    def item(rr: Reader) -> c.StatusItem:
        try:
            return c.StatusItem(_word(rr))
        except ValueError:
            raise syntax_error("Invalid status item") from None

    return tuple(dict.fromkeys(parenthesized(r, item, empty=False)))


def _status(r: Reader, tag: bytes, utf8: bool) -> c.Status:
    """``"STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"``."""
    r.sp()
    mailbox = parse_mailbox(r, utf8=utf8)
    r.sp()
    return c.Status(tag, mailbox, _status_items(r))


def _list_select(r: Reader) -> frozenset[c.ListSelect]:
    def opt(rr: Reader) -> c.ListSelect:
        try:
            return c.ListSelect(_word(rr))
        except ValueError:
            raise syntax_error("Invalid LIST selection option") from None

    opts = frozenset(parenthesized(r, opt))
    if opts == {c.ListSelect.RECURSIVEMATCH}:
        raise syntax_error("RECURSIVEMATCH needs another selection option")
    return opts


def _list_return(r: Reader) -> tuple[frozenset[c.ListReturn], tuple[c.StatusItem, ...]]:
    status: tuple[c.StatusItem, ...] = ()

    def opt(rr: Reader) -> c.ListReturn:
        nonlocal status
        try:
            value = c.ListReturn(_word(rr))
        except ValueError:
            raise syntax_error("Invalid LIST return option") from None
        if value is c.ListReturn.STATUS:
            rr.sp()
            status = _status_items(rr)
        return value

    return frozenset(parenthesized(r, opt)), status


def _list(r: Reader, tag: bytes, utf8: bool) -> c.List:
    """``"LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]``."""
    r.sp()
    selection: frozenset[c.ListSelect] = frozenset()
    extended = False
    if r.peek() == 0x28:
        selection = _list_select(r)
        extended = True
        r.sp()
    reference = parse_mailbox(r, utf8=utf8)
    r.sp()
    if r.peek() == 0x28:
        patterns = tuple(parenthesized(r, lambda x: parse_list_mailbox(x, utf8=utf8), empty=False))
        extended = True
    else:
        patterns = (parse_list_mailbox(r, utf8=utf8),)
    returns: frozenset[c.ListReturn] = frozenset()
    status: tuple[c.StatusItem, ...] = ()
    if not r.at_end():
        r.sp()
        if not r.try_keyword(b"RETURN"):
            raise syntax_error()
        r.sp()
        returns, status = _list_return(r)
        extended = True
    return c.List(tag, reference, patterns, selection, returns, status, extended)


def _lsub(r: Reader, tag: bytes, utf8: bool) -> c.Lsub:
    """``"LSUB" SP mailbox SP list-mailbox``."""
    r.sp()
    reference = parse_mailbox(r, utf8=utf8)
    r.sp()
    return c.Lsub(tag, reference, parse_list_mailbox(r, utf8=utf8))


def _append(r: Reader, tag: bytes, utf8: bool) -> c.Append:
    """``"APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal``."""
    r.sp()
    mailbox = parse_mailbox(r, utf8=utf8)
    r.sp()
    flags: tuple[str, ...] = ()
    date = None
    if r.peek() == 0x28:
        flags = parse_flag_list(r)
        r.sp()
    if r.peek() == 0x22:
        date = parse_date_time(r)
        r.sp()
    if not r.at_literal():
        raise syntax_error("APPEND needs a literal")
    return c.Append(tag, mailbox, flags, date, r.literal())


def _getquota(r: Reader, tag: bytes, _utf8: bool) -> c.GetQuota:
    """``"GETQUOTA" SP quota-root-name`` (astring)."""
    r.sp()
    return c.GetQuota(tag, _text(r.astring()))


def _setquota(r: Reader, tag: bytes, _utf8: bool) -> c.SetQuota:
    """``"SETQUOTA" SP quota-root-name SP "(" [resource SP limit *(...)] ")"`` (RFC 9208)."""
    r.sp()
    root = _text(r.astring())
    r.sp()

    def limit(rr: Reader) -> tuple[str, int]:
        name = _word(rr)
        rr.sp()
        return name, rr.number(MAX_NUMBER64)

    return c.SetQuota(tag, root, tuple(parenthesized(r, limit)))


def _bare(cls: Callable[[bytes], c.Command]) -> Parser:
    return lambda _r, tag, _utf8: cls(tag)


_VERBS: dict[bytes, Parser] = {
    b"CAPABILITY": _bare(c.Capability),
    b"NOOP": _bare(c.Noop),
    b"LOGOUT": _bare(c.Logout),
    b"ID": _id,
    b"STARTTLS": _bare(c.StartTls),
    b"AUTHENTICATE": _authenticate,
    b"LOGIN": _login,
    b"ENABLE": _enable,
    b"SELECT": lambda r, t, u: _select(r, t, u, c.Select),
    b"EXAMINE": lambda r, t, u: _select(r, t, u, c.Examine),
    b"CREATE": _create,
    b"DELETE": _one_mailbox(c.Delete),
    b"RENAME": _rename,
    b"SUBSCRIBE": _one_mailbox(c.Subscribe),
    b"UNSUBSCRIBE": _one_mailbox(c.Unsubscribe),
    b"LIST": _list,
    b"LSUB": _lsub,
    b"STATUS": _status,
    b"APPEND": _append,
    b"NAMESPACE": _bare(c.Namespace),
    b"IDLE": _bare(c.Idle),
    b"GETQUOTA": _getquota,
    b"GETQUOTAROOT": _one_mailbox(c.GetQuotaRoot),
    b"SETQUOTA": _setquota,
    b"CHECK": _bare(c.Check),
    b"CLOSE": _bare(c.Close),
    b"UNSELECT": _bare(c.Unselect),
}


def parse_command(frame: CommandFrame, *, utf8: bool = False) -> c.Command:
    """Parse one framed command; raises only ``ParseError`` (with the tag once it is read).

    ``utf8``: the client enabled UTF8=ACCEPT, so mailbox names are raw UTF-8 (RFC 6855).
    """
    tag = None
    try:
        reader = Reader.from_frame(frame)
        tag = reader.tag()
        reader.sp()
        verb = reader.atom().upper()
        if verb == b"UID":
            reader.sp()
            verb = reader.atom().upper()
            if verb not in UID_VERBS:
                raise syntax_error("Unknown UID command")
            command = UID_VERBS[verb](reader, tag, utf8, True)
        elif verb in UID_VERBS:
            command = UID_VERBS[verb](reader, tag, utf8, False)
        elif verb in _VERBS:
            command = _VERBS[verb](reader, tag, utf8)
        else:
            raise syntax_error("Unknown command")
        reader.end()
    except ParseError as exc:
        raise exc if tag is None else exc.with_tag(tag) from None
    return command


def parse_command_bytes(data: bytes, *, utf8: bool = False) -> c.Command:
    """Frame and parse one command given as wire bytes (tests, tools).

    Synchronising literals are accepted as if ``+`` had been sent; ``data`` must hold exactly
    one complete command.
    """
    framer = Framer(max_line=len(data) + 2, max_literal=len(data), max_command=len(data) + 2)
    frames: list[CommandFrame] = []
    events = framer.feed(data)
    while events:
        event = events.pop(0)
        if isinstance(event, NeedContinuation):
            framer.accept_literal()
            events.extend(framer.feed(b""))
        elif isinstance(event, CommandFrame):
            frames.append(event)
        elif not isinstance(event, LiteralChunk):
            raise syntax_error(detail=f"framing: {type(event).__name__}")
    if len(frames) != 1 or framer.buffered:
        raise syntax_error(detail="not exactly one command")
    return parse_command(frames[0], utf8=utf8)
