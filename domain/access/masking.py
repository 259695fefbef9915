"""Masking formats: enough to recognise, not enough to use."""

from __future__ import annotations


def mask_resident_id(number: str) -> str:
    """110***********1234: region prefix and last four."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_phone(e164: str) -> str:
    """+86 13812345678 → 138****5678 (national significant number, middle four hidden)."""
    national = e164.removeprefix("+86") if e164.startswith("+86") else e164.lstrip("+")
    if len(national) < 8:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 7) + national[-4:]


def mask_email(address: str) -> str:
    """zhang.san@example.com → z***@example.com."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_last4(value: str) -> str:
    """Account and card numbers: ****1234."""
    return "****" + value[-4:] if len(value) > 4 else "****"


def mask_address(address: str) -> str:
    """Keep the city and district (the first six characters), hide the street."""
    return address[:6] + "***" if len(address) > 6 else "***"


def mask_document(doc_type: str, number: str) -> str:
    if doc_type == "resident_id":
        return mask_resident_id(number)
    return number[:1] + "*" * max(0, len(number) - 5) + number[-4:] if len(number) > 5 else "***"
