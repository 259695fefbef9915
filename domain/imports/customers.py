"""Customers from a bank's systems, one flat record each: the columns, and the record as the
registration rules see it.

Each record is checked by `validate_new_customer` (the rules `registerCustomer` applies) and,
for a customer its source key already names, by `validate_update` (the rules of
`updateCustomer`): one implementation of every check. What the import adds is only the
reading of columns: an enum's name, a date, a flag.

A record of a customer already imported updates the fields it gives; an empty column leaves
the field as it is (an import never clears a field: a steward does, with a reason).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import orjson

from domain.customers.model import (
    AssetBand,
    BusinessScale,
    ContactKind,
    CreditStatus,
    CustomerKind,
    DocumentType,
    Gender,
    IncomeBand,
    LifecycleStage,
    OwnershipType,
    PreferredChannel,
)
from domain.customers.registration import (
    NewContactPoint,
    NewCorporate,
    NewCustomer,
    NewDocument,
    NewPersonal,
    validate_new_customer,
)
from domain.customers.source_keys import SourceKey, validate_source_key
from domain.customers.updates import FIELDS
from domain.errors import InvalidInput
from domain.imports.records import SourceRecord

# Column → what it holds; docs/integration.md describes each, docs/import-templates/ shows them.
COLUMNS: Mapping[str, str] = {
    "sourceSystem": "the system that owns the record (default: the run's --system, or the calling integration's)",
    "sourceKey": "the customer's key in that system (required)",
    "kind": "PERSONAL or CORPORATE (required)",
    "prospect": "true for a prospect (潜在客户): documents may follow",
    "displayName": "the name shown (required)",
    "registeredName": "a company's registered name (required for CORPORATE)",
    "residentId": "resident ID number (居民身份证)",
    "passport": "passport number",
    "passportCountry": "the passport's issuing country, ISO 3166 two letters (default CN)",
    "uscc": "unified social credit code (统一社会信用代码)",
    "phone": "mobile or landline; +86 assumed without a country code",
    "email": "e-mail address",
    "address": "postal address",
    "homeBranchCode": "the home branch's code",
    "preferredChannel": "COUNTER, CALL_CENTER, MOBILE_APP, WEB_BANKING or RM_VISIT",
    "preferredLanguage": "BCP 47 tag, e.g. zh-CN",
    "gender": "FEMALE, MALE or UNDISCLOSED",
    "birthDate": "YYYY-MM-DD or YYYYMMDD (a resident ID's own date when empty)",
    "occupation": "occupation",
    "employer": "employer",
    "incomeBand": "UNDER_5K, FROM_5K_TO_10K, FROM_10K_TO_30K, FROM_30K_TO_100K, OVER_100K",
    "assetBand": "UNDER_50K, FROM_50K_TO_500K, FROM_500K_TO_6M, OVER_6M",
    "ownershipType": "STATE_OWNED, COLLECTIVE, PRIVATE, FOREIGN_INVESTED, JOINT_STOCK, OTHER",
    "businessScale": "MICRO, SMALL, MEDIUM or LARGE",
    "industry": "industry",
    "creditStatus": "GOOD, WATCH, DEFAULTED or UNKNOWN (a person's; give creditStatusSource)",
    "creditStatusSource": "who reported the credit status (the bureau, the loan system)",
    "lifecycleStage": "a company's: START_UP, GROWTH, MATURE or DECLINE",
    "assetStructure": "a company's asset structure (资产结构), free text",
    "liabilitySources": "a company's sources of liabilities (负债来源), free text",
    "financingModes": "a company's financing modes (融资方式), free text",
    "creditRecord": "a company's credit record (信用记录), free text",
}
# Columns beyond what registration takes, by the profile path `updateCustomer` checks them
# under (updates.FIELDS): a new customer is written with them, a known one updated.
KYC_COLUMNS: Mapping[str, str] = {
    "creditStatus": "personal.creditStatus",
    "creditStatusSource": "personal.creditStatusSource",
    "lifecycleStage": "corporate.lifecycleStage",
    "assetStructure": "corporate.assetStructure",
    "liabilitySources": "corporate.liabilitySources",
    "financingModes": "corporate.financingModes",
    "creditRecord": "corporate.creditRecord",
}
_KYC_ENUMS: Mapping[str, type[enum.Enum]] = {
    "creditStatus": CreditStatus,
    "lifecycleStage": LifecycleStage,
}
_DOCUMENT_COLUMNS = (
    ("residentId", DocumentType.RESIDENT_ID),
    ("passport", DocumentType.PASSPORT),
    ("uscc", DocumentType.UNIFIED_SOCIAL_CREDIT_CODE),
)
_CONTACT_COLUMNS = (
    ("phone", ContactKind.PHONE),
    ("email", ContactKind.EMAIL),
    ("address", ContactKind.ADDRESS),
)
# A registration rule's field path → the column it comes from.
_PATHS = {
    "displayName": "displayName",
    "corporate.registeredName": "registeredName",
    "corporate.industry": "industry",
    "personal.birthDate": "birthDate",
    "personal.occupation": "occupation",
    "personal.employer": "employer",
    "personal": "kind",
    "corporate": "kind",
    "preferredLanguage": "preferredLanguage",
    "homeBranch": "homeBranchCode",
    "homeBranchId": "homeBranchCode",
}

E = TypeVar("E", bound=enum.Enum)
# Columns of one kind only: a value in the other kind's record would be dropped without a word.
_CORPORATE_ONLY = (
    "registeredName", "uscc", "ownershipType", "businessScale", "industry", "lifecycleStage",
    "assetStructure", "liabilitySources", "financingModes", "creditRecord",
)  # fmt: skip
_PERSONAL_ONLY = (
    "residentId", "passport", "passportCountry", "gender", "birthDate", "occupation",
    "employer", "incomeBand", "assetBand", "creditStatus", "creditStatusSource",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A record that passed every rule a record can be checked by alone."""

    line: int
    customer: NewCustomer  # validated; its source key set
    branch_code: str | None
    fingerprint: bytes  # of everything the record says: equal means unchanged
    # The KYC fields beyond registration, by profile path, checked as updateCustomer does.
    kyc: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> SourceKey:
        assert self.customer.source_key is not None
        return self.customer.source_key

    def update_values(self, branch_id: int | None) -> dict[str, object]:
        """The fields the record gives, by profile path, as `validate_update` takes them."""
        c = self.customer
        values: dict[str, object] = {"displayName": c.display_name}
        optional: dict[str, object] = {
            "homeBranch": branch_id,
            "preferredChannel": c.preferred_channel,
            "preferredLanguage": c.preferred_language,
        }
        if c.personal is not None:
            p = c.personal
            optional |= {
                "personal.gender": p.gender,
                "personal.birthDate": p.birth_date,
                "personal.occupation": p.occupation,
                "personal.employer": p.employer,
                "personal.incomeBand": p.income_band,
                "personal.assetBand": p.asset_band,
            }
        if c.corporate is not None:
            k = c.corporate
            values["corporate.registeredName"] = k.registered_name
            optional |= {
                "corporate.ownershipType": k.ownership_type,
                "corporate.businessScale": k.business_scale,
                "corporate.industry": k.industry,
            }
        given = {path: v for path, v in optional.items() if v is not None}
        return values | given | dict(self.kyc)


def column_of(path: str) -> str:
    """The column a rule's field path (`record.documents[0].number`) points at."""
    path = path.removeprefix("record.").removeprefix("input.")
    return _PATHS.get(path, path.split(".")[-1])


def parse_enum(kind: type[E], text: str | None, column: str) -> E | None:
    """An enum by its GraphQL name (`FROM_5K_TO_10K`) or its stored value (`5k_10k`)."""
    if text is None:
        return None
    name = text.strip()
    member = kind.__members__.get(name.upper())
    if member is not None:
        return member
    for candidate in kind:
        if str(candidate.value) == name.lower():
            return candidate
    allowed = ", ".join(kind.__members__)
    raise InvalidInput(column, f"one of {allowed}")


def parse_date(text: str | None, column: str) -> date | None:
    """YYYY-MM-DD, or YYYYMMDD as core systems often write it."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if len(raw) == 8 and raw.isdigit():
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(column, "not a date (YYYY-MM-DD)") from exc


def parse_flag(text: str | None, column: str) -> bool:
    if text is None:
        return False
    match text.strip().lower():
        case "true" | "1" | "yes" | "y":
            return True
        case "false" | "0" | "no" | "n":
            return False
    raise InvalidInput(column, "true or false")


def required(record: SourceRecord, column: str) -> str:
    value = record.get(column)
    if value is None or not value.strip():
        raise InvalidInput(column, "required")
    return value


def check_text(record: SourceRecord) -> None:
    """No NUL character anywhere: PostgreSQL refuses it, and no bank system means one."""
    for column, value in record.values.items():
        if value is not None and "\x00" in value:
            raise InvalidInput(column, "text must not contain the NUL character (U+0000)")


def source_key_of(
    record: SourceRecord,
    default_system: str | None,
    *,
    system_column: str = "sourceSystem",
    key_column: str = "sourceKey",
) -> SourceKey:
    """The key the two columns give (a holding names its customer by `customerSourceSystem`
    and `customerSourceKey`); errors name the column at fault."""
    system = record.get(system_column) or default_system
    if system is None:
        raise InvalidInput(system_column, "required (or give the run a --system)")
    key = required(record, key_column)
    try:
        return validate_source_key(system.strip(), key)
    except InvalidInput as exc:
        column = system_column if exc.field == "system" else key_column
        raise InvalidInput(column, exc.message) from exc


def customer_record(
    record: SourceRecord, default_system: str | None, today: date
) -> CustomerRecord:
    """The record as the registration rules accept it, or InvalidInput naming the column."""
    check_text(record)
    key = source_key_of(record, default_system)
    kind = parse_enum(CustomerKind, required(record, "kind"), "kind")
    assert kind is not None
    document_columns: list[str] = []
    documents: list[NewDocument] = []
    for column, doc_type in _DOCUMENT_COLUMNS:
        number = record.get(column)
        if number is not None and number.strip():
            country = (record.get("passportCountry") or "CN") if column == "passport" else "CN"
            documents.append(NewDocument(doc_type, number, country))
            document_columns.append(column)
    contact_columns: list[str] = []
    contacts: list[NewContactPoint] = []
    for column, contact_kind in _CONTACT_COLUMNS:
        value = record.get(column)
        if value is not None and value.strip():
            contacts.append(NewContactPoint(contact_kind, value, preferred=True))
            contact_columns.append(column)
    personal = corporate = None
    if kind is CustomerKind.PERSONAL:
        personal = NewPersonal(
            gender=parse_enum(Gender, record.get("gender"), "gender"),
            birth_date=parse_date(record.get("birthDate"), "birthDate"),
            occupation=record.get("occupation"),
            employer=record.get("employer"),
            income_band=parse_enum(IncomeBand, record.get("incomeBand"), "incomeBand"),
            asset_band=parse_enum(AssetBand, record.get("assetBand"), "assetBand"),
        )
        _only_for(record, _CORPORATE_ONLY, kind)
    else:
        corporate = NewCorporate(
            registered_name=record.get("registeredName") or "",
            ownership_type=parse_enum(OwnershipType, record.get("ownershipType"), "ownershipType"),
            business_scale=parse_enum(BusinessScale, record.get("businessScale"), "businessScale"),
            industry=record.get("industry"),
        )
        _only_for(record, _PERSONAL_ONLY, kind)
    draft = NewCustomer(
        kind=kind,
        display_name=record.get("displayName") or "",
        documents=tuple(documents),
        contact_points=tuple(contacts),
        personal=personal,
        corporate=corporate,
        preferred_channel=parse_enum(
            PreferredChannel, record.get("preferredChannel"), "preferredChannel"
        ),
        preferred_language=record.get("preferredLanguage"),
        source_key=key,
        prospect=parse_flag(record.get("prospect"), "prospect"),
    )
    try:
        customer = validate_new_customer(draft, today, field="record")
    except InvalidInput as exc:
        raise InvalidInput(
            _column(exc.field, kind, document_columns, contact_columns), exc.message
        ) from exc
    kyc = _kyc(record)
    branch = record.get("homeBranchCode")
    branch_code = branch.strip() if branch is not None and branch.strip() else None
    return CustomerRecord(
        record.line, customer, branch_code, _fingerprint(customer, branch_code, kyc), kyc
    )


def _kyc(record: SourceRecord) -> dict[str, object]:
    """The KYC columns given, checked by updateCustomer's own field checks."""
    out: dict[str, object] = {}
    for column, path in KYC_COLUMNS.items():
        text = record.get(column)
        if text is None or not text.strip():
            continue
        kind = _KYC_ENUMS.get(column)
        value: object = parse_enum(kind, text, column) if kind is not None else text
        try:
            out[path] = FIELDS[path].check(value, column)
        except InvalidInput as exc:
            raise InvalidInput(column, exc.message) from exc
    if "personal.creditStatus" in out and "personal.creditStatusSource" not in out:
        # A credit status means little without who reported it (updateCustomer's rule).
        raise InvalidInput("creditStatusSource", "say who reported the status")
    return out


def _only_for(record: SourceRecord, columns: Sequence[str], kind: CustomerKind) -> None:
    for column in columns:
        value = record.get(column)
        if value is not None and value.strip():
            raise InvalidInput(column, f"a {kind.value} customer has no {column}")


def _column(
    path: str,
    kind: CustomerKind,
    document_columns: Sequence[str],
    contact_columns: Sequence[str],
) -> str:
    for prefix, columns in (
        ("record.documents[", document_columns),
        ("record.contactPoints[", contact_columns),
    ):
        if path.startswith(prefix):
            position = int(path[len(prefix) :].split("]")[0])
            return columns[position]
    if path == "record.documents":  # none given, where the kind needs one
        return "uscc" if kind is CustomerKind.CORPORATE else "residentId"
    return column_of(path)


def _fingerprint(
    customer: NewCustomer, branch_code: str | None, kyc: Mapping[str, object]
) -> bytes:
    """A digest of the record as validated (orjson writes dataclasses field by field, in
    order): the same record twice has the same one."""
    shape = {"customer": customer, "branch": branch_code, "kyc": dict(sorted(kyc.items()))}
    return hashlib.sha256(orjson.dumps(shape)).digest()
