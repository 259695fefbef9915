"""The search box, as a desk types into it (issue 23): pinyin for a Chinese name, the last
four digits of a phone with part of a name, and the end of an identity number in an RM's own
book."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access.principal import Role
from domain.ids import encode_id
from tests.conftest import Minter
from tests.factories import make_customer
from tests.graphql import gql_data

SEARCH = """query ($text: String!, $after: String) {
  customers(first: 50, search: $text, after: $after) {
    edges { node { id displayName } } pageInfo { hasNextPage endCursor } } }"""


async def _found(client: httpx.AsyncClient, token: str, search: str) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = (await gql_data(client, SEARCH, {"text": search, "after": after}, token=token))[
            "customers"
        ]
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


async def test_a_name_is_found_by_its_pinyin_and_kept_current_when_it_changes(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, name="熊雯霏")
    gid = encode_id("Customer", made.id)
    agent = mint(Role.AGENT, "agent-pinyin")
    assert gid in await _found(anonymous, agent, "xiongwenfei")
    assert gid in await _found(anonymous, agent, "Xiong Wen")
    assert gid in await _found(anonymous, agent, "xio")
    # From the start of the name: the given name alone, or a wrong family name, is no match.
    assert gid not in await _found(anonymous, agent, "wenfei")
    assert gid not in await _found(anonymous, agent, "xiongda")
    # Any write of the name rewrites its pinyin (a trigger: the API, imports, the seeder).
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE customers SET display_name = '龚雯霏' WHERE id = :c"), {"c": made.id}
        )
        spelled = await conn.scalar(
            text("SELECT name_pinyin FROM customers WHERE id = :c"), {"c": made.id}
        )
    assert spelled == "gongwenfei"
    assert gid in await _found(anonymous, agent, "gongwen")
    assert gid not in await _found(anonymous, agent, "xiongwenfei")


async def test_the_last_four_digits_of_a_phone_with_part_of_a_name(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, name="诸葛明亮")
    other = await make_customer(engine, name="诸葛明远")
    gid = encode_id("Customer", made.id)
    agent = mint(Role.AGENT, "agent-last4")
    last4 = made.phone[-4:]
    assert last4 != other.phone[-4:]
    assert await _found(anonymous, agent, f"诸葛 {last4}") == [gid]
    assert await _found(anonymous, agent, f"{last4} 明亮") == [gid]
    assert await _found(anonymous, agent, f"诸葛明远 {last4}") == []


async def test_the_end_of_an_identity_number_is_found_in_an_rm_s_own_book_only(
    anonymous: httpx.AsyncClient, engine: AsyncEngine, mint: Minter
) -> None:
    made = await make_customer(engine, complete=True)  # an RM of its own
    gid = encode_id("Customer", made.id)
    suffix = made.resident_id[-6:]
    rm = mint(Role.RELATIONSHIP_MANAGER, "rm-suffix", rm=made.rm_id)
    assert await _found(anonymous, rm, suffix) == [gid]
    assert await _found(anonymous, rm, made.resident_id[-4:].lower()) == [gid]
    # Another RM, and staff without a book, find nothing by a number's end: a whole bank's
    # numbers are not opened to compare.
    assert await _found(anonymous, mint(Role.RELATIONSHIP_MANAGER, "rm1", rm=1), suffix) == []
    assert await _found(anonymous, mint(Role.AGENT, "agent-suffix"), suffix) == []


async def test_the_service_and_the_database_spell_names_in_pinyin_alike(
    engine: AsyncEngine,
) -> None:
    """The bulk import spells names itself (domain.search.name_pinyin); every other write is
    spelled by the database's function: the two must agree, or a customer would be found
    by one spelling or the other depending on how it came in."""
    import random

    from pypinyin.pinyin_dict import pinyin_dict

    from domain.search import name_pinyin

    rng = random.Random(23)
    sample = [chr(c) for c in rng.sample(sorted(pinyin_dict), 2000)]
    names = [
        "熊雯霏",
        "单田芳",
        "吕 绿",
        "阿依古丽·买买提",
        "John Smith-Jones",
        "J. R. 王",
        "張三丰",
        "北京某科技有限公司",
        "123号",
        *("".join(sample[i : i + 4]) for i in range(0, len(sample), 4)),
    ]
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT n, name_pinyin(n) AS spelled FROM unnest(CAST(:names AS text[])) AS n"),
            {"names": names},
        )
        spelled = {r.n: r.spelled for r in rows}
    mismatched = {n: (spelled[n], name_pinyin(n)) for n in names if spelled[n] != name_pinyin(n)}
    assert mismatched == {}
