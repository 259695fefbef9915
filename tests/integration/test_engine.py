"""The service's engine as the application builds it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


async def test_a_failing_statement_carries_no_parameter_into_its_error(
    engine: AsyncEngine,
) -> None:
    # A search's parameters are names, phones and document numbers; SQLAlchemy writes them
    # into the error, which is logged with its traceback.
    phone = "13912345678"
    with pytest.raises(DBAPIError) as failed:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT CAST(:phone AS text), 1 / 0"), {"phone": phone})
    assert "division by zero" in str(failed.value)
    assert phone not in str(failed.value)
