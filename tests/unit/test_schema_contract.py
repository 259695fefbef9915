"""The schema is the clients' documentation: committed, current, and described everywhere."""

from __future__ import annotations

import json
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
)

from api.ops.apollo_cache import apollo_cache
from schema import schema

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_the_committed_schema_graphql_is_current() -> None:
    assert SDL.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "schema.graphql is stale: run `make schema` and commit it"
    )


def test_the_committed_apollo_cache_config_is_current() -> None:
    committed = json.loads((SDL.parent / "apollo-cache.json").read_text(encoding="utf-8"))
    assert committed == apollo_cache(schema._schema), (
        "apollo-cache.json is stale: run `make schema` and commit it"
    )
    # What the clients rely on: the result unions' members, and value objects merged.
    assert "Customer" in committed["possibleTypes"]["CustomerResult"]
    assert "NotFoundError" in committed["possibleTypes"]["Error"]
    assert committed["typePolicies"]["Customer"]["fields"]["personal"] == {"merge": True}
    assert "contactPoints" not in committed["typePolicies"]["Customer"]["fields"]  # a list


def _public_types() -> list[object]:
    return [
        t
        for name, t in schema._schema.type_map.items()
        if not name.startswith("__")
        and not getattr(t, "specified_by_url", None)
        and name not in {"String", "Int", "Float", "Boolean", "ID"}
    ]


def test_every_public_type_and_field_has_a_description() -> None:
    missing: list[str] = []
    public = _public_types()
    assert len(public) > 25  # the walk really covers the schema
    for graphql_type in public:
        name = graphql_type.name  # type: ignore[attr-defined]
        if not graphql_type.description:  # type: ignore[attr-defined]
            missing.append(name)
        if isinstance(
            graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType
        ):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
    assert missing == [], f"add a description to: {', '.join(missing)}"


def test_the_schema_uses_unions_and_enums_the_clients_rely_on() -> None:
    types = schema._schema.type_map
    assert isinstance(types["CustomerResult"], GraphQLUnionType)
    assert {t.name for t in types["CustomerResult"].types} == {
        "Customer",
        "NotFoundError",
        "InvalidInputError",
        "ForbiddenError",
    }
    assert isinstance(types["Channel"], GraphQLEnumType)
    assert set(types["Channel"].values) >= {
        "COUNTER",
        "CALL_CENTER",
        "MOBILE_APP",
        "WEB_BANKING",
        "SELF_SERVICE",
        "RM_VISIT",
        "SMS",
        "EMAIL",
    }


def test_every_paged_list_is_a_relay_connection_with_edges_and_nodes() -> None:
    """The schema guide promises `edges { cursor node }` on every paged list (and `nodes` as
    the shortcut); a connection added without them fails here."""
    connections = {
        name: t
        for name, t in schema._schema.type_map.items()
        if name.endswith("Connection") and isinstance(t, GraphQLObjectType)
    }
    assert len(connections) > 15  # the walk really covers the lists
    broken: list[str] = []
    for name, connection in connections.items():
        edges = connection.fields.get("edges")
        if edges is None or not {"nodes", "pageInfo"} <= set(connection.fields):
            broken.append(f"{name}: no edges, nodes or pageInfo")
            continue
        edge_type = get_named_type(edges.type)
        if not isinstance(edge_type, GraphQLObjectType) or not {"cursor", "node"} <= set(
            edge_type.fields
        ):
            broken.append(f"{name}: its edges lack cursor or node")
    assert broken == [], broken
