"""node(id:): any object implementing Node, by its global id."""

from __future__ import annotations

import strawberry

from domain.errors import InvalidInput
from domain.ids import decode_id
from schema.core.access import may_use
from schema.core.context import Info
from schema.core.node import Node
from schema.customers.types import load_customer
from schema.organisation.types import load_branch, load_relationship_manager
from schema.products.types import load_product


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Any object implementing Node, by its global id; null when it does not "
        "exist or the id is malformed."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        if not may_use(info, "node"):
            return None
        try:
            type_name, pk = decode_id(id)
        except InvalidInput:
            return None
        match type_name:
            case "Customer":
                return await load_customer(info, pk)
            case "Branch":
                return await load_branch(info, pk)
            case "RelationshipManager":
                # The same rule as `relationshipManager(id:)`: a customer sees their own RM
                # through their profile, never any RM by id.
                if not may_use(info, "relationshipManager"):
                    return None
                return await load_relationship_manager(info, pk)
            case "Product":
                return await load_product(info, pk)
            case _:
                return None
