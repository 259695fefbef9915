"""recordInteraction, recordFundMovement, upsertHolding: what channels and systems write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry

from domain.access.principal import Role
from domain.customers.history import Author
from domain.errors import DomainError, InvalidInput
from domain.fund_movements import NewFundMovement
from domain.idempotency import validate_key
from domain.ids import decode_typed_id, encode_id
from domain.interactions import NewInteraction
from domain.recording import (
    IdempotencyClaim,
    check_teller_visit,
    record_fund_movement,
    record_interaction,
    upsert_holding,
    validate_holding_change,
)
from schema.core.access import in_counter_session, require
from schema.core.context import Info
from schema.recording.types import (
    RecordFundMovementInput,
    RecordFundMovementPayload,
    RecordFundMovementResult,
    RecordInteractionInput,
    RecordInteractionPayload,
    RecordInteractionResult,
    UpsertHoldingInput,
    UpsertHoldingPayload,
    UpsertHoldingResult,
    _error,
    _scope,
    holding_change,
)
from schema.source_keys.types import customer_pk


async def _holding_pk(info: Info, holding_id: strawberry.ID | None, source_ref: str | None) -> int:
    """The holding a movement names, by id or by its source reference (exactly one)."""
    if (holding_id is None) == (source_ref is None):
        raise InvalidInput("holdingId", "name the holding by holdingId or by holdingSourceRef")
    if holding_id is not None:
        return decode_typed_id(holding_id, "Holding", field="holdingId")
    assert source_ref is not None
    found = await info.context.source_keys.holding_of(source_ref.strip())
    if found is None:
        raise InvalidInput("holdingSourceRef", "unknown holding")
    return found


@strawberry.type
class RecordingMutations:
    @strawberry.mutation(description="Record an interaction from any channel.")
    async def record_interaction(
        self, info: Info, input: RecordInteractionInput
    ) -> RecordInteractionResult:
        context = info.context
        principal = context.principal
        now = datetime.now(UTC)
        try:
            require(info, "recordInteraction")
            pk = await customer_pk(info, input.customer_id, input.customer_source_key)
            claim = None
            if input.idempotency_key is not None:
                claim = IdempotencyClaim(
                    _scope(info),
                    validate_key(input.idempotency_key),
                    timedelta(seconds=context.idempotency_ttl_seconds),
                )
            elif principal.role is Role.INTEGRATION:
                raise InvalidInput("idempotencyKey", "integrations must send an idempotency key")
            if principal.role is Role.TELLER:
                check_teller_visit(input.channel, await in_counter_session(info, pk))
            draft = NewInteraction(
                customer_id=pk,
                channel=input.channel,
                kind=input.kind,
                occurred_at=input.occurred_at,
                branch_id=None
                if input.branch_id is None
                else decode_typed_id(input.branch_id, "Branch", field="branchId"),
                staff_code=input.staff_code,
                cost=input.cost,
                outcome=input.outcome,
                summary=input.summary,
                offers=tuple(input.offers),
                products_discussed=tuple(
                    decode_typed_id(p, "Product", field="productsDiscussed")
                    for p in input.products_discussed
                ),
                satisfaction=input.satisfaction,
            )
            recorded = await record_interaction(
                context.recording, draft, principal.subject, claim, now
            )
        except DomainError as exc:
            return _error(exc)  # type: ignore[return-value]
        return RecordInteractionPayload(
            interaction_id=strawberry.ID(encode_id("Interaction", recorded.interaction_id)),
            replayed=recorded.replayed,
            recorded=recorded,
            customer_id=pk,
        )

    @strawberry.mutation(description="Record a fund movement (integrations; idempotent).")
    async def record_fund_movement(
        self, info: Info, input: RecordFundMovementInput
    ) -> RecordFundMovementResult:
        try:
            require(info, "recordFundMovement")
            draft = NewFundMovement(
                holding_id=await _holding_pk(info, input.holding_id, input.holding_source_ref),
                amount=input.amount,
                currency=input.currency,
                direction=input.direction,
                counterparty_kind=input.counterparty_kind,
                channel=input.channel,
                booked_at=input.booked_at,
                external_ref=input.external_ref,
            )
            movement_id, replayed = await record_fund_movement(
                info.context.recording, draft, _scope(info), datetime.now(UTC)
            )
        except DomainError as exc:
            return _error(exc)  # type: ignore[return-value]
        return RecordFundMovementPayload(
            movement_id=strawberry.ID(encode_id("FundMovement", movement_id)), replayed=replayed
        )

    @strawberry.mutation(description="Apply one holdings-feed record (integrations; idempotent).")
    async def upsert_holding(self, info: Info, input: UpsertHoldingInput) -> UpsertHoldingResult:
        try:
            require(info, "upsertHolding")
            customer_id = await customer_pk(info, input.customer_id, input.customer_source_key)
            change = validate_holding_change(
                holding_change(input, customer_id), datetime.now(UTC).date()
            )
            principal = info.context.principal
            author = Author(
                principal.subject,
                source_system=principal.client_id,
                correlation_id=info.context.correlation_id,
            )
            result = await upsert_holding(info.context.recording, change, author)
        except DomainError as exc:
            return _error(exc)  # type: ignore[return-value]
        return UpsertHoldingPayload(
            holding_id=strawberry.ID(encode_id("Holding", result.holding_id)),
            change=result.change,
        )
