"""The per-request context: ports and DataLoaders, never a live database session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from functools import cached_property, lru_cache
from typing import TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from domain.access.audit import AuditEntry, AuditLog, field_label, summarize_fields
from domain.access.counter_sessions import CounterSessionStore
from domain.access.policy import Visibility
from domain.access.principal import Principal
from domain.access.rate_limits import RateLimiter
from domain.activity import ActivityFeed
from domain.assignment import AssignmentUnitOfWork, OwnershipReader, RmAssignment, TeamMember
from domain.campaigns.lifecycle import CampaignStore, DoNotContact, InteractionOffers
from domain.campaigns.runs import CampaignRuns
from domain.customers.completeness import DataQuality
from domain.customers.contact_changes import ContactUnitOfWork
from domain.customers.corporate_contacts import CorporateContactUnitOfWork
from domain.customers.document_changes import DocumentUnitOfWork
from domain.customers.history import CustomerHistory
from domain.customers.model import ContactPoint, CorporateContact, Customer, IdentityDocument
from domain.customers.registration import RegistrationUnitOfWork
from domain.customers.source_keys import SourceKeys
from domain.customers.updates import UpdateUnitOfWork
from domain.detection.alerts import Alert, AlertReader
from domain.detection.handling import AlertFactory
from domain.detection.rules import DetectionRuleStore
from domain.errors import DependencyUnavailable
from domain.identity.review import IdentityReview, Merges
from domain.imports.run import BulkImport, ImportRunReader
from domain.interactions import (
    ChannelUse,
    Interaction,
    TimelineFilter,
    TimelinePage,
    TimelineRequest,
)
from domain.organisation import Branch, RelationshipManager
from domain.ports import DocumentKey, ProfileReader, ReadConsistency
from domain.privacy.consents import Consent, ConsentBook
from domain.privacy.erasure import PrivacyStore
from domain.products import Holding, Product
from domain.profile import ProfileSnapshots
from domain.recording import UnitOfWorkFactory
from domain.reference_data import ProductVariant, ReferenceReader, ReferenceUnitOfWork
from domain.relationship_changes import Factory as RelationshipFactory
from domain.relationships import Proposal, Relationship, StateChange
from domain.reports.ports import ManagementReports
from domain.tasks import Task
from domain.value.contribution import CustomerValue, ValueStore
from domain.value.offers import OfferSource
from domain.value.report import ValueReports
from domain.value.segments import SegmentStore
from domain.value.tiers import Cutoff
from domain.webhooks import Attempt, ReceiverRules, WebhookStore

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


class Loaders:
    """One DataLoader per key shape, named `<noun>_by_<key>`; built fresh for every request
    so one caller's cached rows can never reach another caller, and each only when a resolver
    first asks for it (most operations use a handful of the thirty)."""

    def __init__(
        self,
        reader: ProfileReader,
        consent_book: ConsentBook,
        alerts: AlertReader,
        webhooks: WebhookStore,
        values: ValueStore,
        ownership: OwnershipReader,
        reference: ReferenceReader,
        campaigns: CampaignStore,
    ) -> None:
        self._reader = reader
        self._campaigns = campaigns
        self._reference = reference
        self._consent_book = consent_book
        self._alerts = alerts
        self._webhooks = webhooks
        self._values = values
        self._ownership = ownership

    async def _timeline(self, keys: list[TimelineRequest]) -> list[TimelinePage]:
        return list(await self._reader.timeline_pages(keys))

    async def _customer_values(
        self, keys: list[tuple[int, date | None]]
    ) -> list[CustomerValue | None]:
        by_period: dict[date | None, list[int]] = {}
        for customer_id, period in keys:
            by_period.setdefault(period, []).append(customer_id)
        found = {
            period: await self._values.values(ids, period) for period, ids in by_period.items()
        }
        return [found[period].get(customer_id) for customer_id, period in keys]

    @cached_property
    def customer_by_id(self) -> DataLoader[int, Customer | None]:
        return _one(self._reader.customers_by_id)

    @cached_property
    def customer_id_by_document(self) -> DataLoader[DocumentKey, int | None]:
        return _one(self._reader.customer_ids_by_document)

    @cached_property
    def contact_points_by_customer(self) -> DataLoader[int, Sequence[ContactPoint]]:
        return _many(self._reader.contact_points_by_customer)

    @cached_property
    def documents_by_customer(self) -> DataLoader[int, Sequence[IdentityDocument]]:
        return _many(self._reader.documents_by_customer)

    @cached_property
    def corporate_contacts_by_customer(self) -> DataLoader[int, Sequence[CorporateContact]]:
        return _many(self._reader.corporate_contacts_by_customer)

    @cached_property
    def subsidiaries_by_parent(self) -> DataLoader[int, Sequence[Customer]]:
        return _many(self._reader.subsidiaries_by_parent)

    @cached_property
    def merged_ids_by_survivor(self) -> DataLoader[int, Sequence[int]]:
        return _many(self._reader.merged_ids_by_survivor)

    @cached_property
    def do_not_contact_by_customer(self) -> DataLoader[int, DoNotContact | None]:
        return _one(self._campaigns.do_not_contact)

    @cached_property
    def offers_by_interaction(self) -> DataLoader[int, InteractionOffers | None]:
        return _one(self._campaigns.offers_by_interaction)

    @cached_property
    def branch_by_id(self) -> DataLoader[int, Branch | None]:
        return _one(self._reader.branches_by_id)

    @cached_property
    def relationship_manager_by_id(self) -> DataLoader[int, RelationshipManager | None]:
        return _one(self._reader.relationship_managers_by_id)

    @cached_property
    def product_by_id(self) -> DataLoader[int, Product | None]:
        return _one(self._reader.products_by_id)

    @cached_property
    def variants_by_product(self) -> DataLoader[int, Sequence[ProductVariant]]:
        return _many(self._reference.variants_by_product)

    @cached_property
    def relationship_by_customer(self) -> DataLoader[int, Relationship | None]:
        return _one(self._reader.relationships_by_customer)

    @cached_property
    def state_history_by_customer(self) -> DataLoader[int, Sequence[StateChange]]:
        return _many(self._reader.state_history_by_customer)

    @cached_property
    def holdings_by_customer(self) -> DataLoader[int, Sequence[Holding]]:
        return _many(self._reader.holdings_by_customer)

    @cached_property
    def timeline_page_by_request(self) -> DataLoader[TimelineRequest, TimelinePage]:
        return DataLoader(load_fn=self._timeline)

    @cached_property
    def consents_by_customer(self) -> DataLoader[int, Sequence[Consent]]:
        return _many(self._consent_book.current)

    @cached_property
    def channel_mix_by_customer(
        self,
    ) -> DataLoader[tuple[int, TimelineFilter], Sequence[ChannelUse]]:
        return _many(self._reader.channel_mix)

    @cached_property
    def open_tasks_by_customer(self) -> DataLoader[int, Sequence[Task]]:
        return _many(self._reader.open_tasks_by_customer)

    @cached_property
    def pending_proposal_by_customer(self) -> DataLoader[int, Proposal | None]:
        return _one(self._reader.pending_proposals_by_customer)

    @cached_property
    def interaction_by_id(self) -> DataLoader[int, Interaction | None]:
        return _one(self._reader.interactions_by_id)

    @cached_property
    def open_alerts_by_customer(self) -> DataLoader[int, Sequence[Alert]]:
        return _many(self._alerts.alerts_by_customer)

    @cached_property
    def task_by_id(self) -> DataLoader[int, Task | None]:
        return _one(self._reader.tasks_by_id)

    @cached_property
    def webhook_attempts_by_delivery(self) -> DataLoader[int, Sequence[Attempt]]:
        return _many(self._webhooks.attempts)

    # (customer, month); a None month is the latest scored.
    @cached_property
    def value_by_customer(self) -> DataLoader[tuple[int, date | None], CustomerValue | None]:
        return DataLoader(load_fn=self._customer_values)

    @cached_property
    def value_cutoff_by_period(self) -> DataLoader[date, Cutoff | None]:
        return _one(self._values.cutoffs)

    @cached_property
    def rm_assignments_by_customer(self) -> DataLoader[int, Sequence[RmAssignment]]:
        return _many(self._ownership.assignments)

    @cached_property
    def team_by_customer(self) -> DataLoader[int, Sequence[TeamMember]]:
        return _many(self._ownership.teams)


@dataclass(slots=True)
class AuditCollector:
    """What this operation showed of whom; the API layer turns it into one audit record."""

    seen: dict[int, Visibility] = field(default_factory=dict)
    denied: set[int] = field(default_factory=set)
    selected: frozenset[tuple[str, str]] = frozenset()
    operation: str | None = None
    # Fields shown beyond the document's selection: keys inside a JSON field, per event.
    shown: set[tuple[str, str]] = field(default_factory=set)

    def fields(self) -> tuple[str, ...]:
        visibilities = set(self.seen.values())
        selected = self.selected | self.shown if self.shown else self.selected
        return summarize_fields([f for v in visibilities for f in _labels(v, selected)])

    def reset(self) -> None:
        """Empty after a record is written; the operation and its selection stay."""
        self.seen.clear()
        self.denied.clear()
        self.shown.clear()


@lru_cache(maxsize=4096)
def _labels(visibility: Visibility, selected: frozenset[tuple[str, str]]) -> tuple[str, ...]:
    """The audit labels of a selection for one kind of viewer: the same few pairs recur on
    every request of a registered operation."""
    return tuple(
        field_label(type_name, name, visibility.outcome(type_name, name).value)
        for type_name, name in selected
        if visibility.shows(type_name, name)
    )


@dataclass(slots=True, kw_only=True)
class Ports:
    """The adapters and settings every request's context is built from; the composition root
    (api/bootstrap.py) builds one set per process."""

    reader: ProfileReader
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
    reports: ManagementReports
    campaigns: CampaignStore
    campaign_runs: CampaignRuns
    segments: SegmentStore
    offers: OfferSource
    assignments: Callable[[], AssignmentUnitOfWork]
    # Where webhook receivers may be (https, public addresses, allowed networks).
    webhook_receivers: ReceiverRules
    # Customers' keys in the bank's other systems.
    source_keys: SourceKeys
    registrations: Callable[[], RegistrationUnitOfWork]
    contacts: Callable[[], ContactUnitOfWork]
    updates: Callable[[], UpdateUnitOfWork]
    document_changes: Callable[[], DocumentUnitOfWork]
    corporate_contacts: Callable[[], CorporateContactUnitOfWork]
    history: CustomerHistory
    data_quality: DataQuality
    # Branches, products and staff, kept by the systems that own them.
    reference: ReferenceReader
    reference_changes: Callable[[], ReferenceUnitOfWork]
    idempotency_ttl_seconds: int = 7 * 24 * 3600
    min_rm_grade: int = 3  # high-value customers need an RM of at least this grade
    rate_limiter: RateLimiter | None = None
    # The profile in one statement (schema/customers/prefetch.py); None reads through loaders.
    snapshots: ProfileSnapshots | None = None
    # The bulk import's batches, for the push path (upsertCustomers, upsertHoldings).
    bulk_import: BulkImport | None = None
    import_runs: ImportRunReader | None = None
    # Identity resolution: the review queue, and merges with their undo.
    identity: IdentityReview | None = None
    merges: Merges | None = None
    # Which failures are a dependency's outage (api/outages.py): their clients get 503
    # SERVICE_UNAVAILABLE instead of INTERNAL_SERVER_ERROR, and no traceback is logged.
    outages: Callable[[BaseException | None], DependencyUnavailable | None] | None = None
    # Read-your-writes when read-only operations may go to replicas (api/db/replicas.py);
    # None without replicas.
    consistency: ReadConsistency | None = None


_PORT_NAMES = tuple(f.name for f in fields(Ports))  # read once: every request copies them


@dataclass(slots=True, kw_only=True)
class Context(Ports):
    """What every resolver may use: the process's ports, and this operation's caller, loaders
    and audit collector. The API layer builds one per request (`from_ports`)."""

    principal: Principal
    correlation_id: str
    # Set by strawberry on a websocket's connection_init (graphql-transport-ws).
    connection_params: dict[str, object] | None = None
    channel: str = "unspecified"
    purpose: str = "unspecified"
    loaders: Loaders = field(init=False)
    audit: AuditCollector = field(init=False)
    # Teller sessions checked in this request, so each customer costs one Redis call at most.
    sessions_checked: dict[int, bool] = field(init=False)
    # Documents shown at the counter in this operation (one is allowed).
    verified_documents: int = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(
            self.reader,
            self.consent_book,
            self.alerts,
            self.webhooks,
            self.values,
            self.ownership,
            self.reference,
            self.campaigns,
        )
        self.audit = AuditCollector()
        self.sessions_checked = {}
        self.verified_documents = 0

    @classmethod
    def from_ports(
        cls,
        ports: Ports,
        *,
        principal: Principal,
        correlation_id: str,
        channel: str = "unspecified",
        purpose: str = "unspecified",
        charge: bool = True,
    ) -> Context:
        """A request's context. `charge=False`: the request was charged already (the profile
        lane charges before it answers), so the executor must not charge it again."""
        shared = {name: getattr(ports, name) for name in _PORT_NAMES}
        if not charge:
            shared["rate_limiter"] = None
        return cls(
            **shared,
            principal=principal,
            correlation_id=correlation_id,
            channel=channel,
            purpose=purpose,
        )

    def for_operation(self) -> Context:
        """A context of its own for one operation of a websocket connection: the same caller
        and ports, fresh loaders, audit collector and counter-session checks. Operations on
        one connection run concurrently and for long; they must share none of these."""
        return replace(self)

    def audit_entry(
        self,
        operation: str | None,
        customer_ids: tuple[int, ...],
        fields: tuple[str, ...],
        outcome: str,
    ) -> AuditEntry:
        """An audit record of this request's caller (who, from where, why), made now."""
        return AuditEntry(
            occurred_at=datetime.now(UTC),
            correlation_id=self.correlation_id,
            subject=self.principal.subject,
            role=self.principal.role.value,
            channel=self.channel,
            purpose=self.purpose,
            operation=operation,
            customer_ids=customer_ids,
            fields=fields,
            outcome=outcome,
        )


Info = strawberry.Info[Context, None]
