"""The GraphQL schema: types, queries and their descriptions. No SQL, no sessions."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema import enums  # noqa: F401  # registers the domain enums with strawberry
from schema.customers.queries import CustomerQueries
from schema.customers.types import Customer
from schema.node_query import NodeQueries
from schema.organisation.types import Branch, RelationshipManager
from schema.products.types import Product


@strawberry.type(description="Read the consolidated customer view.")
class Query(CustomerQueries, NodeQueries):
    pass


class QuanjingSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry would log every error with its traceback, expected ones included. The API
        # layer logs the unexpected ones, once, with the request's correlation id.
        return None


def build_schema() -> strawberry.Schema:
    return QuanjingSchema(
        query=Query,
        types=[Customer, Branch, RelationshipManager, Product],
        # Passed as classes: strawberry builds one instance per operation, so no state leaks
        # between requests; the caches themselves are shared module-level LRUs.
        extensions=[ParserCache, ValidationCache],
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
