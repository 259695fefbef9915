"""The baselines: the same work as quanjing with hand-written SQL through asyncpg behind plain
Starlette routes, i.e. what "as fast as the hardware allows" means on this machine.

- `/profile`: the call-center profile — same data, same masking, same read-audit INSERT, same
  JSON shape.
- `/record`: `recordInteraction` with an idempotency key — the same domain validation and
  request fingerprint, the same six statements in one transaction (BEGIN, key claim, customer
  lock, interaction, outbox event and stored response, COMMIT), the same answer.
- `/register`: `registerCustomer` of a person — the same domain validation, one transaction with
  the document check, the customer, its sealed document, its phone, the history entry, the
  event and the audit record, and the record's completeness assessed and kept.
- `/update`: `updateCustomer` renaming a customer — the same name check, the record locked,
  changed with its version, then its history entry and event, and its completeness.

None authenticates a caller nor charges a rate limit: quanjing's cost for those is part of
what the ratios show."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.db.document_crypto import DocumentCrypto
from api.db.rows import customer_from_row
from api.settings import Settings
from domain.access.masking import mask_document, mask_last4
from domain.access.policy import FIELD_POLICIES
from domain.customers.completeness import RecordFacts, assess
from domain.customers.model import ContactKind, CustomerKind, DocumentType
from domain.customers.registration import (
    MAX_NAME,
    NewContactPoint,
    NewCustomer,
    NewDocument,
    NewPersonal,
    clean_text,
    validate_new_customer,
)
from domain.idempotency import request_fingerprint
from domain.ids import encode_id
from domain.interactions import Channel, InteractionKind, NewInteraction, validate_interaction
from domain.products import (
    Holding,
    HoldingStatus,
    Product,
    ProductAudience,
    ProductCategory,
    summarize_holdings,
)

PROFILE_SQL = """
SELECT c.id, c.code, c.kind, c.display_name, c.relationship_manager_id,
  (SELECT json_agg(json_build_object('kind', p.kind, 'value', p.value, 'isPreferred', p.is_preferred)
     ORDER BY p.kind, p.is_preferred DESC, p.id) FROM contact_points p WHERE p.customer_id = c.id) AS contacts,
  (SELECT json_agg(json_build_object('type', d.type, 'key', d.number_key_id,
     'ciphertext', encode(d.number_ciphertext, 'base64')) ORDER BY d.id)
     FROM identity_documents d WHERE d.customer_id = c.id) AS documents,
  (SELECT json_build_object('name', m.name, 'grade', m.grade) FROM relationship_managers m
     WHERE m.id = c.relationship_manager_id) AS rm,
  (SELECT json_build_object('state', s.state, 'since', s.since) FROM relationship_states s
     WHERE s.customer_id = c.id) AS relationship,
  (SELECT json_agg(json_build_object('id', h.id, 'productId', pr.id, 'code', pr.code,
     'name', pr.name, 'category', pr.category, 'accountNumber', h.account_number,
     'currency', h.currency, 'balance', h.balance, 'status', h.status)
     ORDER BY (h.status = 'closed'), h.opened_on, h.id)
     FROM holdings h JOIN products pr ON pr.id = h.product_id WHERE h.customer_id = c.id) AS holdings,
  (SELECT json_agg(x ORDER BY x."occurredAt" DESC, x.id DESC) FROM (
     SELECT i.id, i.occurred_at AS "occurredAt", i.channel, i.kind, i.summary, i.cost
     FROM interactions i WHERE i.customer_id = c.id
     ORDER BY i.occurred_at DESC, i.id DESC LIMIT 20) x) AS interactions,
  (SELECT json_agg(json_build_object('id', t.id, 'kind', t.kind, 'dueAt', t.due_at)
     ORDER BY t.due_at, t.id) FROM tasks t WHERE t.customer_id = c.id AND t.status = 'open') AS tasks
FROM customers c WHERE c.id = $1
"""

AUDIT_SQL = """INSERT INTO audit_records (occurred_at, correlation_id, subject, role, channel,
  purpose, operation, customer_ids, fields, outcome)
  VALUES ($1, $2, 'bench-agent', 'agent', 'unspecified', 'unspecified', 'baseline', $3, $4,
  'returned')"""
FIELDS = [
    "ContactPoint.value:masked",
    "Customer.displayName:clear",
    "Holding.accountNumber:masked",
    "IdentityDocument.number:masked",
]


# recordInteraction's statements, written by hand (api/db/recording_uow.py builds the same).
CLAIM_SQL = """INSERT INTO idempotency_keys (scope, key, operation, request_hash, expires_at)
  VALUES ($1, $2, 'recordInteraction', $3, $4)
  ON CONFLICT (scope, key) DO UPDATE SET operation = 'recordInteraction', request_hash = $3,
    response = NULL, created_at = $5, expires_at = $4
  WHERE idempotency_keys.expires_at < $5
  RETURNING scope"""
PRIOR_SQL = "SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2"
CUSTOMER_SQL = "SELECT relationship_manager_id FROM customers WHERE id = $1 FOR SHARE"
INTERACTION_SQL = """INSERT INTO interactions (customer_id, channel, kind, occurred_at, branch_id,
  staff_code, cost, outcome, summary, satisfaction, offers, products_discussed, recorded_by)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'bench-agent') RETURNING id"""
FLUSH_SQL = """WITH events AS (
    INSERT INTO outbox (customer_id, topic, payload)
    VALUES ($1, 'interaction.recorded', CAST($2 AS jsonb))
  ), response AS (
    UPDATE idempotency_keys SET response = CAST($3 AS jsonb) WHERE scope = $4 AND key = $5
  )
  SELECT 1"""
# registerCustomer's statements, written by hand (api/db/registration_uow.py builds the same).
HOLDER_SQL = "SELECT customer_id FROM identity_documents WHERE type = $1 AND number_hmac = $2"
NEXT_CUSTOMER_SQL = "SELECT nextval(pg_get_serial_sequence('customers', 'id'))"
CUSTOMER_INSERT_SQL = """INSERT INTO customers (id, code, kind, display_name, birth_date,
  credit_status) VALUES ($1, $2, 'personal', $3, $4, 'unknown')"""
DOCUMENT_INSERT_SQL = """INSERT INTO identity_documents (customer_id, type, number_ciphertext,
  number_key_id, number_hmac) VALUES ($1, $2, $3, $4, $5)"""
PHONE_INSERT_SQL = """INSERT INTO contact_points (customer_id, kind, value, is_preferred)
  VALUES ($1, 'phone', $2, true)"""
REGISTERED_SQL = """WITH event AS (INSERT INTO outbox (customer_id, topic, payload)
  VALUES ($1, 'customer.registered', jsonb_build_object('customerId', $1::bigint))),
  history AS (INSERT INTO customer_changes (customer_id, field, category, new_value, actor,
  correlation_id) VALUES ($1, 'lifecycleStatus', 'profile', 'active', 'bench-agent', $3))
  INSERT INTO audit_records (occurred_at, correlation_id, subject, role, channel, purpose,
  operation, customer_ids, fields, outcome)
  VALUES ($2, $3, 'bench-agent', 'agent', 'unspecified', 'unspecified', 'Register',
  ARRAY[$1::bigint], '{}', 'registered')"""
# updateCustomer's statements, written by hand (api/db/customer_changes.py does the same work).
LOCK_CUSTOMER_SQL = "SELECT display_name, version FROM customers WHERE id = $1 FOR UPDATE"
RENAME_SQL = """UPDATE customers SET display_name = $2, version = version + 1,
  updated_at = now() WHERE id = $1 RETURNING version"""
CHANGED_SQL = """WITH event AS (INSERT INTO outbox (customer_id, topic, payload)
  VALUES ($1, 'customer.changed', jsonb_build_object('customerId', $1::bigint,
  'fields', jsonb_build_array('displayName'))))
  INSERT INTO customer_changes (customer_id, field, category, old_value, new_value, actor,
  correlation_id) VALUES ($1, 'displayName', 'profile', $2, $3, 'bench-steward', $4)"""
# A changed record's completeness, assessed by the same domain rule and kept with it.
FACTS_SQL = """SELECT c.*,
  ARRAY(SELECT DISTINCT p.kind FROM contact_points p WHERE p.customer_id = c.id) AS kinds,
  ARRAY(SELECT DISTINCT d.type FROM identity_documents d WHERE d.customer_id = c.id) AS types,
  (SELECT count(*) FROM corporate_contacts k WHERE k.corporate_id = c.id) AS contacts
  FROM customers c WHERE c.id = $1"""
COMPLETENESS_SQL = """UPDATE customers SET completeness = $2, completeness_missing = $3
  WHERE id = $1"""
SCOPE = "agent:bench-agent"
KEY_TTL = timedelta(hours=24)


async def _assess(conn: asyncpg.Connection, customer_id: int) -> None:
    row = await conn.fetchrow(FACTS_SQL, customer_id)
    found = assess(
        RecordFacts(
            customer=customer_from_row(SimpleNamespace(**dict(row))),
            contact_kinds=frozenset(ContactKind(k) for k in row["kinds"]),
            document_types=frozenset(DocumentType(t) for t in row["types"]),
            corporate_contacts=row["contacts"],
        )
    )
    await conn.execute(COMPLETENESS_SQL, customer_id, found.score, list(found.missing))


def _recorded(payload: dict[str, object]) -> Response:
    return Response(
        orjson.dumps({"data": {"recordInteraction": payload}}), media_type="application/json"
    )


def _answer(interaction_id: int, replayed: bool) -> Response:
    return _recorded(
        {
            "__typename": "RecordInteractionPayload",
            "interactionId": encode_id("Interaction", interaction_id),
            "replayed": replayed,
        }
    )


class _Refused(Exception):
    """Raised inside the transaction so that it rolls back, as quanjing's unit of work does."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _holdings_totals(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, list[str]]:
    holdings = [
        Holding(
            id=r["id"],
            customer_id=0,
            product=Product(
                r["productId"],
                r["code"],
                r["name"],
                ProductCategory(r["category"]),
                ProductAudience.ANY,
                r["currency"],
            ),
            account_number=r["accountNumber"],
            currency=r["currency"],
            balance=Decimal(str(r["balance"])),
            credit_limit=None,
            status=HoldingStatus(r["status"]),
            opened_on=datetime.now(UTC).date(),
            closed_on=None,
        )
        for r in rows
    ]
    summary = summarize_holdings(holdings)
    totals = [
        {
            "currency": t.currency,
            "deposits": f"{t.deposits:.2f}",
            "loans": f"{t.loans:.2f}",
            "assetsUnderManagement": f"{t.assets_under_management:.2f}",
        }
        for t in summary.totals
    ]
    return totals, summary.product_count, [c.name for c in summary.categories_held]


def load(value: str | None) -> list[dict[str, Any]]:
    return orjson.loads(value) if value else []


def build_app() -> Starlette:
    settings = Settings.from_env()
    crypto = DocumentCrypto.from_settings(settings)
    mask_contact = FIELD_POLICIES["ContactPoint"]["value"].mask
    assert mask_contact is not None
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=settings.db_pool_size)
        yield
        await pool.close()

    async def profile(request: Request) -> Response:
        customer_id = orjson.loads(await request.body())["id"]
        assert pool is not None
        async with pool.acquire() as conn:
            row = await conn.fetchrow(PROFILE_SQL, customer_id)
            if row is None:
                return Response(
                    orjson.dumps({"data": {"customer": None}}), media_type="application/json"
                )
            await conn.execute(AUDIT_SQL, datetime.now(UTC), "baseline", [customer_id], FIELDS)
        holdings = load(row["holdings"])
        totals, product_count, categories = _holdings_totals(holdings)
        documents = [
            {
                "type": d["type"].upper(),
                "number": mask_document(
                    d["type"],
                    crypto.open(
                        d["type"], d["key"], base64.b64decode(d["ciphertext"]), customer_id
                    ),
                ),
            }
            for d in load(row["documents"])
        ]
        body = {
            "data": {
                "customer": {
                    "id": encode_id("Customer", row["id"]),
                    "code": row["code"],
                    "displayName": row["display_name"],
                    "kind": row["kind"].upper(),
                    "contactPoints": [
                        {
                            "kind": p["kind"].upper(),
                            "value": mask_contact(p["value"]),
                            "isPreferred": p["isPreferred"],
                        }
                        for p in load(row["contacts"])
                    ],
                    "documents": documents,
                    "relationshipManager": orjson.loads(row["rm"]) if row["rm"] else None,
                    "relationship": orjson.loads(row["relationship"])
                    if row["relationship"]
                    else None,
                    "holdings": {
                        "productCount": product_count,
                        "categoriesHeld": categories,
                        "totals": totals,
                        "items": [
                            {
                                "accountNumber": mask_last4(h["accountNumber"]),
                                "balance": f"{h['balance']:.2f}",
                                "status": h["status"].upper(),
                                "product": {"name": h["name"], "category": h["category"].upper()},
                            }
                            for h in holdings
                        ],
                    },
                    "interactions": {"edges": [{"node": i} for i in load(row["interactions"])]},
                    "openTasks": load(row["tasks"]),
                }
            }
        }
        return Response(orjson.dumps(body), media_type="application/json")

    async def record(request: Request) -> Response:
        body = orjson.loads(await request.body())
        now = datetime.now(UTC)
        draft = validate_interaction(
            NewInteraction(
                customer_id=int(body["customerId"]),
                channel=Channel(body["channel"]),
                kind=InteractionKind(body["kind"]),
                occurred_at=datetime.fromisoformat(body["occurredAt"]),
                branch_id=None,
                staff_code=None,
                cost=None,
                outcome=None,
                summary=body.get("summary"),
                offers=(),
                products_discussed=(),
                satisfaction=None,
            ),
            now,
        )
        fingerprint = request_fingerprint("recordInteraction", asdict(draft))
        key = body["idempotencyKey"]
        assert pool is not None
        try:
            return await _write(pool, draft, fingerprint, key, now)
        except _Refused as refused:
            return _recorded({"__typename": "Error", "code": refused.code})

    async def _write(
        pool: asyncpg.Pool, draft: NewInteraction, fingerprint: str, key: str, now: datetime
    ) -> Response:
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(CLAIM_SQL, SCOPE, key, fingerprint, now + KEY_TTL, now) is None:
                prior = await conn.fetchrow(PRIOR_SQL, SCOPE, key)
                if prior["request_hash"] != fingerprint or prior["response"] is None:
                    raise _Refused("IDEMPOTENCY_KEY_REUSED")
                return _answer(orjson.loads(prior["response"])["interactionId"], True)
            if await conn.fetchrow(CUSTOMER_SQL, draft.customer_id) is None:
                raise _Refused("NOT_FOUND")  # the key claimed above is rolled back
            interaction_id = await conn.fetchval(
                INTERACTION_SQL,
                draft.customer_id,
                draft.channel.value,
                draft.kind.value,
                draft.occurred_at,
                draft.branch_id,
                draft.staff_code,
                draft.cost,
                None if draft.outcome is None else draft.outcome.value,
                draft.summary,
                draft.satisfaction,
                list(draft.offers),
                list(draft.products_discussed),
            )
            event = {
                "interactionId": interaction_id,
                "channel": draft.channel.value,
                "kind": draft.kind.value,
                "occurredAt": draft.occurred_at.isoformat(),
            }
            response = {"interactionId": interaction_id, "taskId": None}
            await conn.execute(
                FLUSH_SQL,
                draft.customer_id,
                orjson.dumps(event).decode(),
                orjson.dumps(response).decode(),
                SCOPE,
                key,
            )
        return _answer(interaction_id, False)

    async def register(request: Request) -> Response:
        """registerCustomer's work by hand: the same domain validation, one transaction with
        the customer, its sealed document, its phone, the event and the audit record."""
        body = orjson.loads(await request.body())
        customer = validate_new_customer(
            NewCustomer(
                kind=CustomerKind.PERSONAL,
                display_name=body["displayName"],
                documents=(NewDocument(DocumentType.RESIDENT_ID, body["residentId"]),),
                contact_points=(NewContactPoint(ContactKind.PHONE, body["phone"], None, True),),
                personal=NewPersonal(),
            ),
            datetime.now(UTC).date(),
        )
        document = customer.documents[0]
        assert pool is not None
        assert customer.personal is not None
        async with pool.acquire() as conn, conn.transaction():
            lookup = crypto.lookup_hash(document.type.value, document.number)
            if await conn.fetchval(HOLDER_SQL, document.type.value, lookup) is not None:
                return Response(
                    orjson.dumps({"data": {"registerCustomer": {"code": "DUPLICATE_DOCUMENT"}}}),
                    media_type="application/json",
                )
            customer_id = await conn.fetchval(NEXT_CUSTOMER_SQL)
            await conn.execute(
                CUSTOMER_INSERT_SQL,
                customer_id,
                f"P{customer_id:09d}",
                customer.display_name,
                customer.personal.birth_date,
            )
            sealed = crypto.seal(document.type.value, document.number, customer_id)
            await conn.execute(
                DOCUMENT_INSERT_SQL,
                customer_id,
                document.type.value,
                sealed.ciphertext,
                sealed.key_id,
                sealed.lookup,
            )
            await conn.execute(PHONE_INSERT_SQL, customer_id, customer.contact_points[0].value)
            await conn.execute(REGISTERED_SQL, customer_id, datetime.now(UTC), "baseline")
            await _assess(conn, customer_id)
        return Response(
            orjson.dumps(
                {
                    "data": {
                        "registerCustomer": {
                            "customerId": encode_id("Customer", customer_id),
                            "replayed": False,
                        }
                    }
                }
            ),
            media_type="application/json",
        )

    async def update(request: Request) -> Response:
        """updateCustomer's work by hand: the same validation of the name, the record locked,
        changed with its version, its history entry and event in one more statement."""
        body = orjson.loads(await request.body())
        name = clean_text(body["displayName"], "input.displayName", MAX_NAME, required=True)
        assert pool is not None
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(LOCK_CUSTOMER_SQL, body["customerId"])
            if row is None:
                answer: dict[str, Any] = {"__typename": "NotFoundError"}
            elif row["display_name"] == name:
                answer = {"version": row["version"], "changedFields": []}
            else:
                version = await conn.fetchval(RENAME_SQL, body["customerId"], name)
                await conn.execute(
                    CHANGED_SQL, body["customerId"], row["display_name"], name, "baseline"
                )
                await _assess(conn, body["customerId"])
                answer = {"version": version, "changedFields": ["displayName"]}
        return Response(
            orjson.dumps({"data": {"updateCustomer": answer}}), media_type="application/json"
        )

    return Starlette(
        routes=[
            Route("/profile", profile, methods=["POST"]),
            Route("/record", record, methods=["POST"]),
            Route("/register", register, methods=["POST"]),
            Route("/update", update, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


app = build_app()
