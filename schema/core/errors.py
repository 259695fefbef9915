"""Expected failures as schema types: an `Error` interface with a stable `code`."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError, InvalidInput, NotFound, RuleViolation
from domain.ids import encode_id


@strawberry.interface(description="An expected failure a client can act on.")
class Error:
    code: str = strawberry.field(description="Stable machine-readable error code.")
    message: str = strawberry.field(description="Human-readable explanation, safe to show.")


@strawberry.type(description="The requested object does not exist or is not visible to you.")
class NotFoundError(Error):
    @classmethod
    def from_domain(cls, error: NotFound) -> NotFoundError:
        shown = as_sent(error)
        return cls(code=shown.code, message=shown.message)


# What the domain calls a thing → its GraphQL type, whose global id the client sent.
_TYPE_OF_KIND = {
    "customer": "Customer",
    "task": "Task",
    "alert": "Alert",
    "proposal": "Proposal",
    "contact point": "ContactPoint",
    "identity document": "IdentityDocument",
    "match candidate": "MatchCandidate",
    "merge": "CustomerMerge",
    "webhook subscription": "WebhookSubscription",
    "undelivered webhook delivery": "WebhookDelivery",
    "segment": "Segment",
    "product": "Product",
    "campaign": "Campaign",
}


def as_sent(error: NotFound) -> NotFound:
    """The error with the id the client sent, not the row number behind it ("task 454 was
    not found" told a client nothing it could match, and a number it should never see)."""
    type_name = _TYPE_OF_KIND.get(error.kind)
    if type_name is None or not error.key.isdigit():
        return error
    return NotFound(error.kind, encode_id(type_name, int(error.key)))


@strawberry.type(description="An argument failed validation; `field` names which one.")
class InvalidInputError(Error):
    field: str = strawberry.field(description="The argument or input path that is invalid.")

    @classmethod
    def from_domain(cls, error: InvalidInput) -> InvalidInputError:
        return cls(code=error.code, message=error.message, field=error.field)


@strawberry.type(description="Your role may not do this.")
class ForbiddenError(Error):
    @classmethod
    def from_domain(cls, error: DomainError) -> ForbiddenError:
        return cls(code=error.code, message=error.message)


@strawberry.type(
    description="The request is well-formed but a business rule refuses it; `code` names the "
    "rule (e.g. RM_GRADE_TOO_LOW, RM_INACTIVE, ALREADY_OWNER, CLAIM_EXISTS)."
)
class RuleViolationError(Error):
    @classmethod
    def from_domain(cls, error: DomainError) -> RuleViolationError:
        return cls(code=error.code, message=error.message)


def rule_error_type(
    exc: DomainError,
) -> NotFoundError | InvalidInputError | ForbiddenError | RuleViolationError:
    """`error_type` for mutations whose results can also be refused by a business rule."""
    if isinstance(exc, RuleViolation):
        return RuleViolationError.from_domain(exc)
    return error_type(exc)


def error_type(exc: DomainError) -> NotFoundError | InvalidInputError | ForbiddenError:
    """The schema type of an expected failure; anything not named is a refusal."""
    if isinstance(exc, NotFound):
        return NotFoundError.from_domain(exc)
    if isinstance(exc, InvalidInput):
        return InvalidInputError.from_domain(exc)
    return ForbiddenError.from_domain(exc)


class UserFacingError(GraphQLError):
    """A GraphQL error whose message and code may reach the client unmasked; used where the
    schema cannot return an error type (lists, connections)."""

    def __init__(self, error: DomainError) -> None:
        if isinstance(error, NotFound):
            error = as_sent(error)
        extensions: dict[str, object] = {"code": error.code}
        if isinstance(error, InvalidInput):
            extensions["field"] = error.field
        extensions.update(error.details())
        super().__init__(error.message, extensions=extensions, original_error=error)
