"""Deny by default: every personal-data field and every root field has a declared rule."""

from __future__ import annotations

from graphql import GraphQLObjectType

from domain.access.policy import FIELD_POLICIES
from domain.access.principal import Role
from schema import schema
from schema.access import ROOT_PERMISSIONS


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


def test_types_that_reach_personal_data_are_covered() -> None:
    # Any object type with a field returning a personal-data type must itself be covered or
    # be a known container (connections, edges, results, the root types).
    containers = {
        "Query",
        "Mutation",
        "Subscription",
        "HoldingPortfolio",
        "InteractionEdge",
        "InteractionConnection",
        "CustomerEdge",
        "CustomerConnection",
        "RecordInteractionPayload",
        # Reach their customers through load_customer: the row rule, masking and audit apply.
        "Alert",
        "PortfolioCustomers",
        "AssignmentViolation",
        "OwnershipConflict",
        "SegmentMember",
    }
    for name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or name.startswith("__"):
            continue
        for field in graphql_type.fields.values():
            target = field.type
            while hasattr(target, "of_type"):
                target = target.of_type
            if getattr(target, "name", None) in FIELD_POLICIES:
                assert name in FIELD_POLICIES or name in containers, f"{name} is not covered"


def test_every_root_field_declares_who_may_call_it() -> None:
    roots = [
        schema._schema.query_type,
        schema._schema.mutation_type,
        schema._schema.subscription_type,
    ]
    fields = {f for root in roots if root is not None for f in root.fields}
    assert fields == set(ROOT_PERMISSIONS)
