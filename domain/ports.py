"""Ports the domain and the schema depend on; adapters in `api/` implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from datetime import datetime
from typing import Protocol

from domain.customers.model import (
    ContactPoint,
    CorporateContact,
    Customer,
    DocumentType,
    IdentityDocument,
)
from domain.fund_movements import FundMovement, MovementFilter
from domain.interactions import (
    ChannelUse,
    Interaction,
    TimelineFilter,
    TimelinePage,
    TimelineRequest,
)
from domain.organisation import Branch, RelationshipManager
from domain.products import Holding, Product
from domain.relationships import Proposal, ProposalFilter, Relationship, StateChange
from domain.search import CustomerPage, SearchTerms
from domain.tasks import Task, TaskOwner, TaskStatus

DocumentKey = tuple[DocumentType, str]


class ProfileReader(Protocol):
    """Batch reads behind the consolidated profile: one call per key shape, never per item."""

    async def customers_by_id(self, ids: Sequence[int]) -> Mapping[int, Customer]:
        """Customers by primary key; missing ids are absent from the mapping."""
        ...

    async def customer_ids_by_document(
        self, keys: Sequence[DocumentKey]
    ) -> Mapping[DocumentKey, int]:
        """Customer ids by normalized (document type, number)."""
        ...

    async def contact_point_owner(self, contact_point_id: int) -> int | None:
        """The customer a contact point belongs to, or None."""
        ...

    async def document_owner(self, document_id: int) -> int | None:
        """The customer an identity document belongs to, or None."""
        ...

    async def contact_points_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[ContactPoint]]:
        """Contact points per customer, preferred first."""
        ...

    async def documents_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[IdentityDocument]]:
        """Identity documents per customer."""
        ...

    async def corporate_contacts_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[CorporateContact]]:
        """People acting for each corporate customer."""
        ...

    async def subsidiaries_by_parent(self, ids: Sequence[int]) -> Mapping[int, Sequence[Customer]]:
        """Corporate customers whose parent is each given customer."""
        ...

    async def merged_ids_by_survivor(self, ids: Sequence[int]) -> Mapping[int, Sequence[int]]:
        """The records merged into each given customer."""
        ...

    async def products_by_id(self, ids: Sequence[int]) -> Mapping[int, Product]:
        """Catalog products by primary key."""
        ...

    async def branches_by_id(self, ids: Sequence[int]) -> Mapping[int, Branch]:
        """Branches by primary key."""
        ...

    async def relationship_managers_by_id(
        self, ids: Sequence[int]
    ) -> Mapping[int, RelationshipManager]:
        """Relationship managers by primary key."""
        ...

    async def relationships_by_customer(self, ids: Sequence[int]) -> Mapping[int, Relationship]:
        """The current relationship state per customer."""
        ...

    async def state_history_by_customer(
        self, ids: Sequence[int]
    ) -> Mapping[int, Sequence[StateChange]]:
        """Every state change per customer, newest first."""
        ...

    async def holdings_by_customer(self, ids: Sequence[int]) -> Mapping[int, Sequence[Holding]]:
        """Holdings per customer, with their products, open ones first."""
        ...

    async def timeline_pages(self, requests: Sequence[TimelineRequest]) -> Sequence[TimelinePage]:
        """One page per request, in the order of the requests."""
        ...

    async def channel_mix(
        self, keys: Sequence[tuple[int, TimelineFilter]]
    ) -> Mapping[tuple[int, TimelineFilter], Sequence[ChannelUse]]:
        """Interaction counts and recorded cost per channel, per customer and period."""
        ...

    async def interactions_by_id(self, ids: Sequence[int]) -> Mapping[int, Interaction]:
        """Interactions by primary key."""
        ...

    async def pending_proposals_by_customer(self, ids: Sequence[int]) -> Mapping[int, Proposal]:
        """The proposal waiting for a decision, per customer."""
        ...

    async def proposals_by_id(self, ids: Sequence[int]) -> Mapping[int, Proposal]:
        """Proposals by primary key."""
        ...

    async def fund_movements(
        self, customer_id: int, where: MovementFilter, first: int, after_id: int | None
    ) -> Sequence[FundMovement]:
        """The customer's movements matching `where`, newest booked first (ties: newest id);
        up to `first` after the movement `after_id`."""
        ...

    async def pending_proposals(
        self, where: ProposalFilter, first: int, after_id: int | None
    ) -> Sequence[Proposal]:
        """Pending proposals matching `where`, oldest first; up to `first` after `after_id`."""
        ...

    async def open_tasks_by_customer(self, ids: Sequence[int]) -> Mapping[int, Sequence[Task]]:
        """Open tasks per customer, soonest due first."""
        ...

    async def tasks_by_id(self, ids: Sequence[int]) -> Mapping[int, Task]:
        """Tasks by primary key."""
        ...

    async def tasks_for_owners(
        self,
        owners: Sequence[TaskOwner],
        status: TaskStatus | None,
        overdue_at: datetime | None,
        first: int,
        after_id: int | None,
    ) -> tuple[Sequence[Task], bool]:
        """Tasks of any of the owners, by due date then id; overdue_at keeps open tasks due
        before that moment. Returns the page and whether more follow."""
        ...

    async def search_customers(
        self,
        terms: SearchTerms | None,
        first: int,
        after: int | None,
        rm_scope: int | None = None,
    ) -> CustomerPage:
        """Customers matching any of the terms (all when None), by id, after the given id."""
        ...


# The read-your-writes fence of the running read-only operation (a WAL position its reads must
# include); None outside one: every read goes to the primary. Set by the ReadConsistency
# adapter, read by the routed engine (api/db/replicas.py).
READ_FENCE: ContextVar[int | None] = ContextVar("quanjing_read_fence", default=None)


class ReadConsistency(Protocol):
    """Read-your-writes where read-only operations may be served by lagging replicas
    (api/db/replicas.py): a caller's reads never see the state from before their own writes."""

    def reading(self, caller: str) -> AbstractAsyncContextManager[None]:
        """Around a read-only operation: inside it, reads may go to a replica that has
        replayed the caller's last write."""
        ...

    async def written(self, caller: str) -> None:
        """After a write operation: the caller's next reads must include it."""
        ...
