"""`quanjing detect --as-of`: the time-based rules over a whole (scratch) bank, run twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from api.bootstrap import Detection
from api.cli import main, migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn, create_engine
from api.ops.embedded import Endpoints
from api.ops.seed import seed
from api.settings import Settings
from tests.scratch import scratch_database


async def _craft(url: str, today: date) -> dict[str, int]:
    """Pick seeded customers and give each the history one rule is about."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    now = datetime.now(UTC)
    try:
        people = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM customers WHERE kind = 'personal' ORDER BY id LIMIT 9"
            )
        ]
        company = await conn.fetchval(
            "SELECT id FROM customers WHERE kind = 'corporate' ORDER BY id LIMIT 1"
        )
        names = [
            "silent",
            "recent",
            "birthday",
            "no_consent",
            "withdrawn",
            "quiet_unknown",
            "high_quiet",
            "visited_high",
            "visited_potential",
        ]
        chosen = dict(zip(names, people, strict=True)) | {"declining": company}
        # Nobody else in this bank is silent, has an occasion soon, or is declining.
        # (Dates relative to today, so no occasion falls in the window whenever this runs.)
        far = today + timedelta(days=100)
        await conn.execute(
            "UPDATE customers SET created_at = $2, lifecycle_stage = NULL, "
            "birth_date = CASE WHEN kind = 'personal' THEN $1::date END",
            date(1980, far.month, min(far.day, 28)),
            now - timedelta(days=200),
        )
        await conn.execute(
            "INSERT INTO interactions (customer_id, channel, kind, occurred_at) "
            "SELECT id, 'mobile_app', 'inquiry', $1 FROM customers",
            now - timedelta(days=1),
        )
        # Tiers as the value scoring left them: none but one high-value customer, whose
        # silence threshold is `tier:high`'s 60 days, not the personal 180.
        await conn.execute("DELETE FROM customer_values")
        await conn.execute(
            "INSERT INTO customer_values (period, customer_id, margin_revenue, fee_revenue, "
            "interaction_cost, servicing_cost, contribution, corporate_growth, tier, scored_at) "
            "VALUES ($1, $2, 0, 0, 0, 0, 0, false, 'low', now()), "
            "($3, $2, 90000, 0, 0, 0, 90000, false, 'high', now())",
            date(today.year - 1, 1, 1),
            chosen["high_quiet"],
            date(today.year, 1, 1) if today.month > 1 else date(today.year - 1, 12, 1),
        )
        # Visit calendars (missed_visit: tier:high once in 30 days, tier:potential once in 90):
        # the high-value customer above has had no RM visit; these two had one in time.
        latest = date(today.year, 1, 1) if today.month > 1 else date(today.year - 1, 12, 1)
        for name, tier, days_ago in (
            ("visited_high", "high", 10),
            ("visited_potential", "potential", 60),
        ):
            await conn.execute(
                "INSERT INTO customer_values (period, customer_id, margin_revenue, fee_revenue, "
                "interaction_cost, servicing_cost, contribution, corporate_growth, tier, "
                "scored_at) VALUES ($1, $2, 0, 0, 0, 0, 0, false, $3, now())",
                latest,
                chosen[name],
                tier,
            )
            await conn.execute(
                "INSERT INTO interactions (customer_id, channel, kind, occurred_at) "
                "VALUES ($1, 'rm_visit', 'inquiry', $2)",
                chosen[name],
                now - timedelta(days=days_ago),
            )
        await conn.execute(
            "UPDATE customers SET relationship_manager_id = "
            "(SELECT min(id) FROM relationship_managers) WHERE id = ANY($1)",
            [chosen["high_quiet"], chosen["visited_high"], chosen["visited_potential"]],
        )
        for name, days in (("silent", 200), ("recent", 179), ("high_quiet", 90)):
            await conn.execute("DELETE FROM interactions WHERE customer_id = $1", chosen[name])
            await conn.execute(
                "INSERT INTO interactions (customer_id, channel, kind, occurred_at) "
                "VALUES ($1, 'counter', 'inquiry', $2)",
                chosen[name],
                now - timedelta(days=days),
            )
        # Born in a leap year: in three days may be 29 February.
        soon = today + timedelta(days=3)
        birthday = date(1984, soon.month, soon.day)
        for name in ("birthday", "no_consent", "withdrawn"):
            await conn.execute(
                "UPDATE customers SET birth_date = $2 WHERE id = $1", chosen[name], birthday
            )
        consent = (
            "INSERT INTO consents (customer_id, purpose, channel, granted, version, "
            "recorded_at, source, actor) VALUES ($1, 'marketing', $2, $3, $4, now(), "
            "'mobile_app', 'customer')"
        )
        await conn.execute(consent, chosen["birthday"], "all", True, 1)
        await conn.execute(consent, chosen["withdrawn"], "all", True, 1)
        await conn.execute(consent, chosen["withdrawn"], "rm_visit", False, 2)
        await conn.execute(
            "UPDATE customers SET lifecycle_stage = 'decline', industry = '纺织' WHERE id = $1",
            chosen["declining"],
        )
        # A customer that never interacted counts from onboarding: long enough ago here.
        await conn.execute(
            "DELETE FROM interactions WHERE customer_id = $1", chosen["quiet_unknown"]
        )
    finally:
        await conn.close()
    return chosen


async def _alerts(url: str) -> list[tuple[int, str, str]]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT a.customer_id, a.rule, t.kind FROM alerts a JOIN tasks t ON t.id = a.task_id "
            "ORDER BY a.customer_id, a.rule"
        )
        return [(r["customer_id"], r["rule"], r["kind"]) for r in rows]
    finally:
        await conn.close()


async def test_detect_as_of_a_date_alerts_once_for_time_based_rules(
    endpoints: Endpoints,
    crypto: DocumentCrypto,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = await scratch_database(endpoints, "quanjing_detect")
    await asyncio.to_thread(migrate, url)
    await seed(url, crypto=crypto, customers=60, seed=5)
    today = datetime.now(UTC).date()
    chosen = await _craft(url, today)

    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", endpoints.redis_url)
    monkeypatch.setenv("QUANJING_HOME", str(settings.home))
    code = await asyncio.to_thread(main, ["detect", "--as-of", today.isoformat()])
    assert code == 0

    assert await _alerts(url) == sorted(
        [
            (chosen["silent"], "silence", "contact"),
            (chosen["quiet_unknown"], "silence", "contact"),
            # Detection used no tiers before (issue 23): 90 quiet days passed as fine.
            (chosen["high_quiet"], "silence", "contact"),
            # Its visit calendar: no RM visit in 30 days (issue 23).
            (chosen["high_quiet"], "missed_visit", "contact"),
            (chosen["birthday"], "birthday", "contact"),
            (chosen["declining"], "industry_decline", "contact"),
        ]
    )

    # The same date again (a second worker, a rerun after a crash): nothing new.
    engine = create_engine(url, settings)
    try:
        again = await Detection(engine).scheduled(today)
    finally:
        await engine.dispose()
    assert again.alerts == []
    assert again.duplicates == 6
