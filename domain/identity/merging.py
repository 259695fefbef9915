"""Merging two records of one customer: which record survives, where each field's value comes
from (survivorship, with the lineage of every value), and what else the merge decides — the
stricter relationship state, the more restrictive consent. Rules are data: a bank re-ranks its
systems or re-assigns a field's rule here, and docs/identity.md lists them.

The adapter (api/db/merges.py) reads both records into `MergeSide`s, applies the plan and moves
every child row; an unmerge undoes it from what the merge stored.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import RuleViolation
from domain.ids import encode_id
from domain.relationships import RelationshipState


class Survivorship(enum.StrEnum):
    # The value of the record whose source system ranks higher (SOURCE_PRIORITY).
    SOURCE_PRIORITY = "source_priority"
    # The value written last, whichever record holds it.
    MOST_RECENT = "most_recent"
    # The longer text (the fuller description); on a tie, the surviving record's.
    MOST_COMPLETE = "most_complete"


# Systems by how far the bank trusts their customer data, most trusted first; a record's rank
# is its best system's. A record only quanjing knows (no source key) ranks after all of these.
SOURCE_PRIORITY: tuple[str, ...] = ("core_banking", "loans", "cards", "wealth", "crm")

# The rule for each field a merge decides (profile paths, as updateCustomer names them). The
# corporate group's links (parent, legal representative) are not merged: they stay as the
# survivor has them, because taking them over can close a cycle in the group.
FIELD_RULES: Mapping[str, Survivorship] = {
    "displayName": Survivorship.SOURCE_PRIORITY,
    "homeBranch": Survivorship.SOURCE_PRIORITY,
    "preferredChannel": Survivorship.MOST_RECENT,
    "preferredLanguage": Survivorship.MOST_RECENT,
    "personal.gender": Survivorship.SOURCE_PRIORITY,
    "personal.birthDate": Survivorship.SOURCE_PRIORITY,
    "personal.occupation": Survivorship.MOST_RECENT,
    "personal.employer": Survivorship.MOST_RECENT,
    "personal.incomeBand": Survivorship.MOST_RECENT,
    "personal.assetBand": Survivorship.MOST_RECENT,
    "personal.creditStatus": Survivorship.MOST_RECENT,
    "corporate.registeredName": Survivorship.SOURCE_PRIORITY,
    "corporate.ownershipType": Survivorship.SOURCE_PRIORITY,
    "corporate.businessScale": Survivorship.MOST_RECENT,
    "corporate.industry": Survivorship.MOST_RECENT,
    "corporate.lifecycleStage": Survivorship.MOST_RECENT,
    "corporate.assetStructure": Survivorship.MOST_COMPLETE,
    "corporate.liabilitySources": Survivorship.MOST_COMPLETE,
    "corporate.financingModes": Survivorship.MOST_COMPLETE,
    "corporate.creditRecord": Survivorship.MOST_COMPLETE,
}
# A field whose value only makes sense with another's comes from the same record.
FOLLOWERS: Mapping[str, str] = {"personal.creditStatusSource": "personal.creditStatus"}

# Stricter last: a merge keeps the stricter of the two states (doubtful beats normal).
STRICTNESS: tuple[RelationshipState, ...] = (
    RelationshipState.NORMAL,
    RelationshipState.WATCH,
    RelationshipState.DOUBTFUL,
    RelationshipState.EXIT,
)


class CannotMerge(RuleViolation):
    """The two records may not be merged; the message says why."""

    code = "CANNOT_MERGE"


class MergeErased(CannotMerge):
    """An erased record holds no personal data to merge, and erasure is not undone by one."""

    code = "MERGE_ERASED"


class AlreadyMerged(CannotMerge):
    code = "ALREADY_MERGED"


class CannotUnmerge(RuleViolation):
    code = "CANNOT_UNMERGE"


class CustomerMerged(RuleViolation):
    """A change of a record that is merged into another: change the survivor instead."""

    code = "CUSTOMER_MERGED"

    def __init__(self, customer_id: int, survivor_id: int) -> None:
        super().__init__(
            f"customer {encode_id('Customer', customer_id)} is merged into customer "
            f"{encode_id('Customer', survivor_id)}; change that record"
        )
        self.survivor_id = survivor_id


@dataclass(frozen=True, slots=True)
class MergeSide:
    """One of the two records as the merge reads it."""

    id: int
    kind: str
    created_at: datetime
    updated_at: datetime
    systems: frozenset[str]  # the systems it has source keys in
    completeness: int | None
    values: Mapping[str, object]  # profile path → stored value (None: no value)
    # profile path → when the value was last written (its history); else updated_at.
    changed_at: Mapping[str, datetime] = field(default_factory=dict)
    erased: bool = False
    merged_into: int | None = None

    @property
    def rank(self) -> int:
        ranks = [SOURCE_PRIORITY.index(s) for s in self.systems if s in SOURCE_PRIORITY]
        return min(ranks, default=len(SOURCE_PRIORITY))

    @property
    def best_system(self) -> str | None:
        ranked = sorted(self.systems, key=lambda s: (_rank_of(s), s))
        return ranked[0] if ranked else None

    def written_at(self, path: str) -> datetime:
        return self.changed_at.get(path, self.updated_at)


def _rank_of(system: str) -> int:
    return SOURCE_PRIORITY.index(system) if system in SOURCE_PRIORITY else len(SOURCE_PRIORITY)


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where a surviving value came from."""

    customer_id: int
    system: str | None  # the record's most trusted source system; None: quanjing's own
    at: datetime  # when that record's value was written
    rule: Survivorship | None  # None: only one record had a value


@dataclass(frozen=True, slots=True)
class MergePlan:
    survivor_id: int
    merged_id: int
    reason: str  # why this record survives
    changes: Mapping[str, object]  # path → the value the survivor takes (only real changes)
    lineage: Mapping[str, Lineage]  # path → where every surviving value came from


def check_mergeable(a: MergeSide, b: MergeSide) -> None:
    if a.id == b.id:
        raise CannotMerge("a record cannot be merged with itself")
    for side in (a, b):
        if side.merged_into is not None:
            raise AlreadyMerged(f"customer {side.id} is already merged into {side.merged_into}")
        if side.erased:
            raise MergeErased(f"customer {side.id} is erased: an erased record is never merged")
    if a.kind != b.kind:
        raise CannotMerge("a person and a company are never one customer")


def choose_survivor(a: MergeSide, b: MergeSide) -> tuple[MergeSide, MergeSide, str]:
    """The surviving record: the one from the most trusted system, then the more complete,
    then the older."""
    if a.rank != b.rank:
        survivor = a if a.rank < b.rank else b
        return survivor, b if survivor is a else a, f"its source system ({survivor.best_system})"
    ca, cb = a.completeness or 0, b.completeness or 0
    if ca != cb:
        survivor = a if ca > cb else b
        return survivor, b if survivor is a else a, "the more complete record"
    survivor = a if (a.created_at, a.id) <= (b.created_at, b.id) else b
    return survivor, b if survivor is a else a, "the older record"


def _winner(path: str, survivor: MergeSide, merged: MergeSide) -> tuple[MergeSide, Survivorship]:
    rule = FIELD_RULES[path]
    mine, theirs = survivor.values.get(path), merged.values.get(path)
    match rule:
        case Survivorship.SOURCE_PRIORITY:
            return (merged if merged.rank < survivor.rank else survivor), rule
        case Survivorship.MOST_RECENT:
            newer = merged.written_at(path) > survivor.written_at(path)
            return (merged if newer else survivor), rule
        case Survivorship.MOST_COMPLETE:
            longer = len(str(theirs)) > len(str(mine))
            return (merged if longer else survivor), rule


def plan_merge(a: MergeSide, b: MergeSide, survivor_id: int | None = None) -> MergePlan:
    """Who survives and what it takes; `survivor_id` overrides the documented choice (a
    steward who knows better)."""
    check_mergeable(a, b)
    if survivor_id is None:
        survivor, merged, reason = choose_survivor(a, b)
    elif survivor_id in (a.id, b.id):
        survivor, merged = (a, b) if survivor_id == a.id else (b, a)
        reason = "chosen by the data steward"
    else:
        raise CannotMerge("the survivor must be one of the two records")
    changes: dict[str, object] = {}
    lineage: dict[str, Lineage] = {}
    sources: dict[str, MergeSide] = {}
    for path in FIELD_RULES:
        mine, theirs = survivor.values.get(path), merged.values.get(path)
        if theirs is None and mine is None:
            continue
        rule: Survivorship | None = None
        if theirs is None:
            source = survivor
        elif mine is None:
            source = merged
        elif mine == theirs:
            # Agreement: the value's lineage is the record that wrote it first.
            source = min((survivor, merged), key=lambda s: s.written_at(path))
        else:
            source, rule = _winner(path, survivor, merged)
        sources[path] = source
        value = source.values.get(path)
        if value != mine:
            changes[path] = value
        lineage[path] = Lineage(source.id, source.best_system, source.written_at(path), rule)
    for path, leader in FOLLOWERS.items():
        source = sources.get(leader, survivor)
        value = source.values.get(path)
        if value is None:
            continue
        if value != survivor.values.get(path):
            changes[path] = value
        lineage[path] = Lineage(source.id, source.best_system, source.written_at(path), None)
    return MergePlan(survivor.id, merged.id, reason, changes, lineage)


def stricter(a: RelationshipState, b: RelationshipState) -> RelationshipState:
    return max(a, b, key=STRICTNESS.index)


def restrictive_consents(
    survivor: Mapping[tuple[str, str], bool], merged: Mapping[tuple[str, str], bool]
) -> list[tuple[str, str]]:
    """The (purpose, channel) answers the survivor must take from the merged record: a refusal
    it has not given itself. The most restrictive answer wins; a grant never carries over."""
    return sorted(key for key, granted in merged.items() if not granted and survivor.get(key, True))


@dataclass(frozen=True, slots=True)
class AutoMerge:
    """The second threshold: pairs a source system's records may be merged at without a
    steward, per system (QUANJING_AUTO_MERGE, e.g. `crm=0.999`). Empty, the default: none."""

    thresholds: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, review_threshold: float) -> AutoMerge:
        """`system=threshold,…`; each threshold above the review threshold and at most 1."""
        found: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            system, sep, raw = part.partition("=")
            try:
                threshold = float(raw)
            except ValueError:
                threshold = -1.0
            if not sep or not system.strip() or not review_threshold < threshold <= 1:
                raise ValueError(
                    f"{part!r}: write system=threshold, the threshold above "
                    f"{review_threshold} and at most 1"
                )
            found[system.strip()] = threshold
        return cls(found)

    def threshold_for(self, systems: frozenset[str]) -> float | None:
        """The lowest threshold of the systems a pair's records come from; None: review only."""
        chosen = [self.thresholds[s] for s in systems if s in self.thresholds]
        return min(chosen, default=None)
