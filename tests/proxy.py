"""A TCP proxy a test can break: refuse, freeze, cut, or swallow one reply.

Between the service and a real server (PostgreSQL on its Unix socket, Redis on TCP), it stands
in for the network faults crash tests produce from outside: a server that is gone (`refuse`),
one that hangs (`freeze`: connections stay open, nothing moves), connections cut (`cut`), and
a reply lost after the server acted on the request (`swallow_reply_containing`).
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
        # A byte string: the next server → client chunk that contains it is dropped, and the
        # client's connection is cut (the acknowledgement of a COMMIT, lost on the way back).
        self._swallow: bytes | None = None
        self.swallowed = 0

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

    def swallow_reply_containing(self, marker: bytes) -> None:
        self._swallow = marker

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
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, to_client=False)),
            asyncio.create_task(self._pump(up_reader, writer, to_client=True)),
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
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, to_client: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await source.read(65536):
                await self._moving.wait()
                if to_client and self._swallow is not None and self._swallow in chunk:
                    self._swallow = None
                    self.swallowed += 1
                    return  # the reply is lost and the connection with it
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
