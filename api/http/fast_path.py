"""The fast path of the call-center profile: one statement instead of a dozen, no executor.

For the registered CallCenterProfile operation, everything the profile shows is read in one
SQL statement (api/db/profile_reader.py `profile_snapshot`) and walked over the same schema
objects the resolvers build (api/http/profile_render.py), with the same row rule, masking and read
audit: a faster way to the same answer, never a second implementation of the rules
(tests/e2e/test_fast_path.py compares both for many customers and every role). The HTTP side —
cache, rate limit, audit — is `GraphQLEndpoint._answer_profile` (api/http/graphql_view.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, IntValueNode, OperationDefinitionNode, SelectionNode, parse
from strawberry.types import ExecutionResult

from domain.access.principal import Role
from domain.errors import DomainError
from domain.ids import decode_typed_id
from schema.access import ROOT_PERMISSIONS
from schema.context import Context
from schema.persisted import registry

# Registered operations answered from one snapshot: the call-center profile of any customer
# (`customer(id: $id)`) and the mobile self-view of the signed-in customer (`me`).
FAST_OPERATIONS = ("call_center_profile", "self_view")


@dataclass(frozen=True, slots=True)
class FastPath:
    name: str
    root: str  # "customer" or "me"
    timeline_first: int  # interactions(first: N) in the registered text
    query: str
    operation_name: str | None  # the GraphQL operation's own name in the registered text


def _first_interactions(selections: Sequence[SelectionNode]) -> int | None:
    for node in selections:
        if isinstance(node, FieldNode) and node.name.value == "interactions":
            for argument in node.arguments or ():
                if argument.name.value == "first" and isinstance(argument.value, IntValueNode):
                    return int(argument.value.value)
        inner = getattr(node, "selection_set", None)
        found = None if inner is None else _first_interactions(inner.selections)
        if found is not None:
            return found
    return None


def fast_paths() -> dict[str, FastPath]:
    """Registered query text → its fast path."""
    found: dict[str, FastPath] = {}
    for operation in registry().values():
        if operation.name not in FAST_OPERATIONS:
            continue
        [definition] = [
            d for d in parse(operation.query).definitions if isinstance(d, OperationDefinitionNode)
        ]
        [root] = definition.selection_set.selections
        assert isinstance(root, FieldNode)
        first = _first_interactions(definition.selection_set.selections)
        found[operation.query] = FastPath(
            name=operation.name,
            root=root.name.value,
            timeline_first=first if first is not None else 0,
            query=operation.query,
            operation_name=None if definition.name is None else definition.name.value,
        )
    return found


def customer_of(fast: FastPath, variables: dict[str, Any] | None, context: Context) -> int | None:
    """The customer the operation is about, when the caller may ask at all."""
    principal = context.principal
    if fast.root == "me":
        return principal.customer_id if principal.role is Role.CUSTOMER else None
    if principal.role not in ROOT_PERMISSIONS["customer"]:
        return None  # refused before anything is read
    raw = (variables or {}).get("id")
    if not isinstance(raw, str):
        return None
    try:
        return decode_typed_id(raw, "Customer")
    except DomainError:
        return None  # the resolver answers the typed error


def cacheable(result: ExecutionResult, context: Context) -> bool:
    """An answer worth keeping: data shown to the caller, no error, nobody denied."""
    audit = context.audit
    return not result.errors and result.data is not None and bool(audit.seen) and not audit.denied
