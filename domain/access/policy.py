"""Field policies: for every field that carries personal data, what each role sees.

Declared once, here, per type; applied in one place (`Visibility.apply`). A field is either
clear, masked or hidden for a role; some roles see clear data only for "their" customers:
their own profile (customer), their portfolio (RM), a customer in a verified counter session
(teller). A test walks every field of every personal-data GraphQL type and fails when one
has no entry here; `docs/security.md` is generated from this table.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from domain.access.masking import mask_address, mask_email, mask_last4, mask_phone
from domain.access.principal import Principal, Role


class Rule(enum.StrEnum):
    CLEAR = "clear"
    MASKED = "masked"
    HIDDEN = "hidden"
    CLEAR_IF_RELATED = "clear if related, else masked"  # own / portfolio / counter session
    CLEAR_IF_RELATED_ELSE_HIDDEN = "clear if related, else hidden"


class Relation(enum.Enum):
    """How the caller stands to the customer whose data is read."""

    OWN = "own"  # the customer themselves
    PORTFOLIO = "portfolio"  # the customer's RM
    COUNTER_SESSION = "counter_session"  # a teller inside a verified session
    OTHER = "other"


class Outcome(enum.Enum):
    CLEAR = "clear"
    MASKED = "masked"
    HIDDEN = "hidden"


Masker = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    rules: Mapping[Role, Rule]
    mask: Masker | None = None  # None: masked means hidden (dates, enums, numbers)

    def outcome(self, role: Role, related: bool) -> Outcome:
        rule = self.rules.get(role, Rule.HIDDEN)  # deny by default
        match rule:
            case Rule.CLEAR:
                return Outcome.CLEAR
            case Rule.HIDDEN:
                return Outcome.HIDDEN
            case Rule.MASKED:
                return Outcome.MASKED if self.mask is not None else Outcome.HIDDEN
            case Rule.CLEAR_IF_RELATED:
                if related:
                    return Outcome.CLEAR
                return Outcome.MASKED if self.mask is not None else Outcome.HIDDEN
            case Rule.CLEAR_IF_RELATED_ELSE_HIDDEN:
                return Outcome.CLEAR if related else Outcome.HIDDEN


def _policy(
    *,
    staff: Rule,
    rm: Rule | None = None,
    teller: Rule | None = None,
    customer: Rule = Rule.CLEAR,
    mask: Masker | None = None,
) -> FieldPolicy:
    """Most fields differ only in what staff see; RMs and tellers default to clear-if-related
    for personal fields. Data stewards see every field clear: correcting a record means
    reading it (each of their reads is audited like anyone's)."""
    return FieldPolicy(
        rules={
            Role.CUSTOMER: customer,
            Role.AGENT: staff,
            Role.TELLER: teller or staff,
            Role.RELATIONSHIP_MANAGER: rm or staff,
            Role.APPROVER: staff,
            Role.BRANCH_MANAGER: staff,
            Role.COMPLIANCE: staff,
            Role.ADMIN: staff,
            Role.STEWARD: Rule.CLEAR,
            Role.ANALYST: Rule.HIDDEN,
            Role.INTEGRATION: Rule.HIDDEN,
        },
        mask=mask,
    )


# Visible to anyone allowed to read the customer at all.
PUBLIC = _policy(staff=Rule.CLEAR)
# Personal data: masked (or hidden when it cannot be masked) for staff without a relation.
PERSONAL = _policy(staff=Rule.MASKED, rm=Rule.CLEAR_IF_RELATED, teller=Rule.CLEAR_IF_RELATED)
# Personal data that staff without a relation do not need at all.
PERSONAL_HIDDEN = _policy(
    staff=Rule.HIDDEN,
    rm=Rule.CLEAR_IF_RELATED_ELSE_HIDDEN,
    teller=Rule.CLEAR_IF_RELATED_ELSE_HIDDEN,
)
# The bank's own operational data about a contact: staff see it, the customer does not.
INTERNAL = _policy(staff=Rule.CLEAR, customer=Rule.HIDDEN)
# What the customer is worth to the bank: their RM, approvers, compliance and admins; not the
# customer, and not front-line staff serving someone else's customer.
VALUE = FieldPolicy(
    rules={
        Role.CUSTOMER: Rule.HIDDEN,
        Role.AGENT: Rule.HIDDEN,
        Role.TELLER: Rule.HIDDEN,
        Role.RELATIONSHIP_MANAGER: Rule.CLEAR_IF_RELATED_ELSE_HIDDEN,
        Role.APPROVER: Rule.CLEAR,
        # A branch manager reads their branch's value in aggregate (valueReport), not per
        # customer: the figure follows the customer's RM.
        Role.BRANCH_MANAGER: Rule.HIDDEN,
        Role.COMPLIANCE: Rule.CLEAR,
        Role.ADMIN: Rule.CLEAR,
        Role.STEWARD: Rule.HIDDEN,
        Role.ANALYST: Rule.HIDDEN,
        Role.INTEGRATION: Rule.HIDDEN,
    }
)


def personal(mask: Masker) -> FieldPolicy:
    return _policy(
        staff=Rule.MASKED, rm=Rule.CLEAR_IF_RELATED, teller=Rule.CLEAR_IF_RELATED, mask=mask
    )


def _mask_contact(value: str) -> str:
    if value.startswith("+"):
        return mask_phone(value)
    if "@" in value:
        return mask_email(value)
    return mask_address(value)


# GraphQL type name → field name (GraphQL spelling) → policy.
FIELD_POLICIES: dict[str, dict[str, FieldPolicy]] = {
    "Customer": {
        "id": PUBLIC,
        "code": PUBLIC,
        "kind": PUBLIC,
        "displayName": PUBLIC,
        "personal": PUBLIC,
        "corporate": PUBLIC,
        "preferredChannel": PUBLIC,
        "preferredLanguage": PUBLIC,
        "createdAt": PUBLIC,
        "updatedAt": PUBLIC,
        "lifecycleStatus": PUBLIC,
        "convertedAt": PUBLIC,
        "mergedIds": PUBLIC,
        "version": PUBLIC,
        # Who changed what: the bank's record of its own work (values follow their fields).
        "changeHistory": INTERNAL,
        "completeness": INTERNAL,
        "contactPoints": PUBLIC,
        "documents": PUBLIC,
        "homeBranch": PUBLIC,
        "relationshipManager": PUBLIC,
        "relationship": INTERNAL,
        "holdings": PUBLIC,
        "interactions": PUBLIC,
        "fundMovements": PUBLIC,
        "consents": PUBLIC,
        "doNotContact": PUBLIC,
        "channelMix": PUBLIC,
        "openTasks": PUBLIC,
        "alerts": INTERNAL,
        "value": VALUE,
        "relationshipManagerHistory": INTERNAL,
        "relationshipTeam": INTERNAL,
        "nextBestProducts": INTERNAL,
    },
    "ChannelUse": {"channel": PUBLIC, "count": PUBLIC, "cost": INTERNAL},
    "Consent": {
        "purpose": PUBLIC,
        "channel": PUBLIC,
        "granted": PUBLIC,
        "version": PUBLIC,
        "recordedAt": PUBLIC,
        "source": PUBLIC,
        "actor": INTERNAL,
    },
    "PersonalDetails": {
        "gender": PUBLIC,
        "birthDate": PERSONAL,
        "occupation": PERSONAL_HIDDEN,
        "employer": PERSONAL_HIDDEN,
        "incomeBand": PERSONAL_HIDDEN,
        "assetBand": PERSONAL_HIDDEN,
        "creditStatus": PERSONAL_HIDDEN,
        "creditStatusSource": PERSONAL_HIDDEN,
    },
    "ContactPoint": {
        "id": PUBLIC,
        "kind": PUBLIC,
        "label": PUBLIC,
        "isPreferred": PUBLIC,
        "verified": PUBLIC,
        "value": personal(_mask_contact),
    },
    "IdentityDocument": {
        "id": PUBLIC,
        "type": PUBLIC,
        "issuingCountry": PUBLIC,
        "expiresOn": PUBLIC,
        "number": personal(lambda n: n),  # replaced per document type by the schema layer
    },
    "Holding": {
        "id": PUBLIC,
        "product": PUBLIC,
        "currency": PUBLIC,
        "balance": PUBLIC,
        "creditLimit": PUBLIC,
        "status": PUBLIC,
        "openedOn": PUBLIC,
        "closedOn": PUBLIC,
        "accountNumber": personal(mask_last4),
    },
    "Interaction": {
        "id": PUBLIC,
        "channel": PUBLIC,
        "kind": PUBLIC,
        "occurredAt": PUBLIC,
        "outcome": PUBLIC,
        "summary": PUBLIC,
        "satisfaction": PUBLIC,
        "branch": PUBLIC,
        "staffCode": INTERNAL,
        "cost": INTERNAL,
        "offers": PUBLIC,
        "campaign": INTERNAL,
    },
    # A movement's figures are the customer's: as an account number is shown (a customer their
    # own, an RM their portfolio's, a teller in session), hidden from other staff.
    "FundMovement": {
        "id": PUBLIC,
        "holdingId": PUBLIC,
        "amount": PERSONAL,
        "currency": PUBLIC,
        "direction": PERSONAL,
        "counterpartyKind": PERSONAL,
        "channel": PUBLIC,
        "bookedAt": PUBLIC,
    },
    "CorporateDetails": dict.fromkeys(
        (
            "registeredName",
            "ownershipType",
            "businessScale",
            "industry",
            "lifecycleStage",
            "assetStructure",
            "liabilitySources",
            "financingModes",
            "creditRecord",
            "legalRepresentative",
            "parent",
            "subsidiaries",
            "contacts",
        ),
        PUBLIC,
    ),
    "CorporateContact": {"role": PUBLIC, "person": PUBLIC},
    # A task's title, result and owner are the bank's own notes ("内部: 疑似欺诈", "已回访,
    # 确认新手机…"): staff see them, the customer does not.
    "Task": {
        "id": PUBLIC,
        "customerId": PUBLIC,
        "kind": PUBLIC,
        "status": PUBLIC,
        "title": INTERNAL,
        "ownerKind": INTERNAL,
        "owner": INTERNAL,
        "dueAt": PUBLIC,
        "overdue": PUBLIC,
        "createdAt": PUBLIC,
        "result": INTERNAL,
        "satisfaction": PUBLIC,
        "completedAt": PUBLIC,
        "plannedChannel": PUBLIC,  # how the bank will reach them: the customer may know it
        "customer": PUBLIC,  # through load_customer: row rule, masking and audit of its own
    },
    # Alerts reach only those who handle them (`may_handle`); their evidence (amounts,
    # balances) and who acknowledged them are internal.
    "Alert": {
        "id": PUBLIC,
        "customerId": PUBLIC,
        "rule": PUBLIC,
        "severity": PUBLIC,
        "status": PUBLIC,
        "evidence": INTERNAL,
        "firedAt": PUBLIC,
        "acknowledgedBy": INTERNAL,
        "acknowledgedAt": PUBLIC,
        "closedAt": PUBLIC,
        "task": PUBLIC,
        "customer": PUBLIC,
    },
    # A live event: ids and kinds for anyone who may follow the customer; a fund movement's
    # figures as a holding's account number is shown (a dotted name is a key in a JSON field).
    "ActivityEvent": {
        "sequence": PUBLIC,
        "customerId": PUBLIC,
        "topic": PUBLIC,
        "occurredAt": PUBLIC,
        "payload": PUBLIC,
        "payload.amount": PERSONAL,
        "payload.direction": PERSONAL,
    },
}

# Roles that may read customer profiles at all (row rule); customers only their own.
PROFILE_READERS = frozenset(
    {
        Role.CUSTOMER,
        Role.AGENT,
        Role.TELLER,
        Role.RELATIONSHIP_MANAGER,
        Role.APPROVER,
        Role.BRANCH_MANAGER,
        Role.COMPLIANCE,
        Role.ADMIN,
        Role.STEWARD,
    }
)


def may_read_customer(principal: Principal, customer_id: int) -> bool:
    """The row rule: deny by default; a customer reads only the profile the token names."""
    if principal.role not in PROFILE_READERS:
        return False
    if principal.role is Role.CUSTOMER:
        return principal.customer_id == customer_id
    return True


@functools.cache
def _outcome(role: Role, related: bool, type_name: str, field: str) -> Outcome:
    # Remembered: the policies are constants, and a profile asks this hundreds of times.
    policy = FIELD_POLICIES.get(type_name, {}).get(field)
    if policy is None:
        return Outcome.HIDDEN  # a field nobody declared is nobody's to see
    return policy.outcome(role, related)


@dataclass(frozen=True, slots=True)
class Visibility:
    """What one principal sees of one customer's record; computed once per customer."""

    role: Role
    related: bool

    def outcome(self, type_name: str, field: str) -> Outcome:
        return _outcome(self.role, self.related, type_name, field)

    def apply(
        self, type_name: str, field: str, value: str | None, mask: Masker | None = None
    ) -> str | None:
        """The value as this principal may see it: clear, masked, or None (hidden)."""
        if value is None:
            return None
        match self.outcome(type_name, field):
            case Outcome.CLEAR:
                return value
            case Outcome.HIDDEN:
                return None
            case Outcome.MASKED:
                masker = mask or FIELD_POLICIES[type_name][field].mask
                return None if masker is None else masker(value)

    def shows(self, type_name: str, field: str) -> bool:
        return self.outcome(type_name, field) is not Outcome.HIDDEN

    def json(self, type_name: str, field: str, value: Mapping[str, object]) -> dict[str, object]:
        """A JSON field's object without the keys this principal may not see: a key with a
        policy of its own (`field.key`) follows it; the others follow the field's."""
        declared = FIELD_POLICIES.get(type_name, {})
        return {
            key: item
            for key, item in value.items()
            if f"{field}.{key}" not in declared or self.shows(type_name, f"{field}.{key}")
        }


def relation_of(
    principal: Principal, customer_id: int, rm_id: int | None, in_counter_session: bool
) -> Relation:
    if principal.role is Role.CUSTOMER and principal.customer_id == customer_id:
        return Relation.OWN
    if (
        principal.role is Role.RELATIONSHIP_MANAGER
        and principal.rm_id is not None
        and principal.rm_id == rm_id
    ):
        return Relation.PORTFOLIO
    if principal.role is Role.TELLER and in_counter_session:
        return Relation.COUNTER_SESSION
    return Relation.OTHER


def session_decides(principal: Principal) -> bool:
    """Whether a counter session enters this caller's relation (`relation_of`)."""
    return principal.role is Role.TELLER


def relation_inputs(principal: Principal, in_counter_session: bool) -> tuple[str, ...]:
    """Everything `relation_of` reads of the caller, as text: two callers with the same inputs
    stand in the same relation to every customer, so they may share an answer built for one
    of them (the response cache's scope). Change it with `relation_of`; a test enumerates
    every Relation against it."""
    match principal.role:
        case Role.CUSTOMER:
            return (principal.role.value, f"c{principal.customer_id}")
        case Role.RELATIONSHIP_MANAGER:
            return (principal.role.value, f"rm{principal.rm_id}")
        case Role.TELLER:
            return (principal.role.value, "session" if in_counter_session else "no-session")
        case _:
            return (principal.role.value,)


def visibility_for(principal: Principal, relation: Relation) -> Visibility:
    return Visibility(role=principal.role, related=relation is not Relation.OTHER)
