"""The matcher's comparisons and their weights: each agreement level the issue names, and the
cases a bank's data holds — the same person written two ways, and a family sharing a phone."""

from __future__ import annotations

import math
from datetime import date

import pytest

from domain.customers.model import CustomerKind
from domain.identity.matching import (
    MODEL,
    MatchRecord,
    blocking_keys,
    compare_addresses,
    compare_birth_dates,
    compare_names,
    score,
)
from domain.identity.names import parse_name

P = CustomerKind.PERSONAL


def _person(cid: int, name: str, **facts: object) -> MatchRecord:
    return MatchRecord(cid, P, parse_name(name), **facts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("张伟", "张伟", "exact"),
        ("張偉", "张伟", "simplified"),  # traditional characters
        ("伟张", "张伟", "swapped"),
        ("WEI ZHANG", "张伟", "swapped"),  # a passport's order
        ("ZHANG WEI", "张伟", "same_sound"),  # romanised
        ("张玮", "张伟", "same_sound"),  # a homophone typed at a counter
        ("张伟", "刘洋", "different"),
        ("陈国华", "陈国桦", "same_sound"),
        ("欧阳修文", "欧阳修", "similar"),
    ],
)
def test_names_agree_at_the_level_the_issue_names(a: str, b: str, level: str) -> None:
    assert compare_names(parse_name(a), parse_name(b))[0] == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (date(1985, 3, 14), date(1985, 3, 14), "exact"),
        (date(1985, 3, 12), date(1985, 3, 21), "transposed"),  # two digits swapped
        (date(1985, 4, 3), date(1985, 3, 4), "transposed"),  # day and month
        (date(1958, 3, 14), date(1985, 3, 14), "transposed"),
        (date(1985, 3, 14), date(1985, 3, 15), "near"),
        (date(1985, 3, 14), date(1972, 9, 30), "different"),
        (None, date(1972, 9, 30), "missing"),
    ],
)
def test_birth_dates_allow_for_transposed_digits(
    a: date | None, b: date | None, level: str
) -> None:
    assert compare_birth_dates(a, b)[0] == level


def test_addresses_agree_in_part() -> None:
    assert compare_addresses("北京市朝阳区建国路1号", "北京市朝阳区建国路1号")[0] == "same"
    assert compare_addresses("北京市朝阳区建国路1号院3单元", "朝阳区建国路1号")[0] == "partial"
    assert compare_addresses("上海市黄浦区南京东路100号", "北京市朝阳区建国路1号")[0] == "different"


def test_the_same_person_written_two_ways_scores_high_and_says_why() -> None:
    phone = frozenset({"+8613800138000"})
    a = _person(1, "張偉", birth_date=date(1985, 3, 12), phones=phone)
    b = _person(2, "张伟", birth_date=date(1985, 3, 21), phones=phone)
    found = score(a, b)
    assert found.probability > 0.99
    levels = {e.field: e.level for e in found.evidence}
    assert levels == {
        "name": "simplified",
        "birthDate": "transposed",
        "document": "missing",
        "phone": "shared",
        "email": "missing",
        "address": "missing",
    }
    assert found.model == MODEL.version
    assert "name simplified +" in found.explained()


def test_a_family_sharing_a_phone_and_an_address_is_not_a_duplicate() -> None:
    home = {"phones": frozenset({"+861065001234"}), "address": "北京市海淀区中关村大街27号"}
    father = _person(
        1, "王建国", birth_date=date(1960, 5, 1), documents={"resident_id": b"f"}, **home
    )
    daughter = _person(
        2, "王小丽", birth_date=date(1991, 8, 19), documents={"resident_id": b"d"}, **home
    )
    assert score(father, daughter).probability < 0.01


def test_the_same_document_outweighs_a_typo_and_different_kinds_never_match() -> None:
    a = _person(1, "李娜", documents={"resident_id": b"x"}, birth_date=date(1990, 1, 2))
    b = _person(2, "李那", documents={"resident_id": b"x"}, birth_date=date(1990, 1, 2))
    assert score(a, b).probability > 0.999
    company = MatchRecord(3, CustomerKind.CORPORATE, parse_name("李娜", person=False))
    assert score(a, company).probability == 0.0
    assert score(a, company).weight == -math.inf


def test_blocking_keys_meet_across_spellings_and_scripts() -> None:
    a = _person(1, "張偉", birth_date=date(1985, 3, 14))
    b = _person(2, "WEI ZHANG", birth_date=date(1985, 3, 14))
    assert set(blocking_keys(a)) & set(blocking_keys(b)) == {
        "name:aeghinwz:1985-03-14",  # the letters of the sound, sorted
        "family:zhang:1985-03-14",  # WEI ZHANG's last word may be the family name
    }
    # A compound family name in a passport is one word, in pinyin three syllables.
    c = _person(3, "欧阳娜", birth_date=date(1990, 5, 6), address="南京市玄武区中山路12号")
    d = _person(4, "OUYANG NA", birth_date=date(1990, 6, 5), address="玄武区中山路12号")
    # The birth date is swapped: the pair meets at the name with the end of the address.
    assert set(blocking_keys(c)) & set(blocking_keys(d)) == {"home:aagnnouy:中山路12号"}
    # A typo in the given name: the pair meets at the family name with the birth date.
    e = _person(5, "刘德华", birth_date=date(1961, 9, 27))
    f = _person(6, "刘德桦", birth_date=date(1961, 9, 27))
    assert "family:liu:1961-09-27" in set(blocking_keys(e)) & set(blocking_keys(f))
