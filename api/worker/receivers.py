"""Where a webhook receiver's host name points, asked of the system's resolver."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from ipaddress import ip_address

from api.settings import Settings
from domain.webhooks import IPAddress, ReceiverRules


class SystemResolver:
    async def addresses(self, host: str, port: int) -> Sequence[IPAddress]:
        try:
            return [ip_address(host)]  # a literal address: nothing to resolve
        except ValueError:
            pass
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise LookupError(host) from exc
        # getaddrinfo also takes the old numeric forms ("2130706433" is 127.0.0.1): what it
        # answers is what a connection would reach, and that is what is checked.
        addresses = list(dict.fromkeys(ip_address(str(info[4][0]).split("%")[0]) for info in found))
        if not addresses:
            raise LookupError(host)
        return addresses


def receiver_rules(settings: Settings) -> ReceiverRules:
    """Development delivers over plain HTTP too; production never. A local receiver (a test's,
    a developer's) needs its network in QUANJING_WEBHOOK_ALLOWED_NETWORKS, like any internal
    receiver."""
    return ReceiverRules(
        resolver=SystemResolver(),
        require_https=settings.is_production,
        allowed_networks=settings.webhook_allowed_networks,
    )
