"""The one shape of every error a client gets outside a GraphQL result:
`{"data": null, "errors": [{"message", "extensions": {"code", …}}]}` — built here only."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Send


def error_body(message: str, code: str, **extensions: object) -> dict[str, Any]:
    return {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": code, **extensions}}],
    }


async def send_error(
    send: Send,
    status: int,
    message: str,
    code: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer a plain ASGI request (middleware, the profile lane) with the error envelope."""
    await send_json(send, status, error_body(message, code), headers or [])


async def send_json(
    send: Send, status: int, body: object, headers: list[tuple[bytes, bytes]]
) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
