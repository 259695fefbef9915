"""The consolidated profile of one customer, read at one instant in one statement.

The registered profile lane renders it directly; plain GraphQL execution of `customer(id:)` and
`me` hands it to the request's DataLoaders, so the resolvers — row rule, masking, audit — run
unchanged over rows that are already there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from domain.customers.model import ContactPoint, Customer, IdentityDocument
from domain.interactions import TimelinePage
from domain.organisation import Branch, RelationshipManager
from domain.privacy.consents import Consent
from domain.products import Holding
from domain.relationships import Proposal, Relationship
from domain.tasks import Task


class ProfilePart(enum.Enum):
    """What a snapshot may read beside the customer; a part not asked for is not read."""

    CONTACT_POINTS = "contact_points"
    DOCUMENTS = "documents"
    HOME_BRANCH = "home_branch"
    RELATIONSHIP_MANAGER = "relationship_manager"
    RELATIONSHIP = "relationship"  # the state and any pending proposal
    HOLDINGS = "holdings"
    TIMELINE = "timeline"  # the newest page of interactions
    OPEN_TASKS = "open_tasks"
    CONSENTS = "consents"


EVERY_PART = frozenset(ProfilePart)


@dataclass(frozen=True, slots=True)
class ProfileSnapshot:
    """What the profile shows of one customer, read at one instant. A part that was not asked
    for is empty (None or no rows), not absent from the database."""

    customer: Customer | None
    contact_points: list[ContactPoint]
    documents: list[IdentityDocument]
    branch: Branch | None
    manager: RelationshipManager | None
    relationship: Relationship | None
    pending_proposal: Proposal | None
    holdings: list[Holding]
    timeline: TimelinePage
    open_tasks: list[Task]
    consents: list[Consent]  # the current answer per purpose and channel
    # The change counters read in the same snapshot: what a cached answer is valid for.
    version: int
    reference_version: int


class ProfileSnapshots(Protocol):
    async def profile_snapshot(
        self, customer_id: int, timeline_first: int, parts: frozenset[ProfilePart] = EVERY_PART
    ) -> ProfileSnapshot:
        """The customer and the parts asked for, in one statement; the timeline's newest
        `timeline_first` interactions (and whether there are more)."""
        ...
