"""Count the SQL statements a piece of code sends, through a SQLAlchemy engine event."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from api.db.replicas import HEALTH_COMPONENT
from api.worker.outbox_relay import BACKGROUND_COMPONENT

# Background work on the same engine: the outbox relay, the replicas' health polls.
BACKGROUND = {BACKGROUND_COMPONENT, HEALTH_COMPONENT}


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] | None = None

    def record(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        # Background work on the same engine is not the request's cost.
        if context is not None and context.execution_options.get("component") in BACKGROUND:
            return
        if self.statements is not None:
            self.statements.append(statement)

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        captured: list[str] = []
        self.statements = captured
        try:
            yield captured
        finally:
            self.statements = None
