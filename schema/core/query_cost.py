"""What an operation costs, before it runs: fields selected, lists weighted by `first`.

A list is weighted by its `first:` up to the largest page any list serves: a bigger value is
refused by the list itself (INVALID_INPUT), so it costs no more than the largest page. A `first:`
read from a variable takes the value the executor will use: the one sent, else the variable's
default; one that cannot be told before execution is charged as the largest page (a default left
out of the count once let `first: $n` with `$n: Int = 100` through as a page of one). An
operation that costs more than a caller's whole bucket could never run, however long it waited:
it is refused with QUERY_TOO_COSTLY and charges nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import cache, lru_cache
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    parse,
    value_from_ast_untyped,
    visit,
)
from strawberry.extensions import SchemaExtension

from domain.access.rate_limits import RateLimiter
from domain.errors import DomainError
from schema.core.errors import UserFacingError
from schema.core.pagination import MAX_PAGE_SIZE


class RateLimited(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many requests; retry after {retry_after:g} s")
        self.retry_after = retry_after

    def details(self) -> dict[str, object]:
        return {"retryAfter": self.retry_after}


class QueryTooCostly(DomainError):
    code = "QUERY_TOO_COSTLY"

    def __init__(self, cost: float, limit: float) -> None:
        super().__init__(
            f"this operation costs {cost:g} units and a request may cost at most {limit:g}; "
            "ask for smaller pages (first:) or fewer fields"
        )
        self.cost = cost
        self.limit = limit

    def details(self) -> dict[str, object]:
        return {"cost": int(self.cost), "limit": int(self.limit)}


async def charge(limiter: RateLimiter, bucket: str, cost: float) -> None:
    """Spend `cost` from the caller's bucket, or raise the error the client is answered with."""
    if cost > limiter.capacity:
        raise UserFacingError(QueryTooCostly(cost, limiter.capacity))
    retry = await limiter.acquire(bucket, cost)
    if retry is not None:
        raise UserFacingError(RateLimited(retry))


def _first(node: FieldNode, variables: Mapping[str, Any]) -> int:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return min(max(1, int(value.value)), MAX_PAGE_SIZE)
        if isinstance(value, VariableNode):
            raw = variables.get(value.name.value)
            if isinstance(raw, int) and not isinstance(raw, bool):
                return min(max(1, raw), MAX_PAGE_SIZE)
        return MAX_PAGE_SIZE  # null, not a number or no value: validation or the list refuses it
    return 1


def selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    seen: frozenset[str] = frozenset(),
) -> int:
    """1 per field; a field with `first: N` costs N times what it selects."""
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            inner = selection_cost(selection.selection_set, fragments, variables, seen)
            total += 1 + _first(selection, variables) * inner
        elif isinstance(selection, InlineFragmentNode):
            total += selection_cost(selection.selection_set, fragments, variables, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:  # validation rejects cycles anyway
                total += selection_cost(
                    fragments[name].selection_set, fragments, variables, seen | {name}
                )
    return total


def with_defaults(
    operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The variables as the executor will see them: a variable not sent takes its default."""
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None and d.variable.name.value not in variables
    }
    return {**variables, **defaults} if defaults else variables


def document_cost(document: DocumentNode, variables: Mapping[str, Any]) -> int:
    """What the rate limiter charges for a parsed request: every operation in it."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return sum(
        selection_cost(d.selection_set, fragments, with_defaults(d, variables))
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


@cache
def _first_variables(query: str) -> tuple[DocumentNode, tuple[str, ...]]:
    """A registered text parsed once, and the variables its `first:` arguments read (the only
    variables its cost depends on). Only for registered texts: the cache is unbounded."""
    document = parse(query)
    firsts: set[str] = set()

    class FirstVariables(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            if node.name.value == "first" and isinstance(node.value, VariableNode):
                firsts.add(node.value.name.value)

    visit(document, FirstVariables())
    return document, tuple(sorted(firsts))


def operation_cost(query: str, variables: Mapping[str, Any]) -> int:
    """`document_cost` of a registered text, remembered per text and the `first:` values it
    reads: a registered profile reads none, so its cost is walked once, not on every request."""
    names = _first_variables(query)[1]
    firsts = tuple(
        v if isinstance(v := variables.get(n), int) and not isinstance(v, bool) else None
        for n in names
    )
    return _cost(query, firsts)


@lru_cache(maxsize=1024)
def _cost(query: str, firsts: tuple[int | None, ...]) -> int:
    document, names = _first_variables(query)
    # A value not sent is left out, so that the variable's default applies, as in execution.
    sent = {name: first for name, first in zip(names, firsts, strict=True) if first is not None}
    return document_cost(document, sent)


class RateLimitExtension(SchemaExtension):
    """Charges the caller's bucket with the operation's cost before it executes."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        document = ec.graphql_document
        limiter = getattr(context, "rate_limiter", None)
        if document is not None and limiter is not None:
            cost = float(document_cost(document, ec.variables or {}))
            # Remembered, so that a refused caller's next request of this text is refused
            # before it is parsed (api/http/graphql_view.py).
            limiter.refusals.remember_cost(ec.query, cost)
            await charge(limiter, context.principal.caller, cost)
        yield
