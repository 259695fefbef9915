"""The customer structure over time (客户结构): the tier mix month by month, new and lost
customers, and who moved between tiers, from the stored monthly scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from domain.errors import InvalidInput
from domain.value.contribution import shift_period
from domain.value.tiers import ValueTier

MAX_MONTHS = 36


@dataclass(frozen=True, slots=True)
class MonthStructure:
    period: date
    tiers: Mapping[ValueTier, int]  # every tier, empty ones as 0
    # Against the month before, when that month was scored too (else None: nothing to say).
    compared_to: date | None
    new_customers: int | None  # scored now, not the month before
    lost_customers: int | None  # scored the month before, not now
    migration: Mapping[tuple[ValueTier, ValueTier], int]  # (from, to) → customers; moves only


def validate_months(first: date, last: date) -> None:
    if last < first:
        raise InvalidInput("to", "to must not be before from")
    if shift_period(first, MAX_MONTHS) <= last:
        raise InvalidInput("to", f"at most {MAX_MONTHS} months")


class CustomerStructures(Protocol):
    async def structure(
        self, first: date, last: date, branch_id: int | None
    ) -> Sequence[MonthStructure]:
        """Each scored month from `first` to `last`, customers homed at the branch (or below
        it) when given, oldest first."""
        ...
