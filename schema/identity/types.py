"""Identity resolution's types: candidate pairs with their evidence, and merges with the
lineage of every surviving value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from domain.identity.review import Candidate, CandidateStatus, Decision, MergeRecord
from domain.ids import encode_id
from schema.core.context import Info

if TYPE_CHECKING:
    from schema.customers.types import Customer

strawberry.enum(
    CandidateStatus,
    name="MatchCandidateStatus",
    description="PENDING (waits for a steward), NOT_SAME (two customers: not proposed again "
    "unless a record changes in a compared field), MERGED, SUPERSEDED (one record was merged "
    "with a third).",
)
strawberry.enum(
    Decision,
    name="MatchDecision",
    description="MERGE the two records, or NOT_SAME: they are two customers.",
)

CustomerType = Annotated["Customer", strawberry.lazy("schema.customers.types")]


@strawberry.type(description="How one field of the pair compared, and what it weighed.")
class MatchEvidence:
    field: str = strawberry.field(
        description="name, birthDate, document, phone, email, address, kind."
    )
    level: str = strawberry.field(
        description="The agreement level: exact, simplified, swapped, same_sound, similar, "
        "transposed, near, same, shared, partial, different, missing."
    )
    weight: float | None = strawberry.field(
        description="Its match weight, log2(m/u): positive agrees, negative disagrees; null "
        "for a disagreement that rules the pair out (a person and a company)."
    )
    description: str = strawberry.field(description="The level in words.")
    similarity: float | None = strawberry.field(
        description="How close (0–1), where the level is a matter of degree."
    )

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> MatchEvidence:
        weight = entry.get("weight")
        return cls(
            field=str(entry.get("field")),
            level=str(entry.get("level")),
            weight=None if weight is None or not math.isfinite(weight) else float(weight),
            description=str(entry.get("description")),
            similarity=entry.get("similarity"),
        )


async def _customer(info: Info, pk: int) -> Customer | None:
    from schema.customers.types import load_customer

    return await load_customer(info, pk)


@strawberry.type(
    description="Two records that may be one customer: the score, its evidence, and both "
    "records side by side as the caller may see them (masked by policy, audited)."
)
class MatchCandidate:
    found: strawberry.Private[Candidate]

    @strawberry.field(description="The candidate pair's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("MatchCandidate", self.found.id))

    @strawberry.field(description="The match probability (0–1).")
    def probability(self) -> float:
        return self.found.probability

    @strawberry.field(description="The total match weight: the prior plus every field's.")
    def weight(self) -> float:
        return self.found.weight

    @strawberry.field(description="The matching model's version the score was made with.")
    def model_version(self) -> str:
        return self.found.model_version

    @strawberry.field(description="Where the pair stands.")
    def status(self) -> CandidateStatus:
        return self.found.status

    @strawberry.field(description="Every compared field: level, weight, similarity.")
    def evidence(self) -> list[MatchEvidence]:
        return [MatchEvidence.of(e) for e in self.found.evidence]

    @strawberry.field(description="When the pair was last scored.")
    def found_at(self) -> datetime:
        return self.found.found_at

    @strawberry.field(description="The first record's global id.")
    def left_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Customer", self.found.left_id))

    @strawberry.field(description="The second record's global id.")
    def right_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Customer", self.found.right_id))

    @strawberry.field(description="The first record (a merged one answers its survivor).")
    async def left(self, info: Info) -> CustomerType | None:
        return await _customer(info, self.found.left_id)

    @strawberry.field(description="The second record (a merged one answers its survivor).")
    async def right(self, info: Info) -> CustomerType | None:
        return await _customer(info, self.found.right_id)

    @strawberry.field(description="Who decided it (null while pending).")
    def decided_by(self) -> str | None:
        return self.found.decided_by

    @strawberry.field(description="When it was decided.")
    def decided_at(self) -> datetime | None:
        return self.found.decided_at

    @strawberry.field(description="The steward's note.")
    def decision_note(self) -> str | None:
        return self.found.decision_note


@strawberry.type(description="Where a surviving value came from.")
class FieldLineage:
    field: str = strawberry.field(description="The field (profile path, as updateCustomer).")
    customer_id: strawberry.ID = strawberry.field(description="The record that gave it.")
    system: str | None = strawberry.field(
        description="That record's most trusted source system (null: entered in quanjing)."
    )
    at: datetime = strawberry.field(description="When that record's value was written.")
    rule: str | None = strawberry.field(
        description="The survivorship rule that chose it where the records disagreed "
        "(source_priority, most_recent, most_complete); null where one record had a value "
        "or both agreed."
    )


@strawberry.type(description="Rows of one kind, by id: for the steward to place.")
class RowsToReview:
    table: str = strawberry.field(description="The kind of row (tasks, alerts, consents…).")
    ids: list[int] = strawberry.field(description="Their internal ids.")


@strawberry.type(description="One merge: who decided it on what evidence, and its lineage.")
class CustomerMerge:
    record: strawberry.Private[MergeRecord]

    @strawberry.field(description="The merge's id (unmergeCustomers takes it).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("CustomerMerge", self.record.id))

    @strawberry.field(description="MERGED, or UNMERGED once undone.")
    def status(self) -> str:
        return self.record.status.upper()

    @strawberry.field(description="The surviving record's global id.")
    def survivor_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Customer", self.record.survivor_id))

    @strawberry.field(description="The merged record's global id (it answers the survivor).")
    def merged_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Customer", self.record.merged_id))

    @strawberry.field(description="The surviving record, as the caller may see it.")
    async def survivor(self, info: Info) -> CustomerType | None:
        return await _customer(info, self.record.survivor_id)

    @strawberry.field(description="The candidate pair it decided, if it came from the queue.")
    def candidate_id(self) -> strawberry.ID | None:
        pk = self.record.candidate_id
        return None if pk is None else strawberry.ID(encode_id("MatchCandidate", pk))

    @strawberry.field(description="The match probability it was decided on, if scored.")
    def probability(self) -> float | None:
        return self.record.probability

    @strawberry.field(description="The evidence it was decided on.")
    def evidence(self) -> list[MatchEvidence]:
        return [MatchEvidence.of(e) for e in self.record.evidence]

    @strawberry.field(description="The steward's reason.")
    def reason(self) -> str | None:
        return self.record.reason

    @strawberry.field(description="Every surviving value's origin: record, system, time, rule.")
    def lineage(self) -> list[FieldLineage]:
        return [
            FieldLineage(
                field=path,
                customer_id=strawberry.ID(encode_id("Customer", int(entry["customerId"]))),
                system=entry.get("system"),
                at=datetime.fromisoformat(str(entry["at"])),
                rule=entry.get("rule"),
            )
            for path, entry in sorted(self.record.lineage.items())
        ]

    @strawberry.field(
        description="What else it decided: why this record survived, the relationship state, "
        "the RM (an ownership claim for a second RM), consents refused, rows moved per kind."
    )
    def outcomes(self) -> JSON:
        return JSON(dict(self.record.outcomes))

    @strawberry.field(description="Who decided the merge.")
    def decided_by(self) -> str:
        return self.record.decided_by

    @strawberry.field(description="When.")
    def decided_at(self) -> datetime:
        return self.record.decided_at

    @strawberry.field(description="Who undid it (null while merged).")
    def undone_by(self) -> str | None:
        return self.record.undone_by

    @strawberry.field(description="When it was undone.")
    def undone_at(self) -> datetime | None:
        return self.record.undone_at

    @strawberry.field(
        description="What the unmerge did: rows returned per kind, survivor fields kept "
        "because they changed after the merge, rows left for the steward."
    )
    def undo_report(self) -> JSON | None:
        report = self.record.undo_report
        return None if report is None else JSON(dict(report))
