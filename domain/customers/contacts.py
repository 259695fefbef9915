"""Contact point values: phones in E.164, e-mail addresses with a lower-cased domain."""

from __future__ import annotations

import re

import phonenumbers

from domain.customers.model import ContactKind
from domain.errors import InvalidInput

# Deliberately permissive: the mailbox itself is verified by sending to it, not by a regex.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_ADDRESS_LENGTH = 300


def normalize_phone(value: str, *, default_region: str = "CN", field: str = "value") -> str:
    """Parse a phone number (national numbers default to China) and return it in E.164."""
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(field, "the phone number cannot be parsed") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(field, "the phone number is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str, *, field: str = "value") -> str:
    candidate = value.strip()
    if len(candidate) > 254 or not _EMAIL.fullmatch(candidate):
        raise InvalidInput(field, "the e-mail address is not valid")
    local, domain = candidate.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def normalize_contact(kind: ContactKind, value: str, *, field: str = "value") -> str:
    """Validate and normalize a contact point value of the given kind."""
    match kind:
        case ContactKind.PHONE:
            return normalize_phone(value, field=field)
        case ContactKind.EMAIL:
            return normalize_email(value, field=field)
        case ContactKind.ADDRESS:
            text = " ".join(value.split())
            if not text:
                raise InvalidInput(field, "the address is empty")
            if len(text) > MAX_ADDRESS_LENGTH:
                raise InvalidInput(field, f"the address is longer than {MAX_ADDRESS_LENGTH}")
            return text
