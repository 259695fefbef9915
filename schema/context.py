"""The per-request context: ports and DataLoaders, never a live database session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from domain.access.audit import AuditLog, field_label, summarize_fields
from domain.access.counter_sessions import CounterSessionStore
from domain.access.policy import Visibility
from domain.access.principal import Principal
from domain.access.rate_limits import RateLimiter
from domain.activity import ActivityFeed
from domain.assignment import AssignmentUnitOfWork, OwnershipReader, RmAssignment, TeamMember
from domain.customers.model import ContactPoint, CorporateContact, Customer, IdentityDocument
from domain.detection.alerts import Alert, AlertReader
from domain.detection.handling import AlertFactory
from domain.detection.rules import DetectionRuleStore
from domain.interactions import (
    ChannelUse,
    Interaction,
    TimelineFilter,
    TimelinePage,
    TimelineRequest,
)
from domain.organisation import Branch, RelationshipManager
from domain.ports import DocumentKey, ProfileReader
from domain.privacy.consents import Consent, ConsentBook
from domain.privacy.erasure import PrivacyStore
from domain.products import Holding, Product
from domain.recording import UnitOfWorkFactory
from domain.relationship_changes import Factory as RelationshipFactory
from domain.relationships import Proposal, Relationship, StateChange
from domain.tasks import Task
from domain.value.contribution import CustomerValue, ValueStore
from domain.value.offers import OfferSource
from domain.value.report import ValueReports
from domain.value.segments import SegmentStore
from domain.value.tiers import Cutoff
from domain.webhooks import Attempt, WebhookStore

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]) -> DataLoader[K, V | None]:
    async def load(keys: list[K]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _many(
    fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, Sequence[V]]]],
) -> DataLoader[K, Sequence[V]]:
    async def load(keys: list[K]) -> list[Sequence[V]]:
        found = await fetch(keys)
        return [found.get(key, ()) for key in keys]

    return DataLoader(load_fn=load)


@dataclass(frozen=True, slots=True)
class Loaders:
    """One DataLoader per key shape, named `<noun>_by_<key>`; built fresh for every request
    so one caller's cached rows can never reach another caller."""

    customer_by_id: DataLoader[int, Customer | None]
    customer_id_by_document: DataLoader[DocumentKey, int | None]
    contact_points_by_customer: DataLoader[int, Sequence[ContactPoint]]
    documents_by_customer: DataLoader[int, Sequence[IdentityDocument]]
    corporate_contacts_by_customer: DataLoader[int, Sequence[CorporateContact]]
    subsidiaries_by_parent: DataLoader[int, Sequence[Customer]]
    branch_by_id: DataLoader[int, Branch | None]
    relationship_manager_by_id: DataLoader[int, RelationshipManager | None]
    product_by_id: DataLoader[int, Product | None]
    relationship_by_customer: DataLoader[int, Relationship | None]
    state_history_by_customer: DataLoader[int, Sequence[StateChange]]
    holdings_by_customer: DataLoader[int, Sequence[Holding]]
    timeline_page_by_request: DataLoader[TimelineRequest, TimelinePage]
    consents_by_customer: DataLoader[int, Sequence[Consent]]
    channel_mix_by_customer: DataLoader[tuple[int, TimelineFilter], Sequence[ChannelUse]]
    open_tasks_by_customer: DataLoader[int, Sequence[Task]]
    pending_proposal_by_customer: DataLoader[int, Proposal | None]
    interaction_by_id: DataLoader[int, Interaction | None]
    open_alerts_by_customer: DataLoader[int, Sequence[Alert]]
    task_by_id: DataLoader[int, Task | None]
    webhook_attempts_by_delivery: DataLoader[int, Sequence[Attempt]]
    # (customer, month); a None month is the latest scored.
    value_by_customer: DataLoader[tuple[int, date | None], CustomerValue | None]
    value_cutoff_by_period: DataLoader[date, Cutoff | None]
    rm_assignments_by_customer: DataLoader[int, Sequence[RmAssignment]]
    team_by_customer: DataLoader[int, Sequence[TeamMember]]


def build_loaders(
    reader: ProfileReader,
    consent_book: ConsentBook,
    alerts: AlertReader,
    webhooks: WebhookStore,
    values: ValueStore,
    ownership: OwnershipReader,
) -> Loaders:
    async def timeline(keys: list[TimelineRequest]) -> list[TimelinePage]:
        return list(await reader.timeline_pages(keys))

    async def customer_values(
        keys: list[tuple[int, date | None]],
    ) -> list[CustomerValue | None]:
        by_period: dict[date | None, list[int]] = {}
        for customer_id, period in keys:
            by_period.setdefault(period, []).append(customer_id)
        found = {period: await values.values(ids, period) for period, ids in by_period.items()}
        return [found[period].get(customer_id) for customer_id, period in keys]

    return Loaders(
        customer_by_id=_one(reader.customers_by_id),
        customer_id_by_document=_one(reader.customer_ids_by_document),
        contact_points_by_customer=_many(reader.contact_points_by_customer),
        documents_by_customer=_many(reader.documents_by_customer),
        corporate_contacts_by_customer=_many(reader.corporate_contacts_by_customer),
        subsidiaries_by_parent=_many(reader.subsidiaries_by_parent),
        branch_by_id=_one(reader.branches_by_id),
        relationship_manager_by_id=_one(reader.relationship_managers_by_id),
        product_by_id=_one(reader.products_by_id),
        relationship_by_customer=_one(reader.relationships_by_customer),
        state_history_by_customer=_many(reader.state_history_by_customer),
        holdings_by_customer=_many(reader.holdings_by_customer),
        timeline_page_by_request=DataLoader(load_fn=timeline),
        consents_by_customer=_many(consent_book.current),
        channel_mix_by_customer=_many(reader.channel_mix),
        open_tasks_by_customer=_many(reader.open_tasks_by_customer),
        pending_proposal_by_customer=_one(reader.pending_proposals_by_customer),
        interaction_by_id=_one(reader.interactions_by_id),
        open_alerts_by_customer=_many(alerts.alerts_by_customer),
        task_by_id=_one(reader.tasks_by_id),
        webhook_attempts_by_delivery=_many(webhooks.attempts),
        value_by_customer=DataLoader(load_fn=customer_values),
        value_cutoff_by_period=_one(values.cutoffs),
        rm_assignments_by_customer=_many(ownership.assignments),
        team_by_customer=_many(ownership.teams),
    )


@dataclass(slots=True)
class AuditCollector:
    """What this operation showed of whom; the API layer turns it into one audit record."""

    seen: dict[int, Visibility] = field(default_factory=dict)
    denied: set[int] = field(default_factory=set)
    selected: frozenset[tuple[str, str]] = frozenset()
    operation: str | None = None

    def fields(self) -> tuple[str, ...]:
        labels = [
            field_label(type_name, name, visibility.outcome(type_name, name).value)
            for visibility in set(self.seen.values())
            for type_name, name in self.selected
            if visibility.shows(type_name, name)
        ]
        return summarize_fields(labels)


@dataclass(slots=True)
class Context:
    """What every resolver may use; the API layer builds one per request."""

    reader: ProfileReader
    principal: Principal
    counter_sessions: CounterSessionStore
    audit_log: AuditLog
    consent_book: ConsentBook
    privacy: PrivacyStore
    recording: UnitOfWorkFactory
    relationships: RelationshipFactory
    detection_rules: DetectionRuleStore
    alerts: AlertReader
    alert_changes: AlertFactory
    webhooks: WebhookStore
    activity: ActivityFeed
    values: ValueStore
    ownership: OwnershipReader
    value_reports: ValueReports
    segments: SegmentStore
    offers: OfferSource
    assignments: Callable[[], AssignmentUnitOfWork]
    correlation_id: str
    idempotency_ttl_seconds: int = 7 * 24 * 3600
    # Set by strawberry on a websocket's connection_init (graphql-transport-ws).
    connection_params: dict[str, object] | None = None
    rate_limiter: RateLimiter | None = None
    webhooks_require_https: bool = True
    channel: str = "unspecified"
    min_rm_grade: int = 3  # high-value customers need an RM of at least this grade
    purpose: str = "unspecified"
    loaders: Loaders = field(init=False)
    audit: AuditCollector = field(init=False)
    # Teller sessions checked in this request, so each customer costs one Redis call at most.
    sessions_checked: dict[int, bool] = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = build_loaders(
            self.reader, self.consent_book, self.alerts, self.webhooks, self.values, self.ownership
        )
        self.audit = AuditCollector()
        self.sessions_checked = {}


Info = strawberry.Info[Context, None]
