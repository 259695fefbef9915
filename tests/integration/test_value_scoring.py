"""Contribution and tiers over a small crafted bank, worked through by hand.

Every figure below is computed in the comments from the rates the migration seeds
(docs/value.md): deposit 1.5 %/year and 2.00/month servicing, loan 2.5 % and 8.00, a product
override of 2.4 %; mobile 0.20, counter 25.00, RM visit 120.00, call center 8.00 a contact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli import main, migrate
from api.db.engine import asyncpg_dsn, create_engine
from api.db.value_report import SqlValueReports
from api.db.value_store import SqlValueStore
from api.ops.embedded import Endpoints
from api.settings import Settings
from domain.detection.handling import Event
from domain.interactions import Channel
from domain.value.report import ReportScope
from domain.value.scoring import rescore_events
from domain.value.tiers import ValueTier, classify
from tests.scratch import scratch_database

OCT = date(2026, 10, 1)
SEP = date(2026, 9, 1)
AUG = date(2026, 8, 1)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@dataclass
class Bank:
    url: str
    engine: AsyncEngine
    ids: dict[str, int]


async def _craft(conn: asyncpg.Connection) -> dict[str, int]:
    branch = await conn.fetchval(
        "INSERT INTO branches (code, name, city, kind) VALUES ('B1', '一支行', '北京', 'branch') "
        "RETURNING id"
    )

    async def product(code: str, category: str) -> int:
        pid: int = await conn.fetchval(
            "INSERT INTO products (code, name, category, audience) VALUES ($1, $1, $2, 'any') "
            "RETURNING id",
            code,
            category,
        )
        return pid

    deposit, loan, special = (
        await product("DEP", "deposit"),
        await product("LOAN", "loan"),
        await product("DEP-PLUS", "deposit"),
    )
    await conn.execute(
        "INSERT INTO product_value_rates (product_id, margin_rate, updated_by) "
        "VALUES ($1, 0.024, 'test')",
        special,
    )
    ids: dict[str, int] = {}
    for name in "ABCDEFGH":
        kind = "corporate" if name == "E" else "personal"
        ids[name] = await conn.fetchval(
            "INSERT INTO customers (code, kind, display_name, home_branch_id, created_at, "
            "lifecycle_stage) VALUES ($1, $2, $1, $3, '2026-01-01', $4) RETURNING id",
            f"V{name}",
            kind,
            branch,
            "growth" if name == "E" else None,
        )

    async def hold(who: str, pid: int, balance: str) -> int:
        hid: int = await conn.fetchval(
            "INSERT INTO holdings (customer_id, product_id, account_number, currency, balance, "
            "status, opened_on) VALUES ($1, $2, $3, 'CNY', $4, 'active', '2020-01-01') "
            "RETURNING id",
            ids[who],
            pid,
            f"ACC-{who}-{pid}",
            Decimal(balance),
        )
        return hid

    async def move(who: str, hid: int, amount: str, direction: str, when: str, kind: str) -> None:
        await conn.execute(
            "INSERT INTO fund_movements (holding_id, customer_id, amount, currency, direction, "
            "counterparty_kind, channel, booked_at, external_ref, request_hash, source) "
            "VALUES ($1, $2, $3, 'CNY', $4, $5, 'mobile_app', $6, $7, 'h', 'test')",
            hid,
            ids[who],
            Decimal(amount),
            direction,
            kind,
            at(when),
            f"{who}-{when}-{amount}",
        )

    async def contact(who: str, channel: str, when: str, cost: str | None = None) -> None:
        await conn.execute(
            "INSERT INTO interactions (customer_id, channel, kind, occurred_at, cost) "
            "VALUES ($1, $2, 'inquiry', $3, $4)",
            ids[who],
            channel,
            at(when),
            None if cost is None else Decimal(cost),
        )

    # A: 99,000 for 15 days, 130,000 for 16 (a 31,000 credit on 16 Oct): average 115,000.
    # The 10,000 debit in November is undone to find October's closing balance; the 12.00 fee
    # is booked at the first instant of October, so it weighs nothing in the average.
    a = await hold("A", deposit, "120000.00")
    await move("A", a, "31000.00", "credit", "2026-10-16", "person")
    await move("A", a, "10000.00", "debit", "2026-11-05", "person")
    await move("A", a, "12.00", "debit", "2026-10-01", "bank_fee")
    await contact("A", "mobile_app", "2026-10-03")
    await contact("A", "mobile_app", "2026-10-04")
    await contact("A", "counter", "2026-10-05", "30.00")
    # B owes 271,000 for 15 days and 240,000 for 16 (a 31,000 repayment): average 255,000.
    b = await hold("B", loan, "240000.00")
    await move("B", b, "31000.00", "credit", "2026-10-16", "own_account")
    await contact("B", "rm_visit", "2026-10-20")
    # C: 1,000 on deposit and two counter visits.
    await hold("C", deposit, "1000.00")
    await contact("C", "counter", "2026-10-07")
    await contact("C", "counter", "2026-10-08")
    # D holds nothing and never called: exactly zero.
    # E (corporate, growth stage) and G: 10,000 in the 2.4 % product.
    await hold("E", special, "10000.00")
    await hold("G", special, "10000.00")
    # F: 12,000 on deposit (15.00 − 2.00 a month) and a cheaper contact each month.
    await hold("F", deposit, "12000.00")
    await contact("F", "counter", "2026-08-10")
    await contact("F", "call_center", "2026-09-10")
    await contact("F", "mobile_app", "2026-10-10")
    # H: the same deposit, no contacts: 13.00 every month.
    await hold("H", deposit, "12000.00")
    return ids


@pytest.fixture
async def bank(endpoints: Endpoints, settings: Settings) -> AsyncIterator[Bank]:
    url = await scratch_database(endpoints, "quanjing_value")
    await asyncio.to_thread(migrate, url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        ids = await _craft(conn)
    finally:
        await conn.close()
    engine = create_engine(url, settings)
    try:
        yield Bank(url, engine, ids)
    finally:
        await engine.dispose()


async def _score_three_months(store: SqlValueStore, share: str = "0.20") -> None:
    for period in (AUG, SEP, OCT):
        await store.score(period, Decimal(share))


async def test_contribution_worked_through_by_hand(bank: Bank) -> None:
    store = SqlValueStore(bank.engine)
    await _score_three_months(store)
    values = await store.values(list(bank.ids.values()), OCT)
    got = {name: values[pk].contribution for name, pk in bank.ids.items()}
    assert got == {
        "A": Decimal("123.35"),  # 115,000 × 1.5 % / 12 = 143.75, + 12.00 fee − 2.00 − 0.40 − 30.00
        "B": Decimal("403.25"),  # 255,000 × 2.5 % / 12 = 531.25, − 8.00 − 120.00
        "C": Decimal("-50.75"),  # 1.25 − 2.00 − 2 × 25.00
        "D": Decimal("0.00"),
        "E": Decimal("18.00"),  # 10,000 × 2.4 % / 12 = 20.00, − 2.00
        "F": Decimal("12.80"),  # 15.00 − 2.00 − 0.20
        "G": Decimal("18.00"),
        "H": Decimal("13.00"),
    }
    a = values[bank.ids["A"]]
    assert (a.margin_revenue, a.fee_revenue) == (Decimal("143.75"), Decimal("12.00"))
    assert (a.servicing_cost, a.interaction_cost) == (Decimal("2.00"), Decimal("30.40"))
    [line] = await store.product_lines(bank.ids["A"], OCT)
    assert line.average_balance == Decimal("115000.00")
    assert line.margin_rate == Decimal("0.015000")
    [loan] = await store.product_lines(bank.ids["B"], OCT)
    assert loan.average_balance == Decimal("255000.00")
    channels = {c.channel: c for c in await store.channel_lines(bank.ids["A"], OCT)}
    assert channels[Channel.COUNTER].cost == Decimal("30.00")
    assert channels[Channel.COUNTER].defaulted == 0
    assert channels[Channel.MOBILE_APP].defaulted == 2
    assert channels[Channel.MOBILE_APP].cost == Decimal("0.40")
    # The lines add up to the totals for every customer.
    for pk, value in values.items():
        lines = await store.product_lines(pk, OCT)
        spent = await store.channel_lines(pk, OCT)
        assert value.margin_revenue == sum((x.margin_revenue for x in lines), Decimal(0))
        assert value.interaction_cost == sum((x.cost for x in spent), Decimal(0))


async def test_tiers_at_their_boundaries(bank: Bank) -> None:
    store = SqlValueStore(bank.engine)
    await _score_three_months(store)
    values = await store.values(list(bank.ids.values()), OCT)
    tiers = {name: values[pk].tier for name, pk in bank.ids.items()}
    # 8 customers × 20 % → cut-off rank 2: B and A. E is a growing company, F rose
    # −12.00 → 5.00 → 12.80; D's exact zero is low, never negative.
    assert tiers == {
        "A": ValueTier.HIGH,
        "B": ValueTier.HIGH,
        "C": ValueTier.NEGATIVE,
        "D": ValueTier.LOW,
        "E": ValueTier.POTENTIAL,
        "F": ValueTier.POTENTIAL,
        "G": ValueTier.LOW,
        "H": ValueTier.LOW,
    }
    f = values[bank.ids["F"]]
    assert (f.prior, f.previous) == (Decimal("-12.00"), Decimal("5.00"))
    cutoff = await store.cutoff(OCT)
    assert cutoff is not None
    assert (cutoff.customers, cutoff.contribution) == (8, Decimal("123.35"))
    # The domain's rules and the SQL agree for every customer, with reasons that name figures.
    for value in values.values():
        tier, reasons = classify(value.facts, cutoff)
        assert tier == value.tier
        assert reasons
    _, why = classify(values[bank.ids["A"]].facts, cutoff)
    assert "123.35" in why[0].message
    assert "top 20 %" in why[0].message

    # 30 % → rank ceil(2.4) = 3, where E and G tie at 18.00: both are high.
    await store.score(OCT, Decimal("0.30"))
    values = await store.values(list(bank.ids.values()), OCT)
    high = {name for name, pk in bank.ids.items() if values[pk].tier is ValueTier.HIGH}
    assert high == {"A", "B", "E", "G"}


async def test_an_event_rescores_only_its_customer_against_the_stored_cutoff(bank: Bank) -> None:
    store = SqlValueStore(bank.engine)
    await _score_three_months(store)
    before = await store.values(list(bank.ids.values()), OCT)
    conn = await asyncpg.connect(asyncpg_dsn(bank.url))
    try:
        await conn.execute(
            "INSERT INTO interactions (customer_id, channel, kind, occurred_at) "
            "VALUES ($1, 'counter', 'complaint', '2026-10-30T10:00:00+00:00')",
            bank.ids["H"],
        )
    finally:
        await conn.close()
    event = Event(
        id=1,
        customer_id=bank.ids["H"],
        topic="interaction.recorded",
        occurred_at=at("2026-11-02"),  # recorded in November, about October
        payload={"occurredAt": "2026-10-30T18:00:00+08:00"},
    )
    assert await rescore_events([event], store) == 1
    after = await store.values(list(bank.ids.values()), OCT)
    h = after[bank.ids["H"]]
    assert (h.contribution, h.tier) == (Decimal("-12.00"), ValueTier.NEGATIVE)
    assert {k: v for k, v in after.items() if k != h.customer_id} == {
        k: v for k, v in before.items() if k != h.customer_id
    }
    # A month never fully scored waits for its first full run.
    assert await store.rescore(date(2026, 12, 1), [bank.ids["H"]]) == 0


async def test_the_value_report_adds_up_to_the_customer_figures(bank: Bank) -> None:
    store = SqlValueStore(bank.engine)
    await _score_three_months(store)
    reports = SqlValueReports(bank.engine)
    report = await reports.report(OCT, ReportScope(), SEP)
    assert report is not None
    values = await store.values(list(bank.ids.values()), OCT)
    total = sum((v.contribution for v in values.values()), Decimal(0))
    assert report.contribution == total == Decimal("537.65")
    assert report.customers == 8
    # Top 1 %, 5 % and 10 % of 8 customers is one customer (B); the top 20 % is two (B, A).
    assert [(p.customers, p.contribution, p.share_of_total) for p in report.pareto] == [
        (1, Decimal("403.25"), Decimal("0.7500")),
        (1, Decimal("403.25"), Decimal("0.7500")),
        (1, Decimal("403.25"), Decimal("0.7500")),
        (2, Decimal("526.60"), Decimal("0.9794")),
    ]
    tiers = {t.tier: (t.customers, t.contribution) for t in report.tiers}
    assert tiers == {
        ValueTier.NEGATIVE: (1, Decimal("-50.75")),
        ValueTier.LOW: (3, Decimal("31.00")),
        ValueTier.POTENTIAL: (2, Decimal("30.80")),
        ValueTier.HIGH: (2, Decimal("526.60")),
    }
    assert sum(t.customers for t in report.tiers) == report.customers
    assert sum((t.contribution for t in report.tiers), Decimal(0)) == report.contribution
    for t in report.tiers:
        assert t.revenue - t.cost == t.contribution
    # September → October: F rose into potential; everyone else kept their tier.
    matrix = {(m.from_tier, m.to_tier): m.customers for m in report.migration}
    assert matrix == {
        (ValueTier.NEGATIVE, ValueTier.NEGATIVE): 1,
        (ValueTier.LOW, ValueTier.LOW): 3,
        (ValueTier.LOW, ValueTier.POTENTIAL): 1,
        (ValueTier.POTENTIAL, ValueTier.POTENTIAL): 1,
        (ValueTier.HIGH, ValueTier.HIGH): 2,
    }
    assert sum(matrix.values()) == report.customers
    assert (report.new_customers, report.departed_customers) == (0, 0)
    # C, the one negative customer, cost 50.00 at the counter: the mobile app would cost 0.40.
    [counter] = report.negative_channels
    assert (counter.channel, counter.interactions, counter.cost, counter.share) == (
        Channel.COUNTER,
        2,
        Decimal("50.00"),
        Decimal("1.0000"),
    )
    [suggestion] = report.suggestions
    assert (suggestion.to_channel, suggestion.monthly_saving) == (
        Channel.MOBILE_APP,
        Decimal("49.60"),
    )

    # The branch holds everyone; a branch without customers reports zeros, not a division.
    async with bank.engine.connect() as conn:
        branch = await conn.scalar(text("SELECT id FROM branches"))
        empty = await conn.scalar(
            text(
                "INSERT INTO branches (code, name, city, kind, parent_id) "
                "VALUES ('B2', '二支行', '北京', 'sub_branch', :p) RETURNING id"
            ),
            {"p": branch},
        )
        await conn.commit()
    scoped = await reports.report(OCT, ReportScope(branch_id=branch), None)
    assert scoped is not None
    assert (scoped.customers, scoped.contribution) == (8, Decimal("537.65"))
    nobody = await reports.report(OCT, ReportScope(branch_id=empty), None)
    assert nobody is not None
    assert nobody.customers == 0
    assert all(p.share_of_total is None for p in nobody.pareto)
    assert await reports.report(date(2030, 1, 1), ReportScope(), None) is None


async def test_scoring_is_not_cut_short_by_the_service_statement_timeout(
    bank: Bank, settings: Settings
) -> None:
    # The service's connections stop any statement after a few seconds; a month of a real
    # bank takes longer than that, so scoring lifts it for its own transaction. Here the
    # timeout is 1 s, and scoring must wait longer than that for the month's lock, held by
    # another connection: only a lifted timeout lets it through. (A 1 ms timeout had also
    # cancelled, now and then, the very statements that lift it.)
    hurried = create_engine(bank.url, replace(settings, db_statement_timeout_ms=1000))
    holder = await asyncpg.connect(asyncpg_dsn(bank.url))
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"value:{OCT}")
        scoring = asyncio.create_task(SqlValueStore(hurried).score(OCT, Decimal("0.20")))
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        while not await holder.fetchval(waiting):
            assert not scoring.done(), scoring.exception()
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.5)  # past the timeout, which is time itself
        await holder.execute("COMMIT")
        summary = await scoring
    finally:
        await holder.close()
        await hurried.dispose()
    assert summary.customers == 8


async def test_quanjing_score_scores_a_month_and_refuses_a_bad_one(
    bank: Bank,
    endpoints: Endpoints,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", bank.url)
    monkeypatch.setenv("REDIS_URL", endpoints.redis_url)
    monkeypatch.setenv("QUANJING_HOME", str(settings.home))
    assert await asyncio.to_thread(main, ["score", "--period", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "scored 8 customers for 2026-10" in out
    assert "high 2" in out
    assert await asyncio.to_thread(main, ["score", "--period", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["score", "--period", "2026-10", "--high-share", "2"]) == 2
