"""The data steward's decisions: a candidate pair merged or marked as two customers, a merge
asked for directly, and a merge undone."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import strawberry

from domain.customers.registration import clean_text
from domain.errors import DomainError, InvalidInput, NotFound
from domain.identity.review import AlreadyDecided, CandidateStatus, Decision, MergeRequest
from domain.ids import decode_typed_id
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    rule_error_type,
)
from schema.identity.types import CustomerMerge, MatchCandidate

Refusal = NotFoundError | InvalidInputError | ForbiddenError | RuleViolationError


@strawberry.input(description="A steward's decision on a candidate pair.")
class DecideMatchCandidateInput:
    candidate_id: strawberry.ID = strawberry.field(description="The pair (matchCandidates).")
    decision: Decision = strawberry.field(description="MERGE, or NOT_SAME.")
    survivor_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="MERGE only: the record that survives, overriding the documented rule "
        "(core banking's record, then the more complete, then the older).",
    )
    note: str | None = strawberry.field(default=None, description="Why (kept with the decision).")


@strawberry.type(description="The pair decided; the merge when it was merged.")
class DecideMatchCandidatePayload:
    candidate: MatchCandidate = strawberry.field(description="The pair, as decided.")
    merge: CustomerMerge | None = strawberry.field(description="The merge (MERGE only).")


@strawberry.input(description="Merge two records a steward knows are one customer.")
class MergeCustomersInput:
    customer_ids: list[strawberry.ID] = strawberry.field(description="The two records.")
    survivor_id: strawberry.ID | None = strawberry.field(
        default=None, description="The record that survives (default: the documented rule)."
    )
    reason: str | None = strawberry.field(default=None, description="Why (kept and audited).")


@strawberry.type(description="The records are merged.")
class MergeCustomersPayload:
    merge: CustomerMerge = strawberry.field(description="The merge, with its lineage.")


@strawberry.input(description="Undo a merge.")
class UnmergeCustomersInput:
    merge_id: strawberry.ID = strawberry.field(description="The merge (customerMerges).")


@strawberry.type(description="The merge is undone: both records stand again.")
class UnmergeCustomersPayload:
    merge: CustomerMerge = strawberry.field(
        description="The merge, now UNMERGED, with its undo report."
    )


DecideResult = Annotated[
    DecideMatchCandidatePayload | Refusal,
    strawberry.union(
        "DecideMatchCandidateResult",
        description="The decision, or why not (ALREADY_DECIDED, ALREADY_MERGED, MERGE_ERASED, "
        "CANNOT_MERGE).",
    ),
]
MergeResult = Annotated[
    MergeCustomersPayload | Refusal,
    strawberry.union(
        "MergeCustomersResult",
        description="The merge, or why not (ALREADY_MERGED, MERGE_ERASED, CANNOT_MERGE).",
    ),
]
UnmergeResult = Annotated[
    UnmergeCustomersPayload | Refusal,
    strawberry.union(
        "UnmergeCustomersResult", description="The undone merge, or why not (CANNOT_UNMERGE)."
    ),
]


def _request(info: Info, left: int, right: int, survivor: int | None) -> MergeRequest:
    principal = info.context.principal
    return MergeRequest(
        left_id=left,
        right_id=right,
        actor=principal.subject,
        role=principal.role.value,
        correlation_id=info.context.correlation_id,
        survivor_id=survivor,
    )


async def _merge_of(info: Info, merge_id: int) -> CustomerMerge:
    review = info.context.identity
    assert review is not None
    record = await review.merge_record(merge_id)
    assert record is not None  # written in the transaction that just committed
    return CustomerMerge(record=record)


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        description="Decide a candidate pair (data stewards, admins): MERGE it (the survivor "
        "by the documented rules unless named), or NOT_SAME (remembered: the pair is not "
        "proposed again unless a record changes in a compared field). Audited."
    )
    async def decide_match_candidate(
        self, info: Info, input: DecideMatchCandidateInput
    ) -> DecideResult:
        context = info.context
        try:
            require(info, "decideMatchCandidate")
            pk = decode_typed_id(input.candidate_id, "MatchCandidate", field="candidateId")
            note = clean_text(input.note, "note", 500)
            review, merges = context.identity, context.merges
            assert review is not None
            assert merges is not None
            if input.decision is Decision.NOT_SAME:
                if input.survivor_id is not None:
                    raise InvalidInput("survivorId", "only a MERGE names a survivor")
                decided = await review.decide_not_same(pk, context.principal.subject, note)
                return DecideMatchCandidatePayload(
                    candidate=MatchCandidate(found=decided), merge=None
                )
            candidate = await review.candidate(pk)
            if candidate is None:
                raise NotFound("match candidate", input.candidate_id)
            if candidate.status is not CandidateStatus.PENDING:
                raise AlreadyDecided(f"the pair was decided already ({candidate.status.value})")
            survivor = (
                None
                if input.survivor_id is None
                else decode_typed_id(input.survivor_id, "Customer", field="survivorId")
            )
            done = await merges.merge(
                replace(
                    _request(info, candidate.left_id, candidate.right_id, survivor),
                    candidate_id=pk,
                    probability=candidate.probability,
                    evidence=[dict(e) for e in candidate.evidence],
                    reason=note,
                )
            )
            after = await review.candidate(pk)
            assert after is not None
        except DomainError as exc:
            return rule_error_type(exc)
        return DecideMatchCandidatePayload(
            candidate=MatchCandidate(found=after), merge=await _merge_of(info, done.merge_id)
        )

    @strawberry.mutation(
        description="Merge two records known to be one customer (data stewards, admins), with "
        "or without a candidate pair: everything of the merged record moves to the survivor, "
        "its id and source keys keep answering. Audited; announced as customer.merged."
    )
    async def merge_customers(self, info: Info, input: MergeCustomersInput) -> MergeResult:
        context = info.context
        try:
            require(info, "mergeCustomers")
            if len(input.customer_ids) != 2:
                raise InvalidInput("customerIds", "name exactly two records")
            left, right = (
                decode_typed_id(i, "Customer", field="customerIds") for i in input.customer_ids
            )
            survivor = (
                None
                if input.survivor_id is None
                else decode_typed_id(input.survivor_id, "Customer", field="survivorId")
            )
            reason = clean_text(input.reason, "reason", 500)
            assert context.merges is not None
            done = await context.merges.merge(
                replace(_request(info, left, right, survivor), reason=reason)
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return MergeCustomersPayload(merge=await _merge_of(info, done.merge_id))

    @strawberry.mutation(
        description="Undo a merge (data stewards, admins): both records as they were at the "
        "merge, with every moved row; rows written since for the merged record (by its id or "
        "source keys) go back to it, the survivor's own stay, the rest are listed for the "
        "steward in undoReport. Audited; announced as customer.unmerged."
    )
    async def unmerge_customers(self, info: Info, input: UnmergeCustomersInput) -> UnmergeResult:
        context = info.context
        try:
            require(info, "unmergeCustomers")
            pk = decode_typed_id(input.merge_id, "CustomerMerge", field="mergeId")
            assert context.merges is not None
            principal = context.principal
            await context.merges.unmerge(
                pk, principal.subject, principal.role.value, context.correlation_id
            )
        except DomainError as exc:
            return rule_error_type(exc)
        return UnmergeCustomersPayload(merge=await _merge_of(info, pk))
