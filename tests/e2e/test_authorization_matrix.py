"""The authorization matrix: every role × every personal field × own / other / related, on
every path that reaches a customer, compared with a hand-written table of expectations.
Zero mismatches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.value_store import SqlValueStore
from domain.access.masking import mask_document, mask_last4, mask_phone
from domain.access.policy import FIELD_POLICIES, PUBLIC
from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import Made, backdate, make_customer
from tests.graphql import gql, gql_data
from tests.websocket import run_over_websocket

FIELDS = """
  id
  displayName
  personal {
    gender birthDate occupation employer incomeBand assetBand creditStatus creditStatusSource
  }
  changeHistory(first: 1) { edges { node { field changedBy } } }
  completeness { score }
  contactPoints { kind value }
  documents { type number }
  holdings { items { accountNumber } }
  interactions(first: 2) { edges { node { staffCode cost summary } } }
  fundMovements(first: 1) { nodes { amount direction counterpartyKind } }
  consents { purpose actor }
  channelMix { channel cost }
  relationship { state version }
  alerts { rule severity evidence acknowledgedBy task { title } }
  value { contribution tier }
  relationshipManagerHistory { reason }
  relationshipTeam { role }
  nextBestProducts { peerShare }
  openTasks { title ownerKind owner { __typename ... on RelationshipManager { id } ... on StaffMember { subject } ... on WorkQueue { name } } }
"""
FRAGMENT = f"fragment Profile on Customer {{ {FIELDS} }}"

SET_CONSENT = """
mutation ($input: SetConsentInput!) { setConsent(input: $input) { __typename } }
"""

UPDATE_CUSTOMER = """
mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) { __typename } }
"""

RECORD_MOVEMENT = """
mutation ($input: RecordFundMovementInput!) { recordFundMovement(input: $input) {
  __typename ... on Error { code message } } }
"""

OPEN_SESSION = """
mutation ($input: OpenCounterSessionInput!) {
  openCounterSession(input: $input) { __typename ... on CounterSession { expiresAt } }
}
"""


@dataclass(frozen=True)
class Probe:
    """Where a field's value sits in the response, and what its clear value is."""

    read: Callable[[dict[str, Any]], Any]
    clear: Callable[[Made], Any]


def _personal(name: str) -> Probe:
    return Probe(read=lambda c: c["personal"][name], clear=lambda m: m.raw["personal"][name])


def _field(name: str) -> Probe:
    return Probe(read=lambda c: c[name], clear=lambda m: m.raw[name])


def _first(*path: str | int) -> Probe:
    """The value at `path`, None where a list on the way is empty or null."""

    def read(value: Any) -> Any:
        for step in path:
            if value is None or (isinstance(step, int) and not value):
                return None
            value = value[step]
        return value

    return Probe(read=read, clear=lambda m: read(m.raw))


PROBES: dict[tuple[str, str], Probe] = (
    {
        ("PersonalDetails", name): _personal(name)
        for name in (
            "birthDate",
            "occupation",
            "employer",
            "incomeBand",
            "assetBand",
            "creditStatus",
            "creditStatusSource",
        )
    }
    | {
        ("ContactPoint", "value"): Probe(
            read=lambda c: c["contactPoints"][0]["value"], clear=lambda m: m.phone
        ),
        ("IdentityDocument", "number"): Probe(
            read=lambda c: c["documents"][0]["number"], clear=lambda m: m.resident_id
        ),
        ("Holding", "accountNumber"): _first("holdings", "items", 0, "accountNumber"),
        ("Interaction", "staffCode"): _first("interactions", "edges", 0, "node", "staffCode"),
        ("FundMovement", "amount"): _first("fundMovements", "nodes", 0, "amount"),
        ("FundMovement", "direction"): _first("fundMovements", "nodes", 0, "direction"),
        ("FundMovement", "counterpartyKind"): _first(
            "fundMovements", "nodes", 0, "counterpartyKind"
        ),
        ("Interaction", "cost"): _first("interactions", "edges", 0, "node", "cost"),
        ("ChannelUse", "cost"): _first("channelMix", 0, "cost"),
        ("Consent", "actor"): _first("consents", 0, "actor"),
        ("Alert", "evidence"): _first("alerts", 0, "evidence"),
        ("Alert", "acknowledgedBy"): _first("alerts", 0, "acknowledgedBy"),
        ("Task", "title"): _first("openTasks", 0, "title"),
        ("Task", "owner"): _first("openTasks", 0, "owner"),
        ("Task", "ownerKind"): _first("openTasks", 0, "ownerKind"),
        # The history's values follow their own fields (tests/e2e/test_customer_updates.py).
        ("Customer", "changeHistory"): _first("changeHistory", "edges", 0, "node", "changedBy"),
        ("Customer", "completeness"): _first("completeness", "score"),
    }
    | {
        ("Customer", name): _field(name)
        for name in (
            "relationship",
            "alerts",
            "value",
            "relationshipManagerHistory",
            "relationshipTeam",
            "nextBestProducts",
        )
    }
)

# Who sees what, written out by hand: the specification the policy table must meet. A wrong
# entry in domain/access/policy.py (or a resolver that ignores it) fails against this table,
# which never reads the policy. One letter per column — C clear, M masked, H hidden (null):
COLUMNS = (
    "own",  # the customer, their own profile
    "agent",  # call center, nobody's RM
    "teller",  # at the counter, no verified session
    "teller+session",  # inside a verified counter session with this customer
    "rm",  # the customer's RM
    "rm-other",  # another customer's RM
    "approver",
    "compliance",
    "admin",
    "steward",  # data steward: every field clear, the customer's value not
    "branch_manager",  # as an approver, without the alerts and the per-customer value
)
EXPECTED: dict[tuple[str, str], str] = {
    ("PersonalDetails", "birthDate"): "CHHCCHHHHCH",
    ("PersonalDetails", "occupation"): "CHHCCHHHHCH",
    ("PersonalDetails", "employer"): "CHHCCHHHHCH",
    ("PersonalDetails", "incomeBand"): "CHHCCHHHHCH",
    ("PersonalDetails", "assetBand"): "CHHCCHHHHCH",
    ("PersonalDetails", "creditStatus"): "CHHCCHHHHCH",
    ("PersonalDetails", "creditStatusSource"): "CHHCCHHHHCH",
    ("ContactPoint", "value"): "CMMCCMMMMCM",
    ("IdentityDocument", "number"): "CMMCCMMMMCM",
    ("Holding", "accountNumber"): "CMMCCMMMMCM",
    ("Interaction", "staffCode"): "HCCCCCCCCCC",
    # A movement's figures: as personal details (the customer, their RM, a teller in session).
    ("FundMovement", "amount"): "CHHCCHHHHCH",
    ("FundMovement", "direction"): "CHHCCHHHHCH",
    ("FundMovement", "counterpartyKind"): "CHHCCHHHHCH",
    ("Interaction", "cost"): "HCCCCCCCCCC",
    ("ChannelUse", "cost"): "HCCCCCCCCCC",
    ("Consent", "actor"): "HCCCCCCCCCC",
    ("Customer", "relationship"): "HCCCCCCCCCC",
    # Alerts: the field policy and their own row rule (the RM, oversight; the call center only
    # for customers without an RM, and this one has one).
    ("Customer", "alerts"): "HHHHCHCCCHH",
    ("Alert", "evidence"): "HHHHCHCCCHH",
    ("Alert", "acknowledgedBy"): "HHHHCHCCCHH",
    ("Customer", "value"): "HHHHCHCCCHH",
    ("Customer", "relationshipManagerHistory"): "HCCCCCCCCCC",
    ("Customer", "relationshipTeam"): "HCCCCCCCCCC",
    ("Customer", "nextBestProducts"): "HCCCCCCCCCC",
    ("Task", "title"): "HCCCCCCCCCC",
    ("Task", "owner"): "HCCCCCCCCCC",
    ("Task", "ownerKind"): "HCCCCCCCCCC",
    ("Customer", "changeHistory"): "HCCCCCCCCCC",
    ("Customer", "completeness"): "HCCCCCCCCCC",
}
MASKS: dict[tuple[str, str], Callable[[str], str]] = {
    ("ContactPoint", "value"): mask_phone,
    ("IdentityDocument", "number"): lambda n: mask_document("resident_id", n),
    ("Holding", "accountNumber"): mask_last4,
}

# Fields outside the profile, probed where they are read.
PROBED_ELSEWHERE = {
    # tests/e2e/test_transport_audit.py: a subscription event's figures
    ("ActivityEvent", "payload.amount"),
    ("ActivityEvent", "payload.direction"),
    # tests/e2e/test_access_paths.py: a done task's result (an open task has none)
    ("Task", "result"),
    # tests/e2e/test_campaign_run.py: a campaign contact's campaign (the customer: hidden)
    ("Interaction", "campaign"),
}


def test_every_field_that_is_not_public_is_probed_by_the_matrix() -> None:
    declared = {
        (type_name, field)
        for type_name, fields in FIELD_POLICIES.items()
        for field, policy in fields.items()
        if policy is not PUBLIC
    }
    assert declared - PROBED_ELSEWHERE == set(PROBES), "add a probe for every new personal field"


def test_the_expectations_cover_every_probe_and_every_column() -> None:
    assert set(EXPECTED) == set(PROBES)
    assert all(len(row) == len(COLUMNS) for row in EXPECTED.values())
    assert set(MASKS) == {k for k, row in EXPECTED.items() if "M" in row}


@pytest.fixture(scope="module")
async def subject(engine: AsyncEngine, client: httpx.AsyncClient, mint: Minter) -> Made:
    made = await make_customer(engine, name="矩阵客户", interactions=4, complete=True)
    consent = await gql_data(
        client,
        SET_CONSENT,
        {
            "input": {
                "customerId": encode_id("Customer", made.id),
                "purpose": "MARKETING",
                "channel": "ALL",
                "granted": True,
            }
        },
        token=mint(Role.AGENT, "matrix-agent"),
    )
    assert consent["setConsent"]["__typename"] == "Consent"
    # A change of the record, so that the history has an entry to probe.
    changed = await gql_data(
        client,
        UPDATE_CUSTOMER,
        {
            "input": {
                "customerId": encode_id("Customer", made.id),
                "personal": {"creditStatus": "WATCH", "creditStatusSource": "credit_bureau"},
                "reason": "bureau report",
            }
        },
        token=mint(Role.STEWARD, "matrix-steward"),
    )
    assert changed["updateCustomer"]["__typename"] == "UpdateCustomerPayload"
    # A movement on one of its holdings, so that the statement has figures to probe.
    async with engine.connect() as conn:
        holding = await conn.scalar(
            text("SELECT min(id) FROM holdings WHERE customer_id = :c"), {"c": made.id}
        )
    moved = await gql_data(
        client,
        RECORD_MOVEMENT,
        {
            "input": {
                "holdingId": encode_id("Holding", holding),
                "amount": "1234.56",
                "currency": "CNY",
                "direction": "DEBIT",
                "counterpartyKind": "MERCHANT",
                "channel": "MOBILE_APP",
                "bookedAt": "2026-11-20T08:00:00+00:00",
                "externalRef": f"matrix-{made.id}",
            }
        },
        token=mint(Role.INTEGRATION, "matrix-core"),
    )
    assert moved["recordFundMovement"]["__typename"] == "RecordFundMovementPayload", moved
    await backdate(engine, made.id)
    await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))
    # The clear view, as the customer's own RM sees it (everything, in this RM's column).
    rm = mint(Role.RELATIONSHIP_MANAGER, "matrix-rm", rm=made.rm_id)
    query = f"query ($id: ID!) {{ customer(id: $id) {{ ...Profile }} }} {FRAGMENT}"
    raw = (await gql_data(client, query, {"id": encode_id("Customer", made.id)}, token=rm))[
        "customer"
    ]
    subject = replace(made, raw=raw)
    # A probe that finds null or an empty list in the clear view could never fail.
    empty = [k for k, probe in PROBES.items() if probe.clear(subject) in (None, "", [], {})]
    assert empty == [], f"the matrix customer has no value for {empty}"
    return subject


def _token(mint: Minter, column: str, subject: Made) -> str:
    match column:
        case "own":
            return mint(Role.CUSTOMER, "matrix-own", cid=subject.id)
        case "rm":
            return mint(Role.RELATIONSHIP_MANAGER, "matrix-rm", rm=subject.rm_id)
        case "rm-other":
            return mint(Role.RELATIONSHIP_MANAGER, "matrix-rm-other", rm=1)
        case "teller" | "teller+session":
            return mint(Role.TELLER, f"matrix-{column}")
        case _:
            return mint(Role(column), f"matrix-{column}")


# Every path that reaches a customer: the operation, where the customer sits in its answer,
# and the columns it reaches the customer for (elsewhere it must not return the customer).
@dataclass(frozen=True)
class Path:
    query: str
    find: Callable[[dict[str, Any], str], dict[str, Any] | None]
    reaches: frozenset[str]


STAFF = frozenset(COLUMNS) - {"own"}
OVERSIGHT = frozenset({"rm", "approver", "compliance", "admin"})


def _typed(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return value if value and value.get("__typename") == "Customer" else None


def _among(nodes: list[dict[str, Any]] | None, gid: str) -> dict[str, Any] | None:
    return next((n for n in nodes or [] if n and n.get("id") == gid), None)


PATHS: dict[str, Path] = {
    "customer": Path(
        "query ($id: ID!) { customer(id: $id) { __typename ...Profile } }",
        lambda d, _: _typed(d["customer"]),
        frozenset(COLUMNS),
    ),
    "node": Path(
        "query ($id: ID!) { node(id: $id) { __typename ...Profile } }",
        lambda d, _: _typed(d["node"]),
        frozenset(COLUMNS),
    ),
    "me": Path(
        "{ me { __typename ...Profile } }",
        lambda d, _: _typed(d["me"]),
        frozenset({"own"}),
    ),
    "customerByDocument": Path(
        "query ($number: String!) { customerByDocument(type: RESIDENT_ID, number: $number) "
        "{ __typename ...Profile } }",
        lambda d, _: _typed(d["customerByDocument"]),
        STAFF,
    ),
    "customers": Path(
        "query ($code: String!) { customers(first: 5, search: $code) { edges { node { "
        "...Profile } } } }",
        lambda d, gid: _among([e["node"] for e in d["customers"]["edges"]], gid),
        STAFF,
    ),
    "alerts": Path(
        "query ($id: ID!) { alerts(first: 5, filter: {customerId: $id}) { nodes { customer { "
        "...Profile } } } }",
        lambda d, gid: _among([n["customer"] for n in d["alerts"]["nodes"]], gid),
        OVERSIGHT,
    ),
    "portfolio": Path(
        "query ($rm: ID!) { relationshipManager(id: $rm) { portfolio { customers(first: 5) { "
        "nodes { ...Profile } } } } }",
        lambda d, gid: _among(
            ((d["relationshipManager"] or {}).get("portfolio") or {})
            .get("customers", {})
            .get("nodes"),
            gid,
        ),
        OVERSIGHT,
    ),
}


def _expected(key: tuple[str, str], column: str, clear: Any) -> Any:
    match EXPECTED[key][COLUMNS.index(column)]:
        case "C":
            return clear
        case "M":
            return MASKS[key](clear)
        case _:
            return None


def _mismatches(customer: dict[str, Any], subject: Made, column: str) -> list[str]:
    found = []
    for key, probe in PROBES.items():
        clear = probe.clear(subject)
        expected = _expected(key, column, clear)
        actual = probe.read(customer)
        if actual != expected:
            found.append(f"{key[0]}.{key[1]}: expected {expected!r}, got {actual!r}")
        if EXPECTED[key][COLUMNS.index(column)] == "M":
            assert actual != clear, f"{key} masked yet equal to the clear value"
    return found


async def _open_session(client: httpx.AsyncClient, subject: Made, token: str) -> None:
    opened = await gql_data(
        client,
        OPEN_SESSION,
        {
            "input": {
                "customerId": encode_id("Customer", subject.id),
                "documentType": "RESIDENT_ID",
                "documentNumber": subject.resident_id,
            }
        },
        token=token,
    )
    assert opened["openCounterSession"]["__typename"] == "CounterSession"


@pytest.mark.parametrize("column", COLUMNS)
async def test_each_caller_sees_exactly_the_expected_fields_on_every_path(
    anonymous: httpx.AsyncClient, server: str, mint: Minter, subject: Made, column: str
) -> None:
    token = _token(mint, column, subject)
    if column == "teller+session":
        await _open_session(anonymous, subject, token)
    gid = encode_id("Customer", subject.id)
    variables = {
        "id": gid,
        "number": subject.resident_id,
        "code": subject.code,
        "rm": encode_id("RelationshipManager", subject.rm_id or 0),
    }
    problems: list[str] = []
    for name, path in PATHS.items():
        text = f"{path.query} {FRAGMENT}"
        wanted = {k: v for k, v in variables.items() if f"${k}" in path.query}
        body = await gql(anonymous, text, wanted, token=token)
        customer = None if body.get("data") is None else path.find(body["data"], gid)
        if column not in path.reaches:
            if customer is not None:
                problems.append(f"{name}: returned the customer")
            continue
        if customer is None:
            problems.append(f"{name}: did not return the customer: {body}")
            continue
        problems += [f"{name}: {m}" for m in _mismatches(customer, subject, column)]
    # The websocket: the same read, the same answer.
    over_ws = await run_over_websocket(
        server, token, f"{PATHS['customer'].query} {FRAGMENT}", {"id": gid}
    )
    problems += [
        f"websocket: {m}" for m in _mismatches(over_ws["data"]["customer"], subject, column)
    ]
    assert problems == []


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INTEGRATION])
async def test_roles_that_read_no_profiles_get_none_on_any_path(
    anonymous: httpx.AsyncClient, mint: Minter, subject: Made, role: Role
) -> None:
    token = mint(role, f"matrix-{role.value}")
    gid = encode_id("Customer", subject.id)
    body = await gql(
        anonymous,
        "query ($id: ID!) { customer(id: $id) { __typename } }",
        {"id": gid},
        token=token,
    )
    assert body["data"]["customer"] == {"__typename": "ForbiddenError"}
    node = await gql(
        anonymous, "query ($id: ID!) { node(id: $id) { id } }", {"id": gid}, token=token
    )
    assert node["data"]["node"] is None


async def test_a_customer_reads_nobody_else_on_any_path(
    anonymous: httpx.AsyncClient, mint: Minter, subject: Made
) -> None:
    token = mint(Role.CUSTOMER, "matrix-stranger", cid=subject.id + 10_000_000)
    gid = encode_id("Customer", subject.id)
    body = await gql(
        anonymous,
        "query ($id: ID!) { customer(id: $id) { __typename ... on Error { code } } "
        "node(id: $id) { id } }",
        {"id": gid},
        token=token,
    )
    # Someone else's profile does not exist, as far as a customer can tell.
    assert body["data"] == {
        "customer": {"__typename": "NotFoundError", "code": "NOT_FOUND"},
        "node": None,
    }
