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


def test_the_remembered_resident_id_check_agrees_with_stdnum() -> None:
    import random

    from stdnum import exceptions as stdnum_errors
    from stdnum.cn import ric

    from domain.customers.documents import validate_resident_id

    rng = random.Random(3)
    numbers = []
    for _ in range(3_000):
        region = rng.choice(["110101", "110108", "320102", "440305", "999999", "110100", "510107"])
        region = region if rng.random() < 0.8 else f"{rng.randrange(10**6):06d}"
        body = f"{region}{rng.randrange(1900, 2030)}{rng.randrange(1, 14):02d}"
        body += f"{rng.randrange(1, 33):02d}{rng.randrange(1000):03d}"
        number = body + ric.calc_check_digit(body + "0")
        match rng.randrange(6):
            case 0:
                number = number[:-1] + rng.choice("0123456789X")
            case 1:
                number = number[: rng.randrange(18)]
            case 2:
                number = number[:5] + "A" + number[6:]
            case _:
                pass
        numbers.append(number)

    def outcome(check: object, number: str) -> object:
        try:
            return check(number)  # type: ignore[operator]
        except stdnum_errors.ValidationError as exc:
            return type(exc)
        except KeyError:  # stdnum's own crash on a code without a county: ours refuses it
            return stdnum_errors.InvalidComponent

    valid = 0
    for number in numbers:
        expected = outcome(ric.validate, number)
        assert outcome(validate_resident_id, number) == expected, number
        valid += isinstance(expected, str)
    assert 500 < valid < 2_500  # both kinds were tried
    body = "14089119900101001"
    unknown_county = body + ric.calc_check_digit(body + "0")
    with pytest.raises(InvalidInput):  # stdnum raised KeyError here: an internal error
        normalize_document_number(DocumentType.RESIDENT_ID, unknown_county)
