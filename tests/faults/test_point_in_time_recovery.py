"""Backups and point-in-time recovery (issue 22): write, take a base backup, write more,
restore to a moment between two writes, and find exactly the writes before it — with the
outbox and the idempotency keys agreeing with them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from api.bootstrap import Resources
from api.cli import migrate
from api.db.engine import asyncpg_dsn, create_engine
from api.http.app import create_app
from api.http.tokens import mint_development_token
from api.ops.backups import ARCHIVE_TIMEOUT_SECONDS, restore
from api.ops.embedded import EmbeddedPostgres
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from tests.factories import make_customer
from tests.faults.harness import report

RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on RecordInteractionPayload { interactionId } } }"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}


async def _write(url: str, settings: Settings, customer: int, keys: list[str]) -> None:
    engine = create_engine(url, settings)
    unreachable = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.1)
    app = create_app(settings, Resources(engine=engine, redis=unreachable))
    token = mint_development_token(
        settings, role=Role.INTEGRATION, subject="core", client_id="core"
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://quanjing.test",
            headers={"authorization": f"Bearer {token}"},
        ) as client:
            for key in keys:
                body = (
                    await client.post(
                        "/graphql",
                        json={
                            "query": RECORD,
                            "variables": {
                                "input": {
                                    "customerId": encode_id("Customer", customer),
                                    "channel": "CALL_CENTER",
                                    "kind": "INQUIRY",
                                    "occurredAt": "2026-12-01T10:00:00+08:00",
                                    "summary": key,
                                    "idempotencyKey": key,
                                }
                            },
                        },
                    )
                ).json()
                assert body["data"]["recordInteraction"]["__typename"] == "RecordInteractionPayload"
    finally:
        await unreachable.aclose()
        await engine.dispose()


async def _state(url: str, keys: list[str]) -> tuple[set[str], set[str], int]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        interactions = {
            r["summary"]
            for r in await conn.fetch(
                "SELECT summary FROM interactions WHERE summary = ANY($1)", keys
            )
        }
        claimed = {
            r["key"]
            for r in await conn.fetch("SELECT key FROM idempotency_keys WHERE key = ANY($1)", keys)
        }
        events = await conn.fetchval(
            "SELECT count(*) FROM outbox o JOIN interactions i "
            "ON o.payload->>'interactionId' = i.id::text WHERE i.summary = ANY($1)",
            keys,
        )
    finally:
        await conn.close()
    return interactions, claimed, int(events)


async def test_a_restore_to_a_moment_holds_exactly_the_writes_before_it(
    tmp_path: Path, settings: Settings
) -> None:
    home = tmp_path / "bank"
    mine = replace(settings, home=home, database_url=None)
    postgres = EmbeddedPostgres(home)
    url = postgres.start()
    try:
        await asyncio.to_thread(migrate, url, mine)
        engine = create_engine(url, mine)
        try:
            customer = (await make_customer(engine, holdings=0)).id
        finally:
            await engine.dispose()
        before = [f"pitr-a-{uuid.uuid4().hex[:12]}" for _ in range(3)]
        after = [f"pitr-b-{uuid.uuid4().hex[:12]}" for _ in range(3)]

        # As an operator runs it: a process of its own beside the one using the server (the
        # wheel stops a cluster when the last process using it lets go).
        backup = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "api.cli", "backup"],
            env={**_env(), "QUANJING_HOME": str(home)},
            capture_output=True,
            text=True,
        )
        assert backup.returncode == 0, backup.stderr[-2000:]
        assert "base backup" in backup.stdout
        await _write(url, mine, customer, before)  # after the base backup: from the WAL
        await asyncio.sleep(1.1)
        target = datetime.fromisoformat(postgres.psql("SELECT now()").replace(" ", "T"))
        await asyncio.sleep(1.1)
        await _write(url, mine, customer, after)
        # The last segment, archived now as archive_timeout would within a minute.
        count = "SELECT archived_count FROM pg_stat_archiver"
        archived = int(postgres.psql(count))
        postgres.psql("SELECT pg_switch_wal()")
        deadline = time.monotonic() + 30
        while int(postgres.psql(count)) <= archived:
            assert time.monotonic() < deadline, "the last segment was not archived"
            await asyncio.sleep(0.2)
        assert await _state(url, before + after) == (set(before + after), set(before + after), 6)
    finally:
        postgres.stop()

    into = tmp_path / "restored"
    done = await asyncio.to_thread(restore, home, target, into)
    assert done.seconds < 120
    again = EmbeddedPostgres(into)
    restored_url = again.start()
    try:
        interactions, claimed, events = await _state(restored_url, before + after)
    finally:
        again.stop()
    report(
        "point_in_time_recovery",
        {
            "restore_seconds": done.seconds,
            "writes_before_target": len(before),
            "writes_after_target": len(after),
            "restored": len(interactions),
            "archive_timeout_seconds": ARCHIVE_TIMEOUT_SECONDS,
        },
    )
    assert interactions == set(before)
    assert claimed == set(before)  # a client retrying a lost write replays it; none of after's
    assert events == len(before)  # every restored write's event is there to publish
