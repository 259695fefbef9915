"""graphql-transport-ws, as strawberry speaks it, plus the end of a connection's credential.

A websocket is authenticated once, at its handshake or its connection_init. Without more, a
subscription would go on receiving a customer's events long after the token that opened it
expired; here the connection is closed (4401, "Token expired") at the token's `exp`, and the
client signs in again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from schema.core.context import Context

TOKEN_EXPIRED_CLOSE = 4401
# The code a connection_init was refused with (api/http/graphql_view.on_ws_connect).
REJECTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("rejection", default=None)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._expiry: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # strawberry closes a refused connection_init with 4403 "Forbidden", which a
        # graphql-ws client retries for ~40 s before telling anyone. A bad or missing token is
        # closed 4401 instead (the protocol's Unauthorized: clients give up and sign in
        # again), with its code as the reason; the identity provider away is 1013 (try later).
        close = self.websocket.close

        async def close_with_the_code(code: int = 1000, reason: str | None = None) -> None:
            rejected = REJECTION.get()
            if code == 4403 and rejected is not None:
                code = 1013 if rejected == "TOKEN_UNVERIFIABLE" else 4401
                reason = rejected
            await close(code=code, reason=reason or "")

        self.websocket.close = close_with_the_code  # type: ignore[method-assign]
        try:
            await super().handle_connection_init(message)
        finally:
            self.websocket.close = close  # type: ignore[method-assign]
        expires_at = self.context.principal.expires_at
        if self.connection_acknowledged and expires_at is not None and self._expiry is None:
            self._expiry = asyncio.create_task(self._close_at(expires_at))

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        # The client may have gone in the meantime: then there is nothing left to close.
        with contextlib.suppress(Exception):
            await self.websocket.close(code=TOKEN_EXPIRED_CLOSE, reason="Token expired")

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        await super().shutdown()
