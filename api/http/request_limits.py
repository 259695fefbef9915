"""Limits that keep the service up: request body size and request time."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.background import within
from api.http.envelope import send_error


class BodyTooLarge(Exception):
    pass


class RequestLimitsMiddleware:
    """Refuses bodies over `max_body_bytes` (413) by the declared length or while streaming,
    and cuts requests that run past `timeout_seconds` (504)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._too_large(send)
                return
        received = 0
        started = False
        cut_off = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if cut_off:
                return  # answered already (504); the request unwinds in the background
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            # The limit holds to the second: the request is not waited for while it unwinds.
            await within(self.app(scope, limited_receive, tracking_send), self.timeout_seconds)
        except BodyTooLarge:
            if not started:
                await self._too_large(send)
        except TimeoutError:
            cut_off = True
            if not started:
                await send_error(
                    send, 504, "The request took too long and was stopped.", "REQUEST_TIMEOUT"
                )

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send,
            413,
            f"The request body exceeds {self.max_body_bytes} bytes.",
            "REQUEST_TOO_LARGE",
        )
