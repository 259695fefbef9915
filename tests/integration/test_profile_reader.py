"""The SQL behind the profile: batches, timeline paging, search."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.document_crypto import DocumentCrypto
from api.db.profile_reader import SqlProfileReader
from domain.customers.model import DocumentType
from domain.interactions import Channel, TimelineFilter, TimelinePosition, TimelineRequest
from domain.search import interpret_search
from tests.factories import make_customer
from tests.statements import StatementCounter


async def test_one_batch_reads_many_customers_in_one_statement(
    engine: AsyncEngine, crypto: DocumentCrypto, statements: StatementCounter, seeded: int
) -> None:
    reader = SqlProfileReader(engine, crypto)
    with statements.capture() as sent:
        found = await reader.customers_by_id(list(range(1, 101)))
        holdings = await reader.holdings_by_customer(list(range(1, 101)))
    assert len(found) == 100
    assert sum(len(h) for h in holdings.values()) >= 100
    assert len(sent) == 2


async def test_timeline_pages_cover_every_interaction_once_even_with_equal_timestamps(
    engine: AsyncEngine, crypto: DocumentCrypto, seeded: int
) -> None:
    made = await make_customer(engine, interactions=45, same_timestamp=True)
    reader = SqlProfileReader(engine, crypto)
    seen: list[int] = []
    after: TimelinePosition | None = None
    while True:
        (page,) = await reader.timeline_pages([TimelineRequest(made.id, 10, after)])
        seen.extend(i.id for i in page.items)
        if not page.has_next_page:
            break
        last = page.items[-1]
        after = TimelinePosition(last.occurred_at, last.id)
    assert len(seen) == 45
    assert seen == sorted(seen, reverse=True)  # ties broken by id, newest id first


async def test_timeline_requests_for_several_customers_share_one_statement(
    engine: AsyncEngine, crypto: DocumentCrypto, statements: StatementCounter, seeded: int
) -> None:
    a = await make_customer(engine, interactions=5)
    b = await make_customer(engine, interactions=30)
    reader = SqlProfileReader(engine, crypto)
    with statements.capture() as sent:
        pa, pb = await reader.timeline_pages(
            [TimelineRequest(a.id, 20, None), TimelineRequest(b.id, 20, None)]
        )
    assert len(sent) == 1
    assert (len(pa.items), pa.has_next_page) == (5, False)
    assert (len(pb.items), pb.has_next_page) == (20, True)


async def test_the_timeline_filters_by_channel(
    engine: AsyncEngine, crypto: DocumentCrypto, seeded: int
) -> None:
    made = await make_customer(engine, interactions=10)
    reader = SqlProfileReader(engine, crypto)
    (page,) = await reader.timeline_pages(
        [TimelineRequest(made.id, 20, None, TimelineFilter(channels=frozenset({Channel.COUNTER})))]
    )
    assert len(page.items) == 5
    assert {i.channel for i in page.items} == {Channel.COUNTER}


async def test_search_finds_a_customer_by_phone_document_code_and_partial_name(
    engine: AsyncEngine, crypto: DocumentCrypto, seeded: int
) -> None:
    made = await make_customer(engine, name="欧阳全景测试")
    reader = SqlProfileReader(engine, crypto)
    for text in (made.phone.removeprefix("+86"), made.resident_id, made.code, "全景测"):
        page = await reader.search_customers(interpret_search(text), 10, None)
        assert made.id in [c.id for c in page.items], text


async def test_a_search_text_pages_and_its_wildcards_are_literal(
    engine: AsyncEngine, crypto: DocumentCrypto, seeded: int
) -> None:
    literal = await make_customer(engine, name="百分_之百%测")
    lookalikes = [await make_customer(engine, name="百分X之百Y测") for _ in range(2)]
    reader = SqlProfileReader(engine, crypto)
    # `_` and `%` typed by the user match themselves, not any character.
    page = await reader.search_customers(interpret_search("分_之百%"), 10, None)
    assert [c.id for c in page.items] == [literal.id]
    # The same text, paged by id: every match once, in order, the last page says so.
    first = await reader.search_customers(interpret_search("之百"), 2, None)
    rest = await reader.search_customers(interpret_search("之百"), 2, first.items[-1].id)
    assert first.has_next_page
    assert not rest.has_next_page
    assert [c.id for c in first.items + rest.items] == [literal.id] + [m.id for m in lookalikes]


async def test_search_pages_by_id_without_gaps(
    engine: AsyncEngine, crypto: DocumentCrypto, seeded: int
) -> None:
    reader = SqlProfileReader(engine, crypto)
    first = await reader.search_customers(None, 7, None)
    second = await reader.search_customers(None, 7, first.items[-1].id)
    ids = [c.id for c in first.items + second.items]
    assert ids == sorted(ids)
    assert len(set(ids)) == 14
    assert first.has_next_page


async def test_documents_resolve_to_their_customer(
    engine: AsyncEngine, crypto: DocumentCrypto, seeded: int
) -> None:
    made = await make_customer(engine)
    reader = SqlProfileReader(engine, crypto)
    found = await reader.customer_ids_by_document(
        [(DocumentType.RESIDENT_ID, made.resident_id), (DocumentType.PASSPORT, "E00000000")]
    )
    assert found == {(DocumentType.RESIDENT_ID, made.resident_id): made.id}
