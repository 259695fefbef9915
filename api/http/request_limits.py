"""Limits that keep the service up: request body size and request time."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
                return  # answered already (504) while the request unwinds
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # At the limit the 504 is sent at once, from a task of its own, and then the request
        # is cancelled: it may take a while to unwind (SQLAlchemy closing a connection to a
        # hung PostgreSQL waits 2 s more), and the client is not kept waiting for that. A
        # timer, not a task per request: requests that end in time pay a few microseconds.
        loop = asyncio.get_running_loop()
        request = asyncio.current_task()
        answer: asyncio.Task[None] | None = None

        def expire() -> None:
            nonlocal cut_off, answer
            cut_off = True
            if not started:
                answer = loop.create_task(
                    send_error(
                        send, 504, "The request took too long and was stopped.", "REQUEST_TIMEOUT"
                    )
                )
            if request is not None:
                request.cancel()

        timer = loop.call_later(self.timeout_seconds, expire)
        try:
            await self.app(scope, limited_receive, tracking_send)
        except asyncio.CancelledError:
            if not cut_off or request is None:
                raise  # not ours: the client left, or the server is stopping
            request.uncancel()
        except BodyTooLarge:
            if not started:
                await self._too_large(send)
        finally:
            timer.cancel()
        if answer is not None:
            await answer

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send,
            413,
            f"The request body exceeds {self.max_body_bytes} bytes.",
            "REQUEST_TOO_LARGE",
        )
