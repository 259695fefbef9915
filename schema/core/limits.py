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
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            aliases += _aliases(definition.selection_set)
        if isinstance(definition, OperationDefinitionNode):
            depth = max(depth, _depth(definition.selection_set, fragments, frozenset()))
    return Measure(tokens=tokens, depth=depth, aliases=aliases)


class OperationLimits(SchemaExtension):
    """Refuses a query over a limit before it is parsed for execution."""

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query:
            try:
                found = measure(query)
            except GraphQLError:
                found = None  # a syntax error: the parser reports it next
            if found is not None:
                if found.tokens > MAX_TOKENS:
                    raise GraphQLError(f"Document contains more than {MAX_TOKENS} tokens.")
                if found.depth > MAX_DEPTH:
                    raise GraphQLError(
                        f"The operation exceeds maximum operation depth of {MAX_DEPTH}."
                    )
                if found.aliases > MAX_ALIASES:
                    raise GraphQLError(f"{found.aliases} aliases found. Allowed: {MAX_ALIASES}")
        yield
