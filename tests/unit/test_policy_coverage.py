"""Deny by default: every personal-data field and every root field has a declared rule."""

from __future__ import annotations

from graphql import GraphQLObjectType, get_named_type

from domain.access.policy import FIELD_POLICIES
from domain.access.principal import Role
from schema import schema
from schema.core.access import ROOT_PERMISSIONS


def test_every_field_of_every_personal_data_type_has_a_policy() -> None:
    missing = []
    for type_name, policies in FIELD_POLICIES.items():
        graphql_type = schema._schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        missing += [f"{type_name}.{f}" for f in graphql_type.fields if f not in policies]
        # A dotted name is a key inside a JSON field (`payload.amount`): its field must exist.
        stale = {f for f in policies if f.split(".")[0] not in graphql_type.fields}
        assert not stale, f"policies for fields that no longer exist: {stale}"
    assert missing == [], "declare a policy in domain/access/policy.py for: " + ", ".join(missing)


def test_every_policy_names_every_role() -> None:
    for type_name, policies in FIELD_POLICIES.items():
        for field, policy in policies.items():
            assert set(policy.rules) == set(Role), f"{type_name}.{field}"


# Object types that are about a customer or reach their data, and still need no field policy
# of their own, each with the reason. Anything else about a customer must be under policy.
NOT_PERSONAL = {
    "Query": "a root: each field checks ROOT_PERMISSIONS",
    "Mutation": "a root: each field checks ROOT_PERMISSIONS",
    "Subscription": "a root: each field checks ROOT_PERMISSIONS",
    "CustomerConnection": "a page of covered customers",
    "CustomerEdge": "a cursor and a covered customer",
    "InteractionConnection": "a page of covered interactions",
    "InteractionEdge": "a cursor and a covered interaction",
    "HoldingPortfolio": "covered holdings and their totals",
    "TaskConnection": "a page of covered tasks",
    "AlertConnection": "a page of covered alerts",
    "TaskEdge": "a cursor and a covered task",
    "FundMovementConnection": "a page of covered movements",
    "CorporateGroup": "a count and totals; parent and members through load_customer",
    "FundMovementEdge": "a cursor and a covered movement",
    "StateChangeProposal": "states, a reason and its people; the customer through load_customer",
    "AlertEdge": "a cursor and a covered alert",
    "RecordInteractionPayload": "ids; the interaction and task it reads back are covered",
    "PortfolioCustomers": "customers through load_customer (row rule, masking, audit)",
    "AssignmentViolation": "a tier and grades; the customer through load_customer",
    "OwnershipConflict": "branch claims; the customer through load_customer",
    "SegmentMember": "reasons; the customer through load_customer",
    "CounterSession": "the customer's id and the session's times",
    "ErasurePayload": "the customer's id and what was erased, counted",
    "CustomerReference": "an id and a code (audited); the profile through load_customer",
    "LinkCustomerSourceKeyPayload": "the customer's id and whether the key was new",
    "RegisterCustomerPayload": "the new customer's id; the profile through load_customer",
    "DuplicateDocumentError": "which document; its holder through load_customer",
    "UpdateCustomerPayload": "a version and field names; the profile through load_customer",
    "WeakRecordNode": "a score and item names; the customer through load_customer",
    "CustomerChangedPayload": "the customer's id; the profile through load_customer",
    "MatchCandidate": "ids, a score and field levels (no values); both records through "
    "load_customer; stewards and admins only",
    "CustomerMerge": "ids, field names, systems and rows moved (no values); the survivor "
    "through load_customer; stewards and admins only",
    "FieldLineage": "a field's name, a record's id, a system and a time (no value)",
    "CampaignMember": "a reason, an arm, outcomes; tier and score only where the customer's "
    "value shows; the customer through load_customer",
    "DoNotContactChanged": "the customer's id and whether they are on the list",
}


def _customer_data_types() -> set[str]:
    return {"Customer", *FIELD_POLICIES}


def test_every_type_about_a_customer_is_under_policy_or_declared_harmless() -> None:
    # A type is about a customer when it names one (customerId) or reaches customer data (a
    # field of a covered type): Task and Alert were both, and were read unaudited because
    # nothing asked whether they carried personal data.
    uncovered = []
    for name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or name.startswith("__"):
            continue
        about = "customerId" in graphql_type.fields or any(
            get_named_type(f.type).name in _customer_data_types()
            for f in graphql_type.fields.values()
        )
        if about and name not in FIELD_POLICIES and name not in NOT_PERSONAL:
            uncovered.append(name)
    assert uncovered == [], "declare field policies (domain/access/policy.py) for: " + ", ".join(
        uncovered
    )
    stale = set(NOT_PERSONAL) - set(schema._schema.type_map)
    assert not stale, f"NOT_PERSONAL names types that no longer exist: {stale}"


def test_every_root_field_declares_who_may_call_it() -> None:
    roots = [
        schema._schema.query_type,
        schema._schema.mutation_type,
        schema._schema.subscription_type,
    ]
    fields = {f for root in roots if root is not None for f in root.fields}
    assert fields == set(ROOT_PERMISSIONS)
