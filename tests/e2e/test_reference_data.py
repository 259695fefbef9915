"""Reference data kept by the systems that own it: branches, products and their variants,
relationship managers — upserted by key, listed, retired and never deleted."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql, gql_data

BRANCH = """mutation ($input: UpsertBranchInput!) { upsertBranch(input: $input) { __typename
  ... on UpsertBranchPayload { created branch { id code name city kind parent { code } } }
  ... on InvalidInputError { field } ... on Error { code } } }"""
PRODUCT = """mutation ($input: UpsertProductInput!) { upsertProduct(input: $input) { __typename
  ... on UpsertProductPayload { created product { id code name category currency } }
  ... on InvalidInputError { field } ... on Error { code } } }"""
STAFF = """mutation ($input: UpsertRelationshipManagerInput!) {
  upsertRelationshipManager(input: $input) { __typename
  ... on UpsertRelationshipManagerPayload { created relationshipManager { employeeNo name grade
    active branch { code } } }
  ... on InvalidInputError { field } ... on Error { code } } }"""
VARIANT = """mutation ($input: UpsertProductVariantInput!) { upsertProductVariant(input: $input) {
  __typename ... on UpsertProductVariantPayload { created variant { code termMonths
    interestRate fee effectiveFrom effectiveTo } }
  ... on InvalidInputError { field } ... on Error { code } } }"""
RETIRE = """mutation ($code: String!) { retireProduct(code: $code) { __typename
  ... on RetirePayload { code retired } ... on Error { code } } }"""
RETIRE_BRANCH = """mutation ($code: String!) { retireBranch(code: $code) { __typename
  ... on RetirePayload { retired } ... on Error { code } } }"""
PRODUCTS = """query ($search: String, $first: Int!, $after: String, $retired: Boolean!,
  $on: Date) {
  products(search: $search, first: $first, after: $after, includeRetired: $retired) {
    edges { cursor node { code retiredAt variants(effectiveOn: $on) { code } } }
    pageInfo { hasNextPage endCursor } } }"""
BRANCHES = """query ($search: String) { branches(search: $search) { nodes { code retiredAt } } }"""
STAFF_LIST = """query ($search: String, $inactive: Boolean!) {
  relationshipManagers(search: $search, includeInactive: $inactive) { nodes { employeeNo } } }"""
HOLDING = """mutation ($input: UpsertHoldingInput!) { upsertHolding(input: $input) { __typename
  ... on UpsertHoldingPayload { change } ... on InvalidInputError { field message } } }"""

_n = itertools.count(1)


async def _call(client: httpx.AsyncClient, query: str, token: str, **variables: Any) -> Any:
    data = await gql_data(client, query, variables, token=token)
    return next(iter(data.values()))


async def test_a_branch_network_and_its_staff_are_kept_by_their_systems(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    org = mint(Role.INTEGRATION, "org-feed", client_id="org_system")
    hr = mint(Role.INTEGRATION, "hr-feed", client_id="hr")
    n = next(_n)
    branch = {
        "sourceKey": {"system": "org_system", "key": f"ORG-{n}"},
        "code": f"zj-{n}",
        "name": "西湖测试支行",
        "city": "杭州",
        "kind": "SUB_BRANCH",
        "parentCode": None,
    }
    missing_parent = await _call(anonymous, BRANCH, org, input=branch)
    assert (missing_parent["__typename"], missing_parent["field"]) == (
        "InvalidInputError",
        "input.parentCode",
    )
    parents = await _call(anonymous, BRANCHES, org, search=None)
    parent_code = next(b["code"] for b in parents["nodes"] if b["code"] != f"ZJ-{n}")
    created = await _call(anonymous, BRANCH, org, input={**branch, "parentCode": parent_code})
    assert created["created"] is True
    assert created["branch"]["code"] == f"ZJ-{n}"  # codes are upper case
    assert created["branch"]["parent"] == {"code": parent_code}
    renamed = await _call(
        anonymous, BRANCH, org, input={**branch, "parentCode": parent_code, "name": "西湖支行"}
    )
    assert (renamed["created"], renamed["branch"]["name"]) == (False, "西湖支行")
    assert renamed["branch"]["id"] == created["branch"]["id"]
    # Another system's key is not this integration's to write; a second key of the same system
    # for the same branch is refused; a code already another branch's is refused.
    foreign = {**branch, "parentCode": parent_code, "sourceKey": {"system": "hr", "key": "X"}}
    assert (await _call(anonymous, BRANCH, org, input=foreign))["code"] == "FORBIDDEN"
    second_key = {
        **branch,
        "parentCode": parent_code,
        "sourceKey": {"system": "org_system", "key": f"ORG-{n}-B"},
    }
    assert (await _call(anonymous, BRANCH, org, input=second_key))["code"] == "SOURCE_KEY_TAKEN"
    taken = {**branch, "parentCode": parent_code, "code": parent_code}
    refused = await _call(anonymous, BRANCH, org, input=taken)
    assert (refused["__typename"], refused["field"]) == ("InvalidInputError", "input.code")
    # Nothing of the refusals was written: one branch, one key, its name as last kept.
    async with engine.connect() as conn:
        kept = (
            await conn.execute(
                text(
                    "SELECT b.name, count(k.key) AS keys FROM branches b "
                    "LEFT JOIN reference_keys k ON k.kind = 'branch' AND k.record_id = b.id "
                    "WHERE b.code = :code GROUP BY b.name"
                ),
                {"code": f"ZJ-{n}"},
            )
        ).all()
    assert [tuple(r) for r in kept] == [("西湖支行", 1)]
    # Staff: an RM attached to the branch by its code, keyed by the HR system.
    person = {
        "sourceKey": {"system": "hr", "key": f"HR-{n}"},
        "employeeNo": f"E{n:06d}",
        "name": "测试客户经理",
        "grade": 3,
        "branchCode": f"ZJ-{n}",
    }
    hired = await _call(anonymous, STAFF, hr, input=person)
    assert hired["created"] is True
    assert hired["relationshipManager"]["branch"] == {"code": f"ZJ-{n}"}
    for wrong, field in (
        ({**person, "grade": 5}, "input.grade"),
        ({**person, "branchCode": "NO-SUCH"}, "input.branchCode"),
        ({**person, "name": " "}, "input.name"),
    ):
        answer = await _call(anonymous, STAFF, hr, input=wrong)
        assert (answer["__typename"], answer["field"]) == ("InvalidInputError", field)
    left = await _call(anonymous, STAFF, hr, input={**person, "active": False})
    assert left["relationshipManager"]["active"] is False
    agent = mint(Role.AGENT, "ref-agent")
    listed = await _call(anonymous, STAFF_LIST, agent, search=f"E{n:06d}", inactive=False)
    assert listed["nodes"] == []
    listed = await _call(anonymous, STAFF_LIST, agent, search=f"E{n:06d}", inactive=True)
    assert listed["nodes"] == [{"employeeNo": f"E{n:06d}"}]
    # A retired branch keeps its records and takes no new customers.
    assert (await _call(anonymous, RETIRE_BRANCH, org, code=f"zj-{n}"))["retired"] is True
    gone = await _call(anonymous, BRANCHES, agent, search=f"ZJ-{n}")
    assert gone["nodes"] == []
    register = await gql_data(
        anonymous,
        """mutation ($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
          __typename ... on InvalidInputError { field } } }""",
        {
            "input": {
                "kind": "PERSONAL",
                "displayName": "退役支行客户",
                "documents": [],
                "personal": {},
                "prospect": True,
                "homeBranchId": created["branch"]["id"],
            }
        },
        token=mint(Role.STEWARD, "ref-steward"),
    )
    assert register["registerCustomer"] == {
        "__typename": "InvalidInputError",
        "field": "input.homeBranchId",
    }


async def test_products_with_variants_are_listed_and_retired_never_deleted(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    catalog = mint(Role.INTEGRATION, "product-feed", client_id="product_system")
    n = next(_n)
    code = f"TDX-{n}"
    product = {
        "sourceKey": {"system": "product_system", "key": f"P-{n}"},
        "code": code,
        "name": "测试定期",
        "category": "TIME_DEPOSIT",
        "audience": "PERSONAL",
    }
    created = await _call(anonymous, PRODUCT, catalog, input=product)
    assert (created["created"], created["product"]["currency"]) == (True, "CNY")
    for wrong, field in (
        ({**product, "code": "坏代码"}, "input.code"),
        ({**product, "currency": "RMB1"}, "input.currency"),
    ):
        answer = await _call(anonymous, PRODUCT, catalog, input=wrong)
        assert (answer["__typename"], answer["field"]) == ("InvalidInputError", field)
    variant = {
        "productCode": code,
        "code": "1Y",
        "name": "一年期",
        "termMonths": 12,
        "interestRate": "1.6500",
        "effectiveFrom": "2026-01-01",
        "effectiveTo": "2026-06-30",
    }
    first = await _call(anonymous, VARIANT, catalog, input=variant)
    assert first["created"] is True
    assert first["variant"]["interestRate"] == "1.6500"
    again = await _call(anonymous, VARIANT, catalog, input={**variant, "interestRate": "1.55"})
    assert (again["created"], again["variant"]["interestRate"]) == (False, "1.5500")
    three = {**variant, "code": "3Y", "termMonths": 36, "effectiveFrom": "2026-07-01"}
    three.pop("effectiveTo")
    await _call(anonymous, VARIANT, catalog, input=three)
    cases: list[tuple[dict[str, object], str]] = [
        ({**variant, "interestRate": "1.00001"}, "input.interestRate"),
        ({**variant, "interestRate": "101"}, "input.interestRate"),
        ({**variant, "fee": "-1"}, "input.fee"),
        ({**variant, "termMonths": 0}, "input.termMonths"),
        ({**variant, "effectiveTo": "2025-12-31"}, "input.effectiveTo"),
        ({**variant, "productCode": "NO-SUCH"}, "input.productCode"),
    ]
    for bad, field in cases:
        answer = await _call(anonymous, VARIANT, catalog, input=bad)
        assert (answer["__typename"], answer["field"]) == ("InvalidInputError", field), bad
    other_system = mint(Role.INTEGRATION, "cards-feed", client_id="cards")
    assert (await _call(anonymous, VARIANT, other_system, input=variant))["code"] == "FORBIDDEN"
    async with engine.connect() as conn:  # the refusals wrote nothing
        variants = (
            await conn.execute(
                text(
                    "SELECT v.code, v.interest_rate FROM product_variants v "
                    "JOIN products p ON p.id = v.product_id WHERE p.code = :code ORDER BY v.code"
                ),
                {"code": code},
            )
        ).all()
    assert [(c, str(r)) for c, r in variants] == [("1Y", "1.5500"), ("3Y", "1.6500")]
    analyst = mint(Role.ANALYST, "ref-analyst")
    listed = await _call(
        anonymous, PRODUCTS, analyst, search=code, first=10, retired=False, on="2026-08-01"
    )
    (edge,) = listed["edges"]
    assert edge["node"]["variants"] == [{"code": "3Y"}]  # the one in effect that day
    # Pages by id without gaps.
    everything = await _call(anonymous, PRODUCTS, analyst, first=100, retired=True)
    page1 = await _call(anonymous, PRODUCTS, analyst, first=3, retired=True)
    page2 = await _call(
        anonymous, PRODUCTS, analyst, first=3, retired=True, after=page1["pageInfo"]["endCursor"]
    )
    codes = [e["node"]["code"] for e in page1["edges"] + page2["edges"]]
    assert codes == [e["node"]["code"] for e in everything["edges"]][:6]
    # Retired: its holdings go on, no new one opens, and lists leave it out.
    made = await make_customer(engine)
    holding = {
        "sourceRef": f"RET-{n}",
        "customerId": encode_id("Customer", made.id),
        "productCode": code,
        "accountNumber": f"6228{n:012d}",
        "currency": "CNY",
        "balance": "100.00",
        "status": "ACTIVE",
        "openedOn": "2026-01-02",
    }
    core = mint(Role.INTEGRATION, "core-ref", client_id="core_banking")
    assert (await _call(anonymous, HOLDING, core, input=holding))["change"] == "opened"
    retired = await _call(anonymous, RETIRE, catalog, code=code)
    assert retired == {"__typename": "RetirePayload", "code": code, "retired": True}
    assert (await _call(anonymous, RETIRE, catalog, code=code))["retired"] is False
    changed = await _call(anonymous, HOLDING, core, input={**holding, "balance": "90.00"})
    assert changed["change"] == "changed"
    new = await _call(anonymous, HOLDING, core, input={**holding, "sourceRef": f"RET-{n}-2"})
    assert (new["__typename"], new["field"]) == ("InvalidInputError", "productCode")
    hidden = await _call(anonymous, PRODUCTS, analyst, search=code, first=10, retired=False)
    assert hidden["edges"] == []
    shown = await _call(anonymous, PRODUCTS, analyst, search=code, first=10, retired=True)
    assert shown["edges"][0]["node"]["retiredAt"] is not None
    # Who may: lists for staff, analysts, integrations; not customers; writes not for staff.
    customer = mint(Role.CUSTOMER, "ref-customer", cid=made.id)
    denied = await gql(anonymous, PRODUCTS, {"first": 1, "retired": False}, token=customer)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    agent = mint(Role.AGENT, "ref-agent-2")
    assert (await _call(anonymous, PRODUCT, agent, input=product))["code"] == "FORBIDDEN"
