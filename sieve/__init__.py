"""Sieve mail filtering (RFC 5228 and extensions) over sievelib's parser.

``compile_script`` turns text into a checked :class:`Script` (errors carry a
line number); ``evaluate`` runs it against one message and returns the
actions; it does no I/O: the :class:`SieveContext` answers every outside
question.  Delivery applies the actions.
"""

from __future__ import annotations

from sieve.actions import (
    Action,
    Discard,
    FileInto,
    Keep,
    Redirect,
    Reject,
    TrackDuplicate,
    Vacation,
)
from sieve.ast import Script, SieveCompileError, SieveLimits, SieveRuntimeError
from sieve.compile import CAPABILITIES, compile_script
from sieve.interpreter import SieveContext, evaluate
from sieve.message import SieveEnvelope, SieveMessage

__all__ = [
    "CAPABILITIES",
    "Action",
    "Discard",
    "FileInto",
    "Keep",
    "Redirect",
    "Reject",
    "Script",
    "SieveCompileError",
    "SieveContext",
    "SieveEnvelope",
    "SieveLimits",
    "SieveMessage",
    "SieveRuntimeError",
    "TrackDuplicate",
    "Vacation",
    "compile_script",
    "evaluate",
]
