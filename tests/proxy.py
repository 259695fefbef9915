"""A TCP proxy a test can break: refuse, freeze, cut, or swallow one reply.

Between the service and a real server (PostgreSQL on its Unix socket, Redis on TCP), it stands
in for the network faults crash tests produce from outside: a server that is gone (`refuse`),
one that hangs (`freeze`: connections stay open, nothing moves), connections cut (`cut`), and
and the acknowledgement of a COMMIT lost after the server committed (`lose_commit_ack_after`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class Proxy:
    def __init__(self, open_upstream: Opener) -> None:
        self.open_upstream = open_upstream
        self.port = 0
        self.refusing = False
        self._moving = asyncio.Event()
        self._moving.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # A byte string the client sends (a value of its write): on that connection, the next
        # COMMIT's acknowledgement is dropped and the connection cut, after the server committed.
        self._commit_marker: bytes | None = None
        self.lost_acks = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def refuse(self, refusing: bool = True) -> None:
        """New connections are closed at once (a server that is down); open ones are cut."""
        self.refusing = refusing
        if refusing:
            self.cut()

    def freeze(self) -> None:
        """Nothing moves either way; connections stay open (SIGSTOP, as the client sees it)."""
        self._moving.clear()

    def thaw(self) -> None:
        self._moving.set()

    def cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def lose_commit_ack_after(self, marker: bytes) -> None:
        self._commit_marker = marker

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await self.open_upstream()
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})
        armed: list[bool] = [False]  # this connection sent the marker: lose its COMMIT's ack
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, armed, to_client=False)),
            asyncio.create_task(self._pump(up_reader, writer, armed, to_client=True)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        armed: list[bool],
        *,
        to_client: bool,
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await source.read(65536):
                await self._moving.wait()
                marker = self._commit_marker
                if not to_client and marker is not None and marker in chunk:
                    self._commit_marker = None
                    armed[0] = True
                if to_client and armed[0] and b"COMMIT\x00" in chunk:
                    armed[0] = False
                    self.lost_acks += 1
                    return  # committed, but the acknowledgement is lost with the connection
                sink.write(chunk)
                await sink.drain()


@contextlib.asynccontextmanager
async def proxy_to(open_upstream: Opener) -> AsyncIterator[Proxy]:
    proxy = Proxy(open_upstream)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def unix(path: str) -> Opener:
    return lambda: asyncio.open_unix_connection(path)


def tcp(host: str, port: int) -> Opener:
    return lambda: asyncio.open_connection(host, port)
