"""The baseline: the same call-center profile with hand-written SQL through asyncpg behind a
plain Starlette route — same data, same masking, same read-audit INSERT, same JSON shape.
This is what "as fast as the hardware allows" means for the profile query."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.document_crypto import DocumentCrypto
from api.settings import Settings
from domain.access.masking import mask_document, mask_last4
from domain.access.policy import FIELD_POLICIES
from domain.products import (
    Holding,
    HoldingStatus,
    Product,
    ProductAudience,
    ProductCategory,
    summarize_holdings,
)
from schema.ids import encode_id

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
                    d["type"], crypto.open(d["type"], d["key"], base64.b64decode(d["ciphertext"]))
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

    return Starlette(routes=[Route("/profile", profile, methods=["POST"])], lifespan=lifespan)


app = build_app()
