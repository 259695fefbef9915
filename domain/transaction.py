"""What every unit of work is: one transaction that announces what it changed."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Self


class Transaction(Protocol):
    """One transaction; leaving without `commit()` rolls everything back. Events emitted in
    it are written with it (the outbox) and announced after the commit."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def emit(self, customer_id: int, topic: str, payload: dict[str, Any]) -> None: ...
