"""How `quanjing serve` and `quanjing demo` run: the address checked before anything starts, and
one way to stop for SIGTERM and SIGINT alike.

Service managers (systemd, container runtimes, kill) send SIGTERM. Left at its default, SIGTERM
ends the process where it stands, and the embedded PostgreSQL and Redis it started keep
running. Here it raises, as SIGINT does, so every `with` on the way out closes what it opened.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

# uvicorn's exit code when the server could not start (it cannot bind, the app failed).
STARTUP_FAILURE = 3


class AddressUnavailable(Exception):
    """The address to serve on cannot be listened on; the message says what to do."""

    def __init__(self, host: str, port: int, reason: str, *, busy: bool = False) -> None:
        hint = " Choose another port: --port N (make demo PORT=N)." if busy else ""
        super().__init__(f"cannot listen on {host}:{port}: {reason}.{hint}")


def check_address(host: str, port: int) -> None:
    """Raise AddressUnavailable unless `host:port` can be listened on, bound as uvicorn binds it
    (SO_REUSEADDR, every address the host resolves to), before any server is started."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise AddressUnavailable(host, port, f"unknown host ({exc.strerror})") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise AddressUnavailable(
                        host, port, "address already in use", busy=True
                    ) from None
                raise AddressUnavailable(host, port, exc.strerror or str(exc)) from None


class Stopping(SystemExit):
    """Raised in the main thread by the first SIGTERM: a requested stop, exit code 0."""


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM raises Stopping and SIGINT KeyboardInterrupt, once: a signal that arrives while
    the servers are being stopped is ignored, so the stop itself is never cut short.
    Outside the main thread (a command run by a test) nothing changes: only it gets signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopping(0)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Server(uvicorn.Server):
    """uvicorn's server, where a second SIGTERM forces the stop as a second SIGINT does: open
    connections and the application's shutdown are not waited for any longer."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            self.force_exit = True
        super().handle_exit(sig, frame)


def run(app: str, *, host: str, port: int, workers: int, options: dict[str, Any]) -> int:
    """Serve the application factory `app` until a signal; the exit code."""
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, **options)
    if workers > 1:
        # The supervisor stops its worker processes on SIGTERM or SIGINT and returns.
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = Server(config)
    try:
        server.run()
    except SystemExit as exc:
        # uvicorn exits with STARTUP_FAILURE when it cannot bind (another process took the
        # port after check_address) or the application failed to start; it logged why.
        if server.started or exc.code != STARTUP_FAILURE:
            raise
    return 0 if server.started else STARTUP_FAILURE
