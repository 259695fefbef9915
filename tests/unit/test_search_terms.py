"""One search box: a text is read as every identifier it could be, plus a name."""

from __future__ import annotations

from datetime import date

import pytest

from api.ops.seed import resident_id
from domain.customers.model import DocumentType
from domain.errors import InvalidInput
from domain.search import interpret_search


def test_a_mobile_number_is_searched_as_a_phone_and_not_as_a_name() -> None:
    terms = interpret_search("138 1234 5678")
    assert terms.phone == "+8613812345678"
    assert terms.name is None
    assert terms.code is None


def test_a_resident_id_is_searched_as_a_document() -> None:
    rid = resident_id("110101", date(1985, 5, 5), 42)
    terms = interpret_search(rid)
    assert (DocumentType.RESIDENT_ID, rid) in terms.documents
    assert terms.phone is None


def test_a_customer_code_is_recognized() -> None:
    assert interpret_search("p000000123").code == "P000000123"


def test_a_chinese_name_is_a_partial_name_search() -> None:
    terms = interpret_search(" 王 ")
    assert terms.name == "王"
    assert terms.phone is None
    assert terms.documents == ()


@pytest.mark.parametrize("text", ["", "   ", "x" * 101])
def test_an_empty_or_oversized_search_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        interpret_search(text)
    assert caught.value.field == "search"


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [("xiong", "xiong"), ("Xiong Dawei", "xiongdawei"), ("li", None), ("王", None), ("x1y", None)],
)
def test_letters_are_also_read_as_a_name_in_pinyin(text: str, pinyin: str | None) -> None:
    assert interpret_search(text).pinyin == pinyin


@pytest.mark.parametrize(
    ("text", "last4", "name"),
    [
        ("王 5678", "5678", "王"),
        ("5678 王小明", "5678", "王小明"),
        ("王 5678 1234", None, None),  # two candidates: not this form
        ("5678", None, None),  # no name
        ("王 567", None, None),
    ],
)
def test_four_digits_with_a_name_are_a_phone_s_last_four(
    text: str, last4: str | None, name: str | None
) -> None:
    terms = interpret_search(text)
    assert (terms.phone_last4, terms.name_part) == (last4, name)


@pytest.mark.parametrize(
    ("text", "suffix"),
    [("1234", "1234"), ("12345x", "12345X"), ("12345678", "12345678"), ("123", None)],
)
def test_a_short_number_may_be_the_end_of_an_identity_number(text: str, suffix: str | None) -> None:
    assert interpret_search(text).id_suffix == suffix
