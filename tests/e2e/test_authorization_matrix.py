"""The authorization matrix: every role × every personal field × own / other / related,
compared with the declared policy. Zero mismatches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.value_store import SqlValueStore
from domain.access.masking import mask_document
from domain.access.policy import FIELD_POLICIES, PUBLIC, Outcome
from domain.access.principal import Role
from schema.ids import encode_id
from tests.conftest import Minter
from tests.factories import Made, backdate, make_customer
from tests.graphql import gql, gql_data

PROFILE = """
query ($id: ID!) {
  customer(id: $id) {
    __typename
    ... on Error { code }
    ... on Customer {
      displayName
      personal { gender birthDate occupation employer incomeBand assetBand creditStatus }
      contactPoints { kind value }
      documents { type number }
      holdings { items { accountNumber } }
      interactions(first: 2) { edges { node { staffCode cost summary } } }
      consents { purpose actor }
      channelMix { channel cost }
      relationship { state version }
      alerts { rule severity }
      value { contribution tier }
      relationshipManagerHistory { reason }
      relationshipTeam { role }
      nextBestProducts { peerShare }
    }
  }
}
"""

SET_CONSENT = """
mutation ($input: SetConsentInput!) { setConsent(input: $input) { __typename } }
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
        )
    }
    | {
        ("ContactPoint", "value"): Probe(
            read=lambda c: c["contactPoints"][0]["value"], clear=lambda m: m.phone
        ),
        ("IdentityDocument", "number"): Probe(
            read=lambda c: c["documents"][0]["number"], clear=lambda m: m.resident_id
        ),
        ("Holding", "accountNumber"): Probe(
            read=lambda c: c["holdings"]["items"][0]["accountNumber"],
            clear=lambda m: m.raw["holdings"]["items"][0]["accountNumber"],
        ),
        ("Interaction", "staffCode"): Probe(
            read=lambda c: c["interactions"]["edges"][0]["node"]["staffCode"],
            clear=lambda m: m.raw["interactions"]["edges"][0]["node"]["staffCode"],
        ),
        ("ChannelUse", "cost"): Probe(
            read=lambda c: c["channelMix"][0]["cost"],
            clear=lambda m: m.raw["channelMix"][0]["cost"],
        ),
        ("Customer", "relationship"): Probe(
            read=lambda c: c["relationship"], clear=lambda m: m.raw["relationship"]
        ),
        ("Customer", "alerts"): Probe(read=lambda c: c["alerts"], clear=lambda m: m.raw["alerts"]),
    }
    | {
        ("Customer", name): _field(name)
        for name in ("value", "relationshipManagerHistory", "relationshipTeam", "nextBestProducts")
    }
    | {
        ("Consent", "actor"): Probe(
            read=lambda c: c["consents"][0]["actor"],
            clear=lambda m: m.raw["consents"][0]["actor"],
        ),
        ("Interaction", "cost"): Probe(
            read=lambda c: c["interactions"]["edges"][0]["node"]["cost"],
            clear=lambda m: m.raw["interactions"]["edges"][0]["node"]["cost"],
        ),
    }
)


# Fields outside the profile, probed where they are read.
PROBED_ELSEWHERE = {
    # tests/e2e/test_transport_audit.py: a subscription event's figures
    ("ActivityEvent", "payload.amount"),
    ("ActivityEvent", "payload.direction"),
}


def test_every_field_that_is_not_public_is_probed_by_the_matrix() -> None:
    declared = {
        (type_name, field)
        for type_name, fields in FIELD_POLICIES.items()
        for field, policy in fields.items()
        if policy is not PUBLIC
    }
    assert declared - PROBED_ELSEWHERE == set(PROBES), "add a probe for every new personal field"


# role, relation, token claims (beyond role/sub), whether a session is opened first
CASES: list[tuple[Role, str]] = [
    (Role.CUSTOMER, "own"),
    (Role.CUSTOMER, "other"),
    (Role.AGENT, "other"),
    (Role.TELLER, "other"),
    (Role.TELLER, "related"),
    (Role.RELATIONSHIP_MANAGER, "related"),
    (Role.RELATIONSHIP_MANAGER, "other"),
    (Role.APPROVER, "other"),
    (Role.COMPLIANCE, "other"),
    (Role.ADMIN, "other"),
    (Role.ANALYST, "other"),
    (Role.INTEGRATION, "other"),
]


def _masked(type_name: str, field: str, clear: str) -> str:
    if (type_name, field) == ("IdentityDocument", "number"):
        return mask_document("resident_id", clear)
    mask = FIELD_POLICIES[type_name][field].mask
    assert mask is not None
    return mask(clear)


@pytest.fixture(scope="module")
async def subject(engine: AsyncEngine, client: httpx.AsyncClient) -> Made:
    made = await make_customer(engine, name="矩阵客户", interactions=4)
    consent = await gql_data(
        client,
        SET_CONSENT,
        {
            "input": {
                "customerId": encode_id("Customer", made.id),
                "purpose": "MARKETING",
                "channel": "SMS",
                "granted": True,
            }
        },
    )
    assert consent["setConsent"]["__typename"] == "Consent"
    await backdate(engine, made.id)
    await SqlValueStore(engine).score(date(2026, 11, 1), Decimal("0.2"))
    # The clear view, as its own RM (the default test client) sees it.
    raw = (await gql_data(client, PROFILE, {"id": encode_id("Customer", made.id)}))["customer"]
    assert raw["documents"][0]["number"] == made.resident_id
    assert raw["value"] is not None  # the clear value must differ from hidden
    return Made(made.id, made.resident_id, made.phone, made.code, raw=raw)


@pytest.mark.parametrize(("role", "relation"), CASES, ids=[f"{r.value}-{x}" for r, x in CASES])
async def test_each_role_sees_exactly_what_the_policy_declares(
    anonymous: httpx.AsyncClient, mint: Minter, subject: Made, role: Role, relation: str
) -> None:
    claims: dict[str, object] = {}
    if role is Role.CUSTOMER:
        claims["cid"] = subject.id if relation == "own" else subject.id + 10_000_000
    if role is Role.RELATIONSHIP_MANAGER:
        claims["rm"] = 1 if relation == "related" else 2
    token = mint(role, f"{role.value}-{relation}", **claims)
    if role is Role.TELLER and relation == "related":
        opened = await gql_data(
            anonymous,
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

    body = await gql(anonymous, PROFILE, {"id": encode_id("Customer", subject.id)}, token=token)
    customer = body["data"]["customer"]
    if role in (Role.ANALYST, Role.INTEGRATION):
        assert customer == {"__typename": "ForbiddenError", "code": "FORBIDDEN"}
        return
    if role is Role.CUSTOMER and relation == "other":
        # Someone else's profile does not exist, as far as a customer can tell.
        assert customer == {"__typename": "NotFoundError", "code": "NOT_FOUND"}
        return
    assert customer["__typename"] == "Customer"
    assert customer["displayName"] == "矩阵客户"

    mismatches = []
    for (type_name, field), probe in PROBES.items():
        expected_outcome = FIELD_POLICIES[type_name][field].outcome(role, relation != "other")
        clear = probe.clear(subject)
        if expected_outcome is Outcome.CLEAR:
            expected = clear
        elif expected_outcome is Outcome.HIDDEN or clear is None:
            expected = None
        else:
            expected = _masked(type_name, field, clear)
        actual = probe.read(customer)
        if actual != expected:
            mismatches.append(f"{type_name}.{field}: expected {expected!r}, got {actual!r}")
        if expected_outcome is Outcome.MASKED:
            assert actual != clear, f"{type_name}.{field} masked yet equal to the clear value"
    assert mismatches == []
