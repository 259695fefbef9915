"""Reference data's inputs, payloads and pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

import strawberry

from domain.organisation import BranchKind
from domain.products import ProductAudience, ProductCategory
from schema.core.errors import ForbiddenError, InvalidInputError, RuleViolationError
from schema.core.pagination import Edge, PageInfo, edges, split_page
from schema.organisation.types import Branch, RelationshipManager
from schema.products.types import Product, ProductVariant
from schema.source_keys.types import SourceKeyInput


@strawberry.input(description="A branch as its owning system describes it.")
class UpsertBranchInput:
    source_key: SourceKeyInput = strawberry.field(
        description="The branch's key in your system (an integration: its own system)."
    )
    code: str = strawberry.field(description="The bank's branch code.")
    name: str = strawberry.field(description="Branch name.")
    city: str = strawberry.field(description="City.")
    kind: BranchKind = strawberry.field(description="Head office, branch or sub-branch.")
    parent_code: str | None = strawberry.field(
        default=None, description="The code of the unit it reports to (none for head office)."
    )


@strawberry.input(description="A product as its owning system describes it.")
class UpsertProductInput:
    source_key: SourceKeyInput = strawberry.field(description="The product's key in your system.")
    code: str = strawberry.field(description="Product code.")
    name: str = strawberry.field(description="Name as shown to customers.")
    category: ProductCategory = strawberry.field(description="Product family.")
    audience: ProductAudience = strawberry.field(description="Personal, corporate or both.")
    currency: str = strawberry.field(default="CNY", description="Default ISO 4217 currency.")


@strawberry.input(description="A relationship manager as the HR or core system describes them.")
class UpsertRelationshipManagerInput:
    source_key: SourceKeyInput = strawberry.field(description="The person's key in your system.")
    employee_no: str = strawberry.field(description="Staff number.")
    name: str = strawberry.field(description="Full name.")
    grade: int = strawberry.field(description="1 junior … 4 principal.")
    branch_code: str = strawberry.field(description="The branch they are attached to.")
    active: bool = strawberry.field(default=True, description="False once they left.")


@strawberry.input(description="A product variant: its own term, rate, fees and dates.")
class UpsertProductVariantInput:
    product_code: str = strawberry.field(description="The product.")
    code: str = strawberry.field(description="The variant's code within the product (its key).")
    name: str = strawberry.field(description="Its name.")
    effective_from: date = strawberry.field(description="First day it is offered.")
    effective_to: date | None = strawberry.field(default=None, description="Last day, if set.")
    term_months: int | None = strawberry.field(default=None, description="Term in months.")
    interest_rate: Decimal | None = strawberry.field(
        default=None, description="Rate, percent a year (at most 4 decimals)."
    )
    currency: str = strawberry.field(default="CNY", description="ISO 4217.")
    fee: Decimal | None = strawberry.field(default=None, description="Fee (2 decimals).")
    fee_note: str | None = strawberry.field(default=None, description="What the fee is for.")


@strawberry.type(description="The branch as kept now.")
class UpsertBranchPayload:
    branch: Branch = strawberry.field(description="The branch.")
    created: bool = strawberry.field(description="True when it was new.")


@strawberry.type(description="The product as kept now.")
class UpsertProductPayload:
    product: Product = strawberry.field(description="The product.")
    created: bool = strawberry.field(description="True when it was new.")


@strawberry.type(description="The relationship manager as kept now.")
class UpsertRelationshipManagerPayload:
    relationship_manager: RelationshipManager = strawberry.field(description="The RM.")
    created: bool = strawberry.field(description="True when they were new.")


@strawberry.type(description="The variant as kept now.")
class UpsertProductVariantPayload:
    variant: ProductVariant = strawberry.field(description="The variant.")
    created: bool = strawberry.field(description="True when it was new.")


@strawberry.type(description="Retired: kept for what refers to it, offered no more.")
class RetirePayload:
    code: str = strawberry.field(description="The code of what was retired.")
    retired: bool = strawberry.field(description="False when it was retired already.")


UpsertBranchResult = Annotated[
    UpsertBranchPayload | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("UpsertBranchResult", description="Kept, or why not."),
]
UpsertProductResult = Annotated[
    UpsertProductPayload | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("UpsertProductResult", description="Kept, or why not."),
]
UpsertRelationshipManagerResult = Annotated[
    UpsertRelationshipManagerPayload | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("UpsertRelationshipManagerResult", description="Kept, or why not."),
]
UpsertProductVariantResult = Annotated[
    UpsertProductVariantPayload | InvalidInputError | ForbiddenError | RuleViolationError,
    strawberry.union("UpsertProductVariantResult", description="Kept, or why not."),
]
RetireResult = Annotated[
    RetirePayload | InvalidInputError | ForbiddenError,
    strawberry.union("RetireResult", description="Retired, or why not."),
]


T = TypeVar("T")


@strawberry.type(description="A page of reference data, by id (Relay connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="This page, with cursors.")
    nodes: list[T] = strawberry.field(description="This page's records.")
    page_info: PageInfo = strawberry.field(description="Whether more follow.")


def connection(found: Sequence[T], first: int, key: Callable[[T], int]) -> Connection[T]:
    """A page from `first + 1` id-ordered records."""
    page, info = split_page(found, first, key)
    return Connection(
        edges=edges(page, key),
        nodes=page,
        page_info=info,
    )
