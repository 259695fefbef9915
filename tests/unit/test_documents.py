"""Identity documents are validated and normalized before they are stored or looked up."""

from __future__ import annotations

from datetime import date

import pytest

from api.ops.seed import resident_id
from domain.customers.documents import normalize_document_number, resident_id_birth_date
from domain.customers.model import DocumentType
from domain.errors import InvalidInput

VALID_RID = resident_id("110101", date(1990, 3, 7), 123)


def test_a_valid_resident_id_is_returned_normalized() -> None:
    lowered = VALID_RID.lower()
    assert normalize_document_number(DocumentType.RESIDENT_ID, f"  {lowered} ") == VALID_RID
    assert resident_id_birth_date(VALID_RID) == date(1990, 3, 7)


def test_a_resident_id_whose_check_digit_is_wrong_is_refused() -> None:
    wrong = VALID_RID[:-1] + ("0" if VALID_RID[-1] != "0" else "1")
    with pytest.raises(InvalidInput, match="check digit") as caught:
        normalize_document_number(DocumentType.RESIDENT_ID, wrong)
    assert caught.value.field == "number"
    assert caught.value.code == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("11010119900307123", "wrong length"),
        ("1101011990030712AB", "not allowed"),
        # A correct check digit over an impossible birth date (February 30th).
        ("110101" + "19900230" + "123", "region code or date"),
        # A correct check digit over a region code that does not exist.
        ("990101" + "19900307" + "123", "region code or date"),
    ],
)
def test_a_malformed_resident_id_says_what_is_wrong(number: str, reason: str) -> None:
    if len(number) == 17 and number.isdigit() and reason != "wrong length":
        from stdnum.cn import ric

        number += ric.calc_check_digit(number + "0")
    with pytest.raises(InvalidInput, match=reason):
        normalize_document_number(DocumentType.RESIDENT_ID, number)


def test_a_unified_social_credit_code_is_checked() -> None:
    from stdnum.cn import uscc

    body = "91110108MA01KP2T9"
    valid = body + uscc.calc_check_digit(body)
    assert normalize_document_number(DocumentType.UNIFIED_SOCIAL_CREDIT_CODE, valid) == valid
    broken = body + ("0" if valid[-1] != "0" else "1")
    with pytest.raises(InvalidInput, match="check digit"):
        normalize_document_number(DocumentType.UNIFIED_SOCIAL_CREDIT_CODE, broken)


@pytest.mark.parametrize("number", ["E12345678", "g1234567", "P 1234567"])
def test_a_passport_number_is_letters_and_digits(number: str) -> None:
    assert normalize_document_number(DocumentType.PASSPORT, number).isalnum()


@pytest.mark.parametrize("number", ["E123", "E12345678901", "E1234-567", ""])
def test_a_malformed_passport_number_is_refused(number: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_document_number(DocumentType.PASSPORT, number)
