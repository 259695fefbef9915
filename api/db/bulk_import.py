"""The import's kinds wired to their PostgreSQL batches: one way in for files
(`quanjing import`) and batch mutations (`upsertCustomers`, `upsertHoldings`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.customer_changes import SqlMasterDataTransaction
from api.db.customer_import import SqlCustomerImportTransaction
from api.db.document_crypto import DocumentCrypto
from api.db.holding_import import SqlHoldingImportTransaction
from api.db.identity import match_import_run
from api.db.import_runs import SqlImportRuns
from api.db.interaction_import import SqlInteractionImportTransaction
from api.db.movement_import import SqlMovementImportTransaction
from api.db.reference_import import SqlReferenceImportTransaction
from api.metrics import IMPORT_RECORDS, IMPORT_RUNS
from domain.customers.history import Author
from domain.imports.batches import ImportTransaction, RecordKind, RunContext
from domain.imports.customer_batch import CustomerImport
from domain.imports.customers import COLUMNS as CUSTOMER_COLUMNS
from domain.imports.holdings import COLUMNS as HOLDING_COLUMNS
from domain.imports.holdings import HoldingImport, apply_pending
from domain.imports.interactions import COLUMNS as INTERACTION_COLUMNS
from domain.imports.interactions import InteractionImport
from domain.imports.movements import COLUMNS as MOVEMENT_COLUMNS
from domain.imports.movements import MovementImport
from domain.imports.records import Tally
from domain.imports.reference import (
    BRANCH_COLUMNS,
    BRANCHES,
    PRODUCT_COLUMNS,
    PRODUCTS,
    STAFF,
    STAFF_COLUMNS,
)
from domain.imports.run import Progress, Read, RunRequest, RunResult, run_import


@dataclass(frozen=True, slots=True)
class ImportKind:
    columns: Mapping[str, str]
    kind: RecordKind[Any, Any]
    # A batch's transaction: (engine, crypto, on_commit) → the kind's unit of work.
    transaction: Callable[[AsyncEngine, DocumentCrypto, Any], ImportTransaction]


KINDS: Mapping[str, ImportKind] = {
    "customers": ImportKind(
        CUSTOMER_COLUMNS,
        CustomerImport(),
        lambda e, c, wake: SqlCustomerImportTransaction(e, c, wake),
    ),
    "holdings": ImportKind(
        HOLDING_COLUMNS,
        HoldingImport(),
        lambda e, _, wake: SqlHoldingImportTransaction(e, wake),
    ),
    "interactions": ImportKind(
        INTERACTION_COLUMNS,
        InteractionImport(),
        lambda e, _, wake: SqlInteractionImportTransaction(e, wake),
    ),
    "movements": ImportKind(
        MOVEMENT_COLUMNS,
        MovementImport(),
        lambda e, _, wake: SqlMovementImportTransaction(e, wake),
    ),
    **{
        kind.name: ImportKind(
            columns, kind, lambda e, _, wake: SqlReferenceImportTransaction(e, wake)
        )
        for kind, columns in (
            (BRANCHES, BRANCH_COLUMNS),
            (PRODUCTS, PRODUCT_COLUMNS),
            (STAFF, STAFF_COLUMNS),
        )
    },
}


class SqlBulkImport:
    def __init__(self, engine: AsyncEngine, crypto: DocumentCrypto, on_commit: Any = None) -> None:
        self._engine = engine
        self._crypto = crypto
        self._on_commit = on_commit  # wakes the outbox relay for the batches' events

    async def run(
        self,
        request: RunRequest,
        lines: Iterable[Read],
        today: date,
        progress: Progress | None = None,
    ) -> RunResult:
        """Run the import; then write the holdings kept for customers that have arrived."""
        kind = KINDS[request.kind]
        runs = SqlImportRuns(self._engine)
        # A file of customers is matched at the run's end, not batch by batch (a batch mutation
        # answers at once, so its batch is matched before it commits).
        deferred = request.kind == "customers" and not request.keep_outcomes

        def transaction() -> Any:
            tx = kind.transaction(self._engine, self._crypto, self._on_commit)
            if deferred and isinstance(tx, SqlMasterDataTransaction):
                tx.match_on_commit = False
            return tx

        try:
            result = await run_import(request, lines, kind.kind, runs, transaction, today, progress)
        except Exception:
            IMPORT_RUNS.labels(request.kind, "failed").inc()
            raise
        IMPORT_RUNS.labels(request.kind, "dry_run" if request.dry_run else "completed").inc()
        tally = result.tally
        for outcome, count in (
            ("inserted", tally.inserted),
            ("updated", tally.updated),
            ("unchanged", tally.unchanged),
            ("superseded", tally.superseded),
            ("pending", tally.pending),
            ("refused", sum(tally.refused.values())),
        ):
            if count:
                IMPORT_RECORDS.labels(request.kind, outcome).inc(count)
        if deferred and not request.dry_run and (result.tally.inserted or result.tally.updated):
            result.matched_pairs = await match_import_run(self._engine, result.run_id)
        if not request.dry_run:
            author = Author(request.actor, request.default_system, f"import-run-{result.run_id}")
            applied: Tally = await apply_pending(
                lambda: SqlHoldingImportTransaction(self._engine, self._on_commit),
                RunContext(result.run_id, request.kind, author, today),
            )
            result.pending_applied = applied
            if applied.records:
                result.refusals = list(await runs.refusals(result.run_id))
        return result
