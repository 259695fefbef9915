"""The ladder over GraphQL: roles and rows, versions, maker-checker."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data

CHANGE = """mutation ($input: StateChangeInput!) { changeRelationshipState(input: $input) {
  __typename ... on Relationship { state version history { fromState toState reasonCode actor } }
  ... on Error { code message } } }"""
PROPOSE = """mutation ($input: StateChangeInput!) { proposeStateChange(input: $input) {
  __typename ... on StateChangeProposal { id toState status overdue proposedBy }
  ... on Error { code } } }"""
APPROVE = """mutation ($input: DecideStateChangeInput!) { approveStateChange(input: $input) {
  __typename ... on Relationship { state version pendingProposal { id } } ... on Error { code } } }"""
REJECT = """mutation ($input: DecideStateChangeInput!) { rejectStateChange(input: $input) {
  __typename ... on StateChangeProposal { status decidedBy } ... on Error { code } } }"""
READ = """query ($id: ID!) { customer(id: $id) { ... on Customer { relationship {
  state version pendingProposal { id toState } } } } }"""


def _move(customer_id: int, to: str, version: int, reason: str = "BALANCE_DROP") -> dict[str, Any]:
    return {
        "input": {
            "customerId": encode_id("Customer", customer_id),
            "toState": to,
            "reasonCode": reason,
            "note": "余额大幅下降",
            "expectedVersion": version,
        }
    }


async def test_an_rm_moves_their_own_customer_one_step_with_the_version_read(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)  # watch, version 2, RM 1
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    moved = (await gql_data(anonymous, CHANGE, _move(made.id, "DOUBTFUL", 2), token=rm))[
        "changeRelationshipState"
    ]
    assert (moved["state"], moved["version"]) == ("DOUBTFUL", 3)
    assert moved["history"][0] == {
        "fromState": "WATCH",
        "toState": "DOUBTFUL",
        "reasonCode": "BALANCE_DROP",
        "actor": "rm1",
    }
    stale = await gql_data(anonymous, CHANGE, _move(made.id, "WATCH", 2), token=rm)
    assert stale["changeRelationshipState"]["code"] == "CONFLICT"
    skip = await gql_data(anonymous, CHANGE, _move(made.id, "NORMAL", 3), token=rm)
    assert skip["changeRelationshipState"]["code"] == "INVALID_STATE_TRANSITION"
    to_exit = await gql_data(anonymous, CHANGE, _move(made.id, "EXIT", 3), token=rm)
    assert to_exit["changeRelationshipState"]["code"] == "APPROVAL_REQUIRED"
    other_rm = mint(Role.RELATIONSHIP_MANAGER, "rm2", rm=2)
    foreign = await gql_data(anonymous, CHANGE, _move(made.id, "WATCH", 3), token=other_rm)
    assert foreign["changeRelationshipState"]["code"] == "FORBIDDEN"
    agent = await gql_data(
        anonymous, CHANGE, _move(made.id, "WATCH", 3), token=mint(Role.AGENT, "a")
    )
    assert agent["changeRelationshipState"]["code"] == "FORBIDDEN"


async def test_concurrent_changes_with_one_version_let_exactly_one_win(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    results = await asyncio.gather(
        gql_data(anonymous, CHANGE, _move(made.id, "NORMAL", 2, "RECOVERED"), token=rm),
        gql_data(anonymous, CHANGE, _move(made.id, "DOUBTFUL", 2), token=rm),
        gql_data(anonymous, CHANGE, _move(made.id, "DOUBTFUL", 2), token=rm),
    )
    outcomes = sorted(r["changeRelationshipState"]["__typename"] for r in results)
    assert outcomes == ["ConflictError", "ConflictError", "Relationship"]
    read = await gql_data(anonymous, READ, {"id": encode_id("Customer", made.id)}, token=rm)
    assert read["customer"]["relationship"]["version"] == 3


async def test_exit_is_maker_checker_and_an_agent_cannot_approve(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    await gql_data(anonymous, CHANGE, _move(made.id, "DOUBTFUL", 2), token=rm)
    proposal = (
        await gql_data(anonymous, PROPOSE, _move(made.id, "EXIT", 3, "EXIT_PLAN"), token=rm)
    )["proposeStateChange"]
    assert (proposal["toState"], proposal["status"], proposal["overdue"]) == (
        "EXIT",
        "PENDING",
        False,
    )
    decision = {"input": {"proposalId": proposal["id"], "note": "同意退出"}}
    assert (await gql_data(anonymous, APPROVE, decision, token=rm))["approveStateChange"][
        "code"
    ] == "FORBIDDEN"
    assert (await gql_data(anonymous, APPROVE, decision, token=mint(Role.AGENT, "a")))[
        "approveStateChange"
    ]["code"] == "FORBIDDEN"
    read = await gql_data(anonymous, READ, {"id": encode_id("Customer", made.id)}, token=rm)
    assert read["customer"]["relationship"]["pendingProposal"]["id"] == proposal["id"]
    approved = (
        await gql_data(anonymous, APPROVE, decision, token=mint(Role.APPROVER, "checker-1"))
    )["approveStateChange"]
    assert approved == {
        "__typename": "Relationship",
        "state": "EXIT",
        "version": 4,
        "pendingProposal": None,
    }


async def test_the_maker_cannot_check_and_a_rejection_moves_nothing(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    approver = mint(Role.APPROVER, "approver-1")
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1)
    await gql_data(anonymous, CHANGE, _move(made.id, "DOUBTFUL", 2), token=rm)
    proposal = (
        await gql_data(anonymous, PROPOSE, _move(made.id, "EXIT", 3, "EXIT_PLAN"), token=approver)
    )["proposeStateChange"]
    decision = {"input": {"proposalId": proposal["id"]}}
    own = await gql_data(anonymous, APPROVE, decision, token=approver)
    assert own["approveStateChange"]["code"] == "MAKER_CHECKER_VIOLATION"
    rejected = await gql_data(anonymous, REJECT, decision, token=mint(Role.APPROVER, "approver-2"))
    assert rejected["rejectStateChange"] == {
        "__typename": "StateChangeProposal",
        "status": "REJECTED",
        "decidedBy": "approver-2",
    }
    read = await gql_data(anonymous, READ, {"id": encode_id("Customer", made.id)}, token=rm)
    assert read["customer"]["relationship"] == {
        "state": "DOUBTFUL",
        "version": 3,
        "pendingProposal": None,
    }


async def test_the_customer_does_not_see_the_banks_classification(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine)
    own = await gql_data(
        anonymous,
        "{ me { ... on Customer { relationship { state } } } }",
        token=mint(Role.CUSTOMER, "self", cid=made.id),
    )
    assert own["me"]["relationship"] is None
