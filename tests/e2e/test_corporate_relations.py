"""Corporate relations kept current: the parent within a group, the legal representative
(both through updateCustomer) and the people who act for a company."""

from __future__ import annotations

import random
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from api.ops.seed import credit_code
from domain.access.principal import Role
from domain.ids import decode_typed_id, encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data

REGISTER = """mutation ($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  __typename ... on RegisterCustomerPayload { customerId } ... on Error { code } } }"""
UPDATE = """mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  __typename ... on UpdateCustomerPayload { version changedFields }
  ... on InvalidInputError { field } ... on Error { code } } }"""
GROUP = """query ($id: ID!) { customer(id: $id) { ... on Customer { corporate {
  parent { id } subsidiaries { id } legalRepresentative { id } contacts { role person { id } } }
  changeHistory(first: 10, fields: ["corporate"]) { edges { node { field oldValue newValue } } }
} } }"""
ADD_CONTACT = """mutation ($input: CorporateContactInput!) { addCorporateContact(input: $input) {
  __typename ... on CustomerChangedPayload { customerId }
  ... on InvalidInputError { field } ... on Error { code } } }"""
REMOVE_CONTACT = """mutation ($input: CorporateContactInput!) {
  removeCorporateContact(input: $input) { __typename ... on Error { code } } }"""

_rng = random.Random(29)


async def _company(client: httpx.AsyncClient, token: str, name: str) -> str:
    answer = await gql_data(
        client,
        REGISTER,
        {
            "input": {
                "kind": "CORPORATE",
                "displayName": name,
                "documents": [
                    {"type": "UNIFIED_SOCIAL_CREDIT_CODE", "number": credit_code(_rng, "110108")}
                ],
                "corporate": {"registeredName": f"{name}有限公司"},
            }
        },
        token=token,
    )
    gid: str = answer["registerCustomer"]["customerId"]
    return gid


async def _history_count(endpoints: Endpoints, gid: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM customer_changes WHERE customer_id = $1",
            decode_typed_id(gid, "Customer"),
        )
        return n
    finally:
        await conn.close()


async def test_a_group_is_built_and_cycles_and_wrong_kinds_are_refused(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    steward = mint(Role.STEWARD, "group-steward")
    holding = await _company(anonymous, steward, "集团控股")
    daughter = await _company(anonymous, steward, "集团子公司")
    person = await make_customer(engine)
    person_gid = encode_id("Customer", person.id)

    async def update(gid: str, corporate: dict[str, Any]) -> dict[str, Any]:
        value = {"customerId": gid, "corporate": corporate}
        answer: dict[str, Any] = (
            await gql_data(anonymous, UPDATE, {"input": value}, token=steward)
        )["updateCustomer"]
        return answer

    joined = await update(daughter, {"parentId": holding, "legalRepresentativeId": person_gid})
    assert sorted(joined["changedFields"]) == ["corporate.legalRepresentative", "corporate.parent"]
    group = (await gql_data(anonymous, GROUP, {"id": holding}, token=steward))["customer"]
    assert group["corporate"]["subsidiaries"] == [{"id": daughter}]
    seen = (await gql_data(anonymous, GROUP, {"id": daughter}, token=steward))["customer"]
    assert seen["corporate"]["parent"] == {"id": holding}
    assert seen["corporate"]["legalRepresentative"] == {"id": person_gid}
    entries = {e["node"]["field"]: e["node"] for e in seen["changeHistory"]["edges"]}
    assert entries["corporate.parent"]["newValue"] == holding  # other customers by global id
    # Refused, each on its field, and nothing written.
    before = await _history_count(endpoints, holding)
    for corporate, field in (
        ({"parentId": daughter}, "input.corporate.parentId"),  # a cycle through the group
        ({"parentId": holding}, "input.corporate.parentId"),  # itself
        ({"parentId": person_gid}, "input.corporate.parentId"),  # a person
        ({"legalRepresentativeId": daughter}, "input.corporate.legalRepresentativeId"),
        ({"parentId": "bm90LWEtY3VzdG9tZXI"}, "input.corporate.parentId"),
    ):
        refused = await update(holding, corporate)
        assert (refused["__typename"], refused.get("field")) == ("InvalidInputError", field)
    assert await _history_count(endpoints, holding) == before
    # Leaving the group: null clears the parent.
    left = await update(daughter, {"parentId": None})
    assert left["changedFields"] == ["corporate.parent"]
    group = (await gql_data(anonymous, GROUP, {"id": holding}, token=steward))["customer"]
    assert group["corporate"]["subsidiaries"] == []


async def test_people_who_act_for_a_company_are_added_and_removed(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    steward = mint(Role.STEWARD, "contacts-steward")
    company = await _company(anonymous, steward, "授权联系人测试")
    person = await make_customer(engine)
    contact = {"corporateId": company, "personId": encode_id("Customer", person.id)}
    signatory = {**contact, "role": " 授权签字人 "}
    added = await gql_data(anonymous, ADD_CONTACT, {"input": signatory}, token=steward)
    assert added["addCorporateContact"]["__typename"] == "CustomerChangedPayload"
    counted = await _history_count(endpoints, company)
    again = await gql_data(anonymous, ADD_CONTACT, {"input": signatory}, token=steward)
    assert again["addCorporateContact"]["__typename"] == "CustomerChangedPayload"
    assert await _history_count(endpoints, company) == counted  # a repeat changes nothing
    group = (await gql_data(anonymous, GROUP, {"id": company}, token=steward))["customer"]
    assert group["corporate"]["contacts"] == [
        {"role": "授权签字人", "person": {"id": contact["personId"]}}
    ]
    for value, field in (
        ({**contact, "role": ""}, "input.role"),
        ({**contact, "role": "x" * 51}, "input.role"),
        ({**contact, "personId": company, "role": "财务"}, "input.personId"),  # a company
        ({**contact, "corporateId": contact["personId"], "role": "财务"}, "input.corporateId"),
    ):
        refused = (await gql_data(anonymous, ADD_CONTACT, {"input": value}, token=steward))[
            "addCorporateContact"
        ]
        assert (refused["__typename"], refused["field"]) == ("InvalidInputError", field)
    agent = await gql_data(
        anonymous, ADD_CONTACT, {"input": signatory}, token=mint(Role.AGENT, "contacts-agent")
    )
    assert agent["addCorporateContact"]["code"] == "FORBIDDEN"
    removed = await gql_data(
        anonymous, REMOVE_CONTACT, {"input": {**contact, "role": "授权签字人"}}, token=steward
    )
    assert removed["removeCorporateContact"]["__typename"] == "CustomerChangedPayload"
    gone = await gql_data(
        anonymous, REMOVE_CONTACT, {"input": {**contact, "role": "授权签字人"}}, token=steward
    )
    assert gone["removeCorporateContact"]["code"] == "NOT_FOUND"
    assert await _history_count(endpoints, company) == counted + 1
