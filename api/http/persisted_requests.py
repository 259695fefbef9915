"""A request body naming a persisted (registered) operation: one lookup, for the view and for
the registered-profile lane."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

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


# The message Apollo's clients (Apollo Kotlin matches it exactly) and the APQ protocol use for
# "send the text with the hash": the code alone is not enough for all of them.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"


class LearnedQueries:
    """Development only: automatic persisted queries as the protocol means them. A text sent
    with its own sha256 is remembered, so the next hash-only request for it runs. Bounded
    (least recently used first out) and per process. Production never learns: its registry is
    the safelist of schema/operations, and a hash-only request for anything else is refused."""

    def __init__(self, limit: int = 1000) -> None:
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._limit = limit

    def get(self, digest: str) -> str | None:
        text = self._texts.get(digest)
        if text is not None:
            self._texts.move_to_end(digest)
        return text

    def learn(self, digest: str, text: str) -> None:
        self._texts[digest] = text
        self._texts.move_to_end(digest)
        while len(self._texts) > self._limit:
            self._texts.popitem(last=False)


def query_text(body: dict[str, object], learned: LearnedQueries | None = None) -> str | None:
    """The query text a request runs: the registered (or, in development, learned) text of
    the id it names, or the text it sends (None when it sends none). Raises RequestRefused for
    an unknown id, or a text that is not the id's."""
    digest = _digest(body)
    query = body.get("query")
    if digest is None or _is_own_hash(digest, query):
        if digest is not None and learned is not None and isinstance(query, str):
            learned.learn(digest, query)
        return query if isinstance(query, str) else None
    operation = registry().get(digest)
    if operation is None:
        known = None if learned is None else learned.get(digest)
        if known is not None and query is None:
            return known
        if query is None:
            raise RequestRefused(400, "PERSISTED_QUERY_NOT_FOUND", NOT_FOUND_MESSAGE)
        raise RequestRefused(
            400, "PERSISTED_QUERY_MISMATCH", "The query text does not hash to the id sent."
        )
    if query not in (None, operation.query):
        raise RequestRefused(
            400, "PERSISTED_QUERY_MISMATCH", "The query text is not the registered text of this id."
        )
    return operation.query
