"""ENVELOPE serialisation: the fast address path gives what the general one gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore.message import Address, Envelope
from protocols.imap.grammar.structure import _nstr, envelope_bytes
from protocols.imap.grammar.wire import MAX_QUOTED


def reference(envelope: Envelope) -> bytes:
    """Every string through ``_nstr``, every address list serialised on its own."""

    def addresses(items: tuple[Address, ...]) -> bytes:
        if not items:
            return b"NIL"
        return b"(" + b"".join(
            b"(%s %s %s %s)" % (_nstr(a.name), _nstr(a.adl), _nstr(a.mailbox), _nstr(a.host))
            for a in items
        ) + b")"  # fmt: skip

    return b"(%s)" % b" ".join(
        [
            _nstr(envelope.date),
            _nstr(envelope.subject),
            addresses(envelope.from_),
            addresses(envelope.sender),
            addresses(envelope.reply_to),
            addresses(envelope.to),
            addresses(envelope.cc),
            addresses(envelope.bcc),
            _nstr(envelope.in_reply_to),
            _nstr(envelope.message_id),
        ]
    )


def test_common_envelope() -> None:
    sender = (Address("Sender 5", None, "s5", "example.org"),)
    envelope = Envelope(
        "Mon, 6 Nov 2023 10:00:00 +0000", "hi", sender, sender, sender,
        (Address(None, None, "a", "b"),), (), (), None, "<1@x>",
    )  # fmt: skip
    assert envelope_bytes(envelope) == (
        b'("Mon, 6 Nov 2023 10:00:00 +0000" "hi" (("Sender 5" NIL "s5" "example.org")) '
        b'(("Sender 5" NIL "s5" "example.org")) (("Sender 5" NIL "s5" "example.org")) '
        b'((NIL NIL "a" "b")) NIL NIL NIL "<1@x>")'
    )
    assert envelope_bytes(envelope) == reference(envelope)


texts = st.one_of(
    st.none(),
    st.sampled_from(["", "NIL", "a b", 'q"uote', "back\\slash", "caf\xe9", "\udcff", "x" * 1030]),
    st.text(alphabet=st.sampled_from('ab "\\\r\n\x00\x7f\xe9'), max_size=6),
)
address_lists = st.lists(st.builds(Address, texts, texts, texts, texts), max_size=3).map(tuple)


@settings(max_examples=300)
@given(texts, address_lists, address_lists, address_lists, address_lists)
def test_envelope_bytes_agrees_with_the_general_path(
    subject: str | None,
    from_: tuple[Address, ...],
    sender: tuple[Address, ...],
    to: tuple[Address, ...],
    cc: tuple[Address, ...],
) -> None:
    for envelope in (
        Envelope("d", subject, from_, sender, from_, to, cc, (), None, subject),
        Envelope(None, subject, from_, from_, from_, to, to, cc, subject, None),
    ):
        assert envelope_bytes(envelope) == reference(envelope)


def test_long_strings() -> None:
    for length, literal in ((MAX_QUOTED - 5, False), (MAX_QUOTED + 1, True)):
        name = "n" * length  # together with the other strings: over MAX_QUOTED
        address = Address(name, None, "abc", "defgh")
        envelope = Envelope(None, None, (address,), (), (), (), (), (), None, None)
        out = envelope_bytes(envelope)
        assert out == reference(envelope)
        assert (b"{%d}\r\n" % length in out) is literal
