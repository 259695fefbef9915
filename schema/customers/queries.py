"""Customer lookups: by id, by identity document, and search."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.customers.documents import normalize_document_number
from domain.customers.model import DocumentType
from domain.errors import DomainError, InvalidInput, NotFound
from domain.search import interpret_search
from schema.context import Info
from schema.customers.types import Customer, load_customer
from schema.errors import InvalidInputError, NotFoundError, UserFacingError
from schema.ids import decode_typed_id
from schema.pagination import PageInfo, check_first, decode_cursor, encode_cursor

CustomerResult = Annotated[
    Customer | NotFoundError | InvalidInputError,
    strawberry.union("CustomerResult", description="The customer, or why it cannot be returned."),
]


@strawberry.type(description="A customer and its position in the result list.")
class CustomerEdge:
    cursor: str = strawberry.field(description="Opaque position; page after it with `after`.")
    node: Customer = strawberry.field(description="The customer.")


@strawberry.type(description="A page of customers.")
class CustomerConnection:
    edges: list[CustomerEdge] = strawberry.field(description="Customers on this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")


async def _found(info: Info, pk: int, key: str) -> CustomerResult:
    customer = await load_customer(info, pk)
    if customer is None:
        return NotFoundError.from_domain(NotFound("customer", key))
    return customer


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="The consolidated profile of one customer, by global id.")
    async def customer(self, info: Info, id: strawberry.ID) -> CustomerResult:
        try:
            pk = decode_typed_id(id, "Customer")
        except InvalidInput as exc:
            return InvalidInputError.from_domain(exc)
        return await _found(info, pk, id)

    @strawberry.field(
        description="The customer holding an identity document; the number is validated "
        "(resident ID checksum, USCC checksum, passport format) before the lookup."
    )
    async def customer_by_document(
        self, info: Info, type: DocumentType, number: str
    ) -> CustomerResult:
        try:
            normalized = normalize_document_number(type, number)
        except InvalidInput as exc:
            return InvalidInputError.from_domain(exc)
        pk = await info.context.loaders.customer_id_by_document.load((type, normalized))
        if pk is None:
            return NotFoundError.from_domain(NotFound("customer with document", type.value))
        return await _found(info, pk, type.value)

    @strawberry.field(
        description="Customers, by id. `search` matches a (partial) name, a phone number, an "
        "identity document number or a customer code."
    )
    async def customers(
        self, info: Info, first: int, search: str | None = None, after: str | None = None
    ) -> CustomerConnection:
        try:
            check_first(first)
            after_pk = None if after is None else _customer_cursor(after)
            terms = interpret_search(search) if search is not None else None
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        page = await info.context.reader.search_customers(terms, first, after_pk)
        edges = [
            CustomerEdge(cursor=encode_cursor(f"c|{c.id}"), node=Customer.from_domain(c))
            for c in page.items
        ]
        return CustomerConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


def _customer_cursor(cursor: str) -> int:
    prefix, _, raw = decode_cursor(cursor).partition("|")
    if prefix != "c" or not raw.isdigit():
        raise InvalidInput("after", "not a valid cursor")
    return int(raw)
