"""twistd dropin: names the service maker; imports nothing of mailstack until it runs."""

from twisted.application.service import ServiceMaker

mailstack = ServiceMaker(  # type: ignore[no-untyped-call]
    "mailstack", "mailstack.plugin", "Mail delivery and access", "mailstack"
)
