"""Use cases that write what happened with a customer: one unit of work each, explicit commit.

Every write also emits an event into the outbox in the same transaction (the relay announces
it after commit), so a rolled-back write is never announced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from domain.access.counter_sessions import CounterSessionExpired
from domain.customers.history import Author, FieldChange, MasterDataTransaction
from domain.customers.model import LifecycleStatus
from domain.errors import InvalidInput, NotFound
from domain.fund_movements import NewFundMovement, validate_fund_movement
from domain.idempotency import IdempotencyKeyReused, request_fingerprint
from domain.interactions import Channel, InteractionKind, NewInteraction, validate_interaction
from domain.products import HoldingStatus
from domain.tasks import (
    DUE_AFTER,
    NewTask,
    OwnerKind,
    Task,
    TaskKind,
    TaskOwner,
    default_owner,
    task_for_interaction,
    validate_completion,
)


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    scope: str  # the caller: keys never collide across callers
    key: str
    ttl: timedelta


@dataclass(frozen=True, slots=True)
class PriorRequest:
    fingerprint: str
    response: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Recorded:
    interaction_id: int
    task_id: int | None
    replayed: bool


@dataclass(frozen=True, slots=True)
class HoldingChange:
    """One record of the holdings feed, keyed by the source system's reference."""

    source_ref: str
    customer_id: int
    product_code: str
    account_number: str
    currency: str
    balance: Decimal
    credit_limit: Decimal | None
    status: HoldingStatus
    opened_on: date
    closed_on: date | None


@dataclass(frozen=True, slots=True)
class HoldingUpserted:
    holding_id: int
    change: str  # opened | changed | closed | unchanged


class RecordingUnitOfWork(MasterDataTransaction, Protocol):
    """What the recording use cases read and write, in one transaction."""

    async def claim_key(
        self, claim: IdempotencyClaim, operation: str, fingerprint: str
    ) -> PriorRequest | None:
        """Claim the key (None), or return what an earlier request under it asked."""
        ...

    async def store_response(self, claim: IdempotencyClaim, response: dict[str, Any]) -> None: ...

    async def customer_rm(self, customer_id: int) -> int | None:
        """The customer's RM id (None without one); raises NotFound for no such customer."""
        ...

    async def unknown_products(self, ids: Sequence[int]) -> set[int]: ...

    async def branch_exists(self, branch_id: int) -> bool: ...

    async def active_rm_exists(self, rm_id: int) -> bool: ...

    async def add_interaction(self, interaction: NewInteraction, recorded_by: str) -> int: ...

    async def add_task(self, task: NewTask, created_by: str) -> int: ...

    async def task_for_update(self, task_id: int) -> Task | None: ...

    async def complete_task(
        self, task_id: int, result: str, satisfaction: int | None, result_interaction_id: int
    ) -> None: ...

    async def close_alerts_for_task(self, task_id: int) -> list[int]:
        """Close the alerts this task answers; their ids."""
        ...

    async def holding_owner(self, holding_id: int) -> tuple[int, str] | None:
        """(customer id, currency) of a holding, or None."""
        ...

    async def add_fund_movement(
        self, customer_id: int, movement: NewFundMovement, fingerprint: str, source: str
    ) -> tuple[int, str | None]:
        """(new id, None), or (earlier id, its fingerprint) when the external reference was
        recorded before."""
        ...

    async def upsert_holding(self, change: HoldingChange) -> HoldingUpserted: ...

    async def convert_prospect(self, customer_id: int) -> bool:
        """Make a prospect an active customer, now; False when they were one already."""
        ...


UnitOfWorkFactory = Callable[[], RecordingUnitOfWork]


def _fingerprint(operation: str, value: Any) -> str:
    return request_fingerprint(operation, asdict(value))


def movement_fingerprint(movement: NewFundMovement) -> str:
    """What a movement's external reference is held to: the same reference with another
    movement is IDEMPOTENCY_KEY_REUSED, by the mutation and the import alike."""
    return _fingerprint("recordFundMovement", movement)


async def record_interaction(
    uow_factory: UnitOfWorkFactory,
    draft: NewInteraction,
    actor: str,
    claim: IdempotencyClaim | None,
    now: datetime,
) -> Recorded:
    """Record one interaction (and open a task for a complaint or service request)."""
    interaction = validate_interaction(draft, now)
    fingerprint = _fingerprint("recordInteraction", interaction)
    async with uow_factory() as uow:
        if claim is not None:
            prior = await uow.claim_key(claim, "recordInteraction", fingerprint)
            if prior is not None:
                if prior.fingerprint != fingerprint or prior.response is None:
                    raise IdempotencyKeyReused
                return Recorded(prior.response["interactionId"], prior.response["taskId"], True)
        rm_id = await uow.customer_rm(interaction.customer_id)
        unknown = await uow.unknown_products(interaction.products_discussed)
        if unknown:
            raise InvalidInput("productsDiscussed", f"unknown products: {sorted(unknown)}")
        if interaction.branch_id is not None and not await uow.branch_exists(interaction.branch_id):
            raise InvalidInput("branchId", "unknown branch")
        interaction_id = await uow.add_interaction(interaction, actor)
        await uow.emit(
            interaction.customer_id,
            "interaction.recorded",
            {
                "interactionId": interaction_id,
                "channel": interaction.channel.value,
                "kind": interaction.kind.value,
                "occurredAt": interaction.occurred_at.isoformat(),
            },
        )
        task_id = None
        task_kind = task_for_interaction(interaction.kind)
        if task_kind is not None:
            task_id = await uow.add_task(
                NewTask(
                    customer_id=interaction.customer_id,
                    kind=task_kind,
                    title=f"{task_kind.value.replace('_', ' ')} via {interaction.channel.value}",
                    owner=default_owner(rm_id),
                    due_at=now + DUE_AFTER[task_kind],
                    source_interaction_id=interaction_id,
                ),
                actor,
            )
            await uow.emit(
                interaction.customer_id, "task.opened", {"taskId": task_id, "kind": task_kind.value}
            )
        if claim is not None:
            await uow.store_response(claim, {"interactionId": interaction_id, "taskId": task_id})
        await uow.commit()
    return Recorded(interaction_id, task_id, replayed=False)


async def open_task(
    uow_factory: UnitOfWorkFactory,
    customer_id: int,
    kind: TaskKind,
    title: str,
    owner: TaskOwner | None,
    due_at: datetime | None,
    actor: str,
    now: datetime,
) -> int:
    """A task on its own, e.g. a follow-up instruction."""
    async with uow_factory() as uow:
        rm_id = await uow.customer_rm(customer_id)
        if (
            owner is not None
            and owner.kind is OwnerKind.RM
            and not await uow.active_rm_exists(int(owner.ref))
        ):
            # myTasks would show it to nobody.
            raise InvalidInput("owner", "no active relationship manager has this id")
        task_id = await uow.add_task(
            NewTask(
                customer_id=customer_id,
                kind=kind,
                title=title,
                owner=owner or default_owner(rm_id),
                due_at=due_at or now + DUE_AFTER[kind],
                source_interaction_id=None,
            ),
            actor,
        )
        await uow.emit(customer_id, "task.opened", {"taskId": task_id, "kind": kind.value})
        await uow.commit()
    return task_id


async def complete_task(
    uow_factory: UnitOfWorkFactory,
    task_id: int,
    result: str,
    satisfaction: int | None,
    channel: Channel,
    actor: str,
    may_complete: Callable[[Task], bool],
    now: datetime,
) -> tuple[Task, int]:
    """Close the task and write its result back to the customer's timeline."""
    async with uow_factory() as uow:
        task = await uow.task_for_update(task_id)
        if task is None or not may_complete(task):
            raise NotFound("task", str(task_id))
        text = validate_completion(task, result, satisfaction)
        interaction_id = await uow.add_interaction(
            NewInteraction(
                customer_id=task.customer_id,
                channel=channel,
                kind=InteractionKind.FOLLOW_UP,
                occurred_at=now,
                branch_id=None,
                staff_code=actor[:40],
                cost=None,
                outcome=None,
                summary=text,
                offers=(),
                products_discussed=(),
                satisfaction=satisfaction,
            ),
            actor,
        )
        await uow.complete_task(task_id, text, satisfaction, interaction_id)
        await uow.emit(
            task.customer_id, "task.completed", {"taskId": task_id, "interactionId": interaction_id}
        )
        # A contact task opened by an alert answers it: done, the alert is closed.
        for alert_id in await uow.close_alerts_for_task(task_id):
            await uow.emit(
                task.customer_id, "alert.closed", {"alertId": alert_id, "taskId": task_id}
            )
        await uow.emit(
            task.customer_id,
            "interaction.recorded",
            {
                "interactionId": interaction_id,
                "channel": channel.value,
                "kind": InteractionKind.FOLLOW_UP.value,
                "occurredAt": now.isoformat(),
            },
        )
        await uow.commit()
    return task, interaction_id


async def record_fund_movement(
    uow_factory: UnitOfWorkFactory,
    draft: NewFundMovement,
    source: str,
    now: datetime,
    skew: timedelta = timedelta(minutes=5),
) -> tuple[int, bool]:
    """Record a movement once per external reference: (movement id, replayed)."""
    movement = validate_fund_movement(draft, now, skew)
    fingerprint = movement_fingerprint(movement)
    async with uow_factory() as uow:
        owner = await uow.holding_owner(movement.holding_id)
        if owner is None:
            raise InvalidInput("holdingId", "unknown holding")
        customer_id, currency = owner
        if currency != movement.currency:
            raise InvalidInput("currency", f"the holding is in {currency}")
        movement_id, prior = await uow.add_fund_movement(customer_id, movement, fingerprint, source)
        if prior is not None:
            if prior != fingerprint:
                raise IdempotencyKeyReused
            return movement_id, True
        await uow.emit(
            customer_id,
            "fund_movement.recorded",
            {
                "movementId": movement_id,
                "holdingId": movement.holding_id,
                "amount": str(movement.amount),
                "currency": movement.currency,
                "direction": movement.direction.value,
                "bookedAt": movement.booked_at.isoformat(),
            },
        )
        await uow.commit()
    return movement_id, False


async def upsert_holding(
    uow_factory: UnitOfWorkFactory, change: HoldingChange, author: Author
) -> HoldingUpserted:
    """Open, change or close a holding from the source system; replaying a record is harmless.
    A prospect's first product makes them a customer, and the conversion is recorded."""
    async with uow_factory() as uow:
        await uow.customer_rm(change.customer_id)
        result = await uow.upsert_holding(change)
        if result.change == "opened" and await uow.convert_prospect(change.customer_id):
            conversion = FieldChange.of(
                "lifecycleStatus", LifecycleStatus.PROSPECT, LifecycleStatus.ACTIVE
            )
            await uow.record_changes(change.customer_id, [conversion], author)
            await uow.emit(
                change.customer_id,
                "customer.converted",
                {"customerId": change.customer_id, "holdingId": result.holding_id},
            )
        if result.change != "unchanged":
            await uow.emit(
                change.customer_id,
                f"holding.{result.change}",
                {
                    "holdingId": result.holding_id,
                    "status": change.status.value,
                },
            )
        await uow.commit()
    return result


def validate_holding_change(change: HoldingChange, today: date) -> HoldingChange:
    """A holdings-feed record checked and trimmed, or InvalidInput naming the field. `today`
    is the UTC date: a date up to the day after it is allowed (a branch in UTC+8 opens
    accounts "tomorrow" in UTC for eight hours a day); later ones are a fault of the feed."""
    ref = change.source_ref.strip()
    if not ref or len(ref) > 64:
        raise InvalidInput("sourceRef", "the source reference is 1 to 64 characters")
    account = change.account_number.strip()
    if not account or len(account) > 34:
        raise InvalidInput("accountNumber", "the account number is 1 to 34 characters")
    currency = change.currency
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise InvalidInput("currency", "the currency is an ISO 4217 code such as CNY")
    if change.credit_limit is not None and change.credit_limit < 0:
        raise InvalidInput("creditLimit", "a credit limit cannot be negative")
    if (change.status is HoldingStatus.CLOSED) != (change.closed_on is not None):
        raise InvalidInput("closedOn", "a closed holding has a closing date, an open one none")
    if change.closed_on is not None and change.closed_on < change.opened_on:
        raise InvalidInput("closedOn", "a holding cannot close before it opened")
    latest = today + timedelta(days=1)
    for name, day in (("openedOn", change.opened_on), ("closedOn", change.closed_on)):
        if day is not None and day > latest:
            raise InvalidInput(name, "the date is in the future")
    for name, value in (("balance", change.balance), ("creditLimit", change.credit_limit)):
        if value is not None and (not value.is_finite() or abs(value) >= Decimal("1e18")):
            raise InvalidInput(name, "the amount is out of range")
        # The column keeps cents: a third decimal would be rounded away without a word.
        if value is not None and value != value.quantize(Decimal("0.01")):
            raise InvalidInput(name, "the amount has at most 2 decimals")
    return replace(
        change,
        source_ref=ref,
        product_code=change.product_code.strip(),
        account_number=account,
    )


def check_teller_visit(channel: Channel, in_counter_session: bool) -> None:
    """A teller records what happens at their counter, inside a verified session: a visit
    labelled as another channel would escape the session check."""
    if channel is not Channel.COUNTER:
        raise InvalidInput("channel", "a teller records counter visits only")
    if not in_counter_session:
        raise CounterSessionExpired(
            "no verified counter session with this customer; verify the document again"
        )
