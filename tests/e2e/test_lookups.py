"""Finding a customer: by id, by document, by search, through node(id:)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ids import encode_id
from tests.factories import make_customer
from tests.graphql import gql, gql_data

BY_DOCUMENT = """
query ($type: DocumentType!, $number: String!) {
  customerByDocument(type: $type, number: $number) {
    __typename
    ... on Customer { id displayName }
    ... on Error { code message }
    ... on InvalidInputError { field }
  }
}
"""

SEARCH = """
query ($search: String, $first: Int!, $after: String) {
  customers(search: $search, first: $first, after: $after) {
    edges { cursor node { id code displayName } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_a_customer_is_found_by_resident_id_in_any_case(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine, name="柜台查询")
    data = await gql_data(
        client, BY_DOCUMENT, {"type": "RESIDENT_ID", "number": made.resident_id.lower()}
    )
    assert data["customerByDocument"] == {
        "__typename": "Customer",
        "id": encode_id("Customer", made.id),
        "displayName": "柜台查询",
    }


async def test_a_bad_document_number_is_a_typed_error_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    data = await gql_data(
        client, BY_DOCUMENT, {"type": "RESIDENT_ID", "number": "110101199003071230"}
    )
    assert data["customerByDocument"]["__typename"] == "InvalidInputError"
    assert data["customerByDocument"]["code"] == "INVALID_INPUT"
    assert data["customerByDocument"]["field"] == "number"
    assert "check digit" in data["customerByDocument"]["message"]


async def test_an_unknown_document_is_not_found(client: httpx.AsyncClient) -> None:
    data = await gql_data(client, BY_DOCUMENT, {"type": "PASSPORT", "number": "E99999999"})
    assert data["customerByDocument"]["__typename"] == "NotFoundError"
    assert data["customerByDocument"]["code"] == "NOT_FOUND"


async def test_search_by_phone_finds_the_customer(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine, name="电话查询")
    data = await gql_data(client, SEARCH, {"search": made.phone, "first": 5})
    assert [e["node"]["code"] for e in data["customers"]["edges"]] == [made.code]


async def test_search_by_partial_name_pages_without_repeats(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    after = None
    for _ in range(50):
        data = await gql_data(client, SEARCH, {"search": "王", "first": 3, "after": after})
        page = data["customers"]
        seen.extend(e["node"]["id"] for e in page["edges"])
        assert all("王" in e["node"]["displayName"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) >= 4


async def test_search_validates_its_arguments_with_codes(client: httpx.AsyncClient) -> None:
    for variables, field in (
        ({"search": "  ", "first": 5}, "search"),
        ({"search": "王", "first": 0}, "first"),
        ({"search": "王", "first": 101}, "first"),
        ({"search": "王", "first": 5, "after": "%%%"}, "after"),
    ):
        body = await gql(client, SEARCH, variables)
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": field}, variables


async def test_node_refetches_customers_branches_and_managers(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine)
    query = """query ($id: ID!) { node(id: $id) { __typename id
        ... on Customer { code } ... on Branch { name } ... on RelationshipManager { name } } }"""
    customer = (await gql_data(client, query, {"id": encode_id("Customer", made.id)}))["node"]
    assert customer == {
        "__typename": "Customer",
        "id": encode_id("Customer", made.id),
        "code": made.code,
    }
    branch = (await gql_data(client, query, {"id": encode_id("Branch", 1)}))["node"]
    assert branch["__typename"] == "Branch"
    rm = (await gql_data(client, query, {"id": encode_id("RelationshipManager", 1)}))["node"]
    assert rm["__typename"] == "RelationshipManager"
    for missing in (encode_id("Customer", 10**9), encode_id("Holding", 1), "garbage"):
        assert (await gql_data(client, query, {"id": missing}))["node"] is None


async def test_a_corporate_customer_shows_its_legal_representative_and_contacts(
    client: httpx.AsyncClient,
) -> None:
    data = await gql_data(client, SEARCH, {"search": "有限公司", "first": 1})
    (edge,) = data["customers"]["edges"]
    query = """query ($id: ID!) { customer(id: $id) { ... on Customer { kind
        documents { type }
        corporate { registeredName industry lifecycleStage
          legalRepresentative { kind displayName } contacts { role person { id } } } } } }"""
    customer = (await gql_data(client, query, {"id": edge["node"]["id"]}))["customer"]
    assert customer["kind"] == "CORPORATE"
    assert customer["documents"] == [{"type": "UNIFIED_SOCIAL_CREDIT_CODE"}]
    corporate = customer["corporate"]
    assert corporate["legalRepresentative"]["kind"] == "PERSONAL"
    assert corporate["contacts"][0]["role"] == "法定代表人"
