"""One statement for the profile a query asks for, in plain GraphQL execution too.

`customer(id:)` and `me` read the customer and the parts of the profile their selection names
(contacts, documents, branch, RM, relationship, holdings, the newest timeline page, open tasks,
consents) in one snapshot, and hand the rows to the request's DataLoaders. The resolvers then
find them there: the row rule, masking and audit run unchanged, only the statements go (ten
for the call-center profile, down to one). A part the snapshot does not cover — history,
alerts, value, a filtered or later timeline page — is loaded as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from domain.access.policy import may_read_customer
from domain.interactions import TimelineRequest
from domain.profile import ProfilePart, ProfileSnapshot
from schema.core.context import Info, Loaders
from schema.customers.profile_parts import wanted_parts
from schema.interactions.types import timeline_filter

# The timeline page the `interactions` resolver asks for when given `first` and nothing else.
_NEWEST = timeline_filter(None, None, None, None, None, None)


def _fields(selections: Sequence[Selection]) -> Iterator[tuple[str, Mapping[str, object]]]:
    """A strawberry selection's fields as (name, arguments), fragments flattened, in order."""
    for selection in selections:
        if isinstance(selection, InlineFragment | FragmentSpread):
            yield from _fields(selection.selections)
        elif isinstance(selection, SelectedField):
            yield selection.name, selection.arguments


def _prime(
    loaders: Loaders, pk: int, snapshot: ProfileSnapshot, parts: set[ProfilePart], first: int
) -> None:
    """The rows read, to the loaders that would have read them. Only the parts asked for: a
    part not read is empty in the snapshot, and must not look empty to another resolver."""
    customer = snapshot.customer
    if customer is not None and customer.merged_into_id is not None:
        return  # the loaders read the survivor the merged id answers
    loaders.customer_by_id.prime(pk, customer)
    if customer is None:
        return
    if ProfilePart.CONTACT_POINTS in parts:
        loaders.contact_points_by_customer.prime(pk, snapshot.contact_points)
    if ProfilePart.DOCUMENTS in parts:
        loaders.documents_by_customer.prime(pk, snapshot.documents)
    if ProfilePart.HOME_BRANCH in parts and customer.home_branch_id is not None:
        loaders.branch_by_id.prime(customer.home_branch_id, snapshot.branch)
    rm_id = customer.relationship_manager_id
    if ProfilePart.RELATIONSHIP_MANAGER in parts and rm_id is not None:
        loaders.relationship_manager_by_id.prime(rm_id, snapshot.manager)
    if ProfilePart.RELATIONSHIP in parts:
        loaders.relationship_by_customer.prime(pk, snapshot.relationship)
        loaders.pending_proposal_by_customer.prime(pk, snapshot.pending_proposal)
    if ProfilePart.HOLDINGS in parts:
        loaders.holdings_by_customer.prime(pk, snapshot.holdings)
    if ProfilePart.TIMELINE in parts:
        request = TimelineRequest(customer_id=pk, first=first, after=None, filter=_NEWEST)
        loaders.timeline_page_by_request.prime(request, snapshot.timeline)
    if ProfilePart.OPEN_TASKS in parts:
        loaders.open_tasks_by_customer.prime(pk, snapshot.open_tasks)
    if ProfilePart.CONSENTS in parts:
        loaders.consents_by_customer.prime(pk, snapshot.consents)


async def prefetch_profile(info: Info, pk: int) -> None:
    """Read the selected parts of customer `pk`'s profile in one statement, for the resolvers
    that follow. Nothing is read for a caller the row rule refuses outright, or when the
    selection names no part (the customer alone is one statement either way)."""
    context = info.context
    if context.snapshots is None or not may_read_customer(context.principal, pk):
        return
    parts, first = wanted_parts(
        named for field in info.selected_fields for named in _fields(field.selections)
    )
    if not parts:
        return
    snapshot = await context.snapshots.profile_snapshot(pk, first, frozenset(parts))
    _prime(context.loaders, pk, snapshot, parts, first)
