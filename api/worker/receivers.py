"""Where a webhook receiver's host name points, asked of the system's resolver."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from ipaddress import ip_address

from domain.webhooks import IPAddress


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
