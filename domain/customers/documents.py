"""Identity document numbers: validated and normalized before they are stored or looked up."""

from __future__ import annotations

import functools
import re
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from domain.customers.model import DocumentType
from domain.errors import InvalidInput

# ICAO 9303 puts up to 9 characters in the machine-readable document-number field; Chinese
# ordinary passports are one letter and 8 digits (E12345678), others vary, so only the
# character set and length are enforced for passports.
_PASSPORT = re.compile(r"^[A-Z0-9]{6,9}$")

_REASONS: dict[type[stdnum_errors.ValidationError], str] = {
    stdnum_errors.InvalidLength: "has the wrong length",
    stdnum_errors.InvalidFormat: "contains characters that are not allowed",
    stdnum_errors.InvalidChecksum: "fails its check digit",
    stdnum_errors.InvalidComponent: "has an invalid region code or date",
}


@functools.lru_cache(maxsize=65_536)
def _region_known(region: str, year: int) -> bool:
    """Whether the region code was assigned in the birth year (stdnum's county table)."""
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000")
    except (stdnum_errors.InvalidComponent, KeyError):
        # KeyError: stdnum's table has the code without a county (110100, a city): stdnum's
        # own validate() crashes there, and the mutations answered an internal error.
        return False
    return True


def validate_resident_id(number: str) -> str:
    """`stdnum.cn.ric.validate`, step by step, with the birth-place lookup remembered per
    region and year: the lookup is most of the cost, and a bulk import validates a million
    numbers from a few thousand regions (tests/unit/test_documents.py checks the two agree)."""
    compact = ric.compact(number)
    if len(compact) != 18:
        raise stdnum_errors.InvalidLength()
    if not compact[:-1].isdigit() or not compact[:-1].isascii():
        raise stdnum_errors.InvalidFormat()
    if compact[-1] != ric.calc_check_digit(compact):
        raise stdnum_errors.InvalidChecksum()
    birth = ric.get_birth_date(compact)
    if not _region_known(compact[:6], birth.year):
        raise stdnum_errors.InvalidComponent()
    return compact


def _reason(exc: stdnum_errors.ValidationError) -> str:
    return _REASONS.get(type(exc), "is not valid")


def normalize_document_number(doc_type: DocumentType, number: str, *, field: str = "number") -> str:
    """Return the canonical form of `number`, or raise InvalidInput saying what is wrong."""
    raw = number.strip().upper()
    if not raw:
        raise InvalidInput(field, "the document number is empty")
    match doc_type:
        case DocumentType.RESIDENT_ID:
            # 18 digits: region (6), birth date (8), sequence (3), ISO 7064 MOD 11-2 check digit.
            try:
                return validate_resident_id(raw)
            except stdnum_errors.ValidationError as exc:
                raise InvalidInput(field, f"the resident ID number {_reason(exc)}") from exc
        case DocumentType.UNIFIED_SOCIAL_CREDIT_CODE:
            try:
                return str(uscc.validate(raw))
            except stdnum_errors.ValidationError as exc:
                raise InvalidInput(field, f"the unified social credit code {_reason(exc)}") from exc
        case DocumentType.PASSPORT:
            compact = raw.replace(" ", "")
            if not _PASSPORT.fullmatch(compact):
                raise InvalidInput(field, "a passport number is 6 to 9 letters and digits")
            return compact


def resident_id_birth_date(number: str) -> date:
    """The birth date encoded in a (valid) resident ID number."""
    birth: date = ric.get_birth_date(number)
    return birth
