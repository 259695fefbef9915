"""A lean HTTP/1.1 load generator on raw asyncio streams (keep-alive, no client library in the
hot path), so the 2-core machine spends its time in the servers, not in the driver."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0


RequestFactory = Callable[[random.Random], tuple[str, bytes, dict[str, str]]]


async def _worker(
    host: str,
    port: int,
    make: RequestFactory,
    deadline: float,
    outcome: Outcome,
    check: Callable[[int, bytes], bool],
    seed: int,
) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            path, body, headers = make(rng)
            head = [
                f"POST {path} HTTP/1.1",
                f"Host: {host}",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
            ]
            head += [f"{k}: {v}" for k, v in headers.items()]
            started = time.perf_counter()
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            payload = await reader.readexactly(length)
            outcome.latencies.append(time.perf_counter() - started)
            outcome.requests += 1
            if not check(status, payload):
                outcome.errors += 1
    finally:
        writer.close()


async def drive(
    host: str,
    port: int,
    make: RequestFactory,
    concurrency: int,
    seconds: float,
    check: Callable[[int, bytes], bool],
) -> tuple[Outcome, float]:
    """Run `concurrency` keep-alive connections for `seconds`; return outcomes and wall time."""
    outcome = Outcome()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(host, port, make, deadline, outcome, check, seed=n) for n in range(concurrency))
    )
    return outcome, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]
