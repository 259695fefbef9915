"""Completeness of a record, and dataQualityReport: where the records are thin, per branch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.customers.completeness import BranchQuality, RecordFacts, WeakRecord, assess
from domain.customers.model import Customer as CustomerModel
from domain.errors import DomainError, InvalidInput
from domain.ids import decode_typed_id
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import UserFacingError
from schema.core.pagination import Edge, PageInfo, check_first, decode_cursor, edges, encode_cursor
from schema.organisation.types import Branch, load_branch

if TYPE_CHECKING:
    from schema.customers.types import Customer

BUCKETS = ((0, 19), (20, 39), (40, 59), (60, 79), (80, 100))


@strawberry.type(
    description="How complete the record is: the share of the items a bank's KYC "
    "file asks of this kind of customer, and which are missing."
)
class Completeness:
    score: int = strawberry.field(description="0–100.")
    missing: list[str] = strawberry.field(
        description="The missing items by profile path: personal.occupation, "
        "contactPoints.phone, documents.uscc…"
    )


async def completeness_of(info: Info, customer: CustomerModel) -> Completeness:
    """Assessed from the record as it is now (the stored score serves the report)."""
    loaders = info.context.loaders
    points = await loaders.contact_points_by_customer.load(customer.id)
    documents = await loaders.documents_by_customer.load(customer.id)
    contacts = await loaders.corporate_contacts_by_customer.load(customer.id)
    found = assess(
        RecordFacts(
            customer=customer,
            contact_kinds=frozenset(p.kind for p in points),
            document_types=frozenset(d.type for d in documents),
            corporate_contacts=len(contacts),
        )
    )
    return Completeness(score=found.score, missing=list(found.missing))


@strawberry.type(description="How many records score within a range.")
class ScoreBucket:
    low: int = strawberry.field(description="Lowest score in the range.")
    high: int = strawberry.field(description="Highest score in the range.")
    customers: int = strawberry.field(description="Records in it.")


@strawberry.type(description="A branch's records by completeness.")
class BranchDataQuality:
    customers: int = strawberry.field(description="Records of the branch (erased ones aside).")
    assessed: int = strawberry.field(
        description="Of them assessed (run `quanjing assess-completeness` after an upgrade)."
    )
    average_score: float | None = strawberry.field(description="Their average score.")
    distribution: list[ScoreBucket] = strawberry.field(description="Scores in ranges of 20.")
    branch_id: strawberry.Private[int | None]

    @strawberry.field(description="The branch; null for records without a home branch.")
    async def branch(self, info: Info) -> Branch | None:
        return None if self.branch_id is None else await load_branch(info, self.branch_id)

    @classmethod
    def from_domain(cls, found: BranchQuality) -> BranchDataQuality:
        return cls(
            customers=found.customers,
            assessed=found.assessed,
            average_score=found.average,
            distribution=[
                ScoreBucket(low=low, high=high, customers=n)
                for (low, high), n in zip(BUCKETS, found.buckets, strict=True)
            ],
            branch_id=found.branch_id,
        )


@strawberry.type(description="A record among the least complete.")
class WeakRecordNode:
    score: int = strawberry.field(description="Its completeness score.")
    missing: list[str] = strawberry.field(description="What it lacks.")
    customer_id: strawberry.Private[int]

    @strawberry.field(description="The customer, as you may see them (masked and audited).")
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("schema.customers.types")] | None:
        from schema.customers.types import load_customer

        return await load_customer(info, self.customer_id)


@strawberry.type(description="The least complete records, lowest score first.")
class WeakRecordConnection:
    edges: list[Edge[WeakRecordNode]] = strawberry.field(description="This page, with cursors.")
    nodes: list[WeakRecordNode] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Whether more follow.")


def _keyset(after: str | None) -> tuple[int, int] | None:
    if after is None:
        return None
    score, _, last = decode_cursor(after).partition(":")
    if not (score.isdigit() and last.isdigit()):
        raise InvalidInput("after", "not a valid cursor")
    return int(score), int(last)


def _page(found: Sequence[WeakRecord], first: int) -> WeakRecordConnection:
    page = list(found[:first])
    end = encode_cursor(f"{page[-1].score}:{page[-1].customer_id}") if page else None
    start = encode_cursor(f"{page[0].score}:{page[0].customer_id}") if page else None
    nodes = [
        WeakRecordNode(score=r.score, missing=list(r.missing), customer_id=r.customer_id)
        for r in page
    ]
    return WeakRecordConnection(
        edges=edges(nodes, lambda n: f"{n.score}:{n.customer_id}"),
        nodes=nodes,
        page_info=PageInfo(has_next_page=len(found) > first, end_cursor=end, start_cursor=start),
    )


@strawberry.type(description="Where the records are thin: per branch, and the weakest records.")
class DataQualityReport:
    branches: list[BranchDataQuality] = strawberry.field(
        description="Each branch's records by completeness."
    )
    branch_pk: strawberry.Private[int | None]

    @strawberry.field(description="The least complete records (of the branch, if one was named).")
    async def weakest(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> WeakRecordConnection:
        try:
            check_first(first)
            keyset = _keyset(after)
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.data_quality.weakest(self.branch_pk, keyset, first + 1)
        return _page(found, first)


@strawberry.type
class DataQualityQueries:
    @strawberry.field(
        description="Completeness of customers' records per branch and the weakest records, "
        "for data stewards and admins."
    )
    async def data_quality_report(
        self, info: Info, branch_id: strawberry.ID | None = None
    ) -> DataQualityReport:
        try:
            require(info, "dataQualityReport")
            branch = (
                None
                if branch_id is None
                else decode_typed_id(branch_id, "Branch", field="branchId")
            )
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        found = await info.context.data_quality.by_branch(branch)
        return DataQualityReport(
            branches=[BranchDataQuality.from_domain(b) for b in found], branch_pk=branch
        )
