"""The RM league table (客户经理业绩排名): each RM's book and work in one period, ranked by the
contribution of their customers (RM pay by contribution, as seed 001 asks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class LeagueRow:
    rank: int  # 1 for the highest contribution; equal contributions share a rank
    rm_id: int
    customers: int  # in the RM's book now
    contribution: Decimal  # their customers' contribution in the period, CNY
    revenue: Decimal  # margin and fee revenue, CNY
    fees: Decimal  # fee revenue, CNY
    deposits_cny: Decimal  # open deposit balances in CNY now (no exchange rate is invented)
    loans_cny: Decimal
    visits: int  # RM visits (channel rm_visit) to their customers in the period
    overdue_tasks: int  # open tasks the RM owns, past due now


class LeagueTables(Protocol):
    async def league(
        self, period: date, branch_id: int | None, first: int, offset: int
    ) -> Sequence[LeagueRow]:
        """Active RMs (of the branch and the units below it, when given), by rank then id;
        `first` rows after the first `offset`."""
        ...
