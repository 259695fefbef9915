"""Customer search: one text box that matches a name, a phone, a document or a customer code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.customers.contacts import normalize_phone
from domain.customers.documents import normalize_document_number
from domain.customers.model import Customer, DocumentType
from domain.errors import InvalidInput

MAX_SEARCH_LENGTH = 100
_CODE = re.compile(r"^[PC]\d{6,12}$")


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What a search text can mean; the repository matches any of them."""

    name: str | None
    phone: str | None
    documents: tuple[tuple[DocumentType, str], ...]
    code: str | None


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
    return SearchTerms(name=name, phone=phone, documents=tuple(documents), code=code)


@dataclass(frozen=True, slots=True)
class CustomerPage:
    items: tuple[Customer, ...]
    has_next_page: bool
