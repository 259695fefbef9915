"""Stopping the process's background tasks (worker loops, the outbox relay) without hanging."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], within_seconds: float) -> None:
    """Cancel the tasks and wait until they have ended, cancelling again while any runs on.

    One cancellation can be lost: a library that turns it into an error of its own (redis-py
    reading a reply, asyncio's timeouts on Python 3.11 when the timeout fires at the same moment)
    hands a retry loop something it retries, and the task runs on for ever. A shutdown waiting
    on it then hangs (seen: `quanjing demo` on a busy port never exited). Repeating the
    cancellation until each task is done, within `within_seconds`, cannot hang.
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            names = ", ".join(sorted(task.get_name() for task in pending))
            log.error("background tasks did not stop within %.0f s: %s", within_seconds, names)
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.2, remaining))
    for task in tasks:
        if task.done() and not task.cancelled() and (error := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=error)


_abandoned: set[asyncio.Future[Any]] = set()


async def within(work: Awaitable[T], seconds: float) -> T:
    """`work`'s result, or TimeoutError after `seconds` — at `seconds`, not later.

    `asyncio.timeout` cancels the work and then waits for it to unwind, and a driver's cleanup
    on cancellation can take its own time (SQLAlchemy closing an asyncpg connection to a hung
    server waits 2 s more). Here the work runs in a task of its own: at the deadline it is
    cancelled and left to unwind in the background (held, so it is not collected), and the
    caller answers at once. A caller cancelled meanwhile cancels the work too.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)
    raise TimeoutError


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned task's failure is not worth a warning
