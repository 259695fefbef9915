"""A background task that loses its cancellation still stops: shutdown never waits for ever."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from api.background import stop_tasks


async def _loses_one_cancellation(stopped: asyncio.Event) -> None:
    # What a retry loop does when a library turns the cancellation into an error of its own.
    lost = False
    try:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost = True
    finally:
        stopped.set()


async def test_a_task_that_loses_its_cancellation_is_cancelled_again_until_it_stops() -> None:
    stopped = asyncio.Event()
    task = asyncio.create_task(_loses_one_cancellation(stopped))
    await asyncio.sleep(0.02)
    await asyncio.wait_for(stop_tasks([task], within_seconds=5), timeout=10)
    assert stopped.is_set()
    assert task.cancelled()


async def test_a_task_that_never_stops_is_left_after_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.01)

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.wait_for(stop_tasks([task], within_seconds=0.3), timeout=10)
    assert not task.done()
    assert "did not stop within" in caplog.text
    assert "stubborn" in caplog.text
    release.set()
    await task
