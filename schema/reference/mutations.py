"""Upserts of reference data by the owning system's key, and retirement."""

from __future__ import annotations

import strawberry

from domain.access.principal import Role
from domain.customers.source_keys import SourceKey, may_link
from domain.errors import DomainError, Forbidden
from domain.organisation import RelationshipManager as RelationshipManagerModel
from domain.products import Product as ProductModel
from domain.reference_data import (
    BranchDraft,
    ProductDraft,
    ReferenceKind,
    StaffDraft,
    VariantDraft,
    retire,
    upsert_branch,
    upsert_product,
    upsert_staff,
    upsert_variant,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import rule_error_type
from schema.organisation.types import Branch, RelationshipManager
from schema.products.types import Product, ProductVariant
from schema.reference.types import (
    RetirePayload,
    RetireResult,
    UpsertBranchInput,
    UpsertBranchPayload,
    UpsertBranchResult,
    UpsertProductInput,
    UpsertProductPayload,
    UpsertProductResult,
    UpsertProductVariantInput,
    UpsertProductVariantPayload,
    UpsertProductVariantResult,
    UpsertRelationshipManagerInput,
    UpsertRelationshipManagerPayload,
    UpsertRelationshipManagerResult,
)
from schema.source_keys.types import SourceKeyInput, source_key_of


def _key(info: Info, root_field: str, given: SourceKeyInput) -> SourceKey:
    """Checked before anything is read: the caller may write, and write keys of this system."""
    require(info, root_field)
    key = source_key_of(given, "input.sourceKey")
    if not may_link(info.context.principal, key.system):
        raise Forbidden(f"you may not write records keyed by {key.system}")
    return key


def _system(info: Info) -> str | None:
    """An integration's system (it changes what its system keys); None for an admin."""
    principal = info.context.principal
    return (principal.client_id or "") if principal.role is Role.INTEGRATION else None


@strawberry.type
class ReferenceMutations:
    @strawberry.mutation(
        description="Create or change a branch by your system's key (a record with the same code "
        "is adopted and keyed)."
    )
    async def upsert_branch(self, info: Info, input: UpsertBranchInput) -> UpsertBranchResult:
        try:
            key = _key(info, "upsertBranch", input.source_key)
            draft = BranchDraft(input.code, input.name, input.city, input.kind, input.parent_code)
            done = await upsert_branch(info.context.reference_changes, key, draft)
        except DomainError as exc:
            return rule_error_type(exc)  # type: ignore[return-value]
        found = (await info.context.reader.branches_by_id([done.id]))[done.id]
        return UpsertBranchPayload(branch=Branch.from_domain(found), created=done.created)

    @strawberry.mutation(description="Create or change a product by your system's key.")
    async def upsert_product(self, info: Info, input: UpsertProductInput) -> UpsertProductResult:
        try:
            key = _key(info, "upsertProduct", input.source_key)
            draft = ProductDraft(
                input.code, input.name, input.category, input.audience, input.currency
            )
            done = await upsert_product(info.context.reference_changes, key, draft)
        except DomainError as exc:
            return rule_error_type(exc)  # type: ignore[return-value]
        found: ProductModel = (await info.context.reader.products_by_id([done.id]))[done.id]
        return UpsertProductPayload(product=Product.from_domain(found), created=done.created)

    @strawberry.mutation(
        description="Create or change a relationship manager by your system's key (HR, core)."
    )
    async def upsert_relationship_manager(
        self, info: Info, input: UpsertRelationshipManagerInput
    ) -> UpsertRelationshipManagerResult:
        try:
            key = _key(info, "upsertRelationshipManager", input.source_key)
            draft = StaffDraft(
                input.employee_no, input.name, input.grade, input.branch_code, input.active
            )
            done = await upsert_staff(info.context.reference_changes, key, draft)
        except DomainError as exc:
            return rule_error_type(exc)  # type: ignore[return-value]
        reader = info.context.reader
        found: RelationshipManagerModel = (await reader.relationship_managers_by_id([done.id]))[
            done.id
        ]
        return UpsertRelationshipManagerPayload(
            relationship_manager=RelationshipManager.from_domain(found), created=done.created
        )

    @strawberry.mutation(description="Create or change a product's variant (keyed by its code).")
    async def upsert_product_variant(
        self, info: Info, input: UpsertProductVariantInput
    ) -> UpsertProductVariantResult:
        try:
            require(info, "upsertProductVariant")
            draft = VariantDraft(
                product_code=input.product_code,
                code=input.code,
                name=input.name,
                effective_from=input.effective_from,
                term_months=input.term_months,
                interest_rate=input.interest_rate,
                currency=input.currency,
                fee=input.fee,
                fee_note=input.fee_note,
                effective_to=input.effective_to,
            )
            variant, created = await upsert_variant(
                info.context.reference_changes, draft, _system(info)
            )
        except DomainError as exc:
            return rule_error_type(exc)  # type: ignore[return-value]
        return UpsertProductVariantPayload(
            variant=ProductVariant.from_domain(variant), created=created
        )

    @strawberry.mutation(description="Retire a product: kept for its holdings, offered no more.")
    async def retire_product(self, info: Info, code: str) -> RetireResult:
        return await _retire(info, "retireProduct", ReferenceKind.PRODUCT, code)

    @strawberry.mutation(description="Retire a branch: kept for what refers to it.")
    async def retire_branch(self, info: Info, code: str) -> RetireResult:
        return await _retire(info, "retireBranch", ReferenceKind.BRANCH, code)


async def _retire(info: Info, root_field: str, kind: ReferenceKind, code: str) -> RetireResult:
    try:
        require(info, root_field)
        retired = await retire(info.context.reference_changes, kind, code, _system(info))
    except DomainError as exc:
        return rule_error_type(exc)  # type: ignore[return-value]
    return RetirePayload(code=code.strip().upper(), retired=retired)
