"""The IMAP grammar split by topic, each module quoting its ABNF (RFC 3501 9 and extensions).

``lexer`` (atoms, strings, literals), ``sequence``, ``flags``, ``dates``, ``mailbox``,
``fetch``, ``search``, ``commands`` (whole commands) on the reading side; ``wire``,
``structure`` (ENVELOPE, BODYSTRUCTURE) and ``writer`` (responses) on the writing side.
"""
