"""linkCustomerSourceKey: record a customer's key in a source system."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.customers.source_keys import may_link
from domain.errors import DomainError, Forbidden
from domain.ids import decode_typed_id, encode_id
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    rule_error_type,
)
from schema.source_keys.types import (
    LinkCustomerSourceKeyInput,
    LinkCustomerSourceKeyPayload,
    source_key_of,
)

LinkCustomerSourceKeyResult = Annotated[
    LinkCustomerSourceKeyPayload
    | NotFoundError
    | InvalidInputError
    | ForbiddenError
    | RuleViolationError,
    strawberry.union(
        "LinkCustomerSourceKeyResult",
        description="The key recorded, or why not (SOURCE_KEY_TAKEN: it names another customer).",
    ),
]


@strawberry.type
class SourceKeyMutations:
    @strawberry.mutation(
        description="Record that a customer has this key in a source system: an integration "
        "for its own system (its client id is the system's name), an admin for any. Replaying "
        "it is harmless; a key that names another customer is SOURCE_KEY_TAKEN."
    )
    async def link_customer_source_key(
        self, info: Info, input: LinkCustomerSourceKeyInput
    ) -> LinkCustomerSourceKeyResult:
        principal = info.context.principal
        try:
            require(info, "linkCustomerSourceKey")
            pk = decode_typed_id(input.customer_id, "Customer", field="customerId")
            key = source_key_of(input.source_key, "sourceKey")
            if not may_link(principal, key.system):
                raise Forbidden(
                    f"an integration links keys of its own system only, not {key.system}"
                )
            created = await info.context.source_keys.link(pk, key, principal.subject)
        except DomainError as exc:
            return rule_error_type(exc)
        return LinkCustomerSourceKeyPayload(
            customer_id=strawberry.ID(encode_id("Customer", pk)), created=created
        )
