"""The Maildir++ backend of the store.

File-level pieces (no index, no reactor): file names and info flags (``filenames``),
Dovecot's keyword letter map (``keywords``), ``dovecot-uidlist`` import (``uidlist``),
crash-safe writes (``durable``) and the message spool (``spool``). Every function in
these modules is synchronous and may block: callers run them through
``mailstore.blocking.run_blocking``.
"""

from __future__ import annotations
