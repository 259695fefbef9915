"""upsertCustomers, upsertHoldings: the push path for systems that send rather than drop files.

Up to 1,000 records a request, answered per record; the same code as `quanjing import` (the
records go through the same kinds, in one batch transaction, and the run is recorded), so a
record refused here is refused there for the same reason, and sending a batch again changes
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated

import orjson
import strawberry

from domain.access.principal import Role
from domain.customers.source_keys import may_link
from domain.errors import DomainError, InvalidInput
from domain.ids import encode_id
from domain.imports.customers import COLUMNS as CUSTOMER_COLUMNS
from domain.imports.holdings import COLUMNS as HOLDING_COLUMNS
from domain.imports.records import Outcome, Refusal, SourceRecord
from domain.imports.run import RunRequest, RunResult
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import ForbiddenError, InvalidInputError, error_type
from schema.imports.types import (
    MAX_RECORDS,
    BatchImportPayload,
    CustomerRecordInput,
    HoldingRecordInput,
    ImportRecordError,
    ImportRecordResult,
    record_values,
)

BatchImportResult = Annotated[
    BatchImportPayload | InvalidInputError | ForbiddenError,
    strawberry.union(
        "BatchImportResult",
        description="Each record's outcome, or why the request as a whole was refused (more "
        "than 1,000 records, none, or a role that may not).",
    ),
]
_ID_TYPES = {"customers": "Customer", "holdings": "Holding"}
_KEYS = {"customers": "sourceKey", "holdings": "sourceRef"}


async def _push(
    info: Info,
    root_field: str,
    kind: str,
    records: Sequence[Mapping[str, str | None]],
) -> BatchImportResult:
    context = info.context
    principal = context.principal
    try:
        require(info, root_field)
        if not records or len(records) > MAX_RECORDS:
            raise InvalidInput("input", f"send 1 to {MAX_RECORDS:,} records")
        if context.bulk_import is None:  # wired by api/bootstrap.py in every server
            raise InvalidInput("input", "batch imports are not available here")
    except DomainError as exc:
        return error_type(exc)  # type: ignore[return-value]
    system = principal.client_id if principal.role is Role.INTEGRATION else None
    lines: list[SourceRecord | Refusal] = []
    for index, values in enumerate(records):
        named = values.get("sourceSystem") if kind == "customers" else None
        if kind == "customers" and not may_link(principal, named or system or ""):
            # An integration writes the customers of its own system only (as linkCustomerSourceKey).
            # Refused in the run like any record: counted and in its report.
            lines.append(
                Refusal(
                    index + 1,
                    values.get(_KEYS[kind]),
                    "sourceSystem",
                    "FORBIDDEN",
                    "an integration writes the customers of its own system only",
                )
            )
            continue
        lines.append(SourceRecord(index + 1, values))
    request = RunRequest(
        kind=kind,
        file_name=f"graphql:{root_field}",
        checksum=hashlib.sha256(orjson.dumps(list(records))).hexdigest(),
        actor=principal.subject,
        default_system=system,
        batch_size=MAX_RECORDS,
        keep_outcomes=True,
    )
    result = await context.bulk_import.run(request, lines, datetime.now(UTC).date())
    return _payload(kind, records, result)


def _payload(
    kind: str,
    records: Sequence[Mapping[str, str | None]],
    result: RunResult,
) -> BatchImportPayload:
    refusals = {r.line: r for r in result.refusals}
    results = []
    for index, values in enumerate(records):
        line = index + 1
        outcome, record_id = result.outcomes.get(line, (Outcome.REFUSED, None))
        refusal = refusals.get(line) if outcome is Outcome.REFUSED else None
        results.append(
            ImportRecordResult(
                index=index,
                key=values.get(_KEYS[kind]),
                outcome=outcome,
                id=None
                if record_id is None
                else strawberry.ID(encode_id(_ID_TYPES[kind], record_id)),
                error=None
                if refusal is None
                else ImportRecordError(
                    field=refusal.field, code=refusal.code, message=refusal.message
                ),
            )
        )
    t = result.tally
    return BatchImportPayload(
        run_id=strawberry.ID(encode_id("ImportRun", result.run_id)),
        inserted=t.inserted,
        updated=t.updated,
        unchanged=t.unchanged,
        superseded=t.superseded,
        pending=t.pending,
        refused=sum(t.refused.values()),
        results=results,
    )


@strawberry.type
class ImportMutations:
    @strawberry.mutation(
        description="Register or update up to 1,000 customers by their source keys, as "
        "`quanjing import customers` does (docs/integration.md): each record checked by the "
        "rules of registerCustomer and updateCustomer, the batch written in one transaction, "
        "an answer per record. Sending the same records again changes nothing. Integrations "
        "write the customers of their own system; admins and stewards any."
    )
    async def upsert_customers(
        self,
        info: Info,
        input: list[CustomerRecordInput],
    ) -> BatchImportResult:
        records = [record_values(r, CUSTOMER_COLUMNS) for r in input]
        return await _push(info, "upsertCustomers", "customers", records)

    @strawberry.mutation(
        description="Open, change or close up to 1,000 holdings by their source references, "
        "as `quanjing import holdings` does: each record checked by upsertHolding's rule, "
        "customers by source key (customerSourceSystem defaults to the caller's system), an "
        "answer per record. Sending the same records again changes nothing."
    )
    async def upsert_holdings(
        self,
        info: Info,
        input: list[HoldingRecordInput],
    ) -> BatchImportResult:
        records = [record_values(r, HOLDING_COLUMNS) for r in input]
        return await _push(info, "upsertHoldings", "holdings", records)
