"""The server driven by real client libraries, as a frontend team would use them: Python's gql
over HTTP and over the websocket, and npm's graphql-ws (Node.js). Raw HTTP is tested elsewhere;
here what must hold is that the libraries' own protocol handling works with ours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy.ext.asyncio import AsyncEngine

from api.redis.events import activity_channel
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.js import node

PROFILE = gql(
    """query Profile($id: ID!) { customer(id: $id) { __typename
    ... on Customer { id displayName contactPoints { kind value } }
    ... on Error { code message } } }"""
)
RECORD = gql(
    """mutation Record($input: RecordInteractionInput!) { recordInteraction(input: $input) {
    __typename ... on RecordInteractionPayload { interactionId } ... on Error { code } } }"""
)
FORBIDDEN = gql('{ auditTrail(customerId: "x", first: 1) { nodes { id } } }')
ACTIVITY = gql(
    """subscription Activity($id: ID!) { customerActivity(customerId: $id) { topic payload } }"""
)


def _record(customer: str) -> dict[str, object]:
    return {
        "input": {
            "customerId": customer,
            "channel": "CALL_CENTER",
            "kind": "INQUIRY",
            "occurredAt": datetime.now(UTC).isoformat(),
            "summary": "客户端库测试",
        }
    }


async def _listening(redis: aioredis.Redis, customer_id: int) -> None:
    """Until the server listens on the customer's channel (pub/sub keeps nothing earlier)."""
    for _ in range(200):
        [(_, listeners)] = await redis.pubsub_numsub(activity_channel(customer_id))
        if listeners:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the subscription never reached Redis")


async def test_python_gql_validates_against_the_introspected_schema_and_reads_over_http(
    server: str, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    transport = HTTPXAsyncTransport(
        url=f"http://{server}/graphql",
        headers={"authorization": f"Bearer {mint(Role.RELATIONSHIP_MANAGER, 'rm1', rm=1)}"},
    )
    # fetch_schema_from_transport: gql sends the standard introspection query (development
    # answers it) and validates every document against the schema before sending it.
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        assert session.client.schema is not None
        assert session.client.schema.get_type("Customer") is not None
        answer = await session.execute(
            GraphQLRequest(PROFILE, variable_values={"id": encode_id("Customer", made.id)})
        )
        assert answer["customer"]["id"] == encode_id("Customer", made.id)
        assert answer["customer"]["contactPoints"][0]["value"] == made.phone  # their RM: clear
        with pytest.raises(TransportQueryError) as refused:  # a request error, with its code
            await session.execute(FORBIDDEN)
        assert refused.value.errors is not None
        assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_python_gql_subscribes_over_graphql_transport_ws(
    server: str, engine: AsyncEngine, mint: Minter, redis_client: aioredis.Redis
) -> None:
    made = await make_customer(engine)
    customer = encode_id("Customer", made.id)
    token = mint(Role.AGENT, "gql-desk")
    transport = WebsocketsTransport(
        url=f"ws://{server}/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"authorization": f"Bearer {token}"},
    )
    async with Client(transport=transport) as session:
        events = session.subscribe(GraphQLRequest(ACTIVITY, variable_values={"id": customer}))
        first = asyncio.ensure_future(anext(aiter(events)))
        await _listening(redis_client, made.id)
        http = HTTPXAsyncTransport(
            url=f"http://{server}/graphql", headers={"authorization": f"Bearer {token}"}
        )
        async with Client(transport=http) as writer:
            written = await writer.execute(
                GraphQLRequest(RECORD, variable_values=_record(customer))
            )
        assert written["recordInteraction"]["__typename"] == "RecordInteractionPayload"
        async with asyncio.timeout(30):
            event = await first
        assert event["customerActivity"]["topic"] == "interaction.recorded"
        assert (
            event["customerActivity"]["payload"]["interactionId"]
            == written["recordInteraction"]["interactionId"]
        )


async def test_npm_graphql_ws_queries_and_subscribes(
    server: str, engine: AsyncEngine, mint: Minter, redis_client: aioredis.Redis
) -> None:
    made = await make_customer(engine)
    customer = encode_id("Customer", made.id)
    token = mint(Role.AGENT, "graphql-ws-desk")
    async with node("live.mjs", f"ws://{server}/graphql", token, customer) as line:
        assert await line() == {
            "kind": "query",
            "result": {"data": {"viewer": {"role": "AGENT", "subject": "graphql-ws-desk"}}},
        }
        assert await line() == {"kind": "subscribed"}
        await _listening(redis_client, made.id)
        http = HTTPXAsyncTransport(
            url=f"http://{server}/graphql", headers={"authorization": f"Bearer {token}"}
        )
        async with Client(transport=http) as writer:
            await writer.execute(GraphQLRequest(RECORD, variable_values=_record(customer)))
        event = await line()
        assert event["kind"] == "event"
        assert event["result"]["data"]["customerActivity"]["topic"] == "interaction.recorded"


async def test_npm_graphql_ws_sees_a_bad_token_as_4401_with_its_code(server: str) -> None:
    """graphql-ws gives up at once on 4401 (it retried 4403 for ~40 s before issue 23) and
    hands the client the code in the close reason."""
    async with node("live.mjs", f"ws://{server}/graphql", "not-a-token") as line:
        assert await line() == {"kind": "closed", "code": 4401, "reason": "TOKEN_INVALID"}
