"""A real uvicorn server for websocket tests, and a graphql-transport-ws client's steps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from api.cli import server_options
from api.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def served(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """`app` behind a real uvicorn server on 127.0.0.1, served as `quanjing serve` serves
    it; yields host:port."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        **{**server_options(settings), "log_level": "warning"},
    )
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    while not instance.started:  # uvicorn offers a flag, not an event
        if task.done():
            task.result()  # raises what stopped the server from starting
            raise RuntimeError("uvicorn exited before it started")
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{port}"
    instance.should_exit = True
    # A subscription that outlives its client keeps uvicorn from stopping: fail, never hang.
    done, _ = await asyncio.wait({task}, timeout=30)
    if not done:
        instance.force_exit = True
        await asyncio.wait({task}, timeout=5)
        raise AssertionError("the server did not stop: a subscription outlived its websocket")


async def receive(ws: ClientConnection) -> Any:
    frame = await ws.recv()
    # graphql-transport-ws speaks in text frames: a browser's client cannot parse a binary one.
    assert isinstance(frame, str), frame
    return json.loads(frame)


async def signed_in(server: str, token: str) -> ClientConnection:
    """A graphql-transport-ws connection whose connection_init the server acknowledged."""
    ws = await connect(f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert (await receive(ws))["type"] == "connection_ack"
    return ws


async def send_subscribe(ws: ClientConnection, payload: dict[str, Any], id_: str = "1") -> None:
    await ws.send(json.dumps({"id": id_, "type": "subscribe", "payload": payload}))


async def run_over_websocket(
    server: str, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """A query or mutation sent over graphql-transport-ws: its one `next` payload."""
    ws = await signed_in(server, token)
    try:
        await send_subscribe(ws, {"query": query, "variables": variables})
        message = await asyncio.wait_for(receive(ws), 10)
        assert message["type"] == "next", message
        payload: dict[str, Any] = message["payload"]
        assert (await asyncio.wait_for(receive(ws), 10))["type"] == "complete"
        return payload
    finally:
        await ws.close()
