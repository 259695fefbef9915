"""A whole campaign on a scratch bank (issue 24): create, approve, launch (eligibility and
arms checked customer by customer against an independent reading of the rows), contacts and
their outcomes, holdings opened by some contacted and some control customers, attribution,
and a report whose every figure is recomputed here from the rows."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from statsmodels.stats.proportion import proportion_confint

from api.bootstrap import Resources, build_worker
from api.cli import migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import create_engine
from api.http.app import create_app
from api.ops.embedded import Endpoints
from api.ops.seed import seed
from api.redis.keys import daily_pass
from api.settings import Settings
from domain.access.principal import Role
from domain.campaigns.assignment import assign
from domain.campaigns.response_score import ScoreInputs, priority, score
from domain.ids import decode_id, encode_id
from domain.privacy.consents import Consent, ConsentChannel, ConsentPurpose, allows
from tests.conftest import Minter
from tests.graphql import gql, gql_data
from tests.scratch import scratch_database

SEGMENT = """mutation { createSegment(name: "个人客户", rule: {clauses: [{customerKinds: [PERSONAL]}]})
  { ... on Segment { id } } }"""
CREATE = """mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) {
  __typename ... on Campaign { id } ... on Error { code message } } }"""
APPROVE = (
    """mutation ($id: ID!) { approveCampaign(id: $id) { __typename ... on Error { code } } }"""
)
LAUNCH = """mutation ($id: ID!) { launchCampaign(id: $id) {
  __typename ... on CampaignLaunch { campaign { status launchedAt } reasons { reason customers }
    treated control tasksOpened digitalSent }
  ... on Error { code message } } }"""
MEMBERS = """query ($id: ID!, $after: String) { campaignMembers(campaignId: $id, first: 100,
  after: $after) { pageInfo { hasNextPage endCursor }
  nodes { customer { id } reason arm control tier taskId contactedAt outcome response
    responseScore { recencyDays frequency monetary pastContacts pastResponses
      points { recency frequency monetary past total } } } } }"""
OUTCOME = """mutation ($input: RecordCampaignOutcomeInput!) { recordCampaignOutcome(input: $input) {
  __typename ... on CampaignContactRecorded { interactionId } ... on Error { code message } } }"""
ATTRIBUTE = """mutation ($id: ID!) { attributeCampaign(id: $id) {
  __typename ... on CampaignAttribution { responded campaign { attributedAt } }
  ... on Error { code message } } }"""
REPORT = """query ($id: ID!) { campaignReport(id: $id) {
  cost incrementalContribution roi warnings
  arms { name channel planned plannedControl contacted cost incrementalContribution roi warnings
    treated { members responded rate low high } control { members responded rate low high }
    uplift { difference low high z pValue } }
  byChannel { key members contacted responded controlMembers controlResponded cost }
  byBranch { key members contacted responded controlMembers controlResponded cost }
  byRelationshipManager { key members contacted responded controlMembers controlResponded cost }
} }"""
COMPLETE = """mutation ($id: ID!) { completeCampaign(id: $id) {
  __typename ... on Campaign { status endedAt } ... on Error { code } } }"""
DO_NOT_CONTACT = """mutation ($c: ID!) { placeDoNotContact(customerId: $c, reason: "客户要求") {
  __typename ... on DoNotContactChanged { onList } ... on Error { code } } }"""
POLICY = """mutation { updateContactPolicy(maxContacts: 1, windowDays: 30) {
  __typename ... on ContactPolicy { maxContacts } } }"""
TIMELINE = """query ($id: ID!) { customer(id: $id) { ... on Customer { interactions(first: 5) {
  nodes { kind channel outcome offers campaign { name arm } } } } } }"""

HOLDOUT = Decimal("0.2")
SHARES = (Decimal("0.5"), Decimal("0.5"))
VISIT_COST = Decimal("120")
SMS_COST = Decimal("0.5")


@pytest.fixture(scope="module")
async def bank(
    endpoints: Endpoints, settings: Settings, crypto: DocumentCrypto
) -> AsyncIterator[AsyncEngine]:
    url = await scratch_database(endpoints, "quanjing_campaign")
    await asyncio.to_thread(migrate, url)
    await seed(url, crypto=crypto, customers=400, seed=24, interactions_per_customer=3)
    engine = create_engine(url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def api(
    settings: Settings, bank: AsyncEngine, redis_client: aioredis.Redis
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, Resources(engine=bank, redis=redis_client))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://campaign.test"
    ) as client:
        yield client


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _prepare(engine: AsyncEngine, now: datetime) -> dict[str, Any]:
    """Consents, states, holds, complaints and values that make every reason occur."""
    async with engine.begin() as conn:
        personal = [
            r.id
            for r in await conn.execute(
                text("SELECT id FROM customers WHERE kind = 'personal' ORDER BY id")
            )
        ]
        # Marketing consent for all channels for most; SMS refused by some; none for others.
        for n, cid in enumerate(personal):
            if n % 10 == 9:
                continue
            await conn.execute(
                text(
                    "INSERT INTO consents (customer_id, purpose, channel, granted, version, "
                    "recorded_at, source, actor) VALUES (:c, 'marketing', 'all', true, 1, "
                    ":now, 'counter', 'test')"
                ),
                {"c": cid, "now": now},
            )
            if n % 10 == 4:
                await conn.execute(
                    text(
                        "INSERT INTO consents (customer_id, purpose, channel, granted, version, "
                        "recorded_at, source, actor) VALUES (:c, 'marketing', 'sms', false, 1, "
                        ":now, 'mobile_app', 'test')"
                    ),
                    {"c": cid, "now": now},
                )
        picks = personal[1:40:6]
        await conn.execute(
            text("UPDATE customers SET erased_at = :now WHERE id = :c"), {"c": picks[0], "now": now}
        )
        await conn.execute(
            text(
                "INSERT INTO legal_holds (customer_id, reason, until, placed_by) "
                "VALUES (:c, 'litigation', :until, 'test')"
            ),
            {"c": picks[1], "until": now.date() + timedelta(days=30)},
        )
        for cid, state in ((picks[2], "doubtful"), (picks[3], "exit")):
            await conn.execute(
                text(
                    "INSERT INTO relationship_states (customer_id, state, since) "
                    "VALUES (:c, :s, :now) ON CONFLICT (customer_id) DO UPDATE SET state = :s"
                ),
                {"c": cid, "s": state, "now": now},
            )
        await conn.execute(
            text(
                "INSERT INTO tasks (customer_id, kind, status, title, owner_kind, owner_ref, "
                "due_at, created_by) VALUES (:c, 'complaint', 'open', '投诉', 'queue', "
                "'call_center', :now, 'test')"
            ),
            {"c": picks[4], "now": now},
        )
        # A marketing call outside any campaign: with the cap at 1, the customer is capped.
        await conn.execute(
            text(
                "INSERT INTO interactions (customer_id, channel, kind, occurred_at) "
                "VALUES (:c, 'call_center', 'marketing_contact', :now)"
            ),
            {"c": picks[5], "now": now - timedelta(days=3)},
        )
        # A scored month before launch for every customer.
        before = date(now.year, now.month, 1) - timedelta(days=1)
        before = date(before.year, before.month, 1)
        await _score_month(conn, before, now, lambda cid: Decimal(cid % 7 * 50))
    return {"personal": personal, "dnc": picks[6], "before": before}


async def _score_month(conn: Any, period: date, now: datetime, value: Any) -> None:
    ids = [r.id for r in await conn.execute(text("SELECT id FROM customers"))]
    await conn.execute(
        text(
            "INSERT INTO value_periods (period, customers, high_share, scored_at) "
            "VALUES (:p, :n, 0.2, :now)"
        ),
        {"p": period, "n": len(ids), "now": now},
    )
    for cid in ids:
        amount = value(cid)
        tier = "high" if amount >= 250 else "potential" if amount > 0 else "low"
        await conn.execute(
            text(
                "INSERT INTO customer_values (period, customer_id, margin_revenue, fee_revenue, "
                "interaction_cost, servicing_cost, contribution, corporate_growth, tier, "
                "scored_at) VALUES (:p, :c, :v, 0, 0, 0, :v, false, :t, :now)"
            ),
            {"p": period, "c": cid, "v": amount, "t": tier, "now": now},
        )


def _expected_reason(row: Any, consents: list[Consent], channel: str, capped: bool) -> str:
    """The launch's checks, read independently from the rows."""
    if row.erased_at is not None:
        return "erased"
    if row.held:
        return "legal_hold"
    if row.state in ("doubtful", "exit"):
        return str(row.state)
    if row.complaints:
        return "open_complaint"
    if row.dnc:
        return "do_not_contact"
    consent = ConsentChannel.RM_VISIT if channel == "rm_visit" else ConsentChannel.SMS
    if not allows(consents, ConsentPurpose.MARKETING, consent):
        return "no_consent"
    if channel == "rm_visit" and row.relationship_manager_id is None:
        return "unreachable"
    if channel == "sms" and not row.phones:
        return "unreachable"
    if capped:
        return "frequency_cap"
    return "eligible"


async def _segment(api: httpx.AsyncClient, name: str, token: str) -> str:
    """A saved segment of every personal customer."""
    made = await gql_data(
        api,
        """mutation ($name: String!) { createSegment(name: $name,
          rule: {clauses: [{customerKinds: [PERSONAL]}]}) { ... on Segment { id } } }""",
        {"name": name},
        token=token,
    )
    return str(made["createSegment"]["id"])


async def _approved(
    api: httpx.AsyncClient,
    tokens: tuple[str, str],
    segment: str,
    product: int,
    channel: str,
    **plan: Any,
) -> str:
    """A one-arm campaign, created by the first token and approved by the second."""
    now = datetime.now(UTC)
    given = {
        "name": "单臂",
        "segmentIds": [segment],
        "arms": [
            {
                "name": "a",
                "share": "1",
                "channel": channel,
                "offerProductIds": [encode_id("Product", product)],
            }
        ],
        "budget": "1000",
        "costPerContact": [{"channel": channel, "cost": "0.1"}],
        "plannedContacts": 100,
        "startsAt": (now + timedelta(minutes=1)).isoformat(),
        "endsAt": (now + timedelta(days=10)).isoformat(),
        **plan,
    }
    maker, checker = tokens
    made = (await gql_data(api, CREATE, {"input": given}, token=maker))["createCampaign"]
    assert made["__typename"] == "Campaign", made
    approved = await gql_data(api, APPROVE, {"id": made["id"]}, token=checker)
    assert approved["approveCampaign"]["__typename"] == "Campaign"
    return str(made["id"])


async def _launched(api: httpx.AsyncClient, campaign: str, token: str) -> int:
    answer = (await gql_data(api, LAUNCH, {"id": campaign}, token=token))["launchCampaign"]
    assert answer["__typename"] == "CampaignLaunch", answer
    return decode_id(campaign)[1]


async def _outcome(
    api: httpx.AsyncClient, campaign: str, customer_id: int, outcome: str, token: str
) -> dict[str, Any]:
    answer = await gql_data(
        api,
        OUTCOME,
        {
            "input": {
                "campaignId": campaign,
                "customerId": encode_id("Customer", customer_id),
                "outcome": outcome,
            }
        },
        token=token,
    )
    found: dict[str, Any] = answer["recordCampaignOutcome"]
    return found


def _mean_change(rows: list[Any]) -> Decimal:
    return sum((r.contribution_after - r.contribution_before for r in rows), Decimal(0)) / len(rows)


async def test_a_whole_campaign_from_plan_to_report(
    api: httpx.AsyncClient, bank: AsyncEngine, mint: Minter
) -> None:
    now = datetime.now(UTC)
    prepared = await _prepare(bank, now)
    analyst = mint(Role.ANALYST, "analyst-maker")
    approver = mint(Role.APPROVER, "approver-checker")
    admin = mint(Role.ADMIN, "admin-policy")
    agent = mint(Role.AGENT, "agent-7")
    integration = mint(Role.INTEGRATION, "sms-gateway")

    assert (await gql_data(api, POLICY, token=admin))["updateContactPolicy"]["maxContacts"] == 1
    dnc = encode_id("Customer", prepared["dnc"])
    placed = await gql_data(api, DO_NOT_CONTACT, {"c": dnc}, token=agent)
    assert placed["placeDoNotContact"] == {"__typename": "DoNotContactChanged", "onList": True}
    # Front-line staff see it on the profile, so nobody pitches by hand either.
    profile = await gql_data(
        api,
        "query ($c: ID!) { customer(id: $c) { ... on Customer { doNotContact { reason } } } }",
        {"c": dnc},
        token=agent,
    )
    assert profile["customer"]["doNotContact"] == {"reason": "客户要求"}

    segment = (await gql_data(api, SEGMENT, token=analyst))["createSegment"]["id"]
    (product_id, product_code) = (
        await _rows(
            bank,
            "SELECT id, code FROM products WHERE retired_at IS NULL AND audience <> 'corporate' "
            "ORDER BY id LIMIT 1",
        )
    )[0]
    product = encode_id("Product", product_id)
    plan = {
        "name": "理财新品推介",
        "objective": "sell the wealth product",
        "segmentIds": [segment],
        "arms": [
            {"name": "visit", "share": "0.5", "channel": "RM_VISIT", "offerProductIds": [product]},
            {"name": "sms", "share": "0.5", "channel": "SMS", "offerProductIds": [product]},
        ],
        "holdoutShare": str(HOLDOUT),
        "budget": "100000",
        "costPerContact": [
            {"channel": "RM_VISIT", "cost": str(VISIT_COST)},
            {"channel": "SMS", "cost": str(SMS_COST)},
        ],
        "plannedContacts": 250,
        "startsAt": (now + timedelta(minutes=1)).isoformat(),
        "endsAt": (now + timedelta(days=30)).isoformat(),
    }
    created = (await gql_data(api, CREATE, {"input": plan}, token=analyst))["createCampaign"]
    assert created["__typename"] == "Campaign", created
    campaign = created["id"]
    campaign_pk = decode_id(campaign)[1]

    # Launching before approval is refused, and freezes nothing.
    early = (await gql_data(api, LAUNCH, {"id": campaign}, token=analyst))["launchCampaign"]
    assert early["code"] == "CAMPAIGN_NOT_APPROVED"
    assert not await _rows(
        bank, "SELECT 1 FROM campaign_members WHERE campaign_id = :c", c=campaign_pk
    )

    assert (await gql_data(api, APPROVE, {"id": campaign}, token=approver))["approveCampaign"][
        "__typename"
    ] == "Campaign"
    launched = (await gql_data(api, LAUNCH, {"id": campaign}, token=analyst))["launchCampaign"]
    assert launched["__typename"] == "CampaignLaunch", launched
    assert launched["campaign"]["status"] == "RUNNING"
    again = (await gql_data(api, LAUNCH, {"id": campaign}, token=analyst))["launchCampaign"]
    assert again["code"] == "INVALID_CAMPAIGN_STATE"

    # Every personal customer is frozen once, with the reason and arm read independently.
    facts = await _rows(
        bank,
        """SELECT c.id, c.erased_at, c.relationship_manager_id, c.home_branch_id, s.state,
             EXISTS (SELECT 1 FROM legal_holds h WHERE h.customer_id = c.id
                     AND h.until >= current_date) AS held,
             EXISTS (SELECT 1 FROM tasks t WHERE t.customer_id = c.id AND t.kind = 'complaint'
                     AND t.status = 'open') AS complaints,
             EXISTS (SELECT 1 FROM contact_suppressions d WHERE d.customer_id = c.id) AS dnc,
             EXISTS (SELECT 1 FROM contact_points p WHERE p.customer_id = c.id
                     AND p.kind = 'phone') AS phones,
             (SELECT count(*) FROM interactions i WHERE i.customer_id = c.id
              AND i.kind = 'marketing_contact' AND i.campaign_id IS NULL
              AND i.occurred_at >= :since)
             + (SELECT count(*) FROM campaign_members m JOIN campaigns k ON k.id = m.campaign_id
                WHERE m.customer_id = c.id AND m.campaign_id <> :campaign
                AND k.launched_at >= :since AND m.reason = 'eligible' AND NOT m.control)
               AS marketing
           FROM customers c LEFT JOIN relationship_states s ON s.customer_id = c.id
           WHERE c.kind = 'personal' AND c.merged_into_id IS NULL""",
        since=now - timedelta(days=30),
        campaign=campaign_pk,
    )
    consent_rows = await _rows(bank, "SELECT * FROM consents")
    consents: dict[int, list[Consent]] = defaultdict(list)
    for k in consent_rows:
        consents[k.customer_id].append(
            Consent(
                k.customer_id,
                ConsentPurpose(k.purpose),
                ConsentChannel(k.channel),
                k.granted,
                k.version,
                k.recorded_at,
                k.source,
                k.actor,
            )
        )
    members = {
        m.customer_id: m
        for m in await _rows(
            bank, "SELECT * FROM campaign_members WHERE campaign_id = :c", c=campaign_pk
        )
    }
    assert set(members) == {f.id for f in facts}
    channels = ("rm_visit", "sms")
    for f in facts:
        placed_at = assign(campaign_pk, f.id, HOLDOUT, SHARES)
        m = members[f.id]
        assert (m.arm, m.control) == (placed_at.arm, placed_at.control), f.id
        expected = _expected_reason(f, consents[f.id], channels[m.arm], f.marketing >= 1)
        assert m.reason == expected, (f.id, m.reason, expected)
    reasons = Counter(m.reason for m in members.values())
    assert {r["reason"].lower(): r["customers"] for r in launched["reasons"]} == reasons
    assert {
        "erased",
        "legal_hold",
        "doubtful",
        "exit",
        "open_complaint",
        "do_not_contact",
        "no_consent",
        "frequency_cap",
        "eligible",
    } <= set(reasons)
    eligible = [m for m in members.values() if m.reason == "eligible"]
    # The score the launch's SQL wrote is the documented formula of the inputs it kept.
    for m in eligible:
        inputs = ScoreInputs(
            m.recency_days, m.frequency, m.monetary, m.past_contacts, m.past_responses
        )
        assert m.score == score(inputs).total, m.customer_id
        assert m.priority == priority(m.tier, m.score)
    treated = [m for m in eligible if not m.control]
    assert launched["treated"] == len(treated)
    assert launched["control"] == len(eligible) - len(treated)
    assert launched["tasksOpened"] == sum(1 for m in treated if m.arm == 0)
    assert launched["digitalSent"] == sum(1 for m in treated if m.arm == 1)

    # Analysts plan and read the report; who is in or out is not theirs to list.
    denied = await gql(api, MEMBERS, {"id": campaign}, token=analyst)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The score shown is the documented formula of the inputs kept.
    page = (await gql_data(api, MEMBERS, {"id": campaign}, token=admin))["campaignMembers"]
    shown = [n for n in page["nodes"] if n["responseScore"] is not None]
    assert shown
    for n in shown:
        s = n["responseScore"]
        points = score(
            ScoreInputs(
                s["recencyDays"],
                s["frequency"],
                None if s["monetary"] is None else Decimal(s["monetary"]),
                s["pastContacts"],
                s["pastResponses"],
            )
        )
        assert s["points"]["total"] == points.total
    # Best first: the priorities along the list never go down.
    ranks = [members[decode_id(n["customer"]["id"])[1]].priority for n in page["nodes"]]
    eligible_ranks = [r for r in ranks if r is not None]
    assert eligible_ranks == sorted(eligible_ranks)

    # RM-visit contacts are tasks for the customer's RM; SMS contacts are on the timeline and
    # announced to the channel systems.
    visits = [m for m in treated if m.arm == 0]
    tasks = {
        t.customer_id: t
        for t in await _rows(bank, "SELECT * FROM tasks WHERE campaign_id = :c", c=campaign_pk)
    }
    assert set(tasks) == {m.customer_id for m in visits}
    rm_of = {f.id: f.relationship_manager_id for f in facts}
    factor = {"high": 0.5, "potential": 1.0, "low": 1.5, "negative": 2.0}
    launched_at = (
        await _rows(bank, "SELECT launched_at FROM campaigns WHERE id = :c", c=campaign_pk)
    )[0].launched_at
    for cid, t in tasks.items():
        assert (t.owner_kind, t.owner_ref) == ("rm", str(rm_of[cid]))
        m = members[cid]
        # Due by the tier's day, a minute earlier per score point; the score in the title.
        due = launched_at + timedelta(days=7 * factor.get(m.tier, 1.0), minutes=-m.score)
        assert abs((t.due_at - due).total_seconds()) < 1, (t.due_at, due)
        assert t.title.endswith(f"(score {m.score})")
    events = await _rows(
        bank,
        "SELECT customer_id, payload FROM outbox WHERE topic = 'campaign.contact' "
        "AND (payload->>'campaignId')::bigint = :c",
        c=campaign_pk,
    )
    assert {e.customer_id for e in events} == {m.customer_id for m in treated if m.arm == 1}

    sms_member = next(m for m in treated if m.arm == 1)
    timeline = await gql_data(
        api, TIMELINE, {"id": encode_id("Customer", sms_member.customer_id)}, token=admin
    )
    contact = timeline["customer"]["interactions"]["nodes"][0]
    assert contact["kind"] == "MARKETING_CONTACT"
    assert contact["offers"] == [product_code]
    assert contact["campaign"] == {"name": "理财新品推介", "arm": "sms"}
    # The customer reads what they were offered, not the bank's campaign bookkeeping.
    own = mint(Role.CUSTOMER, "sms-customer", cid=sms_member.customer_id)
    seen = await gql_data(
        api, TIMELINE, {"id": encode_id("Customer", sms_member.customer_id)}, token=own
    )
    (own_contact, *_) = seen["customer"]["interactions"]["nodes"]
    assert (own_contact["offers"], own_contact["campaign"]) == ([product_code], None)

    # Outcomes: some visits accepted, some declined; an SMS reported accepted by the gateway.
    accepted_visits = visits[: len(visits) // 3]
    declined_visits = visits[len(visits) // 3 : len(visits) // 2]
    for m, outcome in [(m, "ACCEPTED") for m in accepted_visits] + [
        (m, "DECLINED") for m in declined_visits
    ]:
        done = await _outcome(api, campaign, m.customer_id, outcome, agent)
        assert done["__typename"] == "CampaignContactRecorded", done
    sms_accepted = await _outcome(api, campaign, sms_member.customer_id, "ACCEPTED", integration)
    assert sms_accepted["__typename"] == "CampaignContactRecorded"
    twice = await _outcome(api, campaign, accepted_visits[0].customer_id, "DECLINED", agent)
    assert twice["code"] == "INVALID_CAMPAIGN_STATE"
    control = [m for m in eligible if m.control]
    refused = await _outcome(api, campaign, control[0].customer_id, "ACCEPTED", agent)
    assert refused["code"] == "NOT_A_CAMPAIGN_CONTACT"
    done_tasks = await _rows(
        bank, "SELECT id FROM tasks WHERE campaign_id = :c AND status = 'done'", c=campaign_pk
    )
    assert len(done_tasks) == len(accepted_visits) + len(declined_visits)

    # Holdings opened for some contacted and some control customers; one of the offered
    # product opened before the launch's day and one of another product: neither counts.
    openers = [m.customer_id for m in treated[::4]] + [m.customer_id for m in control[::3]]
    too_early, other_product = [m.customer_id for m in treated[1::4][:2]]
    opening = text(
        "INSERT INTO holdings (customer_id, product_id, account_number, currency, "
        "balance, status, opened_on) VALUES (:c, :p, :a, 'CNY', 1000, 'active', :d)"
    )
    async with bank.begin() as conn:
        for n, cid in enumerate(openers):
            await conn.execute(
                opening, {"c": cid, "p": product_id, "a": f"CAMP{n:08d}", "d": now.date()}
            )
        await conn.execute(
            opening,
            {"c": too_early, "p": product_id, "a": "EARLY", "d": now.date() - timedelta(days=1)},
        )
        another = await conn.scalar(
            text("SELECT min(id) FROM products WHERE id <> :p"), {"p": product_id}
        )
        await conn.execute(
            opening, {"c": other_product, "p": another, "a": "OTHER", "d": now.date()}
        )
        after = date(now.year, now.month, 1)
        await conn.execute(text("DELETE FROM customer_values WHERE period = :p"), {"p": after})
        await conn.execute(text("DELETE FROM value_periods WHERE period = :p"), {"p": after})
        await _score_month(
            conn, after, now, lambda cid: Decimal(cid % 7 * 50 + (80 if cid in openers else 0))
        )

    attributed = (await gql_data(api, ATTRIBUTE, {"id": campaign}, token=analyst))[
        "attributeCampaign"
    ]
    assert attributed["__typename"] == "CampaignAttribution", attributed
    rows = await _rows(
        bank,
        "SELECT * FROM campaign_members WHERE campaign_id = :c AND reason = 'eligible'",
        c=campaign_pk,
    )
    accepted_ids = {m.customer_id for m in accepted_visits} | {sms_member.customer_id}
    # Whoever opened the product from the launch's day on: ours, and any the seed dated so.
    opened = {
        h.customer_id
        for h in await _rows(
            bank,
            "SELECT customer_id FROM holdings WHERE product_id = :p AND opened_on >= :d",
            p=product_id,
            d=now.date(),
        )
    }
    assert set(openers) <= opened
    responders = {r.customer_id for r in rows if r.responded_at is not None}
    assert responders == ({r.customer_id for r in rows} & (opened | accepted_ids))
    # Neither the holding opened too early nor the other product's is anyone's response.
    responses = {r.response_holding_id for r in rows} - {None}
    ignored = await _rows(
        bank, "SELECT id FROM holdings WHERE account_number IN ('EARLY', 'OTHER')"
    )
    assert len(ignored) == 2
    assert not responses & {h.id for h in ignored}
    assert attributed["responded"] == len(responders)

    report = (await gql_data(api, REPORT, {"id": campaign}, token=analyst))["campaignReport"]
    for position, arm in enumerate(report["arms"]):
        group = [r for r in rows if r.arm == position and not r.control]
        held = [r for r in rows if r.arm == position and r.control]
        responded = sum(1 for r in group if r.responded_at is not None)
        control_responded = sum(1 for r in held if r.responded_at is not None)
        assert arm["treated"]["members"] == len(group)
        assert arm["treated"]["responded"] == responded
        low, high = proportion_confint(responded, len(group), alpha=0.05, method="wilson")
        assert arm["treated"]["low"] == pytest.approx(low)
        assert arm["treated"]["high"] == pytest.approx(high)
        assert arm["control"]["members"] == len(held)
        assert arm["control"]["responded"] == control_responded
        assert arm["uplift"]["difference"] == pytest.approx(
            responded / len(group) - control_responded / len(held)
        )
        contacted = sum(1 for r in group if r.contacted_at is not None)
        assert arm["contacted"] == contacted
        cost = contacted * (VISIT_COST if position == 0 else SMS_COST)
        assert Decimal(arm["cost"]) == cost
        incremental = ((_mean_change(group) - _mean_change(held)) * len(group)).quantize(
            Decimal("0.01")
        )
        assert Decimal(arm["incrementalContribution"]) == incremental
        assert arm["roi"] == pytest.approx(float((incremental - cost) / cost))
        assert any("window" in w for w in arm["warnings"])  # no peeking before the end
        assert arm["planned"] == 125
    assert Decimal(report["cost"]) == sum(Decimal(a["cost"]) for a in report["arms"])
    by_rm: dict[str | None, Counter[str]] = defaultdict(Counter)
    for r in rows:
        key = None if r.rm_id is None else encode_id("RelationshipManager", r.rm_id)
        by_rm[key]["controlMembers" if r.control else "members"] += 1
        if r.responded_at is not None:
            by_rm[key]["controlResponded" if r.control else "responded"] += 1
    for b in report["byRelationshipManager"]:
        for field in ("members", "responded", "controlMembers", "controlResponded"):
            assert b[field] == by_rm[b["key"]][field], (b, field)
    assert {b["key"]: b["members"] for b in report["byChannel"]} == {
        "rm_visit": sum(1 for r in rows if r.arm == 0 and not r.control),
        "sms": sum(1 for r in rows if r.arm == 1 and not r.control),
    }
    assert sum(b["members"] for b in report["byBranch"]) == sum(1 for r in rows if not r.control)

    completed = (await gql_data(api, COMPLETE, {"id": campaign}, token=analyst))["completeCampaign"]
    assert completed["status"] == "COMPLETED"

    # The customer asks to be contacted again: off the list (whoever may record their consent).
    asking = mint(Role.CUSTOMER, "dnc-customer", cid=prepared["dnc"])
    lifted = await gql_data(
        api,
        "mutation { liftDoNotContact { __typename ... on DoNotContactChanged { onList } } }",
        token=asking,
    )
    assert lifted["liftDoNotContact"] == {"__typename": "DoNotContactChanged", "onList": False}
    assert not await _rows(
        bank, "SELECT 1 FROM contact_suppressions WHERE customer_id = :c", c=prepared["dnc"]
    )


async def test_a_launch_refused_writes_nothing(
    api: httpx.AsyncClient, bank: AsyncEngine, mint: Minter
) -> None:
    analyst = mint(Role.ANALYST, "analyst-refusals")
    approver = mint(Role.APPROVER, "approver-refusals")
    async with bank.begin() as conn:
        product_id = await conn.scalar(
            text(
                "INSERT INTO products (code, name, category, audience, currency) "
                "VALUES ('CAMP-RET', '将停售', 'wealth', 'personal', 'CNY') RETURNING id"
            )
        )
    segment = await _segment(api, "将删除", analyst)

    async def approved(segment_id: str, product: int) -> str:
        return await _approved(api, (analyst, approver), segment_id, product, "SMS")

    retired_offer = await approved(segment, product_id)
    (on_sale,) = (
        await _rows(
            bank, "SELECT min(id) FROM products WHERE retired_at IS NULL AND id <> :p", p=product_id
        )
    )[0]
    gone_segment = await approved(segment, on_sale)
    async with bank.begin() as conn:
        await conn.execute(
            text("UPDATE products SET retired_at = now() WHERE id = :p"), {"p": product_id}
        )
    refused = (await gql_data(api, LAUNCH, {"id": retired_offer}, token=analyst))["launchCampaign"]
    assert refused["code"] == "PRODUCT_RETIRED"
    await gql_data(
        api,
        "mutation ($id: ID!) { deleteSegment(id: $id) { __typename } }",
        {"id": segment},
        token=analyst,
    )
    missing = (await gql_data(api, LAUNCH, {"id": gone_segment}, token=analyst))["launchCampaign"]
    assert (missing["code"], segment in missing["message"]) == ("NOT_FOUND", True)
    for campaign in (retired_offer, gone_segment):
        pk = decode_id(campaign)[1]
        assert not await _rows(bank, "SELECT 1 FROM campaign_members WHERE campaign_id = :c", c=pk)
        assert not await _rows(bank, "SELECT 1 FROM tasks WHERE campaign_id = :c", c=pk)
        assert not await _rows(bank, "SELECT 1 FROM interactions WHERE campaign_id = :c", c=pk)
        status = await _rows(bank, "SELECT status FROM campaigns WHERE id = :c", c=pk)
        assert status[0].status == "approved"


async def test_a_product_notice_to_holders_needs_no_marketing_consent(
    api: httpx.AsyncClient, bank: AsyncEngine, mint: Minter
) -> None:
    analyst = mint(Role.ANALYST, "analyst-notice")
    approver = mint(Role.APPROVER, "approver-notice")
    admin = mint(Role.ADMIN, "admin-notice")
    await gql_data(
        api,
        "mutation { updateContactPolicy(maxContacts: 100, windowDays: 30) { __typename } }",
        token=admin,
    )
    segment = await _segment(api, "利率变动", analyst)
    # The least held product on sale: a few hold it, most do not.
    held = await _rows(
        bank,
        "SELECT p.id AS product_id FROM products p LEFT JOIN holdings h ON h.product_id = p.id "
        "WHERE p.retired_at IS NULL AND p.audience <> 'corporate' "
        "GROUP BY p.id ORDER BY count(h.id), p.id LIMIT 1",
    )
    product_id = held[0].product_id
    # Some customers without marketing consent hold it (and many others do not).
    async with bank.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO holdings (customer_id, product_id, account_number, currency, "
                "balance, status, opened_on) SELECT c.id, :p, 'NOTICE' || c.id, 'CNY', 10, "
                "'active', current_date - 100 FROM customers c WHERE c.kind = 'personal' "
                "AND NOT EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = c.id) "
                "ORDER BY c.id LIMIT 8"
            ),
            {"p": product_id},
        )
    notice = await _approved(
        api,
        (analyst, approver),
        segment,
        product_id,
        "APP_PUSH",
        name="存款利率调整通知",
        kind="PRODUCT_NOTICE",
        holdoutShare="0",
    )
    pk = await _launched(api, notice, analyst)
    rows = await _rows(
        bank,
        """SELECT m.reason, m.control,
             EXISTS (SELECT 1 FROM holdings h WHERE h.customer_id = m.customer_id
                     AND h.product_id = :p AND h.status <> 'closed') AS holds,
             EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = m.customer_id
                     AND k.purpose = 'marketing' AND k.granted) AS consented
           FROM campaign_members m WHERE m.campaign_id = :c""",
        p=product_id,
        c=pk,
    )
    assert not any(r.control for r in rows)  # no holdout: everyone eligible is told
    holders_without_consent = [r for r in rows if r.holds and not r.consented]
    others_without_consent = [r for r in rows if not r.holds and not r.consented]
    assert holders_without_consent
    assert others_without_consent, Counter((r.holds, r.consented, r.reason) for r in rows)
    # A holder is told of their own product's change; a launch to anyone else is marketing.
    assert {r.reason for r in holders_without_consent} <= {
        "eligible",
        "erased",
        "legal_hold",
        "doubtful",
        "exit",
        "open_complaint",
        "do_not_contact",
    }
    assert "eligible" in {r.reason for r in holders_without_consent}
    assert {r.reason for r in others_without_consent} <= {
        "no_consent",
        "erased",
        "legal_hold",
        "doubtful",
        "exit",
        "open_complaint",
        "do_not_contact",
    }


async def test_the_workers_daily_pass_attributes_and_completes(
    api: httpx.AsyncClient,
    bank: AsyncEngine,
    mint: Minter,
    settings: Settings,
    redis_client: aioredis.Redis,
) -> None:
    analyst = mint(Role.ANALYST, "analyst-upkeep")
    approver = mint(Role.APPROVER, "approver-upkeep")
    segment = await _segment(api, "日常", analyst)
    (product,) = (await _rows(bank, "SELECT min(id) FROM products WHERE retired_at IS NULL"))[0]
    launched = [
        await _launched(
            api,
            await _approved(api, (analyst, approver), segment, product, "EMAIL", name=name),
            analyst,
        )
        for name in ("结束", "进行")
    ]
    ended, running = launched
    async with bank.begin() as conn:
        # The first one's window closed yesterday.
        await conn.execute(
            text(
                "UPDATE campaigns SET starts_at = now() - interval '3 days', "
                "ends_at = now() - interval '1 day' WHERE id = :c"
            ),
            {"c": ended},
        )
    async with httpx.AsyncClient() as http:
        worker = build_worker(settings, bank, redis_client, http, consumer="upkeep")
        day = datetime.now(UTC)
        await redis_client.delete(daily_pass("campaigns", day.date()))
        done = await worker.run_campaign_upkeep_if_due(day)
        again = await worker.run_campaign_upkeep_if_due(day)
    assert done is not None
    assert done.completed >= 1
    assert done.attributed >= 1
    assert again is None  # once a day across all workers
    states = {
        r.id: (r.status, r.attributed_at is not None)
        for r in await _rows(
            bank,
            "SELECT id, status, attributed_at FROM campaigns WHERE id IN (:a, :b)",
            a=ended,
            b=running,
        )
    }
    assert states == {ended: ("completed", True), running: ("running", True)}
    await redis_client.delete(daily_pass("campaigns", day.date()))


async def test_a_member_cursor_from_elsewhere_is_refused(
    api: httpx.AsyncClient, mint: Minter
) -> None:
    admin = mint(Role.ADMIN, "admin-cursors")
    campaign = encode_id("Campaign", 1)
    for raw in ("99999999999:1", "1:-5", "a:b", "12"):
        after = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        answer = await gql(api, MEMBERS, {"id": campaign, "after": after}, token=admin)
        assert answer["errors"][0]["extensions"]["code"] == "INVALID_INPUT", (raw, answer)
