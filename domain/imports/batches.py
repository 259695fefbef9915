"""A batch of an import: what every kind's writer gets and gives back, and the run it is in."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, TypeVar

from domain.customers.history import Author
from domain.imports.records import Outcome, Refusal, SourceRecord, Tally
from domain.transaction import Transaction

T = TypeVar("T")

# The topic of the one event a committed batch announces (docs/integration.md, "Events"): a
# million-row load raises a few hundred of these, not a million customer events.
BATCH_TOPIC = "import.batch"


@dataclass(frozen=True, slots=True)
class RunContext:
    run_id: int
    kind: str
    author: Author  # the actor; its correlation id names the run in every history entry
    today: date
    dry_run: bool = False
    # A record whose customer is not there yet waits for them instead of being refused.
    defer_missing: bool = False
    # Announce each fund movement to event detection; a history load (--history) does not.
    announce: bool = True


@dataclass(slots=True)
class BatchResult:
    tally: Tally = field(default_factory=Tally)
    refusals: list[Refusal] = field(default_factory=list)
    # line → the record's outcome and the id of what it wrote or named (a batch mutation
    # answers per record from it).
    outcomes: dict[int, tuple[Outcome, int | None]] = field(default_factory=dict)

    def mark(self, line: int, outcome: Outcome, record_id: int | None = None) -> None:
        self.outcomes[line] = (outcome, record_id)
        self.tally.count(outcome)

    def reject(
        self, line: int, key: str | None, field: str | None, code: str, message: str
    ) -> None:
        """Refuse the record on `line` (keyed `key`) for `code`, naming the column at fault."""
        self.refuse(Refusal(line, key, field, code, message))

    def refuse(self, refusal: Refusal) -> None:
        self.refusals.append(refusal)
        self.outcomes[refusal.line] = (Outcome.REFUSED, None)
        self.tally.count(Outcome.REFUSED, refusal.code)


class ImportTransaction(Transaction, Protocol):
    """One batch's transaction: its writes, its refusals and the run's checkpoint commit
    together, so a run killed at any moment resumes after its last committed batch."""

    async def save_refusals(self, run_id: int, refusals: Sequence[Refusal]) -> None: ...

    async def checkpoint(self, run_id: int, last_line: int, tally: Tally) -> None:
        """The run's progress as of this batch: the last line it covers, the counts so far."""
        ...


U_contra = TypeVar("U_contra", bound="ImportTransaction", contravariant=True)


class RecordKind(Protocol[T, U_contra]):
    """How one kind of record is checked alone, then written a batch at a time."""

    name: str
    key_column: str  # the column that keys a record (the report names it)

    def prepare(self, record: SourceRecord, default_system: str | None, today: date) -> T:
        """The record as the domain rules accept it; raises DomainError naming the column."""
        ...

    async def write(self, uow: U_contra, items: Sequence[T], run: RunContext) -> BatchResult:
        """Write the batch set-based; every item ends in the result's tally."""
        ...


def last_wins(
    items: Sequence[T],
    key: Callable[[T], Hashable],
    line: Callable[[T], int],
    result: BatchResult,
) -> list[T]:
    """Within a batch, a later record with the same source key replaces an earlier one (the
    earlier is SUPERSEDED); across batches the later one updates what the earlier wrote."""
    keyed = {key(item): item for item in items}
    kept = {id(item) for item in keyed.values()}
    for item in items:
        if id(item) not in kept:
            result.mark(line(item), Outcome.SUPERSEDED)
    return list(keyed.values())
