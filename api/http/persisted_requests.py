"""A request body naming a persisted (registered) operation: one lookup, for the view and for
the registered-profile lane."""

from __future__ import annotations

import hashlib

from cross_web import HTTPException

from schema.core.persisted import registry


class RequestRefused(HTTPException):
    """A request the view cannot run, with the code a client acts on."""

    def __init__(self, status_code: int, code: str, reason: str) -> None:
        super().__init__(status_code, reason)
        self.code = code


def _digest(body: dict[str, object]) -> str | None:
    """The sha256 a request names: `id`, or Apollo's `extensions.persistedQuery.sha256Hash`."""
    extensions = body.get("extensions")
    apq = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    digest = body.get("id") or (apq.get("sha256Hash") if isinstance(apq, dict) else None)
    return None if digest is None else str(digest)


def _is_own_hash(digest: str, query: object) -> bool:
    """An unregistered text sent with its own sha256, as Apollo's automatic persisted queries
    retry after PERSISTED_QUERY_NOT_FOUND: run as the text it is."""
    return isinstance(query, str) and hashlib.sha256(query.encode()).hexdigest() == digest


def query_text(body: dict[str, object]) -> str | None:
    """The query text a request runs: the registered text of the id it names, or the text it
    sends (None when it sends none). Raises RequestRefused for an unknown id, or a text that
    is not the id's."""
    digest = _digest(body)
    query = body.get("query")
    if digest is None or _is_own_hash(digest, query):
        return query if isinstance(query, str) else None
    operation = registry().get(digest)
    if operation is None:
        if query is None:
            raise RequestRefused(
                400, "PERSISTED_QUERY_NOT_FOUND", "No registered operation has this id."
            )
        raise RequestRefused(
            400, "PERSISTED_QUERY_MISMATCH", "The query text does not hash to the id sent."
        )
    if query not in (None, operation.query):
        raise RequestRefused(
            400, "PERSISTED_QUERY_MISMATCH", "The query text is not the registered text of this id."
        )
    return operation.query
