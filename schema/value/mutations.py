"""setValueRate: the rate book contribution is computed with (admins)."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    error_type,
)
from schema.value.types import SetValueRateResult, ValueRateInput, ValueRates, _rate_change


@strawberry.type
class ValueMutations:
    @strawberry.mutation(
        description="Change a category margin, a product's override or a channel's unit cost; "
        "it applies from the next scoring of a month."
    )
    async def set_value_rate(self, info: Info, input: ValueRateInput) -> SetValueRateResult:
        try:
            require(info, "setValueRate")
            change = _rate_change(input)
            book = await info.context.values.set_rate(change, info.context.principal.subject)
        except DomainError as exc:
            return error_type(exc)
        return ValueRates.from_domain(book)
