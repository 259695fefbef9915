"""Completeness on the profile and kept with the record; dataQualityReport per branch."""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import httpx

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from domain.access.principal import Role
from domain.ids import decode_typed_id, encode_id
from tests.conftest import Minter
from tests.graphql import gql, gql_data

REGISTER = """mutation ($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  __typename ... on RegisterCustomerPayload { customerId } ... on Error { code } } }"""
UPDATE = """mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  __typename ... on Error { code } } }"""
COMPLETENESS = """query ($id: ID!) { customer(id: $id) { ... on Customer {
  completeness { score missing } } } }"""
REPORT = """query ($branch: ID, $first: Int!, $after: String) {
  dataQualityReport(branchId: $branch) {
    branches { branch { id } customers assessed averageScore
      distribution { low high customers } }
    weakest(first: $first, after: $after) { nodes { score missing customer { id } }
      pageInfo { hasNextPage endCursor } } } }"""

_phones = itertools.count(1)


async def _branch(endpoints: Endpoints, code: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        parent = await conn.fetchval("SELECT min(id) FROM branches WHERE kind = 'branch'")
        branch_id: int = await conn.fetchval(
            "INSERT INTO branches (code, name, city, kind, parent_id) "
            "VALUES ($1, '数据质量测试支行', '杭州', 'sub_branch', $2) RETURNING id",
            code,
            parent,
        )
        return branch_id
    finally:
        await conn.close()


async def _stored(endpoints: Endpoints, gid: str) -> tuple[Any, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        row = await conn.fetchrow(
            "SELECT completeness, completeness_missing FROM customers WHERE id = $1",
            decode_typed_id(gid, "Customer"),
        )
        assert row is not None
        return row["completeness"], row["completeness_missing"]
    finally:
        await conn.close()


async def test_completeness_follows_the_record_and_the_report_ranks_a_branch(
    anonymous: httpx.AsyncClient, endpoints: Endpoints, mint: Minter
) -> None:
    steward = mint(Role.STEWARD, "quality-steward")
    branch = encode_id("Branch", await _branch(endpoints, "DQ-TEST-1"))

    async def prospect(name: str, **extra: Any) -> str:
        value = {
            "kind": "PERSONAL",
            "displayName": name,
            "documents": [],
            "contactPoints": [{"kind": "PHONE", "value": f"1370000{next(_phones):04d}"}],
            "personal": {},
            "homeBranchId": branch,
            "prospect": True,
            **extra,
        }
        answer = await gql_data(anonymous, REGISTER, {"input": value}, token=steward)
        gid: str = answer["registerCustomer"]["customerId"]
        return gid

    thin = await prospect("资料欠缺")
    fuller = await prospect(
        "资料较全",
        personal={"gender": "MALE", "occupation": "律师", "employer": "某律所"},
        preferredChannel="COUNTER",
    )
    live = (await gql_data(anonymous, COMPLETENESS, {"id": thin}, token=steward))["customer"]
    assert live["completeness"]["score"] == round(100 * 2 / 12)  # phone, home branch
    assert "personal.occupation" in live["completeness"]["missing"]
    assert await _stored(endpoints, thin) == (
        live["completeness"]["score"],
        live["completeness"]["missing"],
    )
    # A change moves the stored score in the same transaction.
    changed = await gql_data(
        anonymous,
        UPDATE,
        {"input": {"customerId": thin, "personal": {"occupation": "厨师", "gender": "FEMALE"}}},
        token=steward,
    )
    assert changed["updateCustomer"]["__typename"] == "UpdateCustomerPayload"
    assert (await _stored(endpoints, thin))[0] == round(100 * 4 / 12)
    # The report: the branch's two records, their distribution, the weaker first.
    report = (await gql_data(anonymous, REPORT, {"branch": branch, "first": 1}, token=steward))[
        "dataQualityReport"
    ]
    (row,) = report["branches"]
    assert row["branch"] == {"id": branch}
    assert (row["customers"], row["assessed"]) == (2, 2)
    scores = sorted([round(100 * 4 / 12), (await _stored(endpoints, fuller))[0]])
    assert row["averageScore"] == round(sum(scores) / 2, 1)
    assert sum(b["customers"] for b in row["distribution"]) == 2
    first = report["weakest"]
    assert [n["customer"]["id"] for n in first["nodes"]] == [thin]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = (
        await gql_data(
            anonymous, REPORT, {"branch": branch, "first": 5, "after": after}, token=steward
        )
    )["dataQualityReport"]["weakest"]
    assert [n["customer"]["id"] for n in second["nodes"]] == [fuller]
    assert second["pageInfo"]["hasNextPage"] is False
    # The customer does not see the bank's assessment; the call center gets no report.
    own = mint(Role.CUSTOMER, "quality-own", cid=decode_typed_id(thin, "Customer"))
    mine = await gql_data(anonymous, COMPLETENESS, {"id": thin}, token=own)
    assert mine["customer"]["completeness"] is None
    refused = await gql(anonymous, REPORT, {"first": 1}, token=mint(Role.AGENT, "quality-agent"))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad_cursor = await gql(
        anonymous, REPORT, {"branch": branch, "first": 1, "after": "bm9wZQ"}, token=steward
    )
    assert bad_cursor["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
