"""Keeping contact points current: who may add, change, remove and verify them."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql_data

ADD = """mutation ($input: AddContactPointInput!) { addContactPoint(input: $input) {
  __typename ... on Customer { contactPoints { id kind value label isPreferred verified } }
  ... on Error { code } ... on InvalidInputError { field } } }"""
CHANGE = """mutation ($input: ChangeContactPointInput!) { changeContactPoint(input: $input) {
  __typename ... on Customer { contactPoints { id kind value isPreferred verified } }
  ... on Error { code } ... on InvalidInputError { field } } }"""
REMOVE = """mutation ($id: ID!) { removeContactPoint(contactPointId: $id) {
  __typename ... on Customer { contactPoints { id value } } ... on Error { code } } }"""


async def _points(endpoints: Endpoints, made: Made) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        rows = await conn.fetch(
            "SELECT kind, value, is_preferred, verified FROM contact_points "
            "WHERE customer_id = $1 ORDER BY id",
            made.id,
        )
    finally:
        await conn.close()
    return [tuple(r) for r in rows]


async def _answer(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str
) -> Any:
    data = await gql_data(client, query, variables, token=token)
    return next(iter(data.values()))


async def test_a_customer_adds_a_phone_that_the_bank_then_verifies(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    me = mint(Role.CUSTOMER, "contact-self", cid=made.id)
    added = await _answer(
        anonymous,
        ADD,
        {"input": {"kind": "PHONE", "value": "13812345678", "label": "新手机", "preferred": True}},
        me,
    )
    new = next(p for p in added["contactPoints"] if p["value"] == "+8613812345678")
    assert (new["isPreferred"], new["verified"], new["label"]) == (True, False, "新手机")
    # The earlier preferred phone is no longer preferred: one per kind.
    assert await _points(endpoints, made) == [
        ("phone", made.phone, False, False),
        ("phone", "+8613812345678", True, False),
    ]
    # A customer cannot verify their own contact point; the call center can.
    refused = await _answer(
        anonymous, CHANGE, {"input": {"contactPointId": new["id"], "verify": True}}, me
    )
    assert refused["code"] == "FORBIDDEN"
    agent = mint(Role.AGENT, "contact-agent")
    verified = await _answer(
        anonymous, CHANGE, {"input": {"contactPointId": new["id"], "verify": True}}, agent
    )
    assert next(p for p in verified["contactPoints"] if p["id"] == new["id"])["verified"] is True
    # A changed value must be verified again.
    changed = await _answer(
        anonymous, CHANGE, {"input": {"contactPointId": new["id"], "value": "13812345679"}}, me
    )
    point = next(p for p in changed["contactPoints"] if p["id"] == new["id"])
    assert (point["value"], point["verified"]) == ("+8613812345679", False)
    removed = await _answer(anonymous, REMOVE, {"id": new["id"]}, me)
    assert [p["value"] for p in removed["contactPoints"]] == [made.phone]


async def test_who_may_change_a_customers_contacts(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made, other = await make_customer(engine), await make_customer(engine)
    add = {
        "input": {"customerId": encode_id("Customer", made.id), "kind": "EMAIL", "value": "a@b.cn"}
    }
    for token in (
        mint(Role.TELLER, "contact-teller"),  # no counter session with this customer
        mint(Role.RELATIONSHIP_MANAGER, "contact-rm-other", rm=2),
        mint(Role.CUSTOMER, "contact-stranger", cid=other.id),
        mint(Role.APPROVER, "contact-approver"),
    ):
        answer = await _answer(anonymous, ADD, add, token)
        assert answer["code"] in ("FORBIDDEN", "NOT_FOUND"), answer
    assert await _points(endpoints, made) == [("phone", made.phone, True, False)]
    # The customer's own RM may.
    rm = mint(Role.RELATIONSHIP_MANAGER, "contact-rm", rm=1)
    done = await _answer(anonymous, ADD, add, rm)
    assert {p["value"] for p in done["contactPoints"]} == {made.phone, "a@b.cn"}


async def test_bad_values_are_refused_and_nothing_is_written(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    made = await make_customer(engine)
    agent = mint(Role.AGENT, "contact-bad")
    gid = encode_id("Customer", made.id)
    for value, kind in (("12345", "PHONE"), ("not-an-email", "EMAIL"), (made.phone, "PHONE")):
        answer = await _answer(
            anonymous, ADD, {"input": {"customerId": gid, "kind": kind, "value": value}}, agent
        )
        assert (answer["code"], answer["field"]) == ("INVALID_INPUT", "input.value"), value
    missing = await _answer(
        anonymous, REMOVE, {"id": encode_id("ContactPoint", 987_654_321)}, agent
    )
    assert missing["code"] == "NOT_FOUND"
    assert await _points(endpoints, made) == [("phone", made.phone, True, False)]
