"""Contact point values are validated and stored in one canonical form."""

from __future__ import annotations

import pytest

from domain.customers.contacts import normalize_contact, normalize_email, normalize_phone
from domain.customers.model import ContactKind
from domain.errors import InvalidInput


@pytest.mark.parametrize("raw", ["13812345678", "138 1234 5678", "+86 138-1234-5678"])
def test_a_chinese_mobile_number_is_stored_in_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+8613812345678"


@pytest.mark.parametrize("raw", ["12345", "abc", "+86 000 0000 0000"])
def test_an_impossible_phone_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="phone number"):
        normalize_phone(raw)


def test_an_email_keeps_its_mailbox_and_lowercases_its_domain() -> None:
    assert normalize_email(" Zhang.San@Example.COM ") == "Zhang.San@example.com"


@pytest.mark.parametrize("raw", ["zhang", "zhang@", "@example.com", "a b@example.com"])
def test_a_malformed_email_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="e-mail"):
        normalize_email(raw)


def test_an_address_is_collapsed_to_single_spaces_and_bounded() -> None:
    assert (
        normalize_contact(ContactKind.ADDRESS, " 北京市  东城区\n人民路1号 ")
        == "北京市 东城区 人民路1号"
    )
    with pytest.raises(InvalidInput, match="longer"):
        normalize_contact(ContactKind.ADDRESS, "路" * 301)
    with pytest.raises(InvalidInput, match="empty"):
        normalize_contact(ContactKind.ADDRESS, "   ")
