"""Which personal-data fields an operation selects, for the read audit.

Computed once per distinct query text from the validated document (fragments included),
not per field at run time: the per-field path stays free of hooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    is_leaf_type,
    print_ast,
    visit,
)
from strawberry.extensions import SchemaExtension

from domain.access.policy import FIELD_POLICIES


class _Collector(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.found: set[tuple[str, str]] = set()

    def enter_field(self, node: FieldNode, *_: object) -> None:
        parent = self.type_info.get_parent_type()
        if parent is None:
            return
        name = get_named_type(parent).name
        field_type = self.type_info.get_type()
        # Values only (scalars, enums): an edge to another type is audited by its own fields.
        leaf = field_type is not None and is_leaf_type(get_named_type(field_type))
        if leaf and name in FIELD_POLICIES and not node.name.value.startswith("__"):
            self.found.add((name, node.name.value))


def personal_fields(
    schema: GraphQLSchema, document: DocumentNode, query: str | None
) -> frozenset[tuple[str, str]]:
    return _cached(schema, query if query is not None else print_ast(document))


@lru_cache(maxsize=512)
def _cached(schema: GraphQLSchema, printed: str) -> frozenset[tuple[str, str]]:
    from graphql import parse

    type_info = TypeInfo(schema)
    collector = _Collector(type_info)
    visit(parse(printed), TypeInfoVisitor(type_info, collector))
    return frozenset(collector.found)


class AuditFieldsExtension(SchemaExtension):
    """Records the selected personal-data fields on the request's audit collector."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        document = self.execution_context.graphql_document
        if document is not None and hasattr(context, "audit"):
            context.audit.operation = self.execution_context.operation_name
            context.audit.selected = personal_fields(
                self.execution_context.schema._schema, document, self.execution_context.query
            )
        yield
