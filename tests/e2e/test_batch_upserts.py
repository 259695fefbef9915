"""upsertCustomers and upsertHoldings: the bulk import's push path — up to 1,000 records a
request, an answer per record, the same rules as the files, and nothing written twice."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from api.ops.embedded import Endpoints
from domain.access.principal import Role
from domain.ids import decode_typed_id
from tests.conftest import Minter
from tests.graphql import gql, gql_data
from tests.import_files import customers, fetch

RESULT = """
  __typename
  ... on BatchImportPayload {
    runId inserted updated unchanged superseded pending refused
    results { index key outcome id error { field code message } }
  }
  ... on Error { code message }
"""
CUSTOMERS = f"""mutation ($input: [CustomerRecordInput!]!) {{
  upsertCustomers(input: $input) {{ {RESULT} }} }}"""
HOLDINGS = f"""mutation ($input: [HoldingRecordInput!]!) {{
  upsertHoldings(input: $input) {{ {RESULT} }} }}"""


RUNS = """query ($kind: String) { importRuns(first: 10, kind: $kind) { nodes {
  id fileName actor status inserted superseded refused { code count }
  refusals(first: 10) { nodes { line key error { field code message } } } } } }"""


def _feed(mint: Minter) -> str:
    return mint(Role.INTEGRATION, "push-feed", client_id="push_feed")


async def _fetch(endpoints: Endpoints, query: str, *args: object) -> list[asyncpg.Record]:
    return await fetch(endpoints.database_url, query, *args)


async def test_customers_are_pushed_with_an_answer_per_record_and_again_change_nothing(
    seeded: int, anonymous: httpx.AsyncClient, mint: Minter, endpoints: Endpoints
) -> None:
    people: list[dict[str, Any]] = list(customers(5, seed=31, prefix="PUSH", region="120101"))
    people[1] = people[1] | {"phone": "12345"}  # refused on its column
    people[2] = people[2] | {"sourceSystem": "core_banking"}  # not the caller's system
    later = people[3] | {"occupation": "后来的职业"}  # the same key later: it wins
    records = [*people, later]

    data = await gql_data(anonymous, CUSTOMERS, {"input": records}, token=_feed(mint))
    payload = data["upsertCustomers"]

    assert payload["__typename"] == "BatchImportPayload"
    assert (payload["inserted"], payload["superseded"], payload["refused"]) == (3, 1, 2)
    outcomes = [(r["index"], r["key"], r["outcome"]) for r in payload["results"]]
    assert outcomes == [
        (0, "PUSH0000000", "INSERTED"),
        (1, "PUSH0000001", "REFUSED"),
        (2, "PUSH0000002", "REFUSED"),
        (3, "PUSH0000003", "SUPERSEDED"),
        (4, "PUSH0000004", "INSERTED"),
        (5, "PUSH0000003", "INSERTED"),
    ]
    errors = [
        (r["index"], r["error"]["field"], r["error"]["code"])
        for r in payload["results"]
        if r["error"]
    ]
    assert errors == [(1, "phone", "INVALID_INPUT"), (2, "sourceSystem", "FORBIDDEN")]
    ids = {
        r["key"]: decode_typed_id(r["id"], "Customer", field="id")
        for r in payload["results"]
        if r["outcome"] == "INSERTED"
    }
    stored = await _fetch(
        endpoints,
        "SELECT k.key, c.id, c.occupation FROM customer_source_keys k JOIN customers c "
        "ON c.id = k.customer_id WHERE k.system = 'push_feed' ORDER BY k.key",
    )
    assert [(r["key"], r["id"]) for r in stored] == sorted(ids.items())
    assert {r["key"]: r["occupation"] for r in stored}["PUSH0000003"] == "后来的职业"

    again = (await gql_data(anonymous, CUSTOMERS, {"input": records}, token=_feed(mint)))[
        "upsertCustomers"
    ]
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert [r["id"] for r in again["results"] if r["outcome"] == "UNCHANGED"] == [
        r["id"] for r in payload["results"] if r["outcome"] == "INSERTED"
    ]

    holdings = [
        {"sourceRef": "PUSH-ACC-1", "customerSourceKey": "PUSH0000000", "productCode": "DEP-CUR",
         "accountNumber": "6222777700000001", "balance": "100.00", "openedOn": "2024-02-01"},
        {"sourceRef": "PUSH-ACC-2", "customerSourceKey": "PUSH9999999", "productCode": "DEP-CUR",
         "accountNumber": "6222777700000002", "balance": "5.00", "openedOn": "2024-02-01"},
    ]  # fmt: skip
    pushed = (await gql_data(anonymous, HOLDINGS, {"input": holdings}, token=_feed(mint)))[
        "upsertHoldings"
    ]
    assert [(r["outcome"], r["error"] and r["error"]["code"]) for r in pushed["results"]] == [
        ("INSERTED", None),
        ("REFUSED", "CUSTOMER_UNKNOWN"),
    ]
    holding = decode_typed_id(pushed["results"][0]["id"], "Holding", field="id")
    owner = await _fetch(endpoints, "SELECT customer_id FROM holdings WHERE id = $1", holding)
    assert owner[0]["customer_id"] == ids["PUSH0000000"]
    runs = await _fetch(
        endpoints,
        "SELECT file_name, actor, status FROM import_runs WHERE actor = 'push-feed' ORDER BY id",
    )
    assert [tuple(r) for r in runs] == [
        ("graphql:upsertCustomers", "push-feed", "completed"),
        ("graphql:upsertCustomers", "push-feed", "completed"),
        ("graphql:upsertHoldings", "push-feed", "completed"),
    ]

    # A data steward reads the runs back, newest first, with each one's refusals.
    steward = mint(Role.STEWARD, "push-steward")
    listed = await gql_data(anonymous, RUNS, {"kind": "customers"}, token=steward)
    first = next(n for n in listed["importRuns"]["nodes"] if n["id"] == payload["runId"])
    assert (first["fileName"], first["actor"], first["status"]) == (
        "graphql:upsertCustomers",
        "push-feed",
        "completed",
    )
    assert (first["inserted"], first["superseded"]) == (3, 1)
    assert first["refused"] == [
        {"code": "FORBIDDEN", "count": 1},
        {"code": "INVALID_INPUT", "count": 1},
    ]
    assert [(r["line"], r["error"]["code"]) for r in first["refusals"]["nodes"]] == [
        (2, "INVALID_INPUT"),
        (3, "FORBIDDEN"),
    ]
    refused = await gql(anonymous, RUNS, {"kind": "customers"}, token=mint(Role.AGENT, "a"))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_batch_too_large_or_from_a_role_that_may_not_is_refused_whole(
    seeded: int, anonymous: httpx.AsyncClient, mint: Minter, endpoints: Endpoints
) -> None:
    too_many = [
        {"sourceKey": f"X{n}", "kind": "PERSONAL", "displayName": "x"} for n in range(1_001)
    ]
    refused = (await gql_data(anonymous, CUSTOMERS, {"input": too_many}, token=_feed(mint)))[
        "upsertCustomers"
    ]
    assert (refused["__typename"], refused["code"]) == ("InvalidInputError", "INVALID_INPUT")
    teller = mint(Role.TELLER, "push-teller", branch="BJ01")
    one = [{"sourceKey": "T1", "kind": "PERSONAL", "displayName": "x"}]
    forbidden = (await gql_data(anonymous, CUSTOMERS, {"input": one}, token=teller))[
        "upsertCustomers"
    ]
    assert forbidden["__typename"] == "ForbiddenError"
    written = await _fetch(
        endpoints, "SELECT 1 FROM customer_source_keys WHERE key IN ('X0', 'T1')"
    )
    assert written == []


async def test_a_full_batch_of_a_thousand_customers_fits_one_request(
    seeded: int, anonymous: httpx.AsyncClient, mint: Minter, endpoints: Endpoints
) -> None:
    people = list(customers(1_000, seed=32, prefix="FULL", region="120102"))
    feed = mint(Role.INTEGRATION, "full-feed", client_id="full_feed")
    data = await gql_data(anonymous, CUSTOMERS, {"input": people}, token=feed)
    payload = data["upsertCustomers"]
    assert (payload["inserted"], payload["refused"]) == (1_000, 0)
    written = await _fetch(
        endpoints, "SELECT count(*) AS n FROM customer_source_keys WHERE system = 'full_feed'"
    )
    assert written[0]["n"] == 1_000


REGISTER = """mutation ($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  __typename ... on InvalidInputError { field } ... on DuplicateDocumentError { field }
  ... on Error { code } } }"""


def _as_registration(record: dict[str, Any]) -> dict[str, Any]:
    """The same customer as registerCustomer's input."""
    personal = record["kind"] == "PERSONAL"
    documents = [
        {"type": t, "number": record[c]}
        for c, t in (("residentId", "RESIDENT_ID"), ("uscc", "UNIFIED_SOCIAL_CREDIT_CODE"))
        if record.get(c)
    ]
    details = {
        k: record[c]
        for c, k in (("birthDate", "birthDate"), ("occupation", "occupation"))
        if record.get(c)
    }
    return {
        "kind": record["kind"],
        "displayName": record["displayName"],
        "documents": documents,
        "contactPoints": [{"kind": "PHONE", "value": record["phone"], "preferred": True}],
        "personal": details if personal else None,
        "corporate": None if personal else {"registeredName": record.get("registeredName", "")},
        "sourceKey": {"system": "same_rules", "key": record["sourceKey"]},
    }


async def test_a_bad_record_is_refused_alike_by_registration_and_by_the_import(
    seeded: int, anonymous: httpx.AsyncClient, mint: Minter
) -> None:
    """One implementation of every rule: the batch path's set-based lookups (keys, documents)
    feed the same domain decisions as registerCustomer's, so the same bad records get the same
    codes on the same fields (the input path's last part names the import's column)."""
    base = list(customers(8, seed=33, prefix="SAME", region="120103"))
    taken = base[0]
    faults = [
        base[1]
        | {
            "residentId": base[1]["residentId"][:-1]
            + ("1" if base[1]["residentId"][-1] != "1" else "2")
        },
        base[2] | {"phone": "12345"},
        base[3] | {"birthDate": "2999-01-01"},
        base[4] | {"displayName": " "},
        base[5] | {"residentId": taken["residentId"]},  # held by another customer
        base[6] | {"occupation": "x" * 101},
    ]
    feed = mint(Role.INTEGRATION, "same-rules", client_id="same_rules")
    first = await gql_data(anonymous, REGISTER, {"input": _as_registration(taken)}, token=feed)
    assert first["registerCustomer"]["__typename"] == "RegisterCustomerPayload"

    by_mutation = []
    for record in faults:
        answer = (
            await gql_data(anonymous, REGISTER, {"input": _as_registration(record)}, token=feed)
        )["registerCustomer"]
        code = (
            "DUPLICATE_DOCUMENT"
            if answer["__typename"] == "DuplicateDocumentError"
            else answer["code"]
        )
        by_mutation.append((code, answer.get("field")))
    pushed = (await gql_data(anonymous, CUSTOMERS, {"input": faults}, token=feed))[
        "upsertCustomers"
    ]
    by_import = [(r["error"]["code"], r["error"]["field"]) for r in pushed["results"]]

    assert by_mutation == [
        ("INVALID_INPUT", "input.documents[0].number"),
        ("INVALID_INPUT", "input.contactPoints[0].value"),
        ("INVALID_INPUT", "input.personal.birthDate"),
        ("INVALID_INPUT", "input.displayName"),
        ("DUPLICATE_DOCUMENT", "input.documents[0].number"),
        ("INVALID_INPUT", "input.personal.occupation"),
    ]
    # The same rule on the same field: the import names the column the field came from.
    assert by_import == [
        ("INVALID_INPUT", "residentId"),
        ("INVALID_INPUT", "phone"),
        ("INVALID_INPUT", "birthDate"),
        ("INVALID_INPUT", "displayName"),
        ("DUPLICATE_DOCUMENT", "residentId"),
        ("INVALID_INPUT", "occupation"),
    ]
