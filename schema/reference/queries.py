"""Lists of branches, products and relationship managers (reference data: no personal data)."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from domain.ids import decode_typed_id
from domain.products import ProductCategory
from domain.reference_data import ReferenceQuery
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import check_first, decode_id_cursor
from schema.organisation.types import Branch, RelationshipManager
from schema.products.types import Product
from schema.reference.types import Connection, connection


def _query(
    info: Info, root_field: str, first: int, after: str | None, **given: object
) -> tuple[ReferenceQuery, int | None]:
    try:
        require(info, root_field)
        check_first(first)
        return ReferenceQuery(**given).validated(), decode_id_cursor(after)  # type: ignore[arg-type]
    except DomainError as exc:
        raise UserFacingError(exc) from exc


@strawberry.type
class ReferenceQueries:
    @strawberry.field(description="Branches by id; `search` in the code or name.")
    async def branches(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        search: str | None = None,
        include_retired: bool = False,
    ) -> Connection[Branch]:
        query, cursor = _query(
            info, "branches", first, after, search=search, include_retired=include_retired
        )
        found = await info.context.reference.branches(query, cursor, first + 1)
        return connection([Branch.from_domain(b) for b in found], first, _branch_pk)

    @strawberry.field(description="The product catalog by id; `search` in the code or name.")
    async def products(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        search: str | None = None,
        category: ProductCategory | None = None,
        include_retired: bool = False,
    ) -> Connection[Product]:
        query, cursor = _query(
            info,
            "products",
            first,
            after,
            search=search,
            category=category,
            include_retired=include_retired,
        )
        found = await info.context.reference.products(query, cursor, first + 1)
        return connection([Product.from_domain(p) for p in found], first, lambda p: p.pk)

    @strawberry.field(
        description="Relationship managers by id; `search` in the staff number or name."
    )
    async def relationship_managers(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        search: str | None = None,
        branch_id: strawberry.ID | None = None,
        include_inactive: bool = False,
    ) -> Connection[RelationshipManager]:
        try:
            require(info, "relationshipManagers")  # before anything of the request is read
            branch = (
                None
                if branch_id is None
                else decode_typed_id(branch_id, "Branch", field="branchId")
            )
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        query, cursor = _query(
            info,
            "relationshipManagers",
            first,
            after,
            search=search,
            branch_id=branch,
            include_retired=include_inactive,
        )
        found = await info.context.reference.staff(query, cursor, first + 1)
        return connection(
            [RelationshipManager.from_domain(m) for m in found], first, lambda m: m.pk
        )


def _branch_pk(branch: Branch) -> int:
    return decode_typed_id(branch.id, "Branch")
