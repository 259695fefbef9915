"""matchCandidates (the data steward's review queue) and customerMerges (merges, to read back
and to undo)."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError, InvalidInput
from domain.identity.review import CandidateStatus
from domain.ids import decode_typed_id
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import check_first, decode_id_cursor
from schema.identity.types import CustomerMerge, MatchCandidate
from schema.reference.types import Connection, connection


def _customer(customer_id: strawberry.ID | None) -> int | None:
    return (
        None
        if customer_id is None
        else decode_typed_id(customer_id, "Customer", field="customerId")
    )


@strawberry.type
class IdentityQueries:
    @strawberry.field(
        description="The review queue (data stewards, admins): candidate pairs in the order "
        "found, each with its score, evidence and both records side by side, masked by policy. "
        "`status` defaults to PENDING; `minProbability` and `customerId` narrow it."
    )
    async def match_candidates(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        status: CandidateStatus = CandidateStatus.PENDING,
        min_probability: float = 0.0,
        customer_id: strawberry.ID | None = None,
    ) -> Connection[MatchCandidate]:
        try:
            require(info, "matchCandidates")
            check_first(first)
            cursor = decode_id_cursor(after)
            if not 0.0 <= min_probability <= 1.0:
                raise InvalidInput("minProbability", "between 0 and 1")
            pk = _customer(customer_id)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        review = info.context.identity
        assert review is not None  # wired by api/bootstrap.py in every server
        found = await review.candidates(status, min_probability, pk, cursor, first + 1)
        return connection([MatchCandidate(found=c) for c in found], first, lambda c: c.found.id)

    @strawberry.field(
        description="Merges, newest first (data stewards, admins): who decided each on what "
        "evidence, the lineage of the survivor's values, and what an unmerge did."
    )
    async def customer_merges(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        customer_id: strawberry.ID | None = None,
    ) -> Connection[CustomerMerge]:
        try:
            require(info, "customerMerges")
            check_first(first)
            cursor = decode_id_cursor(after)
            pk = _customer(customer_id)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        review = info.context.identity
        assert review is not None
        found = await review.merges(pk, cursor, first + 1)
        return connection([CustomerMerge(record=m) for m in found], first, lambda m: m.record.id)
