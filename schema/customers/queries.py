"""Customer lookups: by id, by identity document, search, and the customer's own profile."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from domain.access.principal import Role
from domain.customers.documents import normalize_document_number
from domain.customers.model import DocumentType
from domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from domain.ids import decode_typed_id
from domain.search import interpret_search
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import ForbiddenError, InvalidInputError, NotFoundError, UserFacingError
from schema.core.pagination import PageInfo, check_first, cursor_key, decode_cursor, encode_cursor
from schema.customers.prefetch import prefetch_profile
from schema.customers.types import Customer, load_customer, present

CustomerResult = Annotated[
    Customer | NotFoundError | InvalidInputError | ForbiddenError,
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

    @strawberry.field(description="This page's customers, without cursors.")
    def nodes(self) -> list[Customer]:
        return [edge.node for edge in self.edges]


async def _found(info: Info, pk: int, key: str) -> CustomerResult:
    # A customer the caller may not read is reported exactly like one that does not exist:
    # the answer must not reveal who is a customer of the bank.
    await prefetch_profile(info, pk)
    customer = await load_customer(info, pk)
    if customer is None:
        return NotFoundError.from_domain(NotFound("customer", key))
    return customer


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="The consolidated profile of one customer, by global id.")
    async def customer(self, info: Info, id: strawberry.ID) -> CustomerResult:
        try:
            require(info, "customer")
            pk = decode_typed_id(id, "Customer")
        except Forbidden as exc:
            return ForbiddenError.from_domain(exc)
        except InvalidInput as exc:
            return InvalidInputError.from_domain(exc)
        return await _found(info, pk, id)

    @strawberry.field(
        description="The signed-in customer's own profile; the id comes from the token."
    )
    async def me(self, info: Info) -> CustomerResult:
        try:
            require(info, "me")
        except Forbidden as exc:
            return ForbiddenError.from_domain(exc)
        own = info.context.principal.customer_id
        assert own is not None  # customer tokens always carry it (checked at sign-in)
        return await _found(info, own, "me")

    @strawberry.field(
        description="The customer holding an identity document; the number is validated "
        "(resident ID checksum, USCC checksum, passport format) before the lookup."
    )
    async def customer_by_document(
        self, info: Info, type: DocumentType, number: str
    ) -> CustomerResult:
        try:
            require(info, "customerByDocument")
            normalized = normalize_document_number(type, number)
        except Forbidden as exc:
            return ForbiddenError.from_domain(exc)
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
            require(info, "customers")
            check_first(first)
            after_pk = None if after is None else customer_cursor(after)
            terms = interpret_search(search) if search is not None else None
        except DomainError as exc:
            raise UserFacingError(exc) from exc
        # The end of an identity number is looked for in an RM's own book only (the numbers
        # are sealed; opening the whole bank's to compare would be a scan of every customer).
        principal = info.context.principal
        scope = principal.rm_id if principal.role is Role.RELATIONSHIP_MANAGER else None
        page = await info.context.reader.search_customers(terms, first, after_pk, scope)
        edges = []
        # Concurrently: a teller's session check is one Redis call per customer.
        presented = await asyncio.gather(*(present(info, found) for found in page.items))
        for found, customer in zip(page.items, presented, strict=True):
            if customer is not None:
                edges.append(CustomerEdge(cursor=encode_cursor(f"c|{found.id}"), node=customer))
        return CustomerConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=encode_cursor(f"c|{page.items[-1].id}") if page.items else None,
                start_cursor=encode_cursor(f"c|{page.items[0].id}") if page.items else None,
            ),
        )


def customer_cursor(cursor: str) -> int:
    prefix, _, raw = decode_cursor(cursor).partition("|")
    if prefix != "c":
        raise InvalidInput("after", "not a valid cursor")
    return cursor_key(raw)
