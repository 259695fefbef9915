"""Customer search: one text box that matches a name, a phone, a document or a customer code."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pypinyin import lazy_pinyin

from domain.customers.contacts import normalize_phone
from domain.customers.documents import normalize_document_number
from domain.customers.model import Customer, DocumentType
from domain.errors import InvalidInput

MAX_SEARCH_LENGTH = 100
_CODE = re.compile(r"^[PC]\d{6,12}$")
_PINYIN = re.compile(r"^[a-z]{3,60}$")  # 3 letters at least: a trigram index answers it
_LAST4 = re.compile(r"^\d{4}$")
_ID_SUFFIX = re.compile(r"^\d{3,7}[\dX]$")  # the end of an identity number (4-8 characters)


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What a search text can mean; the repository matches any of them."""

    name: str | None
    phone: str | None
    documents: tuple[tuple[DocumentType, str], ...]
    code: str | None
    # A name in pinyin ("xiong", "Xiong Dawei"): compared with the names' pinyin, letters only.
    pinyin: str | None = None
    # The last four digits of a phone with part of a name ("王 5678"): both must match.
    phone_last4: str | None = None
    name_part: str | None = None
    # The end of an identity number ("1234", "12345X"): looked for only among the customers
    # the caller owns (an RM's portfolio), whose numbers the service decrypts to compare.
    id_suffix: str | None = None


def interpret_search(text: str) -> SearchTerms:
    """Read a free search text as every identifier it could be, plus a (partial) name."""
    stripped = " ".join(text.split())
    if not stripped:
        raise InvalidInput("search", "the search text is empty")
    if len(stripped) > MAX_SEARCH_LENGTH:
        raise InvalidInput("search", f"the search text is longer than {MAX_SEARCH_LENGTH}")
    compact = stripped.replace(" ", "").replace("-", "")
    phone: str | None = None
    if any(ch.isdigit() for ch in compact):
        try:
            phone = normalize_phone(compact)
        except InvalidInput:
            phone = None
    documents: list[tuple[DocumentType, str]] = []
    for doc_type in DocumentType:
        try:
            documents.append((doc_type, normalize_document_number(doc_type, compact)))
        except InvalidInput:
            continue
    upper = compact.upper()
    code = upper if _CODE.fullmatch(upper) else None
    # Pure identifiers (digits) are not names; anything with a letter or a CJK character may be.
    name = stripped if not compact.isdigit() else None
    letters = compact.lower()
    pinyin = letters if _PINYIN.fullmatch(letters) else None
    tokens = stripped.split(" ")
    last4 = [t for t in tokens if _LAST4.fullmatch(t)]
    rest = [t for t in tokens if t not in last4]
    phone_last4 = name_part = None
    if len(last4) == 1 and rest and not any(ch.isdigit() for t in rest for ch in t):
        phone_last4, name_part = last4[0], " ".join(rest)
    suffix = compact.upper()
    id_suffix = suffix if _ID_SUFFIX.fullmatch(suffix) else None
    return SearchTerms(
        name=name,
        phone=phone,
        documents=tuple(documents),
        code=code,
        pinyin=pinyin,
        phone_last4=phone_last4,
        name_part=name_part,
        id_suffix=id_suffix,
    )


@dataclass(frozen=True, slots=True)
class CustomerPage:
    items: tuple[Customer, ...]
    has_next_page: bool


_DROPPED = frozenset("·•.-")  # the middle dot of minority names, initials' dots, hyphens


@functools.cache
def _reading(ch: str) -> str | None:
    reading = lazy_pinyin(ch, errors="ignore")
    return reading[0].lower() if reading and reading[0].isascii() and reading[0].isalpha() else None


def name_pinyin(name: str) -> str:
    """A name spelled in pinyin as search compares it: each character by its most common
    reading (as it reads alone), letters and digits lower-cased, spaces and dots dropped.
    The same spelling as the database's `name_pinyin()` (migrations: name_pinyin), which
    writes it for any path that does not; a test keeps the two equal."""
    return "".join(
        _reading(ch) or ch.lower() for ch in name if not ch.isspace() and ch not in _DROPPED
    )
