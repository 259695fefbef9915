"""The errors the domain raises; each carries a stable code a client can act on."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of every expected failure; `code` is part of the public contract."""

    code: ClassVar[str] = "DOMAIN_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, object]:
        """Facts beside the message a client acts on (when to retry, what the limit is)."""
        return {}


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    code = "NOT_FOUND"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key} was not found")
        self.kind = kind
        self.key = key


class InvalidInput(DomainError):
    """A value fails validation; `field` names the input path that is wrong."""

    code = "INVALID_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Forbidden(DomainError):
    """The caller's role may not do this."""

    code = "FORBIDDEN"


class RuleViolation(DomainError):
    """The request is well-formed but a business rule refuses it; `code` names the rule."""

    code = "RULE_VIOLATION"


class DependencyUnavailable(DomainError):
    """A server the request needs (the database, Redis) is down or not answering: not the
    request's fault and not a bug. The client retries after `retry_after` seconds."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, dependency: str, retry_after: int = 5) -> None:
        super().__init__(f"the {dependency} is unavailable; retry in {retry_after} s")
        self.dependency = dependency
        self.retry_after = retry_after

    def details(self) -> dict[str, object]:
        return {"dependency": self.dependency, "retryAfter": self.retry_after}
