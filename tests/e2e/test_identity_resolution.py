"""Identity resolution end to end: the steward's review queue and its role matrix, a "not the
same" decision that holds until a record changes, the merge of every child kind, the merged
id and source keys still answering, the unmerge round trip compared row by row, and the
erasure and legal-hold rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.identity import match_customers
from api.db.merges import SqlMerges, auto_merge
from api.ops.embedded import Endpoints
from domain.access.principal import Role
from domain.identity.merging import AutoMerge
from domain.ids import decode_id, encode_id
from tests.conftest import Minter
from tests.factories import Made, make_customer
from tests.graphql import gql, gql_data
from tests.import_files import fetch

QUEUE = """query ($c: ID, $status: MatchCandidateStatus) {
  matchCandidates(first: 10, customerId: $c, status: $status) { edges { cursor node {
    id probability weight modelVersion status leftId rightId decidedBy decisionNote
    evidence { field level weight description similarity }
    left { ... on Customer { id displayName personal { birthDate } } }
    right { ... on Customer { id displayName } } } } } }"""
DECIDE = """mutation ($input: DecideMatchCandidateInput!) { decideMatchCandidate(input: $input) {
  __typename ... on DecideMatchCandidatePayload { candidate { status decidedBy }
    merge { id survivorId mergedId status lineage { field customerId system rule } outcomes } }
  ... on Error { code message } } }"""
MERGE = """mutation ($input: MergeCustomersInput!) { mergeCustomers(input: $input) {
  __typename ... on MergeCustomersPayload { merge { id survivorId mergedId status } }
  ... on Error { code message } } }"""
UNMERGE = """mutation ($input: UnmergeCustomersInput!) { unmergeCustomers(input: $input) {
  __typename ... on UnmergeCustomersPayload { merge { status undoneBy undoReport } }
  ... on Error { code message } } }"""
PROFILE = """query ($id: ID!) { customer(id: $id) { __typename ... on Customer { id mergedIds
  displayName } } node(id: $id) { ... on Customer { id } } }"""
BY_KEY = """query ($s: String!, $k: String!) { customerBySourceKey(system: $s, key: $k) {
  ... on CustomerReference { id } } }"""
UPDATE = """mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  __typename ... on Error { code } } }"""
UPSERT = """mutation ($input: UpsertHoldingInput!) { upsertHolding(input: $input) {
  __typename ... on UpsertHoldingPayload { holdingId } ... on Error { code } } }"""
FUND = """mutation ($input: RecordFundMovementInput!) { recordFundMovement(input: $input) {
  __typename ... on Error { code } } }"""
RECORD = """mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  __typename ... on RecordInteractionPayload { interactionId } ... on Error { code } } }"""
ERASE = """mutation ($id: ID!) { eraseCustomerPersonalData(customerId: $id) { __typename
  ... on ErasurePayload { kept { category hold { reason } } } ... on Error { code } } }"""
HOLD = """mutation ($input: PlaceLegalHoldInput!) { placeLegalHold(input: $input) { __typename
  ... on Error { code } } }"""

# Every kind of row a customer owns that a merge moves and an unmerge sends back.
CHILDREN = (
    "holdings",
    "fund_movements",
    "interactions",
    "tasks",
    "alerts",
    "relationship_state_changes",
    "rm_assignments",
    "legal_holds",
    "state_change_proposals",
    "identity_documents",
    "contact_points",
    "consents",
    "ownership_claims",
)


# The kinds that move wholesale: every row of the merged record goes to the survivor.
WHOLESALE = (*CHILDREN[:9], "rm_team_members")


async def _sql(endpoints: Endpoints, sql: str, *args: object) -> list[asyncpg.Record]:
    return await fetch(endpoints.database_url, sql, *args)


def gid(made: Made | int) -> str:
    return encode_id("Customer", made if isinstance(made, int) else made.id)


async def _pair(engine: AsyncEngine, endpoints: Endpoints) -> tuple[Made, Made]:
    """Two records of one person: the same name, birth date and mobile; A known to core
    banking, B to the card centre, each with its own RM, tasks, alerts and history."""
    a = await make_customer(engine, complete=True, interactions=2)
    b = await make_customer(engine, complete=True, interactions=1)
    await _sql(
        endpoints,
        "UPDATE customers SET birth_date = (SELECT birth_date FROM customers WHERE id = $1) "
        "WHERE id = $2",
        a.id,
        b.id,
    )
    await _sql(
        endpoints,
        "INSERT INTO contact_points (customer_id, kind, value) VALUES ($1, 'phone', $2)",
        b.id,
        a.phone,
    )
    await _sql(
        endpoints,
        "INSERT INTO customer_source_keys (customer_id, system, key, created_by) VALUES "
        "($1, 'core_banking', $3, 'test'), ($2, 'cards', $4, 'test')",
        a.id,
        b.id,
        f"CB-{a.id}",
        f"CARD-{b.id}",
    )
    async with engine.begin() as conn:
        assert await match_customers(conn, [a.id, b.id]) >= 1
    return a, b


async def _candidate(endpoints: Endpoints, a: Made, b: Made) -> int:
    rows = await _sql(
        endpoints,
        "SELECT id FROM match_candidates WHERE left_id = $1 AND right_id = $2",
        min(a.id, b.id),
        max(a.id, b.id),
    )
    assert len(rows) == 1
    return int(rows[0]["id"])


async def _children(endpoints: Endpoints, *ids: int) -> dict[str, set[tuple[int, int]]]:
    """(row id, customer id) of every child row of the given customers, per kind; an RM team
    member, which has no id, by its RM."""
    found: dict[str, set[tuple[int, int]]] = {}
    for table in CHILDREN:
        rows = await _sql(
            endpoints,
            f"SELECT id, customer_id FROM {table} WHERE customer_id = ANY($1)",
            list(ids),
        )
        found[table] = {(r["id"], r["customer_id"]) for r in rows}
    team = await _sql(
        endpoints,
        "SELECT rm_id, customer_id FROM rm_team_members WHERE customer_id = ANY($1)",
        list(ids),
    )
    found["rm_team_members"] = {(r["rm_id"], r["customer_id"]) for r in team}
    acting = await _sql(
        endpoints,
        "SELECT corporate_id, person_id FROM corporate_contacts WHERE person_id = ANY($1)",
        list(ids),
    )
    found["corporate_contacts"] = {(r["corporate_id"], r["person_id"]) for r in acting}
    return found


async def test_the_review_queue_shows_pairs_with_evidence_to_stewards_only(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    a, b = await _pair(engine, endpoints)
    steward = mint(Role.STEWARD, "steward-1")
    queue = (await gql_data(anonymous, QUEUE, {"c": gid(a)}, token=steward))["matchCandidates"]
    [edge] = queue["edges"]
    pair = edge["node"]
    assert (pair["leftId"], pair["rightId"]) == (gid(min(a.id, b.id)), gid(max(a.id, b.id)))
    assert pair["status"] == "PENDING"
    assert pair["probability"] > 0.99
    assert pair["modelVersion"].startswith("fs-")
    levels = {e["field"]: e["level"] for e in pair["evidence"]}
    assert levels == {
        "name": "exact",
        "birthDate": "exact",
        "document": "different",
        "phone": "shared",
        "email": "missing",
        "address": "missing",
    }
    assert next(e for e in pair["evidence"] if e["field"] == "document")["weight"] < 0
    # Both records side by side: a steward sees them clear.
    assert pair["left"]["displayName"] == pair["right"]["displayName"] == "测试客户"
    assert pair["left"]["personal"]["birthDate"] is not None
    # The role matrix: stewards and admins; nobody else reads or decides.
    admin = await gql_data(anonymous, QUEUE, {"c": gid(a)}, token=mint(Role.ADMIN, "adm"))
    assert len(admin["matchCandidates"]["edges"]) == 1
    decide = {"input": {"candidateId": pair["id"], "decision": "NOT_SAME"}}
    for role in (
        Role.AGENT,
        Role.TELLER,
        Role.RELATIONSHIP_MANAGER,
        Role.APPROVER,
        Role.COMPLIANCE,
        Role.INTEGRATION,
    ):
        token = mint(role, f"{role.value}-1")
        refused = await gql(anonymous, QUEUE, {"c": gid(a)}, token=token)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
        answer = (await gql_data(anonymous, DECIDE, decide, token=token))["decideMatchCandidate"]
        assert answer["code"] == "FORBIDDEN", role
        merge = {"input": {"customerIds": [gid(a), gid(b)]}}
        answer = (await gql_data(anonymous, MERGE, merge, token=token))["mergeCustomers"]
        assert answer["code"] == "FORBIDDEN", role
    assert (
        await _sql(
            endpoints,
            "SELECT status FROM match_candidates WHERE id = $1",
            await _candidate(endpoints, a, b),
        )
    )[0]["status"] == "pending"


async def test_not_the_same_holds_until_a_compared_field_changes(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    a, b = await _pair(engine, endpoints)
    steward = mint(Role.STEWARD, "steward-2")
    candidate = encode_id("MatchCandidate", await _candidate(endpoints, a, b))
    decide = {"input": {"candidateId": candidate, "decision": "NOT_SAME", "note": "双胞胎"}}
    decided = (await gql_data(anonymous, DECIDE, decide, token=steward))["decideMatchCandidate"]
    assert decided == {
        "__typename": "DecideMatchCandidatePayload",
        "candidate": {"status": "NOT_SAME", "decidedBy": "steward-2"},
        "merge": None,
    }
    again = (await gql_data(anonymous, DECIDE, decide, token=steward))["decideMatchCandidate"]
    assert again["code"] == "ALREADY_DECIDED"
    # Matched again with nothing changed: the decision holds, the pair stays out of the queue.
    async with engine.begin() as conn:
        await match_customers(conn, [b.id])
    pending = await gql_data(anonymous, QUEUE, {"c": gid(a)}, token=steward)
    assert pending["matchCandidates"]["edges"] == []
    # A field the matcher compares changes: the pair is proposed again.
    await _sql(
        endpoints,
        "INSERT INTO contact_points (customer_id, kind, value) VALUES ($1, 'email', 'x@example.cn')",
        b.id,
    )
    async with engine.begin() as conn:
        await match_customers(conn, [b.id])
    queue = (await gql_data(anonymous, QUEUE, {"c": gid(a)}, token=steward))["matchCandidates"]
    assert [e["node"]["status"] for e in queue["edges"]] == ["PENDING"]


async def test_a_merge_moves_every_child_kind_and_the_old_id_and_keys_keep_answering(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    a, b = await _pair(engine, endpoints)
    # B's own: a movement, a refusal of marketing, a legal hold, a pending proposal, and a
    # stricter state than A's (A is on watch).
    await _sql(
        endpoints,
        "INSERT INTO fund_movements (holding_id, customer_id, amount, currency, direction, "
        "counterparty_kind, channel, booked_at, external_ref, request_hash, source) "
        "SELECT id, customer_id, 10, 'CNY', 'credit', 'other_bank', 'web_banking', now(), "
        "'MV-' || id, 'h', 'test' FROM holdings WHERE customer_id = $1",
        b.id,
    )
    await _sql(
        endpoints,
        "INSERT INTO consents (customer_id, purpose, channel, granted, version, recorded_at, "
        "source, actor) VALUES ($1, 'marketing', 'all', false, 1, now(), 'counter', 't')",
        b.id,
    )
    await _sql(
        endpoints,
        "INSERT INTO legal_holds (customer_id, reason, until, placed_by) VALUES "
        "($1, 'AML retention', '2030-01-01', 'co')",
        b.id,
    )
    await _sql(
        endpoints,
        "INSERT INTO state_change_proposals (customer_id, from_state, to_state, reason_code, "
        "proposed_by, proposed_at, deadline, base_version, status) VALUES ($1, 'doubtful', "
        "'exit', 'EXIT_PLAN', 'rm', now(), now() + interval '3 days', 3, 'pending')",
        b.id,
    )
    await _sql(
        endpoints, "UPDATE relationship_states SET state = 'doubtful' WHERE customer_id = $1", b.id
    )
    before = await _children(endpoints, a.id, b.id)
    b_rows = {t: {r for r, c in rows if c == b.id} for t, rows in before.items()}
    for table in WHOLESALE:
        assert b_rows[table], table  # B has rows of every kind to move

    steward = mint(Role.STEWARD, "steward-3")
    candidate = encode_id("MatchCandidate", await _candidate(endpoints, a, b))
    decide = {"input": {"candidateId": candidate, "decision": "MERGE", "note": "同一人"}}
    answer = (await gql_data(anonymous, DECIDE, decide, token=steward))["decideMatchCandidate"]
    assert answer["__typename"] == "DecideMatchCandidatePayload", answer
    merge = answer["merge"]
    # Core banking's record survives; the lineage names where each value came from.
    assert (merge["survivorId"], merge["mergedId"], merge["status"]) == (gid(a), gid(b), "MERGED")
    assert answer["candidate"]["status"] == "MERGED"
    lineage = {x["field"]: x for x in merge["lineage"]}
    assert lineage["displayName"]["system"] == "core_banking"
    assert merge["outcomes"]["survivorChosenBy"] == "its source system (core_banking)"

    after = await _children(endpoints, a.id, b.id)
    for table in WHOLESALE:
        assert {r for r, c in after[table] if c == b.id} == set(), table
        assert b_rows[table] <= {r for r, c in after[table] if c == a.id}, table
    # A document of a type A holds stays with B (one per type); B's mobile, which A has, too.
    assert {r for r, c in after["identity_documents"] if c == a.id} == {
        r for r, c in before["identity_documents"] if c == a.id
    }
    # The stricter state wins, with the reason in the history.
    states = await _sql(
        endpoints,
        "SELECT s.state, (SELECT note FROM relationship_state_changes WHERE customer_id = $1 "
        "ORDER BY id DESC LIMIT 1) AS note FROM relationship_states s WHERE customer_id = $1",
        a.id,
    )
    assert states[0]["state"] == "doubtful"
    assert "the stricter state wins" in states[0]["note"]
    # The most restrictive consent; B's pending proposal gives way to none (A had none): moved.
    consents = await _sql(
        endpoints,
        "SELECT granted, source FROM consents WHERE customer_id = $1 AND purpose = 'marketing'",
        a.id,
    )
    assert [(r["granted"], r["source"]) for r in consents] == [(False, "merge")]
    # Two RMs: an ownership conflict for an approver.
    claims = await _sql(
        endpoints, "SELECT status, note FROM ownership_claims WHERE customer_id = $1", a.id
    )
    assert [r["status"] for r in claims] == ["open"]
    assert f"RM {b.rm_id}" in claims[0]["note"]

    # The old id answers the survivor, and says it was merged into it; so does the old key.
    seen = await gql_data(anonymous, PROFILE, {"id": gid(b)}, token=steward)
    assert seen["customer"]["id"] == gid(a)
    assert seen["customer"]["mergedIds"] == [gid(b)]
    assert seen["node"] == {"id": gid(a)}
    by_key = await gql_data(
        anonymous, BY_KEY, {"s": "cards", "k": f"CARD-{b.id}"}, token=mint(Role.AGENT, "ag")
    )
    assert by_key["customerBySourceKey"]["id"] == gid(a)
    # B is no longer changed itself: its survivor is.
    refused = await gql_data(
        anonymous, UPDATE, {"input": {"customerId": gid(b), "displayName": "x"}}, token=steward
    )
    assert refused["updateCustomer"]["code"] == "CUSTOMER_MERGED"
    twice = await gql_data(
        anonymous, MERGE, {"input": {"customerIds": [gid(a), gid(b)]}}, token=steward
    )
    assert twice["mergeCustomers"]["code"] == "ALREADY_MERGED"
    # Announced, and audited with who decided on what evidence.
    events = await _sql(
        endpoints,
        "SELECT payload FROM outbox WHERE topic = 'customer.merged' AND customer_id = $1",
        a.id,
    )
    assert len(events) == 1
    audit = await _sql(
        endpoints,
        "SELECT subject, fields, outcome FROM audit_records WHERE operation = 'mergeCustomers' "
        "AND customer_ids = $1",
        [a.id, b.id],
    )
    assert [(r["subject"], r["outcome"]) for r in audit] == [("steward-3", "merged")]
    assert "name:exact" in audit[0]["fields"]


async def test_an_unmerge_restores_both_records_and_splits_later_rows_by_origin(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    a, b = await _pair(engine, endpoints)
    await _sql(
        endpoints,
        "INSERT INTO consents (customer_id, purpose, channel, granted, version, recorded_at, "
        "source, actor) VALUES ($1, 'marketing', 'sms', false, 1, now(), 'counter', 't')",
        b.id,
    )
    # B acts for a company: the company's contact is the survivor while merged, B again after.
    company = await _sql(
        endpoints,
        "INSERT INTO customers (code, kind, display_name) VALUES ($1, 'corporate', '合并测试公司') "
        "RETURNING id",
        f"C-MERGE-{b.id}",
    )
    await _sql(
        endpoints,
        "INSERT INTO corporate_contacts (corporate_id, person_id, role) VALUES ($1, $2, '财务')",
        company[0]["id"],
        b.id,
    )
    columns = "display_name, birth_date, occupation, employer, income_band, relationship_manager_id"
    fields_before = await _sql(
        endpoints, f"SELECT id, {columns} FROM customers WHERE id = ANY($1)", [a.id, b.id]
    )
    before = await _children(endpoints, a.id, b.id)
    preferred_before = await _sql(
        endpoints,
        "SELECT id, is_preferred FROM contact_points WHERE customer_id = ANY($1)",
        [a.id, b.id],
    )
    steward = mint(Role.STEWARD, "steward-4")
    merged = await gql_data(
        anonymous, MERGE, {"input": {"customerIds": [gid(b), gid(a)]}}, token=steward
    )
    merge_id = merged["mergeCustomers"]["merge"]["id"]
    acting = await _sql(
        endpoints,
        "SELECT person_id FROM corporate_contacts WHERE corporate_id = $1",
        company[0]["id"],
    )
    assert [r["person_id"] for r in acting] == [a.id]

    # Activity after the merge, on both source systems and both ids.
    cards = mint(Role.INTEGRATION, "cards-feed", client_id="cards")
    ref = f"CARD-H-{b.id}"
    opened = await gql_data(
        anonymous,
        UPSERT,
        {
            "input": {
                "sourceRef": ref,
                "customerSourceKey": {"system": "cards", "key": f"CARD-{b.id}"},
                "productCode": "TD-1Y",
                "accountNumber": f"6225{b.id:012d}",
                "currency": "CNY",
                "balance": "800.00",
                "status": "ACTIVE",
                "openedOn": "2026-11-20",
            }
        },
        token=cards,
    )
    assert opened["upsertHolding"]["__typename"] == "UpsertHoldingPayload", opened
    movement = {
        "holdingSourceRef": ref,
        "amount": "50.00",
        "currency": "CNY",
        "direction": "CREDIT",
        "counterpartyKind": "OTHER_BANK",
        "channel": "WEB_BANKING",
        "bookedAt": datetime.now(UTC).isoformat(),
        "externalRef": f"CARD-MV-{b.id}",
    }
    booked = await gql_data(anonymous, FUND, {"input": movement}, token=cards)
    assert booked["recordFundMovement"]["__typename"] == "RecordFundMovementPayload", booked
    agent = mint(Role.AGENT, "agent-9")
    interactions = {}
    for who in (a, b):
        recorded = await gql_data(
            anonymous,
            RECORD,
            {
                "input": {
                    "customerId": gid(who),
                    "channel": "CALL_CENTER",
                    "kind": "INQUIRY",
                    "occurredAt": datetime.now(UTC).isoformat(),
                }
            },
            token=agent,
        )
        interactions[who.id] = recorded["recordInteraction"]["interactionId"]
    # While merged, every new row is the survivor's.
    holding = await _sql(
        endpoints, "SELECT id, customer_id, arrived_for FROM holdings WHERE source_ref = $1", ref
    )
    assert (holding[0]["customer_id"], holding[0]["arrived_for"]) == (a.id, b.id)
    changed = await gql_data(
        anonymous,
        UPDATE,
        {"input": {"customerId": gid(a), "personal": {"occupation": "律师"}}},
        token=steward,
    )
    assert changed["updateCustomer"]["__typename"] == "UpdateCustomerPayload", changed

    undone = await gql_data(anonymous, UNMERGE, {"input": {"mergeId": merge_id}}, token=steward)
    answer = undone["unmergeCustomers"]
    assert answer["__typename"] == "UnmergeCustomersPayload", answer
    assert (answer["merge"]["status"], answer["merge"]["undoneBy"]) == ("UNMERGED", "steward-4")

    # Row by row: everything as before the merge, plus the new rows where they belong — the
    # card feed's holding and its movement and the interaction written by B's old id with B,
    # the interaction written for A with A.
    after = await _children(endpoints, a.id, b.id)
    new_holding = holding[0]["id"]
    new_movement = (
        await _sql(
            endpoints,
            "SELECT id FROM fund_movements WHERE external_ref = $1",
            movement["externalRef"],
        )
    )[0]["id"]
    expected = {table: set(rows) for table, rows in before.items()}
    expected["holdings"].add((new_holding, b.id))
    expected["fund_movements"].add((new_movement, b.id))
    ia, ib = (int(_pk(interactions[x.id])) for x in (a, b))
    expected["interactions"] |= {(ia, a.id), (ib, b.id)}
    for table in (*CHILDREN, "rm_team_members", "corporate_contacts"):
        assert after[table] == expected[table], table
    preferred_after = await _sql(
        endpoints,
        "SELECT id, is_preferred FROM contact_points WHERE customer_id = ANY($1)",
        [a.id, b.id],
    )
    assert sorted(map(tuple, preferred_after)) == sorted(map(tuple, preferred_before))
    # Both records' fields as they were, but for A's occupation, changed after the merge.
    fields_after = {
        r["id"]: dict(r)
        for r in await _sql(
            endpoints, f"SELECT id, {columns} FROM customers WHERE id = ANY($1)", [a.id, b.id]
        )
    }
    for row in fields_before:
        expect = dict(row)
        if row["id"] == a.id:
            expect["occupation"] = "律师"
        assert fields_after[row["id"]] == expect
    assert (await _sql(endpoints, "SELECT merged_into_id FROM customers WHERE id = $1", b.id))[0][
        "merged_into_id"
    ] is None
    seen = await gql_data(anonymous, PROFILE, {"id": gid(b)}, token=steward)
    assert (seen["customer"]["id"], seen["customer"]["mergedIds"]) == (gid(b), [])
    # The pair is not proposed again; a second unmerge is refused.
    status = await _sql(
        endpoints,
        "SELECT status FROM match_candidates WHERE id = $1",
        await _candidate(endpoints, a, b),
    )
    assert status[0]["status"] == "not_same"
    async with engine.begin() as conn:
        await match_customers(conn, [a.id, b.id])
    queue = await gql_data(anonymous, QUEUE, {"c": gid(a)}, token=steward)
    assert queue["matchCandidates"]["edges"] == []
    again = await gql_data(anonymous, UNMERGE, {"input": {"mergeId": merge_id}}, token=steward)
    assert again["unmergeCustomers"]["code"] == "CANNOT_UNMERGE"
    events = await _sql(
        endpoints,
        "SELECT customer_id FROM outbox WHERE topic = 'customer.unmerged' "
        "AND customer_id = ANY($1) ORDER BY customer_id",
        [a.id, b.id],
    )
    assert [r["customer_id"] for r in events] == sorted([a.id, b.id])


def _pk(global_id: str) -> int:
    return decode_id(global_id)[1]


async def test_an_erased_record_is_never_merged_and_a_legal_hold_carries_over(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    steward = mint(Role.STEWARD, "steward-5")
    officer = mint(Role.COMPLIANCE, "co-5")
    a, b = await _pair(engine, endpoints)
    erased = await gql_data(anonymous, ERASE, {"id": gid(b)}, token=officer)
    assert erased["eraseCustomerPersonalData"]["__typename"] == "ErasurePayload"
    before = await _children(endpoints, a.id, b.id)
    refused = await gql_data(
        anonymous, MERGE, {"input": {"customerIds": [gid(a), gid(b)]}}, token=steward
    )
    assert refused["mergeCustomers"]["code"] == "MERGE_ERASED"
    assert await _children(endpoints, a.id, b.id) == before  # nothing moved

    c, d = await _pair(engine, endpoints)
    held = await gql_data(
        anonymous,
        HOLD,
        {
            "input": {
                "customerId": gid(d),
                "reason": "诉讼保全",
                "until": date(2031, 1, 1).isoformat(),
            }
        },
        token=officer,
    )
    assert held["placeLegalHold"]["__typename"] == "LegalHold", held
    merged = await gql_data(
        anonymous, MERGE, {"input": {"customerIds": [gid(c), gid(d)]}}, token=steward
    )
    assert merged["mergeCustomers"]["merge"]["survivorId"] == gid(c)
    # The hold is the survivor's now: erasing the survivor keeps what the hold protects.
    kept = await gql_data(anonymous, ERASE, {"id": gid(c)}, token=officer)
    holds = kept["eraseCustomerPersonalData"]["kept"]
    assert holds, kept
    assert all(k["hold"]["reason"] == "诉讼保全" for k in holds), kept


async def test_erasing_a_survivor_erases_the_records_merged_into_it(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    steward = mint(Role.STEWARD, "steward-6")
    a, b = await _pair(engine, endpoints)
    merged = await gql_data(
        anonymous, MERGE, {"input": {"customerIds": [gid(a), gid(b)]}}, token=steward
    )
    assert merged["mergeCustomers"]["merge"]["survivorId"] == gid(a)
    erased = await gql_data(anonymous, ERASE, {"id": gid(a)}, token=mint(Role.COMPLIANCE, "co"))
    assert erased["eraseCustomerPersonalData"]["__typename"] == "ErasurePayload"
    # The merged record is the same person: its name, birth date and phones go too, and so do
    # the matcher's keys and the merge's snapshots of both.
    rows = await _sql(
        endpoints,
        "SELECT id, display_name, birth_date, erased_at IS NOT NULL AS erased, "
        "(SELECT count(*) FROM contact_points p WHERE p.customer_id = c.id) AS contacts, "
        "(SELECT count(*) FROM customer_match_keys k WHERE k.customer_id = c.id) AS keys "
        "FROM customers c WHERE id = ANY($1) ORDER BY id",
        [a.id, b.id],
    )
    assert [tuple(r)[1:] for r in rows] == [("已删除客户", None, True, 0, 0)] * 2
    snapshots = await _sql(
        endpoints,
        "SELECT survivor_before->>'display_name' AS s, merged_before->>'birth_date' AS m "
        "FROM customer_merges WHERE survivor_id = $1",
        a.id,
    )
    assert [tuple(r) for r in snapshots] == [("已删除客户", None)]


async def test_auto_merge_is_off_by_default_and_merges_per_source_system(
    engine: AsyncEngine, endpoints: Endpoints
) -> None:
    a, b = await _pair(engine, endpoints)
    candidate = await _candidate(endpoints, a, b)
    merges = SqlMerges(engine)
    assert await auto_merge(engine, merges, AutoMerge()) == []  # the default: none
    # A threshold for a system neither record comes from: the pair stays a steward's.
    assert await auto_merge(engine, merges, AutoMerge({"crm": 0.9})) == []
    pending = await _sql(endpoints, "SELECT status FROM match_candidates WHERE id = $1", candidate)
    assert pending[0]["status"] == "pending"
    await auto_merge(engine, merges, AutoMerge({"cards": 0.9}))
    done = await _sql(
        endpoints,
        "SELECT m.survivor_id, m.merged_id, m.decided_by, m.reason, c.status FROM customer_merges m "
        "JOIN match_candidates c ON c.id = m.candidate_id WHERE m.candidate_id = $1",
        candidate,
    )
    assert [tuple(r) for r in done] == [
        (a.id, b.id, "auto-merge", "auto-merge: p ≥ 0.9 for cards, core_banking", "merged")
    ]
    audit = await _sql(
        endpoints,
        "SELECT subject, role FROM audit_records WHERE operation = 'mergeCustomers' "
        "AND customer_ids = $1",
        [a.id, b.id],
    )
    assert [tuple(r) for r in audit] == [("auto-merge", "system")]


async def test_a_survivor_merged_again_takes_its_merged_records_along_and_back(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, endpoints: Endpoints, mint: Minter
) -> None:
    steward = mint(Role.STEWARD, "steward-7")
    a, b = await _pair(engine, endpoints)
    c = await make_customer(engine)
    first = await gql_data(
        anonymous, MERGE, {"input": {"customerIds": [gid(a), gid(b)]}}, token=steward
    )
    assert first["mergeCustomers"]["merge"]["survivorId"] == gid(a)
    second = await gql_data(
        anonymous,
        MERGE,
        {"input": {"customerIds": [gid(a), gid(c)], "survivorId": gid(c)}},
        token=steward,
    )
    # B answers C now, not the record it was merged into (no chains to follow).
    seen = await gql_data(anonymous, PROFILE, {"id": gid(b)}, token=steward)
    assert seen["customer"]["id"] == gid(c)
    assert sorted(seen["customer"]["mergedIds"]) == sorted([gid(a), gid(b)])
    # The first merge can't be undone before the second; the second can, and B answers A again.
    first_id = first["mergeCustomers"]["merge"]["id"]
    refused = await gql_data(anonymous, UNMERGE, {"input": {"mergeId": first_id}}, token=steward)
    assert refused["unmergeCustomers"]["code"] == "CANNOT_UNMERGE"
    second_id = second["mergeCustomers"]["merge"]["id"]
    undone = await gql_data(anonymous, UNMERGE, {"input": {"mergeId": second_id}}, token=steward)
    assert undone["unmergeCustomers"]["__typename"] == "UnmergeCustomersPayload", undone
    seen = await gql_data(anonymous, PROFILE, {"id": gid(b)}, token=steward)
    assert (seen["customer"]["id"], seen["customer"]["mergedIds"]) == (gid(a), [gid(b)])
