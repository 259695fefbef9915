"""Text a request may carry: no NUL character, anywhere.

PostgreSQL text cannot hold U+0000, so a string with one fails at its first statement, deep in
a resolver, as an internal error. JSON and GraphQL both allow it (`"\\u0000"`), so it is refused
here, before anything runs or is charged, as INVALID_INPUT naming the variable or argument.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import BREAK, ArgumentNode, DocumentNode, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from domain.errors import InvalidInput
from schema.core.errors import UserFacingError

NUL = "\x00"
MESSAGE = "text must not contain the NUL character (U+0000)"


def variable_with_nul(value: object, path: str) -> str | None:
    """The path of the first string holding a NUL in a variable's value, if any."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, inner in value.items():
            if NUL in str(key):  # a JSON scalar's keys reach PostgreSQL too
                return f"{path}.{str(key).replace(NUL, '')}"
            found = variable_with_nul(inner, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = variable_with_nul(inner, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def argument_with_nul(query: str, document: DocumentNode) -> str | None:
    """The argument whose string literal holds a NUL, if any."""
    if "\\u" not in query:
        return None  # a NUL can only reach a literal as an escape; most texts have none
    arguments: list[str] = []  # the arguments the visit is inside of
    found: list[str] = []

    class Literals(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            arguments.append(node.name.value)

        def leave_argument(self, node: ArgumentNode, *_: object) -> None:
            arguments.pop()

        def enter_string_value(self, node: StringValueNode, *_: object) -> object:
            if NUL in node.value and arguments:
                found.append(arguments[0])
                return BREAK
            return None

    visit(document, Literals())
    return found[0] if found else None


class TextInputCheck(SchemaExtension):
    """Refuses an operation whose variables or literal arguments hold a NUL character."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        variables = (ec.variables or {}).items()
        field = next(
            (path for name, value in variables if (path := variable_with_nul(value, name))), None
        )
        if field is None and document is not None and ec.query is not None:
            field = argument_with_nul(ec.query, document)
        if field is not None:
            raise UserFacingError(InvalidInput(field, MESSAGE))
        yield
