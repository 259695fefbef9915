"""Identity documents kept current: add, replace a renewed one's number, expire one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import strawberry

from domain.customers.document_changes import DocumentEdit, edit_documents, may_change_documents
from domain.customers.model import DocumentType
from domain.customers.registration import DuplicateDocument
from domain.errors import DomainError, Forbidden, NotFound
from domain.ids import decode_typed_id
from schema.core.access import require
from schema.core.context import Info
from schema.core.errors import ForbiddenError, InvalidInputError, NotFoundError, error_type
from schema.customers.mutations import DuplicateDocumentError
from schema.customers.updates import CustomerChangedPayload, author_of, standing
from schema.source_keys.types import SourceKeyInput, customer_pk


@strawberry.input(description="A new identity document for a customer (one of each type).")
class AddIdentityDocumentInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer (or customerSourceKey)."
    )
    customer_source_key: SourceKeyInput | None = strawberry.field(
        default=None, description="The customer by its key in a source system."
    )
    type: DocumentType = strawberry.field(description="Resident ID or passport (persons), USCC.")
    number: str = strawberry.field(description="The number as printed (validated).")
    issuing_country: str = strawberry.field(default="CN", description="ISO 3166 alpha-2.")
    expires_on: date | None = strawberry.field(default=None, description="Expiry date, if any.")
    reason: str | None = strawberry.field(default=None, description="Why (kept in the history).")


@strawberry.input(description="A renewed document: its new number, issuer or expiry.")
class ReplaceIdentityDocumentInput:
    document_id: strawberry.ID = strawberry.field(description="IdentityDocument.id.")
    number: str | None = strawberry.field(default=None, description="The new number.")
    issuing_country: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2.")
    expires_on: date | None = strawberry.field(default=None, description="The new expiry date.")
    reason: str | None = strawberry.field(default=None, description="Why (kept in the history).")


@strawberry.input(description="Record that a document expired (or expires on a date).")
class ExpireIdentityDocumentInput:
    document_id: strawberry.ID = strawberry.field(description="IdentityDocument.id.")
    expires_on: date | None = strawberry.field(
        default=None, description="When it expired; today when left out."
    )
    reason: str | None = strawberry.field(default=None, description="Why (kept in the history).")


DocumentResult = Annotated[
    CustomerChangedPayload
    | DuplicateDocumentError
    | InvalidInputError
    | NotFoundError
    | ForbiddenError,
    strawberry.union("IdentityDocumentResult", description="The customer changed, or why not."),
]


async def _apply(info: Info, edit: DocumentEdit, reason: str | None) -> DocumentResult:
    context = info.context
    try:
        related, keyed = await standing(info, edit.customer_id)
        if not may_change_documents(context.principal.role, related, keyed):
            raise Forbidden(
                "documents are kept by stewards, admins, the customer's RM, a teller in a "
                "counter session, or the source system that keys the customer"
            )
        await edit_documents(
            context.document_changes, edit, author_of(info, reason), datetime.now(UTC).date()
        )
    except DuplicateDocument as exc:
        return DuplicateDocumentError(
            code=exc.code, message=exc.message, field=exc.field, holder_pk=exc.holder_id
        )
    except DomainError as exc:
        return error_type(exc)
    return CustomerChangedPayload.of(edit.customer_id)


async def _document_owner(info: Info, document_id: strawberry.ID) -> tuple[int, int]:
    pk = decode_typed_id(document_id, "IdentityDocument", field="input.documentId")
    owner = await info.context.reader.document_owner(pk)
    if owner is None:
        raise NotFound("identity document", document_id)
    return owner, pk


@strawberry.type
class DocumentMutations:
    @strawberry.mutation(
        description="Add an identity document (validated; DUPLICATE_DOCUMENT when it identifies "
        "someone else)."
    )
    async def add_identity_document(
        self, info: Info, input: AddIdentityDocumentInput
    ) -> DocumentResult:
        try:
            require(info, "addIdentityDocument")
            customer_id = await customer_pk(
                info, input.customer_id, input.customer_source_key, "input.customerId"
            )
        except DomainError as exc:
            return error_type(exc)
        edit = DocumentEdit(
            customer_id,
            type=input.type,
            number=input.number,
            issuing_country=input.issuing_country,
            expires_on=input.expires_on,
        )
        return await _apply(info, edit, input.reason)

    @strawberry.mutation(description="Replace a renewed document's number, issuer or expiry.")
    async def replace_identity_document(
        self, info: Info, input: ReplaceIdentityDocumentInput
    ) -> DocumentResult:
        try:
            require(info, "replaceIdentityDocument")
            customer_id, pk = await _document_owner(info, input.document_id)
        except DomainError as exc:
            return error_type(exc)
        edit = DocumentEdit(
            customer_id,
            pk,
            number=input.number,
            issuing_country=input.issuing_country,
            expires_on=input.expires_on,
        )
        return await _apply(info, edit, input.reason)

    @strawberry.mutation(description="Record that a document expired (today, or on a date).")
    async def expire_identity_document(
        self, info: Info, input: ExpireIdentityDocumentInput
    ) -> DocumentResult:
        try:
            require(info, "expireIdentityDocument")
            customer_id, pk = await _document_owner(info, input.document_id)
        except DomainError as exc:
            return error_type(exc)
        expires = input.expires_on or datetime.now(UTC).date()
        return await _apply(info, DocumentEdit(customer_id, pk, expires_on=expires), input.reason)
