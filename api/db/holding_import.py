"""A batch of imported holdings in PostgreSQL (domain/imports/holdings.py): keys, codes and
references resolved in one statement each, new holdings by COPY, changed ones by one UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import text

from api.db.customer_changes import SqlMasterDataTransaction
from api.db.import_runs import CHANGE_COLUMNS, SqlImportTransaction, change_row
from domain.customers.history import FieldChange
from domain.customers.model import LifecycleStatus
from domain.imports.batches import RunContext
from domain.imports.holdings import HoldingRecord, HoldingWrite, StoredHolding
from domain.imports.records import SourceRecord
from domain.products import HoldingStatus
from domain.recording import HoldingChange

_PRODUCTS = text(
    "SELECT code, id, retired_at IS NOT NULL AS retired FROM products WHERE code = ANY(:codes)"
)
_HOLDINGS = text(
    """
    SELECT h.*, p.code AS product_code FROM holdings h JOIN products p ON p.id = h.product_id
    WHERE h.source_ref = ANY(:refs)
    ORDER BY h.id
    FOR UPDATE OF h
    """
)
_UPDATE = text(
    """
    UPDATE holdings h SET product_id = u.product_id, account_number = u.account_number,
      currency = u.currency, balance = u.balance, credit_limit = u.credit_limit,
      status = u.status, opened_on = u.opened_on, closed_on = u.closed_on
    FROM unnest(CAST(:ids AS bigint[]), CAST(:products AS bigint[]), CAST(:accounts AS text[]),
                CAST(:currencies AS text[]), CAST(:balances AS numeric[]),
                CAST(:limits AS numeric[]), CAST(:statuses AS text[]),
                CAST(:opened AS date[]), CAST(:closed AS date[]))
      AS u(id, product_id, account_number, currency, balance, credit_limit, status, opened_on,
           closed_on)
    WHERE h.id = u.id
    """
)
_CONVERT = text(
    """
    UPDATE customers SET lifecycle_status = 'active', converted_at = now(),
      version = version + 1, updated_at = now()
    WHERE id = ANY(CAST(:ids AS bigint[])) AND lifecycle_status = 'prospect'
    RETURNING id
    """
)
_DEFER = text(
    """
    INSERT INTO import_pending (kind, source_ref, customer_system, customer_key, run_id, line,
      record)
    SELECT 'holdings', d.ref, d.system, d.key, :run_id, d.line, CAST(d.record AS jsonb)
    FROM unnest(CAST(:refs AS text[]), CAST(:systems AS text[]), CAST(:keys AS text[]),
                CAST(:lines AS bigint[]), CAST(:records AS text[]))
      AS d(ref, system, key, line, record)
    ON CONFLICT (kind, source_ref) DO UPDATE SET customer_system = excluded.customer_system,
      customer_key = excluded.customer_key, run_id = excluded.run_id, line = excluded.line,
      record = excluded.record, created_at = now()
    """
)
_READY = text(
    """
    SELECT p.id, p.line, p.record FROM import_pending p
    JOIN customer_source_keys k ON k.system = p.customer_system AND k.key = p.customer_key
    WHERE p.kind = 'holdings'
    ORDER BY p.id
    LIMIT :limit
    FOR UPDATE OF p SKIP LOCKED
    """
)
_HOLDING_COLUMNS = (
    "customer_id", "product_id", "account_number", "currency", "balance", "credit_limit",
    "status", "opened_on", "closed_on", "source_ref",
)  # fmt: skip


class SqlHoldingImportTransaction(SqlImportTransaction, SqlMasterDataTransaction):
    async def products(self, codes: Sequence[str]) -> dict[str, tuple[int, bool]]:
        rows = await self.conn.execute(_PRODUCTS, {"codes": list(codes)})
        return {r.code: (r.id, r.retired) for r in rows}

    async def holdings(self, refs: Sequence[str]) -> dict[str, StoredHolding]:
        rows = await self.conn.execute(_HOLDINGS, {"refs": list(refs)})
        return {
            r.source_ref: StoredHolding(
                r.id,
                r.customer_id,
                HoldingChange(
                    source_ref=r.source_ref,
                    customer_id=r.customer_id,
                    product_code=r.product_code,
                    account_number=r.account_number,
                    currency=r.currency,
                    balance=r.balance,
                    credit_limit=r.credit_limit,
                    status=HoldingStatus(r.status),
                    opened_on=r.opened_on,
                    closed_on=r.closed_on,
                ),
            )
            for r in rows
        }

    async def write_holdings(self, writes: Sequence[HoldingWrite]) -> dict[str, int]:
        new = [w for w in writes if w.holding_id is None]
        changed = [w for w in writes if w.holding_id is not None]
        if new:
            driver = await self.driver()
            await driver.copy_records_to_table(
                "holdings",
                records=[
                    (
                        w.change.customer_id,
                        w.product_id,
                        w.change.account_number,
                        w.change.currency,
                        w.change.balance,
                        w.change.credit_limit,
                        w.change.status.value,
                        w.change.opened_on,
                        w.change.closed_on,
                        w.change.source_ref,
                    )
                    for w in new
                ],
                columns=_HOLDING_COLUMNS,
            )
        # What was kept for these references is older than what was just written.
        await self.conn.execute(
            text("DELETE FROM import_pending WHERE kind = 'holdings' AND source_ref = ANY(:refs)"),
            {"refs": [w.change.source_ref for w in writes]},
        )
        if changed:
            await self.conn.execute(
                _UPDATE,
                {
                    "ids": [w.holding_id for w in changed],
                    "products": [w.product_id for w in changed],
                    "accounts": [w.change.account_number for w in changed],
                    "currencies": [w.change.currency for w in changed],
                    "balances": [w.change.balance for w in changed],
                    "limits": [w.change.credit_limit for w in changed],
                    "statuses": [w.change.status.value for w in changed],
                    "opened": [w.change.opened_on for w in changed],
                    "closed": [w.change.closed_on for w in changed],
                },
            )
        if not new:
            return {}
        rows = await self.conn.execute(
            text("SELECT source_ref, id FROM holdings WHERE source_ref = ANY(:refs)"),
            {"refs": [w.change.source_ref for w in new]},
        )
        return {r.source_ref: r.id for r in rows}

    async def convert_prospects(self, customer_ids: Sequence[int], run: RunContext) -> list[int]:
        if not customer_ids:
            return []
        converted = [r.id for r in await self.conn.execute(_CONVERT, {"ids": list(customer_ids)})]
        if converted:
            entry = FieldChange.of(
                "lifecycleStatus", LifecycleStatus.PROSPECT, LifecycleStatus.ACTIVE
            )
            system = run.author.source_system or "import"
            driver = await self.driver()
            await driver.copy_records_to_table(
                "customer_changes",
                records=[change_row(cid, entry, run, system) for cid in converted],
                columns=CHANGE_COLUMNS,
            )
        return converted

    async def defer(self, run_id: int, records: Sequence[HoldingRecord]) -> None:
        await self.conn.execute(
            _DEFER,
            {
                "run_id": run_id,
                "refs": [r.change.source_ref for r in records],
                "systems": [r.customer_key.system for r in records],
                "keys": [r.customer_key.key for r in records],
                "lines": [r.line for r in records],
                # The key's system as resolved: a later run may have another --system.
                "records": [
                    orjson.dumps(
                        dict(r.source.values) | {"customerSourceSystem": r.customer_key.system}
                    ).decode()
                    for r in records
                ],
            },
        )

    async def ready(self, limit: int) -> list[tuple[int, SourceRecord]]:
        rows = await self.conn.execute(_READY, {"limit": limit})
        return [(r.id, SourceRecord(r.line, r.record)) for r in rows]

    async def forget(self, ids: Sequence[int]) -> None:
        await self.conn.execute(
            text("DELETE FROM import_pending WHERE id = ANY(:ids)"), {"ids": list(ids)}
        )
