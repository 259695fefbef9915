"""Where an operation's reads may go: read-only operations to a replica that has caught up with
the caller's own writes, everything else to the primary (api/db/replicas.py).

Around every query the caller's read-your-writes fence is looked up; after every mutation it
is raised to the primary's position, before the answer leaves. Without replicas
(`Context.consistency` is None) this costs nothing. Subscriptions read from the primary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.core.context import Context


class ReadRouting(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        consistency = context.consistency if isinstance(context, Context) else None
        if consistency is None:
            yield
            return
        caller = context.principal.caller
        if ec.operation_type is OperationType.QUERY:
            async with consistency.reading(caller):
                yield
            return
        try:
            yield
        finally:
            # Whatever the outcome: a mutation that failed half-way may have written.
            if ec.operation_type is OperationType.MUTATION:
                await consistency.written(caller)
