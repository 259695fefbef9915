"""Authorization in the schema: who may call which root field, and the one place a customer
record becomes visible to a caller (row rule, relation, masking, audit)."""

from __future__ import annotations

from collections.abc import Iterable

from domain.access.counter_sessions import CounterSessionUnavailable
from domain.access.policy import Visibility, may_read_customer, relation_of, visibility_for
from domain.access.principal import Role
from domain.customers.model import Customer as CustomerModel
from domain.errors import Forbidden
from schema.core.context import Context, Info
from schema.core.errors import UserFacingError

STAFF_READERS = frozenset(
    {
        Role.AGENT,
        Role.BRANCH_MANAGER,
        Role.TELLER,
        Role.RELATIONSHIP_MANAGER,
        Role.APPROVER,
        Role.COMPLIANCE,
        Role.ADMIN,
        Role.STEWARD,
    }
)

# Every root field and the roles that may call it; a test fails when a root field is missing
# here, so a new field is denied until someone decides who may use it.
ROOT_PERMISSIONS: dict[str, frozenset[Role]] = {
    "customer": STAFF_READERS | {Role.CUSTOMER},
    "customerByDocument": STAFF_READERS,
    "customers": STAFF_READERS,
    # Integrations resolve quanjing's ids by their own keys (id and code only).
    "customerBySourceKey": STAFF_READERS | {Role.INTEGRATION},
    "linkCustomerSourceKey": frozenset({Role.INTEGRATION, Role.ADMIN, Role.STEWARD}),
    # A customer's contact points: the customer (own), the call center, a teller in session,
    # their RM, an admin (domain.customers.contact_changes); verifying is staff's.
    "addContactPoint": frozenset(
        {
            Role.CUSTOMER,
            Role.AGENT,
            Role.TELLER,
            Role.RELATIONSHIP_MANAGER,
            Role.ADMIN,
            Role.STEWARD,
        }
    ),
    "changeContactPoint": frozenset(
        {
            Role.CUSTOMER,
            Role.AGENT,
            Role.TELLER,
            Role.RELATIONSHIP_MANAGER,
            Role.ADMIN,
            Role.STEWARD,
        }
    ),
    "removeContactPoint": frozenset(
        {
            Role.CUSTOMER,
            Role.AGENT,
            Role.TELLER,
            Role.RELATIONSHIP_MANAGER,
            Role.ADMIN,
            Role.STEWARD,
        }
    ),
    # A new customer comes through the counter, the call center, an RM or a source system.
    "registerCustomer": frozenset(
        {
            Role.TELLER,
            Role.AGENT,
            Role.RELATIONSHIP_MANAGER,
            Role.INTEGRATION,
            Role.ADMIN,
            Role.STEWARD,
        }
    ),
    # Correcting and completing a record: stewards and admins any, an RM their portfolio, an
    # integration a customer keyed by its own system (domain.customers.updates).
    # Reference data: no personal data; kept by the systems that own it, and admins.
    **dict.fromkeys(
        ("branches", "products", "relationshipManagers"),
        STAFF_READERS | {Role.ANALYST, Role.INTEGRATION},
    ),
    **dict.fromkeys(
        (
            "upsertBranch",
            "upsertProduct",
            "upsertRelationshipManager",
            "upsertProductVariant",
            "retireProduct",
            "retireBranch",
        ),
        frozenset({Role.INTEGRATION, Role.ADMIN}),
    ),
    # Where the records are thin: the people who complete them.
    "dataQualityReport": frozenset({Role.STEWARD, Role.ADMIN}),
    "updateCustomer": frozenset(
        {Role.STEWARD, Role.ADMIN, Role.RELATIONSHIP_MANAGER, Role.INTEGRATION}
    ),
    **dict.fromkeys(
        ("addCorporateContact", "removeCorporateContact"),
        frozenset({Role.STEWARD, Role.ADMIN, Role.RELATIONSHIP_MANAGER, Role.INTEGRATION}),
    ),
    # Identity documents: as the record, and a teller in a counter session with the document in
    # hand (domain.customers.document_changes).
    **dict.fromkeys(
        ("addIdentityDocument", "replaceIdentityDocument", "expireIdentityDocument"),
        frozenset(
            {Role.STEWARD, Role.ADMIN, Role.RELATIONSHIP_MANAGER, Role.INTEGRATION, Role.TELLER}
        ),
    ),
    "node": STAFF_READERS | {Role.CUSTOMER},
    "me": frozenset({Role.CUSTOMER}),
    "auditTrail": frozenset({Role.COMPLIANCE}),
    "openCounterSession": frozenset({Role.TELLER}),
    "closeCounterSession": frozenset({Role.TELLER}),
    "setConsent": frozenset({Role.CUSTOMER, Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER}),
    "placeLegalHold": frozenset({Role.COMPLIANCE}),
    "recordInteraction": frozenset(
        {Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER, Role.INTEGRATION}
    ),
    "recordFundMovement": frozenset({Role.INTEGRATION}),
    "upsertHolding": frozenset({Role.INTEGRATION}),
    # The push path of the bulk import (schema/imports): the systems of record, and the people
    # who keep the master data.
    "upsertCustomers": frozenset({Role.INTEGRATION, Role.ADMIN, Role.STEWARD}),
    "upsertHoldings": frozenset({Role.INTEGRATION, Role.ADMIN}),
    "importRuns": frozenset({Role.ADMIN, Role.STEWARD}),
    # Identity resolution (schema/identity): the review queue and the merges are the stewards'.
    "matchCandidates": frozenset({Role.ADMIN, Role.STEWARD}),
    "customerMerges": frozenset({Role.ADMIN, Role.STEWARD}),
    "decideMatchCandidate": frozenset({Role.ADMIN, Role.STEWARD}),
    "mergeCustomers": frozenset({Role.ADMIN, Role.STEWARD}),
    "unmergeCustomers": frozenset({Role.ADMIN, Role.STEWARD}),
    "createTask": frozenset({Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER}),
    "completeTask": frozenset({Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER}),
    "myTasks": frozenset({Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER}),
    # A customer follows only their own (the row rule), and only their own doings (below).
    "customerActivity": frozenset(
        {Role.CUSTOMER, Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER}
    ),
    "changeRelationshipState": frozenset({Role.RELATIONSHIP_MANAGER, Role.APPROVER}),
    "proposeStateChange": frozenset({Role.RELATIONSHIP_MANAGER, Role.APPROVER}),
    "approveStateChange": frozenset({Role.APPROVER}),
    # The inbox of what the caller may approve: approvers, who alone decide proposals.
    "approvals": frozenset({Role.APPROVER}),
    # Who the signed-in staff member is and their own work; customers have `me`.
    "viewer": STAFF_READERS | {Role.ANALYST},
    "detectionRules": STAFF_READERS,
    "updateDetectionRule": frozenset({Role.ADMIN}),
    "rejectStateChange": frozenset({Role.APPROVER}),
    "alerts": frozenset(
        {Role.AGENT, Role.RELATIONSHIP_MANAGER, Role.APPROVER, Role.COMPLIANCE, Role.ADMIN}
    ),
    "acknowledgeAlert": frozenset({Role.AGENT, Role.RELATIONSHIP_MANAGER, Role.APPROVER}),
    "webhookSubscriptions": frozenset({Role.ADMIN}),
    "webhookEventTypes": frozenset({Role.ADMIN}),
    "createWebhookSubscription": frozenset({Role.ADMIN}),
    "updateWebhookSubscription": frozenset({Role.ADMIN}),
    "retryWebhookDelivery": frozenset({Role.ADMIN}),
    "eraseCustomerPersonalData": frozenset({Role.COMPLIANCE}),
    "valueRates": frozenset({Role.ANALYST, Role.ADMIN, Role.APPROVER}),
    "setValueRate": frozenset({Role.ADMIN}),
    "relationshipManager": STAFF_READERS | {Role.ANALYST},
    "segmentPreview": frozenset(
        {Role.ANALYST, Role.RELATIONSHIP_MANAGER, Role.APPROVER, Role.ADMIN}
    ),
    "segment": frozenset({Role.ANALYST, Role.RELATIONSHIP_MANAGER, Role.APPROVER, Role.ADMIN}),
    "segments": frozenset({Role.ANALYST, Role.RELATIONSHIP_MANAGER, Role.APPROVER, Role.ADMIN}),
    "createSegment": frozenset({Role.ANALYST, Role.ADMIN}),
    "deleteSegment": frozenset({Role.ANALYST, Role.ADMIN}),
    # RMs over their own portfolio, branch managers over their branch (domain.value.report).
    "valueReport": frozenset(
        {
            Role.ANALYST,
            Role.APPROVER,
            Role.COMPLIANCE,
            Role.ADMIN,
            Role.RELATIONSHIP_MANAGER,
            Role.BRANCH_MANAGER,
        }
    ),
    # Management reports: aggregates of the bank's own work (no customer named), for
    # management; a branch manager sees their own branch only (domain.reports.scope).
    **dict.fromkeys(
        ("rmLeagueTable", "satisfactionReport", "customerStructure"),
        frozenset({Role.ANALYST, Role.APPROVER, Role.COMPLIANCE, Role.ADMIN, Role.BRANCH_MANAGER}),
    ),
    # Named groups of customers: those who may read them (an RM their book's groups, a
    # branch manager their branch's; members through the row rule, masked and audited).
    "corporateGroups": frozenset(
        {
            Role.RELATIONSHIP_MANAGER,
            Role.BRANCH_MANAGER,
            Role.APPROVER,
            Role.COMPLIANCE,
            Role.ADMIN,
        }
    ),
    # Campaigns (schema/campaigns): marketing plans them, a different approver approves them
    # (maker-checker); no customer is named in a plan.
    **dict.fromkeys(("createCampaign", "cancelCampaign"), frozenset({Role.ANALYST, Role.ADMIN})),
    "approveCampaign": frozenset({Role.APPROVER}),
    **dict.fromkeys(
        ("campaign", "campaigns", "campaignSampleSize", "campaignReport", "contactPolicy"),
        frozenset({Role.ANALYST, Role.APPROVER, Role.COMPLIANCE, Role.ADMIN}),
    ),
    # Running one: its owners launch, count and complete it; who was targeted, with the
    # customers through the row rule (masked, audited).
    **dict.fromkeys(
        ("launchCampaign", "attributeCampaign", "completeCampaign"),
        frozenset({Role.ANALYST, Role.ADMIN}),
    ),
    # Who is in or out, and why: as a segment's members (analysts see counts, never who).
    "campaignMembers": frozenset({Role.APPROVER, Role.COMPLIANCE, Role.ADMIN}),
    # The contacts' outcomes: whoever made the contact, or the channel system reporting back.
    "recordCampaignOutcome": frozenset(
        {Role.RELATIONSHIP_MANAGER, Role.AGENT, Role.TELLER, Role.INTEGRATION, Role.ADMIN}
    ),
    "updateContactPolicy": frozenset({Role.ADMIN}),
    # The do-not-contact list: whoever may record the customer's consent.
    **dict.fromkeys(
        ("placeDoNotContact", "liftDoNotContact"),
        frozenset({Role.CUSTOMER, Role.AGENT, Role.TELLER, Role.RELATIONSHIP_MANAGER}),
    ),
    "assignmentViolations": frozenset({Role.APPROVER, Role.ADMIN, Role.COMPLIANCE}),
    "ownershipConflicts": frozenset({Role.APPROVER, Role.ADMIN}),
    "assignRelationshipManager": frozenset({Role.APPROVER, Role.ADMIN}),
    "reassignPortfolio": frozenset({Role.APPROVER, Role.ADMIN}),
    "setRelationshipTeam": frozenset({Role.APPROVER, Role.ADMIN}),
    "claimCustomerOwnership": frozenset({Role.RELATIONSHIP_MANAGER, Role.APPROVER, Role.ADMIN}),
    "resolveOwnershipConflict": frozenset({Role.APPROVER, Role.ADMIN}),
}


def require(info: Info, root_field: str) -> None:
    """Raise Forbidden unless the caller's role may use `root_field`."""
    allowed: Iterable[Role] = ROOT_PERMISSIONS.get(root_field, frozenset())
    if info.context.principal.role not in allowed:
        raise Forbidden(f"the {info.context.principal.role.value} role may not use {root_field}")


def may_use(info: Info, root_field: str) -> bool:
    return info.context.principal.role in ROOT_PERMISSIONS.get(root_field, frozenset())


async def in_counter_session(info: Info, customer_id: int) -> bool:
    """For what needs the session (a visit recorded at the counter, a consent taken there):
    a session store that cannot be reached refuses it (COUNTER_SESSION_UNAVAILABLE, 503)."""
    try:
        return await _in_counter_session(info.context, customer_id, strict=True)
    except CounterSessionUnavailable as exc:
        raise UserFacingError(exc) from exc


async def _in_counter_session(context: Context, customer_id: int, *, strict: bool = False) -> bool:
    """Reads (`strict=False`) go on while the session store is away, as for a teller without
    a session: masked data, never more than the teller may see (docs/security.md)."""
    if customer_id not in context.sessions_checked:
        try:
            session = await context.counter_sessions.touch(context.principal.subject, customer_id)
        except CounterSessionUnavailable:
            if strict:
                raise
            return False  # not remembered: a later check in this request may find the store
        context.sessions_checked[customer_id] = session is not None
    return context.sessions_checked[customer_id]


async def visible(info: Info, customer: CustomerModel) -> Visibility | None:
    """The Visibility of `customer` for this caller, or None when the row rule denies it.

    Every path to a customer's data (root fields, node, nested edges) goes through here.
    """
    return await visible_in(info.context, customer)


async def visible_in(context: Context, customer: CustomerModel) -> Visibility | None:
    """`visible`, for a caller outside a resolver (the registered-profile lane)."""
    principal = context.principal
    if not may_read_customer(principal, customer.id):
        context.audit.denied.add(customer.id)
        return None
    session = principal.role is Role.TELLER and await _in_counter_session(context, customer.id)
    relation = relation_of(principal, customer.id, customer.relationship_manager_id, session)
    visibility = visibility_for(principal, relation)
    context.audit.seen[customer.id] = visibility
    return visibility


async def views_of(info: Info, customer_ids: Iterable[int]) -> dict[int, Visibility]:
    """The caller's Visibility of each customer (one batched read): for objects that are
    about a customer (tasks, alerts) and shown to staff without the profile around them. A
    customer the row rule denies, or who no longer exists, is left out."""
    ids = list(dict.fromkeys(customer_ids))
    found = await info.context.loaders.customer_by_id.load_many(ids)
    views = {}
    for customer in found:
        if customer is not None and (view := await visible(info, customer)) is not None:
            views[customer.id] = view
    return views
