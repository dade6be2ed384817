"""LMTP delivery server (RFC 2033): ``build_factory(delivery, settings)`` for the app shell."""

from __future__ import annotations

from protocols.lmtp.server import LmtpFactory, LmtpProtocol, build_factory
from protocols.lmtp.session import LmtpSession
from protocols.lmtp.settings import LmtpSettings

__all__ = ["LmtpFactory", "LmtpProtocol", "LmtpSession", "LmtpSettings", "build_factory"]
