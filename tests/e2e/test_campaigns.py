"""Campaigns so far (issue 24): a plan checked with typed errors and nothing written on
refusal, the maker–checker lifecycle, and the sample-size planner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.graphql import gql, gql_data

CREATE = """mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) {
  __typename ... on Campaign { id status arms { name share channel } holdoutShare createdBy }
  ... on Error { code message } ... on InvalidInputError { field } } }"""
APPROVE = """mutation ($id: ID!) { approveCampaign(id: $id) {
  __typename ... on Campaign { status approvedBy } ... on Error { code } } }"""
CANCEL = """mutation ($id: ID!) { cancelCampaign(id: $id) {
  __typename ... on Campaign { status endedAt } ... on Error { code } } }"""
SEGMENT = """mutation ($name: String!) { createSegment(name: $name,
  rule: {clauses: [{customerKinds: [PERSONAL]}]}) { ... on Segment { id } } }"""


@pytest.fixture
async def ingredients(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> dict[str, Any]:
    admin = mint(Role.ADMIN, "admin-campaigns")
    name = f"活动目标{datetime.now(UTC).timestamp()}"
    segment = (await gql_data(anonymous, SEGMENT, {"name": name}, token=admin))["createSegment"]
    async with engine.begin() as conn:
        product = await conn.scalar(
            text("SELECT min(id) FROM products WHERE retired_at IS NULL AND category = 'wealth'")
        )
        retired = await conn.scalar(
            text(
                "INSERT INTO products (code, name, category, audience, currency, retired_at) "
                "VALUES (:code, '停售理财', 'wealth', 'personal', 'CNY', now()) RETURNING id"
            ),
            {"code": f"RET-{name[-8:]}"},
        )
    return {
        "segment": segment["id"],
        "product": encode_id("Product", product),
        "retired": encode_id("Product", retired),
    }


def _plan(ingredients: dict[str, Any], **changes: Any) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=1)
    plan = {
        "name": "理财新品推介",
        "objective": "sell the new wealth product",
        "segmentIds": [ingredients["segment"]],
        "arms": [
            {
                "name": "visit",
                "share": "0.5",
                "channel": "RM_VISIT",
                "offerProductIds": [ingredients["product"]],
                "message": "上门介绍",
            },
            {
                "name": "push",
                "share": "0.5",
                "channel": "APP_PUSH",
                "offerProductIds": [ingredients["product"]],
                "message": "新品上线",
            },
        ],
        "holdoutShare": "0.1",
        "budget": "60500",
        "costPerContact": [
            {"channel": "RM_VISIT", "cost": "120"},
            {"channel": "APP_PUSH", "cost": "1"},
        ],
        "plannedContacts": 1000,
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(days=30)).isoformat(),
    }
    return plan | changes


async def _campaigns(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM campaigns")) or 0)


async def test_a_campaign_is_made_by_one_person_and_approved_by_another(
    anonymous: httpx.AsyncClient, mint: Minter, ingredients: dict[str, Any]
) -> None:
    maker = mint(Role.ANALYST, "campaign-maker")
    made = (await gql_data(anonymous, CREATE, {"input": _plan(ingredients)}, token=maker))[
        "createCampaign"
    ]
    assert made["__typename"] == "Campaign", made
    assert (made["status"], made["createdBy"], made["holdoutShare"]) == (
        "DRAFT",
        "campaign-maker",
        "0.10000",
    )
    assert [a["name"] for a in made["arms"]] == ["visit", "push"]
    same = mint(Role.APPROVER, "campaign-maker")  # the maker, now signed in as an approver
    refused = await gql_data(anonymous, APPROVE, {"id": made["id"]}, token=same)
    assert refused["approveCampaign"]["code"] == "MAKER_CHECKER_VIOLATION"
    checker = mint(Role.APPROVER, "campaign-checker")
    approved = (await gql_data(anonymous, APPROVE, {"id": made["id"]}, token=checker))[
        "approveCampaign"
    ]
    assert approved == {
        "__typename": "Campaign",
        "status": "APPROVED",
        "approvedBy": "campaign-checker",
    }
    again = await gql_data(anonymous, APPROVE, {"id": made["id"]}, token=checker)
    assert again["approveCampaign"]["code"] == "INVALID_CAMPAIGN_STATE"
    cancelled = (await gql_data(anonymous, CANCEL, {"id": made["id"]}, token=maker))[
        "cancelCampaign"
    ]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["endedAt"] is not None
    twice = await gql_data(anonymous, CANCEL, {"id": made["id"]}, token=maker)
    assert twice["cancelCampaign"]["code"] == "INVALID_CAMPAIGN_STATE"
    listed = await gql_data(
        anonymous,
        "{ campaigns(first: 100, status: CANCELLED) { edges { cursor node { id } } } }",
        token=checker,
    )
    assert made["id"] in [e["node"]["id"] for e in listed["campaigns"]["edges"]]
    for role in (Role.AGENT, Role.RELATIONSHIP_MANAGER, Role.CUSTOMER):
        denied = await gql_data(
            anonymous, CREATE, {"input": _plan(ingredients)}, token=mint(role, "x", rm=1, cid=1)
        )
        assert denied["createCampaign"]["code"] == "FORBIDDEN", role


async def test_each_bad_plan_is_refused_with_its_code_and_nothing_is_written(
    anonymous: httpx.AsyncClient,
    engine: AsyncEngine,
    mint: Minter,
    ingredients: dict[str, Any],
) -> None:
    maker = mint(Role.ANALYST, "campaign-maker-2")
    gone = encode_id("Segment", 999_999_999)
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    arms = _plan(ingredients)["arms"]
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"segmentIds": [gone]}, "NOT_FOUND", None),
        ({"arms": [arms[0] | {"share": "0.6"}, arms[1]]}, "INVALID_INPUT", "arms"),
        ({"startsAt": past}, "INVALID_INPUT", "startsAt"),
        (
            {"arms": [arms[0] | {"offerProductIds": [ingredients["retired"]]}, arms[1]]},
            "PRODUCT_RETIRED",
            None,
        ),
        ({"budget": "60499.99"}, "BUDGET_TOO_LOW", None),
        ({"arms": [arms[0] | {"share": "0.333333"}, arms[1]]}, "INVALID_INPUT", "arms[0].share"),
    ]
    before = await _campaigns(engine)
    for changes, code, field in cases:
        answer = (
            await gql_data(anonymous, CREATE, {"input": _plan(ingredients, **changes)}, token=maker)
        )["createCampaign"]
        assert answer["code"] == code, (changes, answer)
        if field is not None:
            assert answer["field"] == field
        if code == "NOT_FOUND":
            assert gone in answer["message"]  # the id the client sent
    assert await _campaigns(engine) == before


async def test_the_sample_size_planner(anonymous: httpx.AsyncClient, mint: Minter) -> None:
    analyst = mint(Role.ANALYST, "campaign-planner")
    query = """query ($b: Float!, $e: Float!) {
      campaignSampleSize(baselineRate: $b, minimumDetectableEffect: $e) }"""
    found = await gql_data(anonymous, query, {"b": 0.1, "e": 0.02}, token=analyst)
    assert found["campaignSampleSize"] == 3835  # 10 % → 12 %, power 0.8, two-sided 5 %
    bad = await gql(anonymous, query, {"b": 0.1, "e": 0.95}, token=analyst)
    assert bad["errors"][0]["extensions"]["field"] == "minimumDetectableEffect"
