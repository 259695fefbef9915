"""Holdings from the bank's systems (the `holdings` kind): one account or contract per record,
keyed by the source system's reference, its customer named by their source key.

Each record is checked by `validate_holding_change`, the rule `upsertHolding` applies; a batch
then asks, once each: which customers the keys name, which products the codes name, which
holdings the references name. A record equal to the holding as stored writes nothing. A
prospect's first opened holding makes them a customer, as through the mutation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from domain.customers.source_keys import SourceKey
from domain.errors import DomainError, InvalidInput
from domain.imports.batches import (
    BATCH_TOPIC,
    BatchResult,
    ImportTransaction,
    RunContext,
    last_wins,
)
from domain.imports.customers import check_text, parse_date, parse_enum, required, source_key_of
from domain.imports.records import Outcome, SourceRecord, Tally
from domain.products import HoldingStatus
from domain.recording import HoldingChange, validate_holding_change

COLUMNS: Mapping[str, str] = {
    "sourceRef": "the holding's reference in its source system, unique there (required)",
    "customerSourceSystem": "the system whose key names the customer (default: --system, or the calling integration's)",
    "customerSourceKey": "the customer's key in that system (required)",
    "productCode": "the product's code in quanjing's catalogue (required)",
    "accountNumber": "account, card or contract number (required)",
    "currency": "ISO 4217 (default CNY)",
    "balance": "the balance, at most 2 decimals (required)",
    "creditLimit": "a card's or facility's limit, at most 2 decimals",
    "status": "ACTIVE, DORMANT or CLOSED (default ACTIVE)",
    "openedOn": "YYYY-MM-DD or YYYYMMDD (required)",
    "closedOn": "the closing date of a CLOSED holding",
}


@dataclass(frozen=True, slots=True)
class HoldingRecord:
    line: int
    change: HoldingChange  # validated; its customer_id 0 until the key is resolved
    customer_key: SourceKey
    source: SourceRecord  # as read: what a deferred record is kept as


@dataclass(frozen=True, slots=True)
class StoredHolding:
    id: int
    customer_id: int
    change: HoldingChange  # as stored, for the comparison


@dataclass(frozen=True, slots=True)
class HoldingWrite:
    change: HoldingChange  # with its customer
    product_id: int
    holding_id: int | None  # None: a new holding
    line: int


class HoldingImportTransaction(ImportTransaction, Protocol):
    async def customer_ids(self, keys: Sequence[SourceKey]) -> dict[SourceKey, int]:
        """The customers these keys name (erased ones left out)."""
        ...

    async def products(self, codes: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """Product code → (id, retired)."""
        ...

    async def holdings(self, refs: Sequence[str]) -> dict[str, StoredHolding]:
        """The holdings these references name, locked until the commit."""
        ...

    async def write_holdings(self, writes: Sequence[HoldingWrite]) -> dict[str, int]:
        """Insert the new ones, update the others: one statement each; the new holdings' ids
        by reference."""
        ...

    async def convert_prospects(self, customer_ids: Sequence[int], run: RunContext) -> list[int]:
        """Make those still prospects active customers (the conversion in their history and
        version); the ids converted."""
        ...

    async def defer(self, run_id: int, records: Sequence[HoldingRecord]) -> None:
        """Keep the records until their customers arrive (a later record of the same
        reference replaces a kept one); writing a reference forgets what was kept for it."""
        ...

    async def ready(self, limit: int) -> list[tuple[int, SourceRecord]]:
        """Kept records whose customers have arrived, locked: (their id, the record)."""
        ...

    async def forget(self, ids: Sequence[int]) -> None: ...


def parse_amount(text: str | None, column: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation as exc:
        raise InvalidInput(column, "not a number") from exc
    return value


def holding_record(record: SourceRecord, default_system: str | None, today: date) -> HoldingRecord:
    check_text(record)
    key = source_key_of(
        record,
        default_system,
        system_column="customerSourceSystem",
        key_column="customerSourceKey",
    )
    balance = parse_amount(required(record, "balance"), "balance")
    assert balance is not None
    change = HoldingChange(
        source_ref=required(record, "sourceRef"),
        customer_id=0,
        product_code=required(record, "productCode"),
        account_number=required(record, "accountNumber"),
        currency=(record.get("currency") or "CNY").strip().upper(),
        balance=balance,
        credit_limit=parse_amount(record.get("creditLimit"), "creditLimit"),
        status=parse_enum(HoldingStatus, record.get("status"), "status") or HoldingStatus.ACTIVE,
        opened_on=parse_date(required(record, "openedOn"), "openedOn") or today,
        closed_on=parse_date(record.get("closedOn"), "closedOn"),
    )
    return HoldingRecord(record.line, validate_holding_change(change, today), key, record)


class HoldingImport:
    """The `holdings` kind."""

    name = "holdings"
    key_column = "sourceRef"

    def prepare(
        self, record: SourceRecord, default_system: str | None, today: date
    ) -> HoldingRecord:
        return holding_record(record, default_system, today)

    async def write(
        self, uow: HoldingImportTransaction, items: Sequence[HoldingRecord], run: RunContext
    ) -> BatchResult:
        result = BatchResult()
        records = last_wins(items, lambda r: r.change.source_ref, lambda r: r.line, result)
        customers = await uow.customer_ids(sorted({r.customer_key for r in records}, key=str))
        products = await uow.products(sorted({r.change.product_code for r in records}))
        stored = await uow.holdings([r.change.source_ref for r in records])
        writes: list[HoldingWrite] = []
        opened: list[int] = []
        waiting: list[HoldingRecord] = []
        for record in records:
            refuse = functools.partial(result.reject, record.line, record.change.source_ref)
            customer_id = customers.get(record.customer_key)
            if customer_id is None and run.defer_missing:
                waiting.append(record)
                result.mark(record.line, Outcome.PENDING)
                continue
            if customer_id is None:
                refuse("customerSourceKey", "CUSTOMER_UNKNOWN", "no customer has this key yet")
                continue
            product = products.get(record.change.product_code)
            if product is None:
                refuse("productCode", "UNKNOWN_PRODUCT", "no product has this code")
                continue
            change = replace(record.change, customer_id=customer_id)
            current = stored.get(change.source_ref)
            if current is None:
                if product[1]:
                    refuse("productCode", "INVALID_INPUT", "the product is retired")
                    continue
                writes.append(HoldingWrite(change, product[0], None, record.line))
                if change.status is not HoldingStatus.CLOSED:
                    opened.append(customer_id)
                continue
            if current.customer_id != customer_id:
                refuse(
                    "customerSourceKey",
                    "INVALID_INPUT",
                    "the source reference belongs to another customer",
                )
                continue
            if current.change == change:
                result.mark(record.line, Outcome.UNCHANGED, current.id)
                continue
            writes.append(HoldingWrite(change, product[0], current.id, record.line))
        if waiting:
            await uow.defer(run.run_id, waiting)
        if writes:
            new_ids = await uow.write_holdings(writes)
            for write in writes:
                if write.holding_id is None:
                    result.mark(write.line, Outcome.INSERTED, new_ids[write.change.source_ref])
                else:
                    result.mark(write.line, Outcome.UPDATED, write.holding_id)
            converted = await uow.convert_prospects(sorted(set(opened)), run)
            await uow.emit(
                0,
                BATCH_TOPIC,
                {
                    "runId": run.run_id,
                    "kind": self.name,
                    "holdings": len(writes),
                    "customers": sorted({w.change.customer_id for w in writes}),
                    "converted": converted,
                },
            )
        return result


async def apply_pending(
    transactions: Callable[[], HoldingImportTransaction],
    run: RunContext,
    batch: int = 2_000,
) -> Tally:
    """Write the kept holdings whose customers have arrived, a batch per transaction, by the
    same rules as when they were read (a record refused now is reported and dropped)."""
    kind = HoldingImport()
    tally = Tally()
    while True:
        async with transactions() as uow:
            ready = await uow.ready(batch)
            if not ready:
                return tally
            items = []
            for _, source in ready:
                try:
                    items.append(kind.prepare(source, run.author.source_system, run.today))
                except DomainError as exc:
                    tally.refused[exc.code] += 1
            result = await kind.write(uow, items, replace(run, defer_missing=False))
            await uow.save_refusals(run.run_id, result.refusals)
            await uow.forget([i for i, _ in ready])
            await uow.commit()
        tally.add(result.tally)
