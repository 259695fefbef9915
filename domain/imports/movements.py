"""Fund movements from core banking (the `movements` kind): one booking per record, recorded once
per external reference, its holding named by the holdings feed's reference.

Each record is checked by `validate_fund_movement` and held to the same fingerprint as
`recordFundMovement`: the same reference again is unchanged, with another movement it is
IDEMPOTENCY_KEY_REUSED. A daily delta announces every movement (`fund_movement.recorded`, what
event detection watches); a history load (`--history`) announces none, so years of past
bookings raise no alerts today.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from domain.errors import InvalidInput
from domain.fund_movements import (
    CounterpartyKind,
    MovementDirection,
    NewFundMovement,
    validate_fund_movement,
)
from domain.idempotency import IdempotencyKeyReused
from domain.imports.batches import BatchResult, ImportTransaction, RunContext, last_wins
from domain.imports.customers import check_text, parse_enum, required
from domain.imports.holdings import parse_amount
from domain.imports.records import Outcome, SourceRecord
from domain.interactions import Channel
from domain.recording import movement_fingerprint

COLUMNS: Mapping[str, str] = {
    "externalRef": "the booking's reference in core banking, unique (required)",
    "holdingSourceRef": "the account's reference, as the holdings feed sent it (required)",
    "amount": "positive, at most 2 decimals; the direction gives the sign (required)",
    "currency": "ISO 4217, the holding's (default CNY)",
    "direction": "CREDIT (money in) or DEBIT (money out) (required)",
    "counterpartyKind": "OWN_ACCOUNT, PERSON, COMPANY, OTHER_BANK, MERCHANT, GOVERNMENT, "
    "CASH or BANK_FEE (required)",
    "channel": "COUNTER, CALL_CENTER, MOBILE_APP, WEB_BANKING, SELF_SERVICE, RM_VISIT, SMS "
    "or EMAIL (required)",
    "bookedAt": "ISO 8601 with its offset, e.g. 2026-11-23T09:30:00+08:00 (required)",
}
SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class MovementRecord:
    line: int
    movement: NewFundMovement  # validated; its holding_id 0 until the reference is resolved
    holding_ref: str


@dataclass(frozen=True, slots=True)
class HoldingOwner:
    holding_id: int
    customer_id: int
    currency: str


@dataclass(frozen=True, slots=True)
class NewMovement:
    customer_id: int
    movement: NewFundMovement
    fingerprint: str


class MovementImportTransaction(ImportTransaction, Protocol):
    async def holdings_by_ref(self, refs: Sequence[str]) -> dict[str, HoldingOwner]: ...

    async def recorded(self, refs: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Movements already recorded by these references: (id, fingerprint)."""
        ...

    async def add_movements(self, movements: Sequence[NewMovement], source: str) -> dict[str, int]:
        """Write them (one statement); their ids by external reference."""
        ...


def _booked_at(text: str, column: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(column, "not a time (ISO 8601 with its offset)") from exc


def movement_record(record: SourceRecord, now: datetime) -> MovementRecord:
    check_text(record)
    direction = parse_enum(MovementDirection, required(record, "direction"), "direction")
    counterparty = parse_enum(
        CounterpartyKind, required(record, "counterpartyKind"), "counterpartyKind"
    )
    channel = parse_enum(Channel, required(record, "channel"), "channel")
    amount = parse_amount(required(record, "amount"), "amount")
    assert direction is not None
    assert counterparty is not None
    assert channel is not None
    assert amount is not None
    draft = NewFundMovement(
        holding_id=0,
        amount=amount,
        currency=(record.get("currency") or "CNY").strip().upper(),
        direction=direction,
        counterparty_kind=counterparty,
        channel=channel,
        booked_at=_booked_at(required(record, "bookedAt"), "bookedAt"),
        external_ref=required(record, "externalRef"),
    )
    return MovementRecord(
        record.line,
        validate_fund_movement(draft, now, SKEW),
        required(record, "holdingSourceRef").strip(),
    )


class MovementImport:
    """The `movements` kind."""

    name = "movements"
    key_column = "externalRef"

    def prepare(
        self, record: SourceRecord, default_system: str | None, today: date
    ) -> MovementRecord:
        return movement_record(record, datetime.now(UTC))

    async def write(
        self, uow: MovementImportTransaction, items: Sequence[MovementRecord], run: RunContext
    ) -> BatchResult:
        result = BatchResult()
        records = last_wins(items, lambda r: r.movement.external_ref, lambda r: r.line, result)
        owners = await uow.holdings_by_ref(sorted({r.holding_ref for r in records}))
        seen = await uow.recorded([r.movement.external_ref for r in records])
        new: list[tuple[int, NewMovement]] = []
        for record in records:
            ref = record.movement.external_ref
            owner = owners.get(record.holding_ref)
            if owner is None:
                result.reject(
                    record.line,
                    ref,
                    "holdingSourceRef",
                    "HOLDING_UNKNOWN",
                    "no holding has this reference",
                )
                continue
            if owner.currency != record.movement.currency:
                message = f"the holding is in {owner.currency}"
                result.reject(record.line, ref, "currency", "INVALID_INPUT", message)
                continue
            movement = replace(record.movement, holding_id=owner.holding_id)
            fingerprint = movement_fingerprint(movement)
            prior = seen.get(ref)
            if prior is not None:
                if prior[1] != fingerprint:
                    error = IdempotencyKeyReused()
                    result.reject(record.line, ref, "externalRef", error.code, error.message)
                else:
                    result.mark(record.line, Outcome.UNCHANGED, prior[0])
                continue
            new.append((record.line, NewMovement(owner.customer_id, movement, fingerprint)))
        if new:
            ids = await uow.add_movements([m for _, m in new], source=run.author.actor)
            for line, m in new:
                movement_id = ids[m.movement.external_ref]
                result.mark(line, Outcome.INSERTED, movement_id)
                if run.announce:
                    await uow.emit(
                        m.customer_id,
                        "fund_movement.recorded",
                        {
                            "movementId": movement_id,
                            "holdingId": m.movement.holding_id,
                            "amount": str(m.movement.amount),
                            "currency": m.movement.currency,
                            "direction": m.movement.direction.value,
                            "bookedAt": m.movement.booked_at.isoformat(),
                        },
                    )
        return result
