"""GraphQL over HTTP: graphql-http's own audit of the server, every check of it, in the suite."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from schema.core.persisted import registry
from tests.conftest import Minter
from tests.factories import make_customer
from tests.js import run_node


async def test_the_graphql_over_http_audit_passes_every_check(server: str, mint: Minter) -> None:
    results = await run_node(
        "audit.mjs", f"http://{server}/graphql", mint(Role.AGENT, "http-audit")
    )
    failed = [r for r in results if r["status"] != "ok"]
    assert len(results) >= 61  # the whole audit ran
    assert failed == [], "\n".join(f"{r['id']} {r['name']}: {r['reason']}" for r in failed)


GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_graphql_response_json_tells_a_request_that_never_ran_from_one_that_did(
    anonymous: httpx.AsyncClient, mint: Minter
) -> None:
    headers = {"accept": GRAPHQL_RESPONSE, "authorization": f"Bearer {mint(Role.AGENT, 'a')}"}

    async def post(query: str) -> httpx.Response:
        return await anonymous.post("/graphql", json={"query": query}, headers=headers)

    ran = await post("{ viewer { role } }")
    assert (ran.status_code, ran.json()) == (200, {"data": {"viewer": {"role": "AGENT"}}})
    assert ran.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    # A root field refused while running: data is null but present, so 200.
    forbidden = await post('{ auditTrail(customerId: "x", first: 1) { nodes { id } } }')
    assert forbidden.status_code == 200
    assert forbidden.json()["data"] is None
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for never_ran in ("{", "{ noSuchField }", "query ($n: Int!) { viewer { role } }"):
        refused = await post(never_ran)
        assert refused.status_code == 400, never_ran
        assert "data" not in refused.json()
        assert refused.json()["errors"]
    # The same requests as application/json keep the legacy 200 with data null.
    legacy = await anonymous.post(
        "/graphql",
        json={"query": "{"},
        headers={"authorization": headers["authorization"], "accept": "application/json"},
    )
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json; charset=utf-8"
    assert legacy.json()["data"] is None


async def test_a_registered_profile_answers_in_the_type_asked_for(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    """The profile lane (api/http/profile_lane.py) answers before the view: same negotiation."""
    made = await make_customer(engine)
    profile = next(op for op in registry().values() if op.name == "call_center_profile")
    answer = await anonymous.post(
        "/graphql",
        json={"id": profile.sha256, "variables": {"id": encode_id("Customer", made.id)}},
        headers={"accept": GRAPHQL_RESPONSE, "authorization": f"Bearer {mint(Role.AGENT, 'a')}"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert answer.json()["data"]["customer"]["id"] == encode_id("Customer", made.id)
