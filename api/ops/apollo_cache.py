"""apollo-cache.json: what Apollo Client's InMemoryCache needs to know of the schema.

`possibleTypes`: every union's and interface's members, so fragments on them (`... on
Customer`, `... on Error`) match from the cache. `typePolicies`: every field holding an object
without an `id` (a value object: `personal`, `relationship`, `holdings`, a connection) merges
what two screens selected instead of replacing it, which Apollo warns about and which loses
the fields the other screen asked for. Generated from the schema by `make schema`; a test
fails while the committed file is stale.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)


def _is_list(field_type: Any) -> bool:
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return isinstance(inner, GraphQLList)


def _is_value_object(named: Any) -> bool:
    return isinstance(named, GraphQLObjectType) and "id" not in named.fields


def apollo_cache(schema: GraphQLSchema) -> dict[str, Any]:
    possible: dict[str, list[str]] = {}
    policies: dict[str, dict[str, dict[str, dict[str, bool]]]] = {}
    for name, graphql_type in sorted(schema.type_map.items()):
        if name.startswith("__"):
            continue
        if isinstance(graphql_type, GraphQLUnionType | GraphQLInterfaceType):
            members = schema.get_possible_types(graphql_type)
            possible[name] = sorted(t.name for t in members)
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        merged = {
            field_name: {"merge": True}
            for field_name, field in sorted(graphql_type.fields.items())
            if _is_value_object(get_named_type(field.type)) and not _is_list(field.type)
        }
        if merged:
            policies[name] = {"fields": merged}
    return {"possibleTypes": possible, "typePolicies": policies}
