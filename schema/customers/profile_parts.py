"""Which profile field one snapshot part answers, written once.

A profile snapshot (domain.profile, read in one statement by api/db/profile_reader.py) holds
the rows of the parts a selection names. Plain execution hands them to the loaders
(schema/customers/prefetch.py); the registered-profile lane (schema/customers/registered.py)
renders the fields from them directly. Both go through this table, and every field is built by
the same `Customer.shown_*` method its resolver calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from domain.profile import ProfilePart, ProfileSnapshot
from schema.core.pagination import MAX_PAGE_SIZE
from schema.customers.types import Customer


@dataclass(frozen=True, slots=True)
class PartField:
    part: ProfilePart
    render: Callable[[Customer, ProfileSnapshot], object]


# Profile field (GraphQL name) → the part it is read from and its answer from the snapshot.
# `interactions` is the newest timeline page of the size the selection asks for.
PROFILE_FIELDS: Mapping[str, PartField] = {
    "contactPoints": PartField(
        ProfilePart.CONTACT_POINTS, lambda c, s: c.shown_contact_points(s.contact_points)
    ),
    "documents": PartField(ProfilePart.DOCUMENTS, lambda c, s: c.shown_documents(s.documents)),
    "homeBranch": PartField(ProfilePart.HOME_BRANCH, lambda c, s: c.shown_home_branch(s.branch)),
    "relationshipManager": PartField(
        ProfilePart.RELATIONSHIP_MANAGER, lambda c, s: c.shown_relationship_manager(s.manager)
    ),
    "relationship": PartField(
        ProfilePart.RELATIONSHIP,
        lambda c, s: c.shown_relationship(s.relationship, s.pending_proposal),
    ),
    "holdings": PartField(ProfilePart.HOLDINGS, lambda c, s: c.shown_holdings(s.holdings)),
    "openTasks": PartField(ProfilePart.OPEN_TASKS, lambda c, s: c.shown_open_tasks(s.open_tasks)),
    "consents": PartField(ProfilePart.CONSENTS, lambda c, s: c.shown_consents(s.consents)),
    "interactions": PartField(ProfilePart.TIMELINE, lambda c, s: c.shown_timeline(s.timeline)),
}


def wanted_parts(
    fields: Iterable[tuple[str, Mapping[str, object]]],
) -> tuple[set[ProfilePart], int]:
    """The parts a customer selection names, and the size of the newest timeline page it asks
    for (0: none) — from its fields as (name, arguments), fragments flattened, in order. Plain
    execution (prefetch.py) and the registered lane (registered.py) both read a selection here.

    Only `interactions(first: N)` with nothing else is the snapshot's page (the first such
    field); a filter, a later page or an invalid size is left to its resolver."""
    parts: set[ProfilePart] = set()
    first = 0
    for name, arguments in fields:
        field = PROFILE_FIELDS.get(name)
        if field is None:
            continue
        if field.part is not ProfilePart.TIMELINE:
            parts.add(field.part)
            continue
        size = arguments.get("first")
        if isinstance(size, str) and size.isdigit():
            size = int(size)  # a literal comes as written; a variable as its value
        filtered = any(v is not None for k, v in arguments.items() if k != "first")
        if not first and isinstance(size, int) and 1 <= size <= MAX_PAGE_SIZE and not filtered:
            parts.add(ProfilePart.TIMELINE)
            first = size
    return parts, first
