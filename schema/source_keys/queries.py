"""customerBySourceKey: quanjing's id for a customer another system knows by its own key."""

from __future__ import annotations

import logging
from typing import Annotated

import strawberry

from domain.customers.source_keys import validate_source_key
from domain.errors import DomainError, NotFound
from domain.ids import encode_id
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UserFacingError,
    error_type,
)
from schema.core.read_audit import AuditUnavailable
from schema.source_keys.types import CustomerReference

log = logging.getLogger(__name__)

CustomerBySourceKeyResult = Annotated[
    CustomerReference | NotFoundError | InvalidInputError | ForbiddenError,
    strawberry.union("CustomerBySourceKeyResult", description="The customer, or why not."),
]


@strawberry.type
class SourceKeyQueries:
    @strawberry.field(
        description="The customer another system knows by this key: id and code for staff and "
        "integrations (the profile where the caller may read it). Every resolution is audited."
    )
    async def customer_by_source_key(
        self, info: Info, system: str, key: str
    ) -> CustomerBySourceKeyResult:
        context = info.context
        try:
            require(info, "customerBySourceKey")
            source_key = validate_source_key(system, key)
            pk = await context.source_keys.customer_of(source_key)
            customer = None if pk is None else await context.loaders.customer_by_id.load(pk)
            if customer is None:
                raise NotFound("customer with source key", f"{source_key.system}:{source_key.key}")
        except DomainError as exc:
            return error_type(exc)
        # Who resolved whom: the id and the code leave with a record, as personal data does.
        entry = context.audit_entry(
            context.audit.operation, (customer.id,), ("Customer.code:clear",), "resolved"
        )
        try:
            await context.audit_log.record(entry)
        except Exception as exc:
            log.exception("a source-key resolution could not be audited; refused")
            raise UserFacingError(AuditUnavailable(context.correlation_id)) from exc
        return CustomerReference(
            id=strawberry.ID(encode_id("Customer", customer.id)), code=customer.code, pk=customer.id
        )
