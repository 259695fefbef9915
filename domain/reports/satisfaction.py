"""Customer satisfaction (满意度) over a period, by staff member, branch or channel: what the
seeds' hospital CRM and X Bank Xinyu report to management."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from domain.errors import InvalidInput

MAX_SPAN = timedelta(days=366 * 2)


class SatisfactionGrouping(enum.StrEnum):
    STAFF = "staff"  # the interaction's staff code
    BRANCH = "branch"  # the branch that served it
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class SatisfactionRow:
    key: str  # a staff code, a branch id, or a channel
    interactions: int  # every interaction of the group in the period
    rated: int  # those the customer rated (1-5)
    average: Decimal | None  # mean rating, 2 decimals; None when none was rated
    satisfied: int  # rated 4 or 5
    dissatisfied: int  # rated 1 or 2


@dataclass(frozen=True, slots=True)
class SatisfactionQuery:
    since: datetime
    until: datetime
    grouping: SatisfactionGrouping
    branch_id: int | None = None  # interactions served at the branch or below it


def validate_period(since: datetime, until: datetime) -> None:
    for name, moment in (("since", since), ("until", until)):
        if moment.tzinfo is None:
            raise InvalidInput(name, "the time needs a time zone")
    if until <= since:
        raise InvalidInput("until", "until must be after since")
    if until - since > MAX_SPAN:
        raise InvalidInput("until", "a report spans at most two years")


class SatisfactionReports(Protocol):
    async def satisfaction(self, query: SatisfactionQuery) -> Sequence[SatisfactionRow]:
        """One row per group with any interaction in the period, most interactions first."""
        ...
