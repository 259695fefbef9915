"""Batch mutations' types: a record per column (the import's own columns, so a file's line and a
pushed record read the same), and the answer per record."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import strawberry

from domain.imports.customers import COLUMNS as CUSTOMER_COLUMNS
from domain.imports.holdings import COLUMNS as HOLDING_COLUMNS
from domain.imports.records import Outcome

MAX_RECORDS = 1_000

strawberry.enum(
    Outcome,
    name="ImportOutcome",
    description="What became of a record: INSERTED, UPDATED, UNCHANGED (nothing written), "
    "SUPERSEDED (a later record of the request has the same key), PENDING (kept until its "
    "customer arrives), REFUSED (see error).",
)


def _snake(column: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", column).lower()


def _record_input(name: str, columns: Mapping[str, str], description: str) -> Any:
    """An input type with one optional text field per column: the import's columns are the one
    definition (docs/integration.md lists them); every value is checked by the domain rules
    and refused per record, never by the schema for the whole request."""
    namespace: dict[str, Any] = {
        "__annotations__": {_snake(c): str | None for c in columns},
        **{
            _snake(c): strawberry.field(default=None, name=c, description=text)
            for c, text in columns.items()
        },
    }
    return strawberry.input(type(name, (), namespace), description=description)


CustomerRecordInput = _record_input(
    "CustomerRecordInput",
    CUSTOMER_COLUMNS,
    "One customer as the source system knows them: the columns of `quanjing import customers`.",
)
HoldingRecordInput = _record_input(
    "HoldingRecordInput",
    HOLDING_COLUMNS,
    "One holding as the source system knows it: the columns of `quanjing import holdings`.",
)


def record_values(record: object, columns: Mapping[str, str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {c: getattr(record, _snake(c)) for c in columns}
    return values


@strawberry.type(description="Why a record was refused: the column at fault and a code.")
class ImportRecordError:
    field: str | None = strawberry.field(description="The column at fault; null: the record.")
    code: str = strawberry.field(description="Stable machine-readable code (docs/integration.md).")
    message: str = strawberry.field(description="Human-readable explanation, safe to show.")


@strawberry.type(description="One record's outcome, in the order sent.")
class ImportRecordResult:
    index: int = strawberry.field(description="The record's position in the input, from 0.")
    key: str | None = strawberry.field(description="The record's source key or reference.")
    outcome: Outcome = strawberry.field(description="What became of it.")
    id: strawberry.ID | None = strawberry.field(
        description="The customer or holding it wrote or named; null when refused or pending."
    )
    error: ImportRecordError | None = strawberry.field(description="Why it was refused.")


@strawberry.type(description="A batch applied: counts, and each record's outcome.")
class BatchImportPayload:
    run_id: strawberry.ID = strawberry.field(description="The import run that recorded it.")
    inserted: int = strawberry.field(description="Records that created a customer or holding.")
    updated: int = strawberry.field(description="Records that changed one.")
    unchanged: int = strawberry.field(description="Records equal to what is stored.")
    superseded: int = strawberry.field(description="Records replaced by a later one of the batch.")
    pending: int = strawberry.field(description="Holdings kept until their customers arrive.")
    refused: int = strawberry.field(description="Records refused (see each result's error).")
    results: list[ImportRecordResult] = strawberry.field(description="Every record, in order.")
