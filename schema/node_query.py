"""`node(id:)`: refetch any Node by its global id."""

from __future__ import annotations

import strawberry

from domain.errors import InvalidInput
from schema.access import may_use
from schema.context import Info
from schema.customers.types import load_customer
from schema.ids import decode_id
from schema.node import Node
from schema.organisation.types import Branch, RelationshipManager
from schema.products.types import Product


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
        loaders = info.context.loaders
        match type_name:
            case "Customer":
                return await load_customer(info, pk)
            case "Branch":
                branch = await loaders.branch_by_id.load(pk)
                return None if branch is None else Branch.from_domain(branch)
            case "RelationshipManager":
                rm = await loaders.relationship_manager_by_id.load(pk)
                return None if rm is None else RelationshipManager.from_domain(rm)
            case "Product":
                product = await loaders.product_by_id.load(pk)
                return None if product is None else Product.from_domain(product)
            case _:
                return None
