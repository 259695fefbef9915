"""createSegment / deleteSegment: saved rule-based segments."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError, InvalidInput, NotFound
from domain.ids import decode_typed_id
from domain.value.segments import (
    check_name,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    rule_error_type,
)
from schema.segments.types import (
    CreateSegmentResult,
    DeleteSegmentResult,
    Segment,
    SegmentNameTaken,
    SegmentRuleInput,
    to_rule,
)


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(description="Save a rule as a named segment.")
    async def create_segment(
        self,
        info: Info,
        name: str,
        rule: SegmentRuleInput,
        description: str | None = None,
    ) -> CreateSegmentResult:
        try:
            require(info, "createSegment")
            cleaned = check_name(name)
            if description is not None and len(description) > 500:
                raise InvalidInput("description", "at most 500 characters")
            compiled = to_rule(rule)
            saved = await info.context.segments.save(
                cleaned, description, compiled, info.context.principal.subject
            )
            if saved is None:
                raise SegmentNameTaken(f"a segment named {cleaned!r} exists")
        except DomainError as exc:
            return rule_error_type(exc)
        return Segment.from_domain(saved)

    @strawberry.mutation(description="Delete a saved segment.")
    async def delete_segment(self, info: Info, id: strawberry.ID) -> DeleteSegmentResult:
        try:
            require(info, "deleteSegment")
            pk = decode_typed_id(id, "Segment")
            found = await info.context.segments.get(pk)
            if found is None or not await info.context.segments.delete(pk):
                raise NotFound("Segment", id)
        except DomainError as exc:
            return rule_error_type(exc)
        return Segment.from_domain(found)
