"""Who read what: an append-only record for every read of personal data."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.db.engine import asyncpg_dsn
from api.ops.embedded import Endpoints
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql, gql_data, ports_of

READ = """query Desk($id: ID!) { customer(id: $id) { ... on Customer {
  displayName documents { number } contactPoints { value } } } }"""
TRAIL = """query ($id: ID!) { auditTrail(customerId: $id, first: 10) {
  nodes { subject role channel purpose operation customerIds fields outcome correlationId } } }"""


async def test_a_read_of_personal_data_leaves_an_audit_record(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    gid = encode_id("Customer", made.id)
    response = await anonymous.post(
        "/graphql",
        json={"query": READ, "variables": {"id": gid}, "operationName": "Desk"},
        headers={
            "authorization": f"Bearer {mint(Role.AGENT, 'agent-42')}",
            "x-channel": "call_center",
            "x-purpose": "service-call",
            "x-request-id": "audit-test-000001",
        },
    )
    assert response.status_code == 200
    trail = await gql_data(anonymous, TRAIL, {"id": gid}, token=mint(Role.COMPLIANCE, "co-1"))
    (record,) = trail["auditTrail"]["nodes"]
    assert record == {
        "subject": "agent-42",
        "role": "agent",
        "channel": "call_center",
        "purpose": "service-call",
        "operation": "Desk",
        "customerIds": [gid],
        "fields": [
            "ContactPoint.value:masked",
            "Customer.displayName:clear",
            "IdentityDocument.number:masked",
        ],
        "outcome": "returned",
        "correlationId": "audit-test-000001",
    }


async def test_a_denied_read_is_audited_too(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    gid = encode_id("Customer", made.id)
    intruder = mint(Role.CUSTOMER, "someone", cid=made.id + 1)
    data = await gql_data(
        anonymous,
        "query ($id: ID!) { customer(id: $id) { __typename } }",
        {"id": gid},
        token=intruder,
    )
    assert data["customer"]["__typename"] == "NotFoundError"
    trail = await gql_data(anonymous, TRAIL, {"id": gid}, token=mint(Role.COMPLIANCE, "co-1"))
    assert [(r["subject"], r["outcome"], r["fields"]) for r in trail["auditTrail"]["nodes"]] == [
        ("someone", "denied", [])
    ]


async def test_only_compliance_reads_the_trail(anonymous: httpx.AsyncClient, mint: Minter) -> None:
    body = await gql(anonymous, TRAIL, {"id": encode_id("Customer", 1)}, token=mint(Role.ADMIN))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_audit_rows_cannot_be_updated_deleted_or_truncated(
    endpoints: Endpoints, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    made = await make_customer(engine)
    await gql_data(client, READ, {"id": encode_id("Customer", made.id)})
    conn = await asyncpg.connect(asyncpg_dsn(endpoints.database_url))
    try:
        for statement in (
            "UPDATE audit_records SET subject = 'nobody'",
            "DELETE FROM audit_records",
            "TRUNCATE audit_records",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_records") > 0
    finally:
        await conn.close()


class BrokenAuditLog:
    async def record(self, entry: object) -> None:
        raise ConnectionError("audit database unreachable")

    async def trail(self, *args: object) -> object:
        raise ConnectionError("audit database unreachable")


async def test_when_the_audit_cannot_be_written_the_data_is_withheld(
    client: httpx.AsyncClient,
    app: Starlette,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await make_customer(engine, name="不可泄露")
    monkeypatch.setattr(ports_of(app), "audit_log", BrokenAuditLog())
    response = await client.post(
        "/graphql", json={"query": READ, "variables": {"id": encode_id("Customer", made.id)}}
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "不可泄露" not in response.text
