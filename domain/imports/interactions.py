"""Interactions from the bank's channel systems (the `interactions` kind): what happened at a
counter, on a call, in the app — history, or the day's delta — keyed by the source's
reference.

Each record is checked by `validate_interaction`, the rule of `recordInteraction`. An imported
interaction is a record of the past: it opens no task (a complaint that needs work today comes
through `recordInteraction`, which opens one). A delta announces each one
(`interaction.recorded`); a history load (`--history`) announces none.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Protocol

from domain.customers.source_keys import SourceKey
from domain.errors import InvalidInput
from domain.idempotency import request_fingerprint
from domain.imports.batches import BatchResult, ImportTransaction, RunContext, last_wins
from domain.imports.customers import check_text, parse_enum, required, source_key_of
from domain.imports.holdings import parse_amount
from domain.imports.records import Outcome, SourceRecord
from domain.interactions import (
    Channel,
    InteractionKind,
    InteractionOutcome,
    NewInteraction,
    validate_interaction,
)

COLUMNS: Mapping[str, str] = {
    "sourceRef": "the interaction's reference in its source system, unique (required)",
    "customerSourceSystem": "the system whose key names the customer (default: --system)",
    "customerSourceKey": "the customer's key in that system (required)",
    "channel": "COUNTER, CALL_CENTER, MOBILE_APP, WEB_BANKING, SELF_SERVICE, RM_VISIT, SMS "
    "or EMAIL (required)",
    "kind": "INQUIRY, TRANSACTION, COMPLAINT, MARKETING_CONTACT, SERVICE_REQUEST or "
    "FOLLOW_UP (required)",
    "occurredAt": "ISO 8601 with its offset (required)",
    "branchCode": "the branch it happened at",
    "staffCode": "who served (staff number)",
    "cost": "the recorded cost to serve, at most 2 decimals",
    "outcome": "RESOLVED, PENDING, ESCALATED, DECLINED or NO_CONTACT",
    "summary": "free text, at most 2,000 characters",
    "satisfaction": "1 to 5",
    "offers": "what was offered, separated by |",
    "productsDiscussed": "product codes, separated by |",
}


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    line: int
    source_ref: str
    customer_key: SourceKey
    interaction: NewInteraction  # validated; customer and branch 0/None until resolved
    branch_code: str | None
    product_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewImportedInteraction:
    source_ref: str
    interaction: NewInteraction
    fingerprint: str


class InteractionImportTransaction(ImportTransaction, Protocol):
    async def customer_ids(self, keys: Sequence[SourceKey]) -> dict[SourceKey, int]: ...

    async def branch_ids(self, codes: Sequence[str]) -> dict[str, int]: ...

    async def product_ids(self, codes: Sequence[str]) -> dict[str, int]: ...

    async def imported(self, refs: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Interactions already imported by these references: (id, fingerprint)."""
        ...

    async def add_interactions(
        self, interactions: Sequence[NewImportedInteraction], actor: str
    ) -> dict[str, int]:
        """Write them (one statement); their ids by reference."""
        ...


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (text or "").split("|") if p.strip())


def _time(text: str, column: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(column, "not a time (ISO 8601 with its offset)") from exc


def _satisfaction(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError as exc:
        raise InvalidInput("satisfaction", "a whole number from 1 to 5") from exc


def interaction_record(
    record: SourceRecord, default_system: str | None, now: datetime
) -> InteractionRecord:
    check_text(record)
    key = source_key_of(
        record,
        default_system,
        system_column="customerSourceSystem",
        key_column="customerSourceKey",
    )
    channel = parse_enum(Channel, required(record, "channel"), "channel")
    kind = parse_enum(InteractionKind, required(record, "kind"), "kind")
    assert channel is not None
    assert kind is not None
    draft = NewInteraction(
        customer_id=0,
        channel=channel,
        kind=kind,
        occurred_at=_time(required(record, "occurredAt"), "occurredAt"),
        branch_id=None,
        staff_code=record.get("staffCode"),
        cost=parse_amount(record.get("cost"), "cost"),
        outcome=parse_enum(InteractionOutcome, record.get("outcome"), "outcome"),
        summary=record.get("summary"),
        offers=_split(record.get("offers")),
        products_discussed=(),
        satisfaction=_satisfaction(record.get("satisfaction")),
    )
    ref = required(record, "sourceRef").strip()
    if len(ref) > 100:
        raise InvalidInput("sourceRef", "at most 100 characters")
    branch = record.get("branchCode")
    return InteractionRecord(
        record.line,
        ref,
        key,
        validate_interaction(draft, now),
        branch.strip() if branch and branch.strip() else None,
        _split(record.get("productsDiscussed")),
    )


class InteractionImport:
    """The `interactions` kind."""

    name = "interactions"
    key_column = "sourceRef"

    def prepare(
        self, record: SourceRecord, default_system: str | None, today: date
    ) -> InteractionRecord:
        return interaction_record(record, default_system, datetime.now(UTC))

    async def write(
        self,
        uow: InteractionImportTransaction,
        items: Sequence[InteractionRecord],
        run: RunContext,
    ) -> BatchResult:
        result = BatchResult()
        records = last_wins(items, lambda r: r.source_ref, lambda r: r.line, result)
        customers = await uow.customer_ids(sorted({r.customer_key for r in records}, key=str))
        codes = sorted({r.branch_code for r in records if r.branch_code})
        branches = await uow.branch_ids(codes) if codes else {}
        wanted = sorted({c for r in records for c in r.product_codes})
        products = await uow.product_ids(wanted) if wanted else {}
        seen = await uow.imported([r.source_ref for r in records])
        new: list[tuple[int, NewImportedInteraction]] = []
        for record in records:
            refuse = functools.partial(result.reject, record.line, record.source_ref)
            customer_id = customers.get(record.customer_key)
            if customer_id is None:
                refuse("customerSourceKey", "CUSTOMER_UNKNOWN", "no customer has this key")
                continue
            if record.branch_code is not None and record.branch_code not in branches:
                refuse("branchCode", "UNKNOWN_BRANCH", "no such branch")
                continue
            unknown = [c for c in record.product_codes if c not in products]
            if unknown:
                refuse("productsDiscussed", "UNKNOWN_PRODUCT", f"unknown products: {unknown}")
                continue
            interaction = replace(
                record.interaction,
                customer_id=customer_id,
                branch_id=branches.get(record.branch_code) if record.branch_code else None,
                products_discussed=tuple(products[c] for c in record.product_codes),
            )
            fingerprint = request_fingerprint("importInteraction", asdict(interaction))
            prior = seen.get(record.source_ref)
            if prior is not None:
                if prior[1] == fingerprint:
                    result.mark(record.line, Outcome.UNCHANGED, prior[0])
                else:
                    refuse(
                        "sourceRef",
                        "SOURCE_REF_REUSED",
                        "an interaction was imported with this reference and other content",
                    )
                continue
            new.append(
                (record.line, NewImportedInteraction(record.source_ref, interaction, fingerprint))
            )
        if new:
            ids = await uow.add_interactions([n for _, n in new], run.author.actor)
            for line, item in new:
                interaction_id = ids[item.source_ref]
                result.mark(line, Outcome.INSERTED, interaction_id)
                if run.announce:
                    i = item.interaction
                    await uow.emit(
                        i.customer_id,
                        "interaction.recorded",
                        {
                            "interactionId": interaction_id,
                            "channel": i.channel.value,
                            "kind": i.kind.value,
                            "occurredAt": i.occurred_at.isoformat(),
                        },
                    )
        return result
