"""Every argument of every root field, fed hostile values: an answer with a code, never an
internal error.

The schema is walked, not listed, so a field added tomorrow is covered the day it is added.
Each request differs from a plausible one in one leaf value (huge, empty, out of range, past
the column's size, not a number); it is sent by a role that may call the field, so it gets as
far as the field's own checks. What is required: no INTERNAL_SERVER_ERROR and no 5xx.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from api.bootstrap import Resources
from api.cli import migrate
from api.db.document_crypto import DocumentCrypto
from api.db.engine import create_engine
from api.http.app import create_app
from api.ops.embedded import Endpoints
from api.ops.seed import seed
from api.settings import Settings
from domain.access.principal import Role
from domain.ids import encode_id
from schema import schema
from schema.core.access import ROOT_PERMISSIONS
from tests.conftest import Minter
from tests.factories import make_customer
from tests.scratch import scratch_database


def _raw_id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOSTILE: dict[str, list[Any]] = {
    "String": ["", " ", "x" * 20_000, "'; DROP TABLE customers;--", "\U0001f600" * 300],
    "ID": ["", "garbage", _raw_id("Customer:99999999999999999999"), _raw_id("Customer:-1")],
    "Int": [2_147_483_647, -2_147_483_648, 0, -1],
    "Float": [1e308, -1e308, 0.0],
    "Decimal": ["1e309", "-1e309", "NaN", "Infinity", "1e-40", "99999999999999999999999", "-0.01"],
    "DateTime": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-01T00:00:00+14:00"],
    "Date": ["0001-01-01", "9999-12-31"],
}


# `after` cursors that decode to text no list can use: a superscript digit (str.isdigit() says
# yes, int() says no) and keys past the bigint range, in each cursor shape.
HOSTILE_CURSORS = [
    _raw_id(text)
    for text in (
        "²",
        "9" * 23,
        "c|²",
        "c|" + "9" * 23,
        "2026-01-01T00:00:00+00:00|²",
        "2026-01-01T00:00:00+00:00|" + "9" * 23,
        "|",
    )
]


def _plain(t: GraphQLInputType) -> GraphQLInputType:
    return t.of_type if isinstance(t, GraphQLNonNull) else t


class Values:
    """A plausible value of each input type; the customer id is a real customer's."""

    def __init__(self, customer_id: int) -> None:
        self.id = encode_id("Customer", customer_id)
        self.now = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    def plausible(self, t: GraphQLInputType) -> Any:
        t = _plain(t)
        if isinstance(t, GraphQLList):
            return [self.plausible(t.of_type)]
        if isinstance(t, GraphQLEnumType):
            return next(iter(t.values))
        if isinstance(t, GraphQLInputObjectType):
            return {
                name: self.plausible(f.type)
                for name, f in t.fields.items()
                if isinstance(f.type, GraphQLNonNull)
            }
        assert isinstance(t, GraphQLScalarType)
        return {
            "String": "fuzz-value-1",
            "ID": self.id,
            "Int": 1,
            "Float": 1.0,
            "Boolean": True,
            "Decimal": "1.00",
            "DateTime": self.now,
            "Date": "2026-01-01",
        }.get(t.name, {})

    def variants(self, t: GraphQLInputType, value: Any) -> Iterator[tuple[Any, Any]]:
        """(a path setter's path, hostile value) for every leaf under `t`, one at a time."""
        t = _plain(t)
        if isinstance(t, GraphQLList):
            yield (), []
            yield (), [value[0] if value else self.plausible(t.of_type)] * 200
            inner = value[0] if value else self.plausible(t.of_type)
            for path, bad in self.variants(t.of_type, inner):
                yield (0, *path), bad
        elif isinstance(t, GraphQLInputObjectType):
            for name, f in t.fields.items():
                current = value.get(name) if isinstance(value, dict) else None
                current = self.plausible(f.type) if current is None else current
                for path, bad in self.variants(f.type, current):
                    yield (name, *path), bad
        elif isinstance(t, GraphQLScalarType):
            for bad in HOSTILE.get(t.name, []):
                yield (), bad


def _with(value: Any, path: tuple[Any, ...], bad: Any, plausible: Any) -> Any:
    if not path:
        return bad
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(value) if isinstance(value, list) and value else [plausible]
        items[0] = _with(items[0], rest, bad, plausible)
        return items
    copy = dict(value) if isinstance(value, dict) else {}
    copy[head] = _with(copy.get(head), rest, bad, {})
    return copy


def _type_text(t: GraphQLInputType) -> str:
    if isinstance(t, GraphQLNonNull):
        return f"{_type_text(t.of_type)}!"
    if isinstance(t, GraphQLList):
        return f"[{_type_text(t.of_type)}]"
    return str(t.name)


@pytest.fixture(scope="module")
async def scratch(
    endpoints: Endpoints, settings: Settings, crypto: DocumentCrypto
) -> AsyncIterator[AsyncEngine]:
    """The sweep's own bank. Its mutations succeed where a value is merely odd (a detection
    rule's cooldown set to 0, a segment, interactions), and in the shared bank they changed
    what the tests after it found."""
    url = await scratch_database(endpoints, "quanjing_hostile")
    await asyncio.to_thread(migrate, url)
    await seed(url, crypto=crypto, customers=20, seed=11)
    engine = create_engine(url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def unlimited(
    settings: Settings, scratch: AsyncEngine, redis_client: aioredis.Redis
) -> AsyncIterator[httpx.AsyncClient]:
    # Hundreds of requests per role: a rate limit would answer them before the fields do.
    roomy = replace(settings, rate_capacity=10**9, rate_refill_per_second=10**9)
    app = create_app(roomy, Resources(engine=scratch, redis=redis_client))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://q.test") as client:
        yield client


async def _sweep(
    client: httpx.AsyncClient,
    values: Values,
    token: str,
    name: str,
    field: GraphQLField,
    query: Callable[[str, str], str],
    fixed: dict[str, Any],
) -> tuple[int, list[str]]:
    """Send `field` each hostile variant of each of its arguments; (requests, failures).
    `query(declared, call)` builds the operation around the field's arguments."""
    declared = ", ".join(f"${a}: {_type_text(arg.type)}" for a, arg in field.args.items())
    call = ", ".join(f"{a}: ${a}" for a in field.args)
    text = query(declared, call)
    plausible = {a: values.plausible(arg.type) for a, arg in field.args.items()}
    sent, failures = 0, []
    for argument, arg in field.args.items():
        cursors = [((), c) for c in HOSTILE_CURSORS] if argument == "after" else []
        for path, bad in [*values.variants(arg.type, plausible[argument]), *cursors]:
            variables = {**fixed, **plausible, argument: _with(plausible[argument], path, bad, {})}
            response = await client.post(
                "/graphql",
                json={"query": text, "variables": variables},
                headers={"authorization": f"Bearer {token}"},
            )
            sent += 1
            if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in response.text:
                failures.append(f"{name}({argument}{list(path)} = {str(bad)[:40]!r})")
    return sent, failures


def _claims(customer_id: int) -> dict[Role, dict[str, Any]]:
    """The claims each role's token needs beyond its role (a customer's own id, an RM's)."""
    return {
        Role.CUSTOMER: {"cid": customer_id},
        Role.RELATIONSHIP_MANAGER: {"rm": 1},
        Role.INTEGRATION: {"client_id": "core-banking"},
    }


def _selection(field: GraphQLField) -> str:
    named = get_named_type(field.type)
    return "" if is_leaf_type(named) else " { __typename }"


async def test_no_argument_value_makes_any_root_field_fail_internally(
    unlimited: httpx.AsyncClient, scratch: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(scratch)
    values = Values(made.id)
    claims = _claims(made.id)
    failures: list[str] = []
    sent = 0
    graphql_schema = schema._schema
    for operation, root in (
        ("query", graphql_schema.query_type),
        ("mutation", graphql_schema.mutation_type),
    ):
        assert root is not None
        for name, field in root.fields.items():
            if not field.args or name not in ROOT_PERMISSIONS:
                continue
            role = sorted(ROOT_PERMISSIONS[name])[0]
            token = mint(role, f"hostile-{role}", **claims.get(role, {}))

            def query(
                declared: str,
                call: str,
                op: str = operation,
                n: str = name,
                f: GraphQLField = field,
            ) -> str:
                return f"{op} ({declared}) {{ {n}({call}){_selection(f)} }}"

            more_sent, more_failures = await _sweep(
                unlimited, values, token, name, field, query, {}
            )
            sent += more_sent
            failures += more_failures
    assert sent > 500  # the walk reached the schema's arguments
    assert failures == []


async def test_no_argument_value_makes_a_customer_field_fail_internally(
    unlimited: httpx.AsyncClient, scratch: AsyncEngine, mint: Minter
) -> None:
    """The profile's own arguments (timeline filters and pages, periods, offers), asked by the
    customer's RM."""
    made = await make_customer(scratch, interactions=3)
    values = Values(made.id)
    token = mint(Role.RELATIONSHIP_MANAGER, "hostile-rm", rm=1)
    customer = schema._schema.type_map["Customer"]
    assert isinstance(customer, GraphQLObjectType)
    failures: list[str] = []
    sent = 0
    for name, field in customer.fields.items():
        if not field.args:
            continue

        def query(declared: str, call: str, n: str = name, f: GraphQLField = field) -> str:
            return (
                f"query ($customer: ID!, {declared}) {{ customer(id: $customer) "
                f"{{ ... on Customer {{ {n}({call}){_selection(f)} }} }} }}"
            )

        more_sent, more_failures = await _sweep(
            unlimited, values, token, name, field, query, {"customer": values.id}
        )
        sent += more_sent
        failures += more_failures
    assert sent > 30  # every argument of the profile's fields was tried
    assert failures == []


# Where a refused caller gets something else than FORBIDDEN, and why (docs/security.md).
REFUSED_AS_NULL = {
    # Any object by id: null for a caller who may not use it, as for an id that does not exist.
    "node",
}


def _refusal_selection(field: GraphQLField) -> str:
    named = get_named_type(field.type)
    if is_leaf_type(named):
        return ""
    error = schema._schema.type_map["Error"]
    if isinstance(named, GraphQLObjectType) or not any(
        error in t.interfaces
        for t in schema._schema.get_possible_types(named)  # type: ignore[arg-type]
    ):
        return " { __typename }"
    return " { __typename ... on Error { code } }"  # a union of results and errors


def _refusal(body: dict[str, Any], name: str) -> str | None:
    """The code the answer refused with, None for data."""
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code:
            return str(code)
    value = (body.get("data") or {}).get(name)
    if isinstance(value, dict) and "code" in value:
        return str(value["code"])
    return "NULL" if value is None else None


async def test_every_root_field_refuses_every_role_it_does_not_name(
    unlimited: httpx.AsyncClient, scratch: AsyncEngine, mint: Minter
) -> None:
    # ROOT_PERMISSIONS having an entry proves nothing: each field must enforce it. Every role
    # a field does not name calls it with plausible arguments and must be refused.
    made = await make_customer(scratch)
    values = Values(made.id)
    claims = _claims(made.id)
    graphql_schema = schema._schema
    leaks: list[str] = []
    calls = 0
    for operation, root in (
        ("query", graphql_schema.query_type),
        ("mutation", graphql_schema.mutation_type),
    ):
        assert root is not None
        for name, field in root.fields.items():
            declared = ", ".join(f"${a}: {_type_text(arg.type)}" for a, arg in field.args.items())
            call = ", ".join(f"{a}: ${a}" for a in field.args)
            text = (
                f"{operation} ({declared}) {{ {name}({call}){_refusal_selection(field)} }}"
                if field.args
                else f"{operation} {{ {name}{_refusal_selection(field)} }}"
            )
            variables = {a: values.plausible(arg.type) for a, arg in field.args.items()}
            for role in sorted(set(Role) - ROOT_PERMISSIONS[name]):
                token = mint(role, f"walker-{role}", **claims.get(role, {}))
                response = await unlimited.post(
                    "/graphql",
                    json={"query": text, "variables": variables},
                    headers={"authorization": f"Bearer {token}"},
                )
                calls += 1
                refused = _refusal(response.json(), name)
                expected = "NULL" if name in REFUSED_AS_NULL else "FORBIDDEN"
                if refused != expected:
                    leaks.append(f"{name} as {role.value}: {refused or 'data'}")
    assert calls > 150  # the walk reached the schema's fields
    assert leaks == []
