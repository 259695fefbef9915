"""Source cross-references in GraphQL: a customer named by its key in another system."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.customers.source_keys import SourceKey, validate_source_key
from domain.errors import InvalidInput, NotFound
from domain.ids import decode_typed_id
from schema.core.context import Info

if TYPE_CHECKING:
    from schema.customers.types import Customer


@strawberry.input(description="A customer's key in another of the bank's systems.")
class SourceKeyInput:
    system: str = strawberry.field(
        description="The system's name: lower-case letters, digits, _ or - (core_banking, "
        "cards, loans…)."
    )
    key: str = strawberry.field(description="The customer's id there, as that system writes it.")


@strawberry.type(
    description="The customer a source key names: the id and code for any caller allowed to "
    "resolve keys; the profile only where the caller may read it."
)
class CustomerReference:
    id: strawberry.ID = strawberry.field(description="The customer's global id.")
    code: str = strawberry.field(description="The customer's code in quanjing.")
    pk: strawberry.Private[int]

    @strawberry.field(
        description="The profile, as the caller may see it (masked and audited); null for "
        "callers who read no profiles (integrations)."
    )
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers.types")] | None:
        from schema.customers.types import load_customer

        return await load_customer(info, self.pk)


@strawberry.input(description="Record that a customer has a key in a system.")
class LinkCustomerSourceKeyInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    source_key: SourceKeyInput = strawberry.field(
        description="Its key; an integration links keys of its own system only."
    )


@strawberry.type(description="The key is recorded for the customer.")
class LinkCustomerSourceKeyPayload:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    created: bool = strawberry.field(
        description="False when the key was recorded for this customer already (a replay)."
    )


def source_key_of(given: SourceKeyInput, field: str) -> SourceKey:
    return validate_source_key(given.system, given.key, field)


async def customer_pk(
    info: Info,
    customer_id: strawberry.ID | None,
    source_key: SourceKeyInput | None,
    field: str = "customerId",
) -> int:
    """The customer a write names, by its id or by its key in a source system (exactly one).
    InvalidInput for neither or both, NotFound for a key no customer has."""
    if (customer_id is None) == (source_key is None):
        raise InvalidInput(field, "name the customer by customerId or by customerSourceKey")
    if customer_id is not None:
        return decode_typed_id(customer_id, "Customer", field=field)
    assert source_key is not None
    key = source_key_of(source_key, "customerSourceKey")
    found = await info.context.source_keys.customer_of(key)
    if found is None:
        raise NotFound("customer with source key", f"{key.system}:{key.key}")
    return found
