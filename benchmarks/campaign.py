"""`make bench-campaign`: launch a campaign over every customer, attribute a month of holdings
changes, and build its report.

    python -m benchmarks.campaign [--customers 1000000] [--quick]

On its own benchmark bank (`.quanjing-bench-campaign`, reused): the demo seeder's first 2,000
customers (branches, RMs, products and customers as the demo has them), grown to the size by
set-based SQL copying their shape (names, branch and RM, a phone for nine in ten, two holdings,
five interactions in the last half year, a few doubtful or exit states and open complaints) —
minutes where the seeder takes an hour and a half — and a month scored by `quanjing score`'s
store; then gives a deterministic share of customers marketing consent (about a
fifth end up eligible) once, then:

1. **launch**: a two-arm campaign (RM visit, SMS) with a 10 % holdout over a segment of every
   customer: eligibility, frozen membership with reasons, assignment, scores, tasks and
   interactions with their events, in one transaction. Baseline in the same run: one
   `CREATE TEMP TABLE … AS SELECT` of the same customers with the same sha256 draw — the floor
   of any launch that writes one row per targeted customer.
2. **attribution**: a month of holdings changes (new holdings, a tenth of them of the offered
   product, opened over the 30 days after launch — the launch is dated back 30 days), then
   `attributeCampaign`'s statement. Baseline: counting the month's opened holdings of the
   offered product joined to the members.
3. **report**: the report's statement and the statistics. Baseline: counting the members.

Goals (issue 24): launch ≤ 60 s at 1,000,000 customers with ~20 % eligible, attribution
≤ 60 s, report ≤ 1 s. Results go to benchmarks/results/campaign.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from api.cli import migrate
from api.db.campaign_runs import SqlCampaignRuns
from api.db.campaigns import SqlCampaigns
from api.db.document_crypto import DocumentCrypto
from api.db.engine import asyncpg_dsn, create_engine
from api.db.value_store import SqlValueStore
from api.ops.embedded import EmbeddedPostgres
from api.ops.seed import seed
from api.settings import Settings
from benchmarks.report import CAMPAIGN_RESULTS, save
from benchmarks.run import ROOT, machine
from domain.campaigns.lifecycle import approve_campaign, create_campaign
from domain.campaigns.model import Arm, CampaignKind, CampaignPlan, ContactChannel
from domain.campaigns.report import campaign_report
from domain.campaigns.runs import attribute_campaign, launch_campaign
from domain.value.contribution import shift_period

T = TypeVar("T")
SEGMENT = "bench: every customer"
# Marketing consent for all channels for customers whose id is 0–42 mod 100: with the other
# checks (an RM for a visit — most customers have none — or a phone for an SMS, states,
# complaints, the cap) about a fifth end up eligible.
_CONSENTS = """
INSERT INTO consents (customer_id, purpose, channel, granted, version, recorded_at, source, actor)
SELECT id, 'marketing', 'all', true, 1, now(), 'bench', 'bench'
FROM customers WHERE id % 100 < 43
  AND NOT EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = customers.id
                  AND k.purpose = 'marketing' AND k.channel = 'all')
"""
# A month of holdings changes: one new holding per 20 customers, a tenth of the offered product.
_MONTH_OF_HOLDINGS = """
INSERT INTO holdings (customer_id, product_id, account_number, currency, balance, status,
                      opened_on)
SELECT c.id, CASE WHEN c.id % 200 = 0 THEN $1::bigint ELSE $2::bigint END, 'BENCH' || c.id, 'CNY', 1000,
       'active', current_date - (c.id % 30)::int
FROM customers c WHERE c.id % 20 = 0
"""


async def _timed(label: str, work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    started = time.perf_counter()
    found = await work()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.2f} s", flush=True)
    return found, seconds


async def _prepare(url: str, settings: Settings) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(_CONSENTS)
        # Earlier runs' campaigns would cap this one's customers: each run starts clean.
        await conn.execute("DELETE FROM holdings WHERE account_number LIKE 'BENCH%'")
        await conn.execute("DELETE FROM outbox WHERE topic IN ('campaign.contact', 'task.opened')")
        await conn.execute("DELETE FROM tasks WHERE campaign_id IS NOT NULL")
        await conn.execute("DELETE FROM interactions WHERE campaign_id IS NOT NULL")
        await conn.execute("DELETE FROM campaigns")
        await conn.execute("DELETE FROM segments WHERE name = $1", SEGMENT)
        # Every customer scored for last month (the seeded ones come scored, the grown not).
        scored = await conn.fetchval(
            "SELECT count(*) FROM customer_values WHERE period = "
            "(SELECT max(period) FROM value_periods)"
        )
        if scored < await conn.fetchval("SELECT count(*) FROM customers") * 0.9:
            engine = create_engine(url, replace(settings, db_statement_timeout_ms=3_600_000))
            period = shift_period(datetime.now(UTC).date().replace(day=1), -1)
            await SqlValueStore(engine).score(period, settings.high_value_share)
            await engine.dispose()
        segment = await conn.fetchval(
            "INSERT INTO segments (name, description, rule, created_by) VALUES ($1, 'bench', "
            """'{"clauses": [{"kind": "customer_kind", "kinds": ["personal", "corporate"]}]}',"""
            " 'bench') RETURNING id",
            SEGMENT,
        )
        products = await conn.fetch(
            "SELECT id FROM products WHERE retired_at IS NULL ORDER BY id LIMIT 2"
        )
        await conn.execute("VACUUM ANALYZE consents")
        sizes = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM customers) AS customers, "
            "(SELECT count(*) FROM holdings) AS holdings, "
            "(SELECT count(*) FROM interactions) AS interactions, "
            "(SELECT count(*) FROM consents) AS consents"
        )
        assert sizes is not None
        return {
            "segment": segment,
            "offered": products[0]["id"],
            "other": products[1]["id"],
            "dataset": dict(sizes),
        }
    finally:
        await conn.close()


SEED_CUSTOMERS = 2000
# Each statement grows the bank from the seeded customers: customer n copies the shape of
# seeded customer n mod 2,000 (kind, branch, RM, channel), with its own code and name.
_GROW = [
    """
INSERT INTO customers (code, kind, display_name, home_branch_id, relationship_manager_id,
    preferred_channel, gender, birth_date, income_band, asset_band, name_pinyin, created_at)
SELECT 'B' || lpad(n::text, 9, '0'), s.kind, s.display_name || n, s.home_branch_id,
       s.relationship_manager_id, s.preferred_channel, s.gender, s.birth_date, s.income_band,
       s.asset_band, coalesce(s.name_pinyin, '') || n, s.created_at
FROM generate_series($1::bigint, $2::bigint) AS n
JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS k, * FROM customers
      WHERE kind = 'personal' AND id <= $3) s ON s.k = n % $4
""",
    """
INSERT INTO contact_points (customer_id, kind, value, is_preferred)
SELECT c.id, 'phone', '+86138' || lpad(c.id::text, 8, '0'), true
FROM customers c WHERE c.code LIKE 'B%' AND c.id % 10 <> 7
""",
    """
INSERT INTO holdings (customer_id, product_id, account_number, currency, balance, status,
    opened_on)
SELECT c.id, p.id, 'G' || c.id || '-' || k, 'CNY', (c.id * 37 % 500000) / 10.0, 'active',
       current_date - (c.id * k % 2000)::int
FROM customers c CROSS JOIN generate_series(1, 2) AS k
JOIN LATERAL (SELECT id FROM products WHERE retired_at IS NULL AND audience <> 'corporate'
              ORDER BY id OFFSET (c.id * k) % 8 LIMIT 1) p ON true
WHERE c.code LIKE 'B%'
""",
    """
INSERT INTO interactions (customer_id, channel, kind, occurred_at, cost)
SELECT c.id, (ARRAY['counter','call_center','mobile_app','web_banking','rm_visit'])[1 + (c.id + k) % 5],
       (ARRAY['inquiry','transaction','service_request','follow_up'])[1 + (c.id * k) % 4],
       now() - make_interval(days => ((c.id * 7 + k * 31) % 180)::int), 2.50
FROM customers c CROSS JOIN generate_series(1, 5) AS k WHERE c.code LIKE 'B%'
""",
    """
INSERT INTO relationship_states (customer_id, state, since)
SELECT c.id, CASE WHEN c.id % 100 = 1 THEN 'doubtful' WHEN c.id % 100 = 2 THEN 'exit'
                  WHEN c.id % 100 < 10 THEN 'watch' ELSE 'normal' END, now()
FROM customers c WHERE c.code LIKE 'B%'
""",
    """
INSERT INTO tasks (customer_id, kind, status, title, owner_kind, owner_ref, due_at, created_by)
SELECT c.id, 'complaint', 'open', 'complaint', 'queue', 'call_center', now() + interval '2 days',
       'bench'
FROM customers c WHERE c.code LIKE 'B%' AND c.id % 200 = 3
""",
]


async def _grow(url: str, customers: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        have = await conn.fetchval("SELECT count(*) FROM customers")
        seeded = await conn.fetchval("SELECT max(id) FROM customers")
        started = time.perf_counter()
        for statement in _GROW:
            if statement is _GROW[0]:
                await conn.execute(
                    statement,
                    have + 1,
                    customers,
                    seeded,
                    await conn.fetchval("SELECT count(*) FROM customers WHERE kind = 'personal'"),
                )
            else:
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
        print(f"grown to {customers:,} in {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        await conn.close()


def build_bank(url: str, settings: Settings, customers: int) -> dict[str, int]:
    """The bank, built once and reused: (customers, holdings, interactions)."""
    migrate(url, settings)

    async def counts() -> dict[str, int]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM customers) AS customers, "
                "(SELECT count(*) FROM holdings) AS holdings, "
                "(SELECT count(*) FROM interactions) AS interactions"
            )
            assert row is not None
            return dict(row)
        finally:
            await conn.close()

    have = asyncio.run(counts())
    if have["customers"] == customers:
        return have
    crypto = DocumentCrypto.from_settings(settings)
    asyncio.run(
        seed(
            url,
            crypto=crypto,
            customers=min(SEED_CUSTOMERS, customers),
            seed=24,
            interactions_per_customer=5,
            reset=have["customers"] > 0,
        )
    )
    if customers > SEED_CUSTOMERS:
        asyncio.run(_grow(url, customers))
    return asyncio.run(counts())


def _plan(segment: int, product: int) -> CampaignPlan:
    now = datetime.now(UTC)
    return CampaignPlan(
        name="bench campaign",
        objective="measure",
        kind=CampaignKind.OFFER,
        segment_ids=(segment,),
        arms=(
            Arm("visit", Decimal("0.5"), ContactChannel.RM_VISIT, (product,), "visit"),
            Arm("sms", Decimal("0.5"), ContactChannel.SMS, (product,), "sms"),
        ),
        holdout_share=Decimal("0.1"),
        budget=Decimal("100000000"),
        cost_per_contact={
            ContactChannel.RM_VISIT: Decimal("120"),
            ContactChannel.SMS: Decimal("1"),
        },
        planned_contacts=200_000,
        starts_at=now + timedelta(seconds=5),
        ends_at=now + timedelta(days=30),
    )


async def _baseline_launch(url: str) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                "CREATE TEMP TABLE bench_floor ON COMMIT DROP AS SELECT c.id, "
                "(('x' || substr(encode(sha256(convert_to('campaign:0:customer:' || c.id, "
                "'UTF8')), 'hex'), 1, 16))::bit(64))::bigint AS place, c.home_branch_id "
                "FROM customers c WHERE c.merged_into_id IS NULL "
                "AND c.kind IN ('personal', 'corporate')"
            )
        seconds = time.perf_counter() - started
        print(f"baseline launch: {seconds:.2f} s", flush=True)
        return seconds
    finally:
        await conn.close()


async def _run(url: str, settings: Settings, ids: dict[str, Any]) -> dict[str, Any]:
    engine = create_engine(url, replace(settings, db_statement_timeout_ms=3_600_000))
    store, runs = SqlCampaigns(engine), SqlCampaignRuns(engine)
    try:
        plan = _plan(ids["segment"], ids["offered"])
        now = datetime.now(UTC)
        draft = await create_campaign(store, plan, "bench-maker", now)
        await approve_campaign(store, draft.id, "bench-checker", now)
        baseline_launch = await _baseline_launch(url)
        (campaign, launch), launch_seconds = await _timed(
            "launch",
            lambda: launch_campaign(store, runs, draft.id, "bench-maker", datetime.now(UTC)),
        )
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            # The campaign ran for the month past; a month of holdings was opened meanwhile.
            await conn.execute(
                "UPDATE campaigns SET launched_at = launched_at - interval '30 days' WHERE id = $1",
                campaign.id,
            )
            await conn.execute(_MONTH_OF_HOLDINGS, ids["offered"], ids["other"])
            changes = await conn.fetchval(
                "SELECT count(*) FROM holdings WHERE account_number LIKE 'BENCH%'"
            )
            await conn.execute("ANALYZE holdings")
            started = time.perf_counter()
            await conn.fetchval(
                "SELECT count(*) FROM holdings h JOIN campaign_members m ON m.campaign_id = $1 "
                "AND m.customer_id = h.customer_id WHERE h.product_id = $2 "
                "AND h.opened_on >= current_date - 30 AND m.reason = 'eligible'",
                campaign.id,
                ids["offered"],
            )
            baseline_attribution = time.perf_counter() - started
            print(f"baseline attribution: {baseline_attribution:.2f} s", flush=True)
        finally:
            await conn.close()
        (_, responded), attribution_seconds = await _timed(
            "attribution",
            lambda: attribute_campaign(store, runs, campaign.id, datetime.now(UTC)),
        )
        campaign = await store.get(campaign.id) or campaign
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            started = time.perf_counter()
            await conn.fetchval(
                "SELECT count(*) FROM campaign_members WHERE campaign_id = $1 "
                "AND reason = 'eligible'",
                campaign.id,
            )
            baseline_report = time.perf_counter() - started
        finally:
            await conn.close()
        campaign_report(campaign, {}, (), (), (), datetime.now(UTC))  # statsmodels loaded

        async def report() -> Any:
            figures = await runs.figures(campaign)
            return campaign_report(
                campaign,
                figures.groups,
                figures.by_channel,
                figures.by_branch,
                figures.by_rm,
                datetime.now(UTC),
            )

        built, report_seconds = await _timed("report", report)
        targeted = sum(launch.by_reason.values())
        return {
            "targeted": targeted,
            "by_reason": {r.value: n for r, n in launch.by_reason.items()},
            "eligible_share": round((launch.treated + launch.control) / targeted, 3),
            "treated": launch.treated,
            "control": launch.control,
            "tasks_opened": launch.tasks_opened,
            "digital_sent": launch.digital_sent,
            "holdings_changes": changes,
            "responded": responded,
            "report_arms": [
                {"arm": a.name, "rate": a.treated.rate, "control_rate": a.control.rate}
                for a in built.arms
            ],
            "launch": {"seconds": round(launch_seconds, 2), "baseline": round(baseline_launch, 2)},
            "attribution": {
                "seconds": round(attribution_seconds, 2),
                "baseline": round(baseline_attribution, 3),
            },
            "report": {"seconds": round(report_seconds, 3), "baseline": round(baseline_report, 3)},
        }
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.campaign", description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="2,000 customers")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers = 2000
    # Its own bank: `make bench`'s is reloaded whenever its size differs.
    # A quick run keeps a bank of its own: the 1M one is not reloaded for a smoke test.
    default = ".quanjing-bench-campaign-quick" if args.quick else ".quanjing-bench-campaign"
    home = Path(os.environ.get("QUANJING_BENCH_HOME") or ROOT / default).resolve()
    settings = replace(Settings.from_env({}), home=home, log_level="WARNING", db_pool_size=2)
    postgres = EmbeddedPostgres(home)
    url = postgres.start()
    try:
        dataset = build_bank(url, settings, args.customers)
        print(f"dataset: {dataset}", flush=True)
        ids = asyncio.run(_prepare(url, settings))
        figures = asyncio.run(_run(url, settings, ids))
    finally:
        postgres.stop()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "dataset": ids["dataset"],
        **figures,
    }
    save(result, CAMPAIGN_RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
