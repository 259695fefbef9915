"""Query depth, alias and token limits, measured once per distinct query text.

Strawberry's limiter extensions add validation rules built per request, which defeats the
validation cache (every request re-validated: ~12 ms on the profile query). The same limits
measured here are cached by query text, so a repeated query costs a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Lexer,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    parse,
)
from strawberry.extensions import SchemaExtension

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000


@dataclass(frozen=True, slots=True)
class Measure:
    tokens: int
    depth: int
    aliases: int
    # Every operation selects only `__schema`, `__type` or `__typename` at its root: the
    # introspection GraphiQL, code generators and Postman send (depth 14 by its type refs).
    introspection_only: bool = False


def _introspection_only(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> bool:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if not selection.name.value.startswith("__"):
                return False
        elif isinstance(selection, InlineFragmentNode):
            if not _introspection_only(selection.selection_set, fragments):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or not _introspection_only(fragment.selection_set, fragments):
                return False
    return True


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    """Levels of fields that have selections of their own: `{ a { b } }` is depth 1."""
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is not None:
                deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                deepest = max(
                    deepest, _depth(fragments[name].selection_set, fragments, seen | {name})
                )
    return deepest


def _aliases(selection_set: SelectionSetNode | None) -> int:
    if selection_set is None:
        return 0
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode) and selection.alias is not None:
            count += 1
        inner = getattr(selection, "selection_set", None)
        count += _aliases(inner)
    return count


@lru_cache(maxsize=1024)
def measure(query: str) -> Measure:
    lexer = Lexer(Source(query))
    tokens = 0
    while lexer.advance().kind is not TokenKind.EOF:
        tokens += 1
        if tokens > MAX_TOKENS:
            return Measure(tokens=tokens, depth=0, aliases=0)  # not worth parsing further
    document = parse(query)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    depth = aliases = 0
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            aliases += _aliases(definition.selection_set)
        if isinstance(definition, OperationDefinitionNode):
            depth = max(depth, _depth(definition.selection_set, fragments, frozenset()))
    introspection = bool(operations) and all(
        _introspection_only(o.selection_set, fragments) for o in operations
    )
    return Measure(tokens=tokens, depth=depth, aliases=aliases, introspection_only=introspection)


class OperationLimits(SchemaExtension):
    """Refuses a query over a limit before it is parsed for execution."""

    # Development answers the standard introspection query whatever its depth (tools send it;
    # production refuses introspection altogether: DisableIntrospection).
    introspection_exempt = False

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query:
            try:
                found = measure(query)
            except GraphQLError:
                found = None  # a syntax error: the parser reports it next
            if found is not None:
                # The standard introspection is deep and long; aliases stay limited for it too.
                sized = not (self.introspection_exempt and found.introspection_only)
                if sized and found.tokens > MAX_TOKENS:
                    raise GraphQLError(f"Document contains more than {MAX_TOKENS} tokens.")
                if sized and found.depth > MAX_DEPTH:
                    raise GraphQLError(
                        f"The operation exceeds maximum operation depth of {MAX_DEPTH}."
                    )
                if found.aliases > MAX_ALIASES:
                    raise GraphQLError(f"{found.aliases} aliases found. Allowed: {MAX_ALIASES}")
        yield


class DevelopmentOperationLimits(OperationLimits):
    introspection_exempt = True
