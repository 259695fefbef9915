"""The fast path of the call-center profile: one statement instead of a dozen, no executor.

For the registered CallCenterProfile operation, everything the profile shows is read in one
SQL statement (api/db/profile_reader.py `profile_snapshot`) and walked over the same schema
objects the resolvers build (api/profile_render.py), with the same row rule, masking and read
audit: a faster way to the same answer, never a second implementation of the rules
(tests/e2e/test_fast_path.py compares both for many customers and every role). The HTTP side —
cache, rate limit, audit — is `GraphQLEndpoint._answer_profile` (api/graphql_view.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import OperationDefinitionNode, parse
from strawberry.types import ExecutionResult

from domain.errors import DomainError
from schema.access import ROOT_PERMISSIONS
from schema.context import Context
from schema.ids import decode_typed_id
from schema.persisted import registry

PROFILE_OPERATION = "call_center_profile"
PROFILE_TIMELINE_FIRST = 20  # interactions(first: 20) in the registered text


@dataclass(frozen=True, slots=True)
class FastPath:
    name: str
    timeline_first: int
    query: str
    operation_name: str | None  # the GraphQL operation's own name in the registered text


def fast_paths() -> dict[str, FastPath]:
    """Registered query text → its fast path."""
    found: dict[str, FastPath] = {}
    for operation in registry().values():
        if operation.name == PROFILE_OPERATION:
            assert f"interactions(first: {PROFILE_TIMELINE_FIRST})" in operation.query
            [definition] = [
                d
                for d in parse(operation.query).definitions
                if isinstance(d, OperationDefinitionNode)
            ]
            found[operation.query] = FastPath(
                operation.name,
                PROFILE_TIMELINE_FIRST,
                operation.query,
                None if definition.name is None else definition.name.value,
            )
    return found


def customer_of(variables: dict[str, Any] | None, context: Context) -> int | None:
    """The customer the profile is asked for, when the caller may ask at all."""
    if context.principal.role not in ROOT_PERMISSIONS["customer"]:
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
