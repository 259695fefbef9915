"""A COMMIT whose acknowledgement is lost on the way back (a proxy cuts the connection after
PostgreSQL committed): the client is told to retry, and its retry on the same idempotency key
is answered as a replay of the write, never a second one."""

from __future__ import annotations

import uuid

import httpx

from domain.access.principal import Role
from domain.ids import decode_typed_id
from tests.faults.conftest import Stack
from tests.faults.harness import RECORD, report, serving, token
from tests.proxy import proxy_to, unix


async def test_a_lost_commit_acknowledgement_is_replayed_not_duplicated(stack: Stack) -> None:
    async with proxy_to(unix(stack.postgres.socket)) as proxy:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/quanjing"
        async with serving(stack.home, url, stack.redis.url) as service:
            core = token(stack.home, Role.INTEGRATION, "core", client_id="core")
            key = f"lost-ack-{uuid.uuid4().hex}"
            body = {
                "query": RECORD,
                "variables": {
                    "input": {
                        "customerId": stack.customers[0],
                        "channel": "CALL_CENTER",
                        "kind": "INQUIRY",
                        "occurredAt": "2026-12-01T10:00:00+08:00",
                        "summary": key,
                        "idempotencyKey": key,
                    }
                },
            }
            async with httpx.AsyncClient(
                base_url=service.base, headers={"authorization": f"Bearer {core}"}
            ) as http:
                proxy.lose_commit_ack_after(key.encode())
                first = await http.post("/graphql", json=body, timeout=30)
                assert proxy.lost_acks == 1, "the acknowledgement was not lost: nothing tested"
                retried = await http.post("/graphql", json=body, timeout=30)
            log = service.log_text()
    rows = await stack.fetch("SELECT id FROM interactions WHERE summary = $1", key)
    first_error = (first.json().get("errors") or [{}])[0].get("extensions", {})
    payload = retried.json()["data"]["recordInteraction"]
    report(
        "lost_commit_ack",
        {
            "first_answer": f"{first.status_code} {first_error.get('code')}",
            "retry_replayed": payload.get("replayed"),
            "rows": len(rows),
        },
    )
    # The client could not know the write happened: told to retry, never told it failed.
    assert first.status_code == 503, first.text
    assert first_error["code"] == "SERVICE_UNAVAILABLE"
    assert payload["__typename"] == "RecordInteractionPayload"
    assert payload["replayed"] is True
    assert len(rows) == 1
    assert decode_typed_id(payload["interactionId"], "Interaction") == rows[0]["id"]
    assert "Traceback" not in log, log[-3000:]
