"""segmentPreview, segment, segments: counts, and members where the caller may see them."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError
from domain.ids import decode_typed_id
from domain.value.segments import (
    describe,
    publishable_count,
)
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    UserFacingError,
)
from schema.core.pagination import check_first, decode_id_cursor, edges, split_page
from schema.segments.types import (
    Segment,
    SegmentConnection,
    SegmentPreview,
    SegmentRuleInput,
    to_rule,
)


@strawberry.type
class SegmentQueries:
    @strawberry.field(description="Count the customers a rule matches, without saving it.")
    async def segment_preview(self, info: Info, rule: SegmentRuleInput) -> SegmentPreview:
        try:
            require(info, "segmentPreview")
            compiled = to_rule(rule)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        return SegmentPreview(
            count=publishable_count(await info.context.segments.count(compiled)),
            conditions=[describe(c) for c in compiled.clauses],
        )

    @strawberry.field(description="A saved segment; null if there is none with this id.")
    async def segment(self, info: Info, id: strawberry.ID) -> Segment | None:
        try:
            require(info, "segment")
            pk = decode_typed_id(id, "Segment")
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.segments.get(pk)
        return None if found is None else Segment.from_domain(found)

    @strawberry.field(description="Saved segments, oldest first.")
    async def segments(self, info: Info, first: int, after: str | None = None) -> SegmentConnection:
        try:
            require(info, "segments")
            check_first(first)
            after_id = decode_id_cursor(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.segments.list(first + 1, after_id)
        page, page_info = split_page(found, first, lambda s: s.id)
        nodes = [Segment.from_domain(s) for s in page]
        return SegmentConnection(
            edges=edges(nodes, lambda s: s.model.id), nodes=nodes, page_info=page_info
        )
