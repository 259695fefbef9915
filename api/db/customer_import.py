"""A batch of imported customers in PostgreSQL (domain/imports/customer_batch.py): the batch's
source keys staged by COPY and joined, documents looked up by their hashes in one statement,
new customers written by COPY into each table, changes by one statement per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.completeness import refresh_completeness
from api.db.customer_changes import COLUMNS, SqlMasterDataTransaction, _column_value
from api.db.document_crypto import DocumentCrypto
from api.db.import_runs import CHANGE_COLUMNS, SqlImportTransaction, change_row
from api.db.rows import customer_from_row
from api.db.tables import BranchRow, CustomerRow
from domain.access.masking import mask_document
from domain.customers.documents import resident_id_birth_date
from domain.customers.history import FieldChange
from domain.customers.model import ContactKind, Customer, CustomerKind, DocumentType
from domain.customers.registration import NewDocument
from domain.customers.source_keys import SourceKey
from domain.imports.batches import RunContext
from domain.imports.customer_batch import HeldContact, KnownCustomer, NewRecord, RecordChange
from domain.search import name_pinyin

_customers = CustomerRow.__table__
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS import_key_stage (n int, system text, key text)
ON COMMIT DELETE ROWS
"""
_KNOWN = text(
    """
    SELECT s.n, k.customer_id, k.fingerprint, c.erased_at IS NOT NULL AS erased
    FROM import_key_stage s
    JOIN customer_source_keys k ON k.system = s.system AND k.key = s.key
    JOIN customers c ON c.id = k.customer_id
    """
)
_HOLDERS = text(
    """
    SELECT d.type, d.number_hmac, d.customer_id
    FROM unnest(CAST(:types AS text[]), CAST(:hashes AS bytea[])) AS s(type, hmac)
    JOIN identity_documents d ON d.type = s.type AND d.number_hmac = s.hmac
    """
)
_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, :n)"
)
_FINGERPRINTS = text(
    """
    UPDATE customer_source_keys k SET fingerprint = f.fingerprint
    FROM unnest(CAST(:systems AS text[]), CAST(:keys AS text[]), CAST(:prints AS bytea[]))
      AS f(system, key, fingerprint)
    WHERE k.system = f.system AND k.key = f.key
    """
)
_BUMP = text(
    """
    UPDATE customers SET version = version + 1, updated_at = now()
    WHERE id = ANY(CAST(:ids AS bigint[]))
    """
)
_CUSTOMER_COLUMNS = (
    "id", "code", "kind", "display_name", "home_branch_id", "preferred_channel",
    "preferred_language", "gender", "birth_date", "occupation", "employer", "income_band",
    "asset_band", "credit_status", "ownership_type", "business_scale", "industry",
    "registered_name", "lifecycle_status",
    # The KYC fields beyond registration (domain/imports/customers.py KYC_COLUMNS).
    "credit_status_source", "lifecycle_stage", "asset_structure", "liability_sources",
    "financing_modes", "credit_record",
    # Spelled here rather than by the database's trigger: per row, the trigger's function
    # cost the initial import of 100,000 customers about 15 % (docs/benchmarks.md).
    "name_pinyin",
)  # fmt: skip


class SqlCustomerImportTransaction(SqlImportTransaction, SqlMasterDataTransaction):
    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto, on_commit: Any = None) -> None:
        super().__init__(engine, on_commit)
        self._crypto = crypto

    async def branch_ids(self, codes: Sequence[str]) -> dict[str, int]:
        rows = await self.conn.execute(
            select(BranchRow.code, BranchRow.id).where(
                BranchRow.code.in_(codes), BranchRow.retired_at.is_(None)
            )
        )
        return {r.code: r.id for r in rows}

    async def known_customers(self, keys: Sequence[SourceKey]) -> dict[SourceKey, KnownCustomer]:
        driver = await self.driver()
        await driver.execute(_STAGE)
        await driver.copy_records_to_table(
            "import_key_stage",
            records=[(n, k.system, k.key) for n, k in enumerate(keys)],
            columns=("n", "system", "key"),
        )
        rows = await self.conn.execute(_KNOWN)
        return {keys[r.n]: KnownCustomer(r.customer_id, r.fingerprint, r.erased) for r in rows}

    async def document_holders(
        self, documents: Sequence[NewDocument]
    ) -> dict[tuple[DocumentType, str], int]:
        by_hash = {
            (d.type.value, h): (d.type, d.number)
            for d in documents
            for h in self._crypto.lookup_hashes(d.type.value, d.number)
        }
        rows = await self.conn.execute(
            _HOLDERS,
            {"types": [t for t, _ in by_hash], "hashes": [h for _, h in by_hash]},
        )
        return {by_hash[(r.type, r.number_hmac)]: r.customer_id for r in rows}

    async def customers_for_update(self, ids: Sequence[int]) -> dict[int, Customer]:
        rows = await self.conn.execute(
            select(_customers)
            .where(_customers.c.id.in_(ids))
            .order_by(_customers.c.id)  # in one order: two runs never deadlock
            .with_for_update()
        )
        return {r.id: customer_from_row(r) for r in rows}

    async def held_document_types(self, ids: Sequence[int]) -> dict[int, set[DocumentType]]:
        rows = await self.conn.execute(
            text("SELECT customer_id, type FROM identity_documents WHERE customer_id = ANY(:ids)"),
            {"ids": list(ids)},
        )
        held: dict[int, set[DocumentType]] = defaultdict(set)
        for r in rows:
            held[r.customer_id].add(DocumentType(r.type))
        return held

    async def resident_birth_dates(self, ids: Sequence[int]) -> dict[int, date]:
        if not ids:
            return {}
        rows = await self.conn.execute(
            text(
                "SELECT customer_id, number_ciphertext, number_key_id FROM identity_documents "
                "WHERE customer_id = ANY(:ids) AND type = 'resident_id'"
            ),
            {"ids": list(ids)},
        )
        return {
            r.customer_id: resident_id_birth_date(
                self._crypto.open(
                    DocumentType.RESIDENT_ID.value,
                    r.number_key_id,
                    r.number_ciphertext,
                    r.customer_id,
                )
            )
            for r in rows
        }

    async def held_contacts(self, ids: Sequence[int]) -> dict[int, list[HeldContact]]:
        rows = await self.conn.execute(
            text(
                "SELECT customer_id, kind, value, is_preferred FROM contact_points "
                "WHERE customer_id = ANY(:ids)"
            ),
            {"ids": list(ids)},
        )
        held: dict[int, list[HeldContact]] = defaultdict(list)
        for r in rows:
            held[r.customer_id].append(HeldContact(ContactKind(r.kind), r.value, r.is_preferred))
        return held

    async def insert_customers(self, records: Sequence[NewRecord], run: RunContext) -> list[int]:
        ids = [r[0] for r in await self.conn.execute(_NEXT_IDS, {"n": len(records)})]
        customers, documents, contacts, keys, changes = [], [], [], [], []
        author = run.author
        for customer_id, new in zip(ids, records, strict=True):
            c = new.record.customer
            p, k = c.personal, c.corporate
            kyc = {COLUMNS[path]: value for path, value in new.record.kyc.items()}
            prefix = "P" if c.kind is CustomerKind.PERSONAL else "C"
            customers.append(
                (
                    customer_id,
                    f"{prefix}{customer_id:09d}",
                    c.kind.value,
                    c.display_name,
                    new.branch_id,
                    _column_value(c.preferred_channel),
                    c.preferred_language,
                    None if p is None else _column_value(p.gender),
                    None if p is None else p.birth_date,
                    None if p is None else p.occupation,
                    None if p is None else p.employer,
                    None if p is None else _column_value(p.income_band),
                    None if p is None else _column_value(p.asset_band),
                    None if p is None else _column_value(kyc.get("credit_status", "unknown")),
                    None if k is None else _column_value(k.ownership_type),
                    None if k is None else _column_value(k.business_scale),
                    None if k is None else k.industry,
                    None if k is None else k.registered_name,
                    "prospect" if c.prospect else "active",
                    kyc.get("credit_status_source"),
                    _column_value(kyc.get("lifecycle_stage")),
                    kyc.get("asset_structure"),
                    kyc.get("liability_sources"),
                    kyc.get("financing_modes"),
                    kyc.get("credit_record"),
                    name_pinyin(c.display_name),
                )
            )
            for d in c.documents:
                sealed = self._crypto.seal(d.type.value, d.number, customer_id)
                documents.append(
                    (
                        customer_id,
                        d.type.value,
                        sealed.ciphertext,
                        sealed.key_id,
                        sealed.lookup,
                        d.issuing_country,
                    )
                )
            contacts += [
                (customer_id, cp.kind.value, cp.value, cp.label, cp.preferred)
                for cp in c.contact_points
            ]
            key = new.record.key
            keys.append((customer_id, key.system, key.key, author.actor, new.record.fingerprint))
            status = "prospect" if c.prospect else "active"
            changes.append(
                change_row(
                    customer_id, FieldChange("lifecycleStatus", None, status), run, key.system
                )
            )
        driver = await self.driver()
        await driver.copy_records_to_table(
            "customers", records=customers, columns=_CUSTOMER_COLUMNS
        )
        await driver.copy_records_to_table(
            "identity_documents",
            records=documents,
            columns=(
                "customer_id",
                "type",
                "number_ciphertext",
                "number_key_id",
                "number_hmac",
                "issuing_country",
            ),
        )
        await driver.copy_records_to_table(
            "contact_points",
            records=contacts,
            columns=("customer_id", "kind", "value", "label", "is_preferred"),
        )
        await driver.copy_records_to_table(
            "customer_source_keys",
            records=keys,
            columns=("customer_id", "system", "key", "created_by", "fingerprint"),
        )
        await driver.copy_records_to_table(
            "customer_changes", records=changes, columns=CHANGE_COLUMNS
        )
        return ids

    async def apply_changes(self, changes: Sequence[RecordChange], run: RunContext) -> None:
        # One UPDATE per set of columns changed: a feed changes a few fields at a time, and
        # records changing the same fields share one statement.
        by_columns: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
        for change in changes:
            if change.values:
                columns = tuple(sorted(COLUMNS[p] for p in change.values))
                row = {COLUMNS[p]: _column_value(v) for p, v in change.values.items()}
                by_columns[columns].append({"_id": change.customer_id, **row})
        for columns, rows in by_columns.items():
            await self.conn.execute(
                update(CustomerRow)
                .where(CustomerRow.id == bindparam("_id"))
                .values({c: bindparam(c) for c in columns}),
                rows,
            )
        history = [
            change_row(c.customer_id, entry, run, c.key.system)
            for c in changes
            for entry in c.changes
        ]
        systems = {c.customer_id: c.key.system for c in changes}
        documents = []
        contacts = []
        for change in changes:
            for d in change.documents:
                sealed = self._crypto.seal(d.type.value, d.number, change.customer_id)
                documents.append(
                    {
                        "customer_id": change.customer_id,
                        "type": d.type.value,
                        "number_ciphertext": sealed.ciphertext,
                        "number_key_id": sealed.key_id,
                        "number_hmac": sealed.lookup,
                        "issuing_country": d.issuing_country,
                        "masked": mask_document(d.type.value, d.number),
                    }
                )
            contacts += [
                {
                    "customer_id": change.customer_id,
                    "kind": cp.kind.value,
                    "value": cp.value,
                    "label": cp.label,
                    "is_preferred": cp.preferred,
                }
                for cp in change.contacts
            ]
        if documents:
            added = await self.conn.execute(
                text(
                    """
                    INSERT INTO identity_documents (customer_id, type, number_ciphertext,
                      number_key_id, number_hmac, issuing_country)
                    SELECT * FROM unnest(CAST(:c AS bigint[]), CAST(:t AS text[]),
                      CAST(:x AS bytea[]), CAST(:k AS text[]), CAST(:h AS bytea[]),
                      CAST(:i AS text[]))
                    RETURNING id, customer_id, type
                    """
                ),
                _columns(
                    documents,
                    c="customer_id",
                    t="type",
                    x="number_ciphertext",
                    k="number_key_id",
                    h="number_hmac",
                    i="issuing_country",
                ),
            )
            ids = {(r.customer_id, r.type): r.id for r in added}
            history += [
                change_row(
                    d["customer_id"],  # type: ignore[arg-type]
                    FieldChange(
                        "documents.number",
                        None,
                        d["masked"],  # type: ignore[arg-type]
                        ids[(d["customer_id"], d["type"])],
                    ),
                    run,
                    systems[d["customer_id"]],  # type: ignore[index]
                )
                for d in documents
            ]
        if contacts:
            added = await self.conn.execute(
                text(
                    """
                    INSERT INTO contact_points (customer_id, kind, value, label, is_preferred)
                    SELECT * FROM unnest(CAST(:c AS bigint[]), CAST(:k AS text[]),
                      CAST(:v AS text[]), CAST(:l AS text[]), CAST(:p AS boolean[]))
                    RETURNING id, customer_id, value
                    """
                ),
                _columns(
                    contacts, c="customer_id", k="kind", v="value", l="label", p="is_preferred"
                ),
            )
            history += [
                change_row(
                    r.customer_id,
                    FieldChange("contactPoints.value", None, r.value, r.id),
                    run,
                    systems[r.customer_id],
                )
                for r in added
            ]
        if history:
            driver = await self.driver()
            await driver.copy_records_to_table(
                "customer_changes", records=history, columns=CHANGE_COLUMNS
            )
        await self.conn.execute(_BUMP, {"ids": [c.customer_id for c in changes]})
        await self.keep_fingerprints({c.key: c.fingerprint for c in changes})

    async def keep_fingerprints(self, keys: Mapping[SourceKey, bytes]) -> None:
        await self.conn.execute(
            _FINGERPRINTS.bindparams(bindparam("prints", type_=ARRAY(BYTEA))),
            {
                "systems": [k.system for k in keys],
                "keys": [k.key for k in keys],
                "prints": list(keys.values()),
            },
        )

    async def refresh_completeness(self, ids: Sequence[int]) -> None:
        await refresh_completeness(self.conn, ids)
        self.rematch(ids)  # the batch's new and changed records, against the base


def _columns(rows: Sequence[Mapping[str, object]], **names: str) -> dict[str, list[object]]:
    return {param: [row[column] for row in rows] for param, column in names.items()}
