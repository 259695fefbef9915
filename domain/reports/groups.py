"""Corporate group roll-ups (集团客户): a parent company and every subsidiary below it, with
what the group holds and owes, per currency (no exchange rate is invented)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from domain.access.principal import Principal, Role


@dataclass(frozen=True, slots=True)
class GroupTotals:
    currency: str
    deposits: Decimal  # open deposit balances
    loans: Decimal  # open loan and card balances
    # What the bank stands to lose: per loan or card holding, its credit limit or its balance,
    # whichever is higher (an undrawn line is committed money too).
    exposure: Decimal


@dataclass(frozen=True, slots=True)
class CorporateGroup:
    parent_id: int  # the group's top company (a corporate customer without a parent)
    member_ids: tuple[int, ...]  # the parent and every subsidiary below it, by id
    totals: tuple[GroupTotals, ...]  # by currency


@dataclass(frozen=True, slots=True)
class GroupScope:
    """Whose groups a caller lists: all, an RM's (the parent is in their book), or a
    branch's (the parent is homed at the branch or below it)."""

    rm_id: int | None = None
    branch_id: int | None = None


def group_scope(principal: Principal, branch_id: int | None) -> GroupScope:
    if principal.role is Role.RELATIONSHIP_MANAGER:
        return GroupScope(rm_id=principal.rm_id if principal.rm_id is not None else -1)
    return GroupScope(branch_id=branch_id)


class CorporateGroups(Protocol):
    async def groups(
        self, scope: GroupScope, first: int, after_parent: int | None
    ) -> Sequence[CorporateGroup]:
        """Groups (a parent with at least one subsidiary) by parent id, after `after_parent`."""
        ...
