"""Count the SQL statements a piece of code sends, through a SQLAlchemy engine event."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] | None = None

    def record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
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
