"""corporateGroups: a parent company with every subsidiary below it, and the group's totals."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.errors import DomainError
from domain.ids import decode_typed_id
from domain.reports.groups import CorporateGroup as CorporateGroupModel
from domain.reports.groups import group_scope
from domain.reports.scope import branch_scope
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import Edge, PageInfo, check_first, decode_id_cursor, edges, split_page
from schema.organisation.types import own_branch_id

if TYPE_CHECKING:
    from schema.customers.types import Customer

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers.types")]


@strawberry.type(description="A group's totals in one currency (no exchange rate is applied).")
class GroupTotals:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    deposits: Decimal = strawberry.field(description="Open deposit balances.")
    loans: Decimal = strawberry.field(description="Open loan and card balances.")
    exposure: Decimal = strawberry.field(
        description="Per loan or card holding its credit limit or balance, whichever is "
        "higher: what the bank has committed to the group."
    )


@strawberry.type(description="A corporate group: a parent company and every company below it.")
class CorporateGroup:
    member_count: int = strawberry.field(description="The parent and its subsidiaries.")
    totals: list[GroupTotals] = strawberry.field(description="The group's totals by currency.")
    parent_pk: strawberry.Private[int]
    member_pks: strawberry.Private[tuple[int, ...]]

    @strawberry.field(
        description="The parent company, as the caller may see it (masked and audited)."
    )
    async def parent(self, info: Info) -> CustomerRef | None:
        from schema.customers.types import load_customer

        return await load_customer(info, self.parent_pk)

    @strawberry.field(
        description="Every member the caller may see (the parent first, then by id); read in "
        "one batch, masked and audited."
    )
    async def members(self, info: Info) -> list[CustomerRef]:
        from schema.customers.types import load_customer

        found = await asyncio.gather(*(load_customer(info, pk) for pk in self.member_pks))
        return [c for c in found if c is not None]

    @classmethod
    def from_domain(cls, group: CorporateGroupModel) -> CorporateGroup:
        ordered = (group.parent_id, *(m for m in group.member_ids if m != group.parent_id))
        return cls(
            member_count=len(group.member_ids),
            totals=[
                GroupTotals(
                    currency=t.currency, deposits=t.deposits, loans=t.loans, exposure=t.exposure
                )
                for t in group.totals
            ],
            parent_pk=group.parent_id,
            member_pks=ordered,
        )


@strawberry.type(description="A page of corporate groups, by their parent's id.")
class CorporateGroupConnection:
    edges: list[Edge[CorporateGroup]] = strawberry.field(description="This page, with cursors.")
    nodes: list[CorporateGroup] = strawberry.field(description="Groups on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


@strawberry.type
class GroupQueries:
    @strawberry.field(
        description="Corporate groups with their members and totals (deposits, loans, "
        "exposure per currency): an RM those whose parent is in their book, a branch manager "
        "their branch's, approvers, compliance and admins all (or one branch's)."
    )
    async def corporate_groups(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        branch_id: strawberry.ID | None = None,
    ) -> CorporateGroupConnection:
        try:
            require(info, "corporateGroups")
            check_first(first)
            after_parent = decode_id_cursor(after)
            asked = (
                None
                if branch_id is None
                else decode_typed_id(branch_id, "Branch", field="branchId")
            )
            branch = branch_scope(info.context.principal, asked, await own_branch_id(info))
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        scope = group_scope(info.context.principal, branch)
        found = await info.context.reports.groups(scope, first + 1, after_parent)
        page, page_info = split_page(found, first, lambda g: g.parent_id)
        nodes = [CorporateGroup.from_domain(g) for g in page]
        return CorporateGroupConnection(
            edges=edges(nodes, lambda g: g.parent_pk), nodes=nodes, page_info=page_info
        )
