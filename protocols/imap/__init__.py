"""IMAP4rev1 (RFC 3501) and the extensions mailstack serves.

The pure layer lives here and in ``grammar/``: ``framing`` cuts bytes into commands,
``grammar`` turns a command into a typed value from ``commands``, ``responses`` holds the
typed replies and ``grammar.writer`` (via ``responses.serialize``) is the one place where
response octets are made. Handlers, the session state machine and the Twisted transport sit
on top and never build protocol text themselves.
"""
