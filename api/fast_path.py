"""The fast path of the call-center profile: one statement instead of a dozen.

For the registered CallCenterProfile operation, everything the profile shows is read in one
SQL statement (api/db/profile_reader.py `profile_snapshot`) and primed into the request's
DataLoaders before execution. The resolvers then run exactly as for any query — row rule,
masking, read audit — but find their data already loaded: a faster way to the same answer,
never a second implementation of the rules (tests/e2e/test_fast_path.py compares both for
many customers and every role).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import OperationDefinitionNode, parse
from strawberry.types import ExecutionResult

from api.db.profile_reader import ProfileSnapshot, SqlProfileReader
from domain.errors import DomainError
from domain.interactions import TimelineFilter, TimelineRequest
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


async def prime_profile(
    reader: SqlProfileReader, context: Context, customer_id: int, first: int
) -> ProfileSnapshot:
    snapshot = await reader.profile_snapshot(customer_id, first)
    loaders = context.loaders
    loaders.customer_by_id.prime(customer_id, snapshot.customer)
    customer = snapshot.customer
    if customer is None:
        return snapshot
    loaders.contact_points_by_customer.prime(customer_id, snapshot.contact_points)
    loaders.documents_by_customer.prime(customer_id, snapshot.documents)
    if customer.home_branch_id is not None:
        loaders.branch_by_id.prime(customer.home_branch_id, snapshot.branch)
    if customer.relationship_manager_id is not None:
        loaders.relationship_manager_by_id.prime(customer.relationship_manager_id, snapshot.manager)
    loaders.relationship_by_customer.prime(customer_id, snapshot.relationship)
    loaders.pending_proposal_by_customer.prime(customer_id, snapshot.pending_proposal)
    loaders.holdings_by_customer.prime(customer_id, snapshot.holdings)
    loaders.timeline_page_by_request.prime(
        TimelineRequest(customer_id=customer_id, first=first, after=None, filter=TimelineFilter()),
        snapshot.timeline,
    )
    loaders.open_tasks_by_customer.prime(customer_id, snapshot.open_tasks)
    return snapshot


def cacheable(result: ExecutionResult, context: Context) -> bool:
    """An answer worth keeping: data shown to the caller, no error, nobody denied."""
    audit = context.audit
    return not result.errors and result.data is not None and bool(audit.seen) and not audit.denied
